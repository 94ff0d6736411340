"""Loop-free selective scan: chunked segment sums in standard tensor ops only.

No Python loop over the sequence, no data-dependent control flow and no
custom autograd: cumsum, exp, masked_fill, broadcasting products and sums.
That makes it traceable with a symbolic sequence length (``torch.export``)
and exportable to ONNX, which is what it is for; it is slower than 'cpu'.

With ``x_t = delta_t * A`` (<= 0) and ``b_t = delta_t * B_t * u_t``, the state
is ``h_t = sum_{s <= t} exp(sum_{s < k <= t} x_k) * b_s``. The sequence is cut
into chunks of ``CHUNK`` steps; inside a chunk that sum is a (T, T) matrix per
channel, across chunks the same formula runs over the chunks' end states.
Segment sums come from a masked cumsum over a repeated axis, never from a
difference of two long cumulative sums (which cancels catastrophically), and
every exponent is <= 0, so nothing overflows for long sequences or large
decays.
"""
import torch
import torch.nn.functional as F

from .reference import unavailable_reason  # noqa: F401  (runs anywhere)

#: Steps per chunk: memory grows as l * CHUNK, the carry matrix as (l / CHUNK)^2.
CHUNK = 32


def segment_sums(x):
    """``out[..., t, s] = sum_{s < k <= t} x[..., k]`` for s <= t, else -inf.

    Args:
        x (torch.Tensor): (..., T) along the last axis.

    Returns:
        torch.Tensor: (..., T, T).
    """
    steps = x.shape[-1]
    ones = torch.ones(steps, steps, dtype=torch.bool, device=x.device)
    repeated = x.unsqueeze(-1).expand(*x.shape, steps)  # [..., k, s] = x[k]
    repeated = repeated.masked_fill(~torch.tril(ones, diagonal=-1), 0)
    sums = torch.cumsum(repeated, dim=-2)
    return sums.masked_fill(~torch.tril(ones), float('-inf'))


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None,
                   delta_softplus=False, return_last_state=False):
    """Selective scan in closed form; see
    :func:`mmgroupmamba.ops.selective_scan_fn` for the arguments.

    Inputs must share one float dtype and be validated (the dispatcher does
    both).

    Returns:
        torch.Tensor | tuple[torch.Tensor, torch.Tensor]: out (b, d, l) and,
        with ``return_last_state``, the last state (b, d, n).
    """
    b, d, length = u.shape
    n = A.shape[1]
    if B.dim() == 3:
        B, C = B.unsqueeze(1), C.unsqueeze(1)
    g = B.shape[1]
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]
    if delta_softplus:
        delta = F.softplus(delta)

    # Channels as (g, e) so each group's B/C broadcasts; time then state last.
    dt = delta.view(b, g, d // g, length, 1)
    decay = dt * A.view(g, d // g, 1, n)  # (b, g, e, l, n), <= 0
    inputs = (dt * u.view(b, g, d // g, length, 1) *
              B.transpose(-1, -2).unsqueeze(2))  # (b, g, e, l, n)

    pad = (-length) % CHUNK
    chunks = (length + pad) // CHUNK
    # Zero padding at the end: decay 0 (factor 1) and input 0 change nothing.
    decay = F.pad(decay, (0, 0, 0, pad)).view(b, g, d // g, chunks, CHUNK, n)
    inputs = F.pad(inputs, (0, 0, 0, pad)).view(decay.shape)

    # Inside each chunk, from a zero state: (..., chunks, T, n).
    decay_t = decay.movedim(-1, -2)  # (..., chunks, n, T)
    within = torch.exp(segment_sums(decay_t))  # (..., chunks, n, T, T)
    local = (within * inputs.movedim(-1, -2).unsqueeze(-2)).sum(-1)
    local = local.movedim(-2, -1)  # (..., chunks, T, n)

    # Across chunks: state after chunk c from every earlier chunk's end state.
    chunk_decay = decay.sum(-2).movedim(-1, -2)  # (..., n, chunks)
    across = torch.exp(segment_sums(chunk_decay))  # (..., n, chunks, chunks)
    ends = local[..., -1, :].movedim(-1, -2).unsqueeze(-2)  # (..., n, 1, c)
    after = (across * ends).sum(-1).movedim(-2, -1)  # (..., chunks, n)
    entering = F.pad(after, (0, 0, 1, 0))[..., :-1, :]  # state before chunk c

    states = local + torch.exp(torch.cumsum(decay, dim=-2)) * \
        entering.unsqueeze(-2)  # (b, g, e, chunks, T, n)
    states = states.reshape(b, g, d // g, chunks * CHUNK, n)[..., :length, :]
    y = (states * C.transpose(-1, -2).unsqueeze(2)).sum(-1).reshape(b, d, length)
    if D is not None:
        y = y + u * D[:, None]
    if z is not None:
        y = y * F.silu(z)
    if return_last_state:
        return y, states[..., -1, :].reshape(b, d, n)
    return y
