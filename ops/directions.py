"""The four scan directions of a GroupMambaLayer on an H x W token grid.

Tokens are numbered row-major (``h * width + w``). Channel group k of a
directional scan visits them in direction k: 0 row-major, 1 column-major (top
to bottom, columns left to right), 2 row-major reversed, 3 column-major
reversed. ``directional_scan`` is the generic way to run such a scan with any
flat backend: gather each group's tokens into its order, scan once for all
groups, un-gather. Backends that walk the four orders natively (triton)
replace it with their own ``directional_scan``.
"""
import functools

import torch

from .tracing import is_traced

NUM_DIRECTIONS = 4


@functools.lru_cache(maxsize=128)
def scan_orders(height, width, device):
    """Token orders of the four scan directions on an ``height x width`` grid.

    Args:
        height (int): H.
        width (int): W.
        device (torch.device): Device of the index tensors.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: ``order`` (4, L) with
        ``order[k, i]`` = the row-major index of the i-th token group k
        visits, and its inverse ``unorder`` (4, L) with
        ``unorder[k, order[k, i]] = i``. Normal tensors even when first
        made under ``torch.inference_mode`` (they are cached, and a later
        training step saves them for backward).
    """
    length = height * width
    with torch.inference_mode(False):
        row_major = torch.arange(length, device=device)
        col_major = row_major.view(height, width).t().reshape(-1)
        order = torch.stack(
            [row_major, col_major,
             row_major.flip(0), col_major.flip(0)])
        unorder = torch.empty_like(order)
        unorder.scatter_(1, order, row_major.expand(NUM_DIRECTIONS, -1))
    return order, unorder


def flat_as_token_major(u, delta, B, C, z):
    """A flat scan's channel-major inputs as the token-major views that the
    directional kernels read, without copies.

    Args:
        u, delta (torch.Tensor): (b, d, l).
        B, C (torch.Tensor): (b, n, l) (one group) or (b, g, n, l).
        z (torch.Tensor | None): (b, d, l).

    Returns:
        tuple: u, delta (b, l, d); B, C (b, l, g, n); z (b, l, d) or None.
    """
    if B.dim() == 3:  # shared by all channels: one group
        B, C = B.unsqueeze(1), C.unsqueeze(1)
    return (u.transpose(1, 2), delta.transpose(1, 2), B.permute(0, 3, 1, 2),
            C.permute(0, 3, 1, 2), None if z is None else z.transpose(1, 2))


def permute_tokens(x, index):
    """Reorder the last axis of ``x`` (b, 4, c, L) per group with ``index``
    (4, L): ``out[:, k, :, i] = x[:, k, :, index[k, i]]``."""
    return x.gather(-1, index[None, :, None, :].expand_as(x))


def directional_scan(selective_scan, u, delta, A, B, C, D, z, delta_bias,
                     delta_softplus, height, width):
    """Four-direction scan through a flat (b, d, l) ``selective_scan``.

    Inputs are validated, share one dtype and are in row-major token order
    (see :func:`mmgroupmamba.ops.directional_scan_fn`); any strides.

    Args:
        selective_scan (callable): A backend's flat ``selective_scan``.
        u, delta (torch.Tensor): (b, L, d), d = 4 * e channels, block k of
            e channels scanning in direction k.
        A (torch.Tensor): (d, n).
        B, C (torch.Tensor): (b, L, 4, n), group k's per token.
        D, delta_bias (torch.Tensor | None): (d,).
        z (torch.Tensor | None): Gate, (b, L, d).
        delta_softplus (bool): Apply softplus to delta + delta_bias.
        height (int): H, with H * W = L.
        width (int): W.

    Returns:
        torch.Tensor: out (b, L, d) in row-major token order: a transposed
        view of a (b, d, L) tensor.
    """
    b, length, d = u.shape
    k = NUM_DIRECTIONS
    # Traced (export, compile, jit): the orders become graph ops, not a
    # cache; a cached tensor made inside one traced scan node would be
    # unknown to the next one.
    orders = scan_orders.__wrapped__ if is_traced() else scan_orders
    order, unorder = orders(height, width, u.device)

    def gathered(x):  # (b, L, 4, e) -> (b, 4, e, L) in each group's order
        return permute_tokens(x.permute(0, 2, 3, 1), order)

    # reshape, not view: traced gathers may keep the input's stride order.
    def channels(x):  # (b, L, d) -> (b, d, L) in each group's order
        return None if x is None else gathered(
            x.reshape(b, length, k, d // k)).reshape(b, d, length)

    y = selective_scan(channels(u), channels(delta), A, gathered(B),
                       gathered(C), D=D, z=channels(z), delta_bias=delta_bias,
                       delta_softplus=delta_softplus,
                       return_last_state=False)
    y = permute_tokens(y.reshape(b, k, d // k, length), unorder)
    return y.reshape(b, d, length).transpose(1, 2)
