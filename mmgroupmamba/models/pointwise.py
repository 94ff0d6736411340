"""Linear layers on channel-last maps, run as 1x1 convolutions on a CPU."""
import torch
import torch.nn.functional as F


def channel_last_linear(linear, x):
    """``linear(x)`` for a channel-last map ``x`` (B, H, W, C_in) ->
    (B, H, W, C_out); on a CPU computed as a 1x1 convolution.

    Why: on a CPU, oneDNN's convolution runs this product at 2.2-2.4x the
    speed of ``nn.Linear``'s GEMM (MKL ``sgemm``) at every GroupMamba-T
    shape on the development machine (AMD EPYC with AVX-512, 2 threads,
    batch 8: 210-244 against 84-110 GMAC/s), and it adds the bias inside
    the kernel instead of first copying it into the output. The permuted
    map is a channels-last NCHW tensor, so nothing is copied on the way in
    or out. The module keeps its ``weight`` (C_out, C_in) and ``bias``
    (viewed as a (C_out, C_in, 1, 1) kernel here): checkpoints, weight
    decay rules and initialisation see an ordinary ``nn.Linear``. Results
    agree with ``linear(x)`` within float32 rounding. On other devices
    (CUDA) this is ``linear(x)``.

    Args:
        linear (nn.Linear): The layer, weights (C_out, C_in).
        x (Tensor): Tokens (B, H, W, C_in).

    Returns:
        Tensor: (B, H, W, C_out), contiguous.
    """
    if x.device.type != 'cpu':
        return linear(x)
    weight = linear.weight[:, :, None, None]
    out = F.conv2d(x.permute(0, 3, 1, 2), weight, linear.bias)
    return out.permute(0, 2, 3, 1)


def grouped_channel_last_linear(weight, x):
    """Per-group linear maps of a channel-last map: group k's channels
    ``x[..., k*C_in:(k+1)*C_in]`` times ``weight[k]`` (C_out, C_in) give
    ``out[..., k*C_out:(k+1)*C_out]``; on a CPU one grouped 1x1 convolution
    (oneDNN, see :func:`channel_last_linear`), elsewhere an ``einsum``.

    Args:
        weight (Tensor): (G, C_out, C_in), one matrix per group.
        x (Tensor): Tokens (B, H, W, G * C_in).

    Returns:
        Tensor: (B, H, W, G * C_out).
    """
    groups, c_out, c_in = weight.shape
    if x.device.type != 'cpu':
        b, h, w, _ = x.shape
        out = torch.einsum('bhwkc,koc->bhwko',
                           x.view(b, h, w, groups, c_in), weight)
        return out.reshape(b, h, w, groups * c_out)
    kernel = weight.reshape(groups * c_out, c_in, 1, 1)
    out = F.conv2d(x.permute(0, 3, 1, 2), kernel, groups=groups)
    return out.permute(0, 2, 3, 1)
