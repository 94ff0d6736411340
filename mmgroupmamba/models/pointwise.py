"""The blocks' pointwise layers in their fast CPU forms: linear layers on
channel-last maps as 1x1 convolutions, and the depthwise convolutions with
their activation (the FFN's GELU, the mixer's SiLU) fused into one oneDNN
call."""
import torch
import torch.nn.functional as F

from mmgroupmamba.ops.tracing import eager_cpu_float32_inference, is_traced


def _as_convolution(x):
    """Whether the pointwise layers on ``x`` run as oneDNN convolutions: in
    eager code on a CPU, not in a recorded graph (compile, export, jit).

    Why: the convolution form is a choice of eager kernels. A compiler plans
    its own GEMMs, and under torch.compile the convolution form was slow:
    Inductor hands a batch-1 map to the convolution with batch stride 0,
    aten then no longer sees a channels-last input, writes an NCHW output
    and Inductor copies it back (GroupMamba-T's stage-1 fc1: 20 ms a call
    against 1.7 ms eager). With ``linear`` / ``einsum`` compiled batch 1
    went from 191 to 123-133 ms on an Intel Xeon, 2 threads (eager:
    115-122 ms in the same runs).
    """
    return x.device.type == 'cpu' and not is_traced()


def channel_linear(linear, x):
    """``linear`` over the channels of an NCHW map ``x`` (B, C_in, H, W) ->
    (B, C_out, H, W); on a CPU computed as a 1x1 convolution.

    Why: on a CPU, oneDNN's convolution ran this product at 2.2-2.4x the
    speed of ``nn.Linear``'s GEMM (MKL ``sgemm``) at every GroupMamba-T
    shape on the first development machine (AMD EPYC with AVX-512, 2
    threads, batch 8: 210-244 against 84-110 GMAC/s), and it adds the bias
    inside the kernel instead of first copying it into the output. The gain
    depends on the CPU: on an Intel Xeon (family 6 model 167) the two are
    within 0.5-2x of each other either way, shape by shape (see
    docs/benchmarks.md), so neither form is faster everywhere. The blocks'
    maps are channels-last in memory, which is oneDNN's fast layout, and
    the result keeps it: nothing is copied on the way in or out. The module
    keeps its ``weight`` (C_out, C_in) and ``bias`` (viewed as a
    (C_out, C_in, 1, 1) kernel here): checkpoints, weight decay rules and
    initialisation see an ordinary ``nn.Linear``. Results agree with
    ``linear`` within float32 rounding. On other devices (CUDA) this is
    ``linear`` on the channel-last view, and so it is in a recorded graph
    (see :func:`_as_convolution`).

    Args:
        linear (nn.Linear): The layer, weights (C_out, C_in).
        x (Tensor): Map (B, C_in, H, W).

    Returns:
        Tensor: (B, C_out, H, W), laid out as ``x``.
    """
    if not _as_convolution(x):
        return linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    return F.conv2d(x, linear.weight[:, :, None, None], linear.bias)


def channel_last_linear(linear, x):
    """:func:`channel_linear` for tokens ``x`` (B, H, W, C_in) ->
    (B, H, W, C_out), contiguous when ``x`` is."""
    return channel_linear(linear, x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def grouped_channel_last_linear(weight, x):
    """Per-group linear maps of a channel-last map: group k's channels
    ``x[..., k*C_in:(k+1)*C_in]`` times ``weight[k]`` (C_out, C_in) give
    ``out[..., k*C_out:(k+1)*C_out]``; on a CPU one grouped 1x1 convolution
    (oneDNN, see :func:`channel_linear`), elsewhere and in a recorded graph
    an ``einsum``.

    Args:
        weight (Tensor): (G, C_out, C_in), one matrix per group.
        x (Tensor): Tokens (B, H, W, G * C_in).

    Returns:
        Tensor: (B, H, W, G * C_out).
    """
    groups, c_out, c_in = weight.shape
    if not _as_convolution(x):
        b, h, w, _ = x.shape
        out = torch.einsum('bhwkc,koc->bhwko',
                           x.view(b, h, w, groups, c_in), weight)
        return out.reshape(b, h, w, groups * c_out)
    kernel = weight.reshape(groups * c_out, c_in, 1, 1)
    out = F.conv2d(x.permute(0, 3, 1, 2), kernel, groups=groups)
    return out.permute(0, 2, 3, 1)


#: The activations :func:`depthwise_conv_act` takes: the eager function, the
#: name of oneDNN's post-op for it and the post-op's algorithm (as torch's
#: inductor passes them; 'none' is the exact, erf GELU).
ACTIVATIONS = {
    'gelu': (F.gelu, 'gelu', 'none'),
    'silu': (F.silu, 'swish', ''),
}


def _fused_applies(x, weight, bias):
    """Whether :func:`depthwise_conv_act` may take oneDNN's fused kernel:
    an eager float32 CPU call that autograd does not record (the fused
    operator has no backward), with oneDNN enabled."""
    if not eager_cpu_float32_inference(x, weight, bias):
        return False
    return (torch.backends.mkldnn.is_available()
            and torch.backends.mkldnn.enabled)


def depthwise_conv_act(x, weight, bias, padding, activation):
    """``activation(conv2d(x, weight, bias, padding=padding))`` for a
    depthwise kernel, stride 1: ``x`` (B, C, H, W) -> (B, C, H', W'), laid
    out as ``x``.

    Why: on a CPU, in inference, oneDNN applies the activation inside the
    convolution's kernel (the post-op torch's inductor uses for the same
    pattern), so the map is written once instead of being written, read
    and written again: the FFN's GELU on its widest map (``mlp_ratio``
    times the block's channels; 13% of GroupMamba-T's batch-8 forward when
    separate) and the mixer's SiLU before the scan (stage 1, batch 8:
    1.8 against 14.9 ms on an Intel Xeon, 2 threads). Results agree with
    the two-step form within float32 rounding. Anywhere else (autograd,
    another dtype or device, a traced graph) this is the two-step form.

    Args:
        x (Tensor): Map (B, C, H, W).
        weight (Tensor): Depthwise kernel (C, 1, k, k).
        bias (Tensor | None): (C, ).
        padding (int): Zero padding on each side (an int from the caller:
            under an old torch's jit trace, sizes read off ``weight`` are
            tensors, which ``conv2d`` does not take as padding).
        activation (str): 'gelu' (exact) or 'silu'.

    Returns:
        Tensor: The activated map.
    """
    eager, post_op, algorithm = ACTIVATIONS[activation]
    channels = weight.shape[0]
    if not _fused_applies(x, weight, bias):
        return eager(F.conv2d(x, weight, bias, padding=padding,
                              groups=channels))
    return torch.ops.mkldnn._convolution_pointwise(
        x, weight, bias, [padding] * 2, [1, 1], [1, 1], channels, post_op,
        [], algorithm)
