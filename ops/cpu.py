"""Fast pure-PyTorch selective scan: a two-level chunked scan.

Nothing here is CPU specific (plain tensor ops), but it is tuned for CPUs.

Layout. The recurrence runs along time while inputs are (b, d, l) with time
innermost, so the scan works time-major: (L', b, g, e[, n]) with L' = l
padded to nc * T, g groups of e = d / g channels. One time step of every
channel is then a contiguous block. Viewed as (nc, T, ...), the time axis is
nc chunks of T steps, and one step of all chunks at once is a single
vectorised ``addcmul`` on an (nc, ...) slice.
Transposes are fused into the first op reading an input (a strided read) and
come back through ``copy_`` of a 2-D transpose, which ATen does blockwise.

Algorithm (``_scan_``): pass 1 runs the recurrence inside every chunk at once
(T steps on (nc, ...) slices) from a zero state, keeping only each chunk's
final state; a short sequential carry over the nc chunks with each chunk's
total decay (a product of decays, no exp of a cumulative sum, so nothing can
overflow) gives the true state entering each chunk; pass 2 reruns the chunk
recurrences in place from those states. Pass 1 only reads the big tensors,
which costs less memory traffic than correcting a local scan afterwards with
per-step cumulative decays. 2 T + nc small steps (nc ~ sqrt(2 l)), not l.

Memory. The ops are memory bound and first touches of fresh multi-MB
buffers cost about as much as the math (page faults), so buffers are reused
in place wherever autograd allows: for n = 1, 4 fresh (L', b, d) buffers
per forward (3 without grad) and 3 per backward.

The backward is the same scan run backwards in time (``reverse=True``) plus
elementwise products, in a custom autograd.Function.
"""
import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

# Plain PyTorch like the reference: it runs wherever torch does.
from .reference import unavailable_reason  # noqa: F401

# torch's softplus (beta=1) is linear above this; its gradient is 1 there.
_SOFTPLUS_THRESHOLD = 20.0


class _Layout(NamedTuple):
    """Sizes of one scan: batch, channels, groups, channels per group,
    state size, length, chunk count, padded length."""
    b: int
    d: int
    g: int
    e: int
    n: int
    length: int
    chunks: int
    padded: int

    @property
    def steps(self):
        """T, the chunk length."""
        return self.padded // self.chunks


def num_chunks(length):
    """Chunk count nc for a scan of ``length`` steps.

    A scan makes 2 T + nc sequential steps (two passes over a chunk, one
    carry over chunks), fewest at nc = sqrt(2 l). A divisor of l near that
    avoids padding; measured times are flat within a factor 2 of it.

    Args:
        length (int): Sequence length l.

    Returns:
        int: nc; chunks are T = ceil(l / nc) steps long.
    """
    target = math.sqrt(2 * length)
    divisors = [
        c for c in range(math.ceil(target / 2), math.floor(2 * target) + 1)
        if length % c == 0
    ]
    if divisors:
        return min(divisors, key=lambda c: abs(math.log(c / target)))
    steps = math.ceil(length / round(target))
    return math.ceil(length / steps)


def _layout(u, A, B):
    """The _Layout of a scan of u (b, d, l), A (d, n), B (b, [g,] n, l)."""
    b, d, length = u.shape
    n = A.shape[1]
    g = B.shape[1] if B.dim() == 4 else 1
    chunks = num_chunks(length)
    padded = chunks * math.ceil(length / chunks)
    return _Layout(b, d, g, d // g, n, length, chunks, padded)


def _scan_(a, x, lay, reverse):
    """Linear recurrence along time, in place, chunked.

    Forward: ``x[t] <- a[t] * x[t-1] + x[t]`` (x[-1] = 0). Reverse:
    ``x[t] <- a[t+1] * x[t+1] + x[t]`` (x[L'] = 0), the adjoint recurrence.

    Args:
        a (torch.Tensor): Decays, (L', ...) contiguous.
        x (torch.Tensor): Inputs, like ``a``; overwritten with the states.
        lay (_Layout): Sizes.
        reverse (bool): Scan backwards in time.
    """
    a = a.view(lay.chunks, lay.steps, -1)
    x = x.view(lay.chunks, lay.steps, -1)
    if reverse:
        # Pass 1: each chunk's first state from a zero state after it.
        local = x[:, -1].clone()
        for t in range(lay.steps - 2, -1, -1):
            torch.addcmul(x[:, t], a[:, t + 1], local, out=local)
        # Carry: chunk c's first state gets chunk c+1's, decayed by a[c, 1:]
        # and the step a[c+1, 0] between them.
        decay = a[:-1, 1:].prod(1).mul_(a[1:, 0])
        for c in range(lay.chunks - 2, -1, -1):
            local[c].addcmul_(decay[c], local[c + 1])
        # Pass 2: rerun each chunk from its true incoming state.
        x[:-1, -1].addcmul_(a[1:, 0], local[1:])
        for t in range(lay.steps - 2, -1, -1):
            x[:, t].addcmul_(a[:, t + 1], x[:, t + 1])
    else:
        local = x[:, 0].clone()
        for t in range(1, lay.steps):
            torch.addcmul(x[:, t], a[:, t], local, out=local)
        decay = a.prod(1)
        for c in range(1, lay.chunks):
            local[c].addcmul_(decay[c], local[c - 1])
        x[1:, 0].addcmul_(a[1:, 0], local[:-1])
        for t in range(1, lay.steps):
            x[:, t].addcmul_(a[:, t], x[:, t - 1])


def _transposed(x, lay):
    """(b, d, l) -> an (l, b * d) view; reading it is the transposition."""
    return x.reshape(lay.b * lay.d, lay.length).t()


def _rows(x, lay):
    """Time-major (L', ...) -> its first l rows as an (l, b * d * ...) view."""
    return x[:lay.length].view(lay.length, -1)


def _time_major(x, lay, bias=None):
    """(b, d, l) [+ bias (d,)] -> (L', b, g, e), zero padded.

    Args:
        x (torch.Tensor): (b, d, l).
        lay (_Layout): Sizes.
        bias (torch.Tensor, optional): Per-channel (d,) added on the way.

    Returns:
        torch.Tensor: (L', b, g, e) contiguous.
    """
    out = x.new_empty(lay.padded, lay.b, lay.g, lay.e)
    if bias is None:
        _rows(out, lay).copy_(_transposed(x, lay))
    else:
        torch.add(_transposed(x, lay), bias.repeat(lay.b),
                  out=_rows(out, lay))
    out[lay.length:].zero_()
    return out


def _natural(x, lay, out=None):
    """Time-major (L', b, g, e) -> (b, d, l), padding dropped.

    ``copy_`` of a plain 2-D transpose: ATen copies it in cache blocks,
    much faster than writing through a permuted ``out=``.
    """
    if out is None:
        out = x.new_empty(lay.b, lay.d, lay.length)
    out.view(lay.b * lay.d, lay.length).copy_(_rows(x, lay).t())
    return out


def _bc_time_major(x, lay):
    """B or C (b, [g,] n, l) -> zero padded (L', b, g, 1[, n]).

    The unit axis broadcasts over the e channels of a group; the n axis is
    dropped when n == 1, so that such a scan has no state axis at all.
    """
    out = x.new_zeros(lay.padded, lay.b, lay.g, 1, lay.n)
    out[:lay.length].copy_(
        x.reshape(lay.b, lay.g, lay.n, lay.length).permute(3, 0, 1, 2)
        .unsqueeze(3))
    return out.squeeze(-1) if lay.n == 1 else out


def _bc_natural(x, lay, shape):
    """(L', b, g, 1[, n]) gradient -> B / C layout ``shape``."""
    x = x[:lay.length].reshape(lay.length, lay.b, lay.g, lay.n)
    return x.permute(1, 2, 3, 0).reshape(shape)


def _per_state(x, n):
    """(L', b, g, e) -> broadcastable against the state (..., e[, n])."""
    return x if n == 1 else x.unsqueeze(-1)


def _sum_state(x, n):
    """State (..., e[, n]) -> per channel (..., e): sum over n."""
    return x if n == 1 else x.sum(-1)


def _sum_group(x, n):
    """State (L', b, g, e[, n]) -> (L', b, g, 1[, n]): sum over e."""
    return x.sum(-1 if n == 1 else -2, keepdim=True)


def _grouped_A(A, lay):
    """A (d, n) -> (g, e) or (g, e, n), broadcastable against the state."""
    return A.reshape((lay.g, lay.e) + ((lay.n, ) if lay.n > 1 else ()))


def _softplus_(x, scratch):
    """torch's softplus (beta 1, threshold 20), in place.

    float32 ``log1p`` (so ``F.softplus``) of this torch build can run ~20x
    slower than ``exp`` / ``log`` (measured 6 ns vs 0.3 ns per element), so
    float32 computes ``log1p(y) = log(u) - ((u - 1) - y) / u`` with y = e^x,
    u = 1 + y (u - 1 is exact): within 2 ulp of the exact value, like
    ``F.softplus``. Above the threshold softplus(x) = x; as softplus(x) > x
    and softplus(20) rounds to 20 in float32, that is max(x, f(min(x, 20))).

    Args:
        x (torch.Tensor): Overwritten with softplus(x).
        scratch (tuple[torch.Tensor, torch.Tensor]): Two buffers like x,
            clobbered.

    Returns:
        torch.Tensor: x.
    """
    if x.dtype != torch.float32:
        return x.copy_(F.softplus(x))
    y, v = scratch
    torch.clamp(x, max=_SOFTPLUS_THRESHOLD, out=y).exp_()
    torch.add(y, 1, out=v).sub_(1)  # v = u - 1, exact
    torch.sub(v, y, out=y).div_(v.add_(1))  # ((u - 1) - y) / u; v <- u
    return torch.maximum(x, v.log_().sub_(y), out=x)


def _scan_forward(u, delta, A, B, C, D, delta_bias, delta_softplus,
                  for_backward):
    """The forward pass; also returns what the backward needs.

    Args:
        u, delta, A, B, C, D, delta_bias, delta_softplus: See
            :func:`selective_scan`.
        for_backward (bool): Keep dt, a and h intact for the backward;
            without it the decays overwrite dt.

    Returns:
        tuple: y (b, d, l), last state (b, d, n), step sizes dt (L', b, g, e),
        decays a and states h (L', b, g, e[, n]), layout.
    """
    lay = _layout(u, A, B)
    n = lay.n
    dt = _time_major(delta, lay, delta_bias)
    h = dt.new_empty(dt.shape + ((n, ) if n > 1 else ()))
    y = u.new_empty(u.shape)
    # y's buffer is scratch until y is written (if it fits, i.e. no padding).
    spare = (y.view(dt.shape)
             if lay.padded == lay.length else torch.empty_like(dt))
    if delta_softplus:
        _softplus_(dt, scratch=(h.view(-1)[:dt.numel()].view(dt.shape), spare))
        dt[lay.length:].zero_()

    # h <- delta * u * B, the scan input (u transposed on the way).
    du = h if n == 1 else spare
    torch.mul(_rows(dt, lay), _transposed(u, lay), out=_rows(du, lay))
    du[lay.length:].zero_()
    torch.mul(_per_state(du, n), _bc_time_major(B, lay), out=h)
    a = dt if n == 1 and not for_backward else torch.empty_like(h)
    torch.mul(_per_state(dt, n), _grouped_A(A, lay), out=a).exp_()
    _scan_(a, h, lay, reverse=False)

    if n == 1:  # transpose h itself, then scale by C in place
        _natural(h, lay, out=y)
        y.view(lay.b, lay.g, lay.e, lay.length).mul_(
            C.reshape(lay.b, lay.g, 1, lay.length))
    else:
        _natural((h * _bc_time_major(C, lay)).sum(-1), lay, out=y)
    if D is not None:
        y.addcmul_(u, D[:, None])
    last = h[lay.length - 1].reshape(lay.b, lay.d, n).clone()
    return y, last, dt, a, h, lay


def _softplus_grad_(grad, delta, delta_bias, scratch):
    """grad * softplus'(delta + bias), in place on grad (b, d, l).

    softplus' is sigmoid, and 1 above the threshold like torch's.

    Args:
        grad (torch.Tensor): (b, d, l), overwritten.
        delta (torch.Tensor): (b, d, l), before bias and softplus.
        delta_bias (torch.Tensor | None): (d,).
        scratch (torch.Tensor): (b, d, l) buffer, clobbered.

    Returns:
        torch.Tensor: grad.
    """
    x = delta if delta_bias is None else torch.add(
        delta, delta_bias[:, None], out=scratch)
    linear = x > _SOFTPLUS_THRESHOLD
    return grad.mul_(torch.sigmoid(x, out=scratch).masked_fill_(linear, 1))


def _as_natural(buffer, lay):
    """A (b, d, l) view of the first b * d * l elements of a larger buffer."""
    return buffer.view(-1)[:lay.b * lay.d * lay.length].view(
        lay.b, lay.d, lay.length)


def _scan_backward(grad_y, grad_last, saved, lay, delta_softplus):
    """Gradients of y and the last state -> gradients of the inputs.

    Fresh buffers cost more than the math here (page faults), so three are
    recycled: ``work`` holds grad_y * u, gy * h, dL/d(delta A), dL/d(delta)
    then scratch; ``gy`` becomes dL/dh, scratch, then dL/du; ``spare`` holds
    dL/d(delta A) * delta, dL/dh * delta, then dL/d(delta). The returned
    grads are thus views of (possibly larger) buffers.

    Returns:
        tuple: grads for u, delta, A, B, C, D, delta_bias (None for absent
        D / delta_bias).
    """
    u, delta, A, B, C, D, delta_bias, dt, a, h = saved
    n, length = lay.n, lay.length
    grad_y = u.new_zeros(u.shape) if grad_y is None else grad_y.contiguous()
    work = torch.empty_like(h)
    grad_D = None
    if D is not None:
        grad_D = torch.mul(grad_y, u, out=_as_natural(work, lay)).sum((0, 2))
    gy = _time_major(grad_y, lay)
    grad_C = _sum_group(torch.mul(_per_state(gy, n), h, out=work), n)
    grad_C = _bc_natural(grad_C, lay, C.shape)

    Ct = _bc_time_major(C, lay)
    gh = gy.mul_(Ct) if n == 1 else gy.unsqueeze(-1) * Ct  # dL/dh via y
    if grad_last is not None:
        gh[length - 1] += grad_last.reshape(gh.shape[1:])
    _scan_(a, gh, lay, reverse=True)

    # dL/d(delta A)_t = gh_t * a_t * h_{t-1}.
    g_dA = torch.mul(gh, a, out=work)
    g_dA[1:].mul_(h[:-1])
    g_dA[0].zero_()
    dts = _per_state(dt, n)
    spare = torch.empty_like(h)
    grad_A = torch.mul(g_dA, dts, out=spare).sum((0, 1)).reshape(A.shape)
    gh_dt = torch.mul(gh, dts, out=spare)

    # dL/d(delta) = sum_n (A dL/d(delta A) + gh B u).
    Bt = _bc_time_major(B, lay)
    ut = _transposed(u, lay)
    g_dt = _sum_state(g_dA.mul_(_grouped_A(A, lay)), n)
    _rows(g_dt, lay).addcmul_(_rows(_sum_state(gh.mul_(Bt), n), lay), ut)
    # dL/dB = sum_e gh dt u, with gh's buffer as scratch.
    ut = _per_state(ut.view(length, lay.b, lay.g, lay.e), n)
    grad_B = _sum_group(torch.mul(gh_dt[:length], ut, out=gh[:length]), n)
    grad_B = _bc_natural(grad_B, lay, B.shape)

    grad_u = _natural(_sum_state(gh_dt.mul_(Bt), n), lay,
                      out=_as_natural(gy, lay))
    if D is not None:
        grad_u.addcmul_(grad_y, D[:, None])
    grad_delta = _natural(g_dt, lay, out=_as_natural(spare, lay))
    if delta_softplus:
        _softplus_grad_(grad_delta, delta, delta_bias,
                        scratch=_as_natural(work, lay))
    grad_bias = None if delta_bias is None else grad_delta.sum((0, 2))
    return grad_u, grad_delta, grad_A, grad_B, grad_C, grad_D, grad_bias


class _ChunkedScan(torch.autograd.Function):
    """(y, h_{l-1}) = scan(u, delta, A, B, C, D, delta_bias), no z gate."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, delta_bias, delta_softplus):
        """Scan forward; see :func:`selective_scan`.

        Returns:
            tuple[torch.Tensor, torch.Tensor]: y (b, d, l), last state
            (b, d, n).
        """
        y, last, dt, a, h, lay = _scan_forward(u, delta, A, B, C, D,
                                               delta_bias, delta_softplus,
                                               for_backward=True)
        ctx.save_for_backward(u, delta, A, B, C, D, delta_bias, dt, a, h)
        ctx.layout = lay
        ctx.device_type = u.device.type
        ctx.delta_softplus = delta_softplus
        ctx.set_materialize_grads(False)
        return y, last

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_y, grad_last):
        """Scan backward: the adjoint scan runs backwards in time.

        Args:
            ctx: Autograd context.
            grad_y (torch.Tensor | None): (b, d, l).
            grad_last (torch.Tensor | None): (b, d, n).

        Returns:
            tuple: Gradients for u, delta, A, B, C, D, delta_bias and None
            for delta_softplus.
        """
        if grad_y is None and grad_last is None:
            return (None, ) * 8
        with torch.autocast(device_type=ctx.device_type, enabled=False):
            grads = _scan_backward(grad_y, grad_last, ctx.saved_tensors,
                                   ctx.layout, ctx.delta_softplus)
        return grads + (None, )


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None,
                   delta_softplus=False, return_last_state=False):
    """Selective scan, chunked; see :func:`mmgroupmamba.ops.selective_scan_fn`.

    Inputs must already share one float dtype (float32 or float64) and be
    validated; the dispatcher does both.

    Args:
        u (torch.Tensor): (b, d, l).
        delta (torch.Tensor): (b, d, l).
        A (torch.Tensor): (d, n).
        B (torch.Tensor): (b, n, l) or (b, g, n, l).
        C (torch.Tensor): (b, n, l) or (b, g, n, l).
        D (torch.Tensor, optional): (d,).
        z (torch.Tensor, optional): (b, d, l).
        delta_bias (torch.Tensor, optional): (d,).
        delta_softplus (bool): Apply softplus to delta + delta_bias.
        return_last_state (bool): Also return h_{l-1}.

    Returns:
        torch.Tensor | tuple[torch.Tensor, torch.Tensor]: out (b, d, l) and,
        with ``return_last_state``, the last state (b, d, n).
    """
    inputs = (u, delta, A, B, C, D, delta_bias)
    if torch.is_grad_enabled() and any(
            x is not None and x.requires_grad for x in inputs):
        out, last = _ChunkedScan.apply(*inputs, delta_softplus)
    else:
        out, last = _scan_forward(*inputs, delta_softplus,
                                  for_backward=False)[:2]
    if z is not None:
        out = out * F.silu(z)
    return (out, last) if return_last_state else out
