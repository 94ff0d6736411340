"""Reference selective scan: a plain sequential loop over time (ground truth).

Deliberately simple so that it is obviously correct; every other backend is
tested against it, in float64. Slow: one small step per token.
"""
import torch
import torch.nn.functional as F


def unavailable_reason(device):
    """Why this backend cannot run on ``device`` (None: it can).

    Args:
        device (torch.device): Device of the scan inputs.

    Returns:
        str | None: Always None, plain PyTorch runs on every device.
    """
    return None


def compute_dtype(*tensors):
    """The dtype a scan runs in: the widest input dtype, at least float32.

    Args:
        *tensors (torch.Tensor | None): Scan inputs; None entries are skipped.

    Returns:
        torch.dtype: float32 for half / bfloat16 / float32 inputs, float64 if
        any input is float64.
    """
    dtype = torch.float32
    for tensor in tensors:
        if tensor is not None:
            dtype = torch.promote_types(dtype, tensor.dtype)
    return dtype


#: Input dtypes a scan never computes in; as in mamba-ssm, its output then
#: comes back in u's dtype.
HALF_DTYPES = (torch.float16, torch.bfloat16)


def output_dtype(u, computed):
    """The dtype of a scan's output, mamba-ssm's rule.

    Args:
        u (torch.Tensor): The scan's input u.
        computed (torch.dtype): The dtype the scan ran in
            (:func:`compute_dtype`).

    Returns:
        torch.dtype: u's dtype when it is float16 / bfloat16, else
        ``computed``. The last state always stays in ``computed``.
    """
    return u.dtype if u.dtype in HALF_DTYPES else computed


def time_varying(x, batch, length):
    """B or C of shape (d, n), the same at every step, as a grouped
    (b, d, n, l) view (one group per channel); other shapes unchanged.

    Args:
        x (torch.Tensor): (d, n), (b, n, l) or (b, g, n, l).
        batch (int): b.
        length (int): l.

    Returns:
        torch.Tensor: (b, n, l) or (b, g, n, l); an expanded view (no copy)
        for a (d, n) input, so its gradient sums over b and l.
    """
    if x.dim() != 2:
        return x
    return x[None, :, :, None].expand(batch, *x.shape, length)


def expand_groups(x, d):
    """Give every channel its own copy of its group's B or C.

    Args:
        x (torch.Tensor): (b, n, l) shared by all channels, or (b, g, n, l)
            where channel block k (of d // g channels) uses group k.
        d (int): Number of channels.

    Returns:
        torch.Tensor: (b, d, n, l).
    """
    if x.dim() == 3:
        x = x.unsqueeze(1)
    return x.repeat_interleave(d // x.shape[1], dim=1)


def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None,
                       delta_softplus=False, return_last_state=False):
    """Selective scan (S6), sequential reference.

    Per channel, with ``h_{-1} = 0``::

        h_t = exp(delta_t * A) * h_{t-1} + delta_t * B_t * u_t
        y_t = sum_n C_t[n] * h_t[n]

    then ``out = (y + D * u) * silu(z)``.

    Args:
        u (torch.Tensor): Input, (b, d, l).
        delta (torch.Tensor): Step sizes, (b, d, l).
        A (torch.Tensor): State matrix (diagonal), (d, n).
        B (torch.Tensor): Input matrix, (b, n, l), grouped (b, g, n, l), or
            (d, n), the same at every step.
        C (torch.Tensor): Output matrix, shaped like B.
        D (torch.Tensor, optional): Skip connection, (d,).
        z (torch.Tensor, optional): Gate, (b, d, l).
        delta_bias (torch.Tensor, optional): Added to delta, (d,).
        delta_softplus (bool): Apply softplus to delta (after the bias).
        return_last_state (bool): Also return the final state.

    Returns:
        torch.Tensor | tuple[torch.Tensor, torch.Tensor]: out (b, d, l), and
        with ``return_last_state`` the last state h_{l-1} (b, d, n). Computed
        in float32, or float64 if any input is float64; out comes back in
        u's dtype when u is float16 / bfloat16 (mamba-ssm's rule), the last
        state stays in the computed dtype.
    """
    dtype = compute_dtype(u, delta, A, B, C, D, z, delta_bias)
    out_dtype = output_dtype(u, dtype)
    b, d, length = u.shape
    B, C = time_varying(B, b, length), time_varying(C, b, length)
    u, delta, A, B, C = (x.to(dtype) for x in (u, delta, A, B, C))
    if delta_bias is not None:
        delta = delta + delta_bias.to(dtype)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    B = expand_groups(B, d)
    C = expand_groups(C, d)

    decay = torch.exp(delta.unsqueeze(2) * A.unsqueeze(-1))  # (b, d, n, l)
    drive = (delta * u).unsqueeze(2) * B  # (b, d, n, l)
    h = u.new_zeros(decay.shape[:3])  # (b, d, n)
    ys = []
    # unbind, not [..., t]: the backward of one slice would allocate a full
    # size gradient per step (quadratic in l).
    for decay_t, drive_t, c_t in zip(decay.unbind(-1), drive.unbind(-1),
                                     C.unbind(-1)):
        h = decay_t * h + drive_t
        ys.append((h * c_t).sum(-1))
    out = torch.stack(ys, dim=-1)  # (b, d, l)

    if D is not None:
        out = out + D.to(dtype)[:, None] * u
    if z is not None:
        out = out * F.silu(z.to(dtype))
    out = out.to(out_dtype)
    return (out, h) if return_last_state else out
