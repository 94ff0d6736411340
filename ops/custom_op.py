"""The compiled CPU scan as PyTorch operators that compilers see whole.

``mmgroupmamba::directional_scan`` is one call of the C++ kernel of
``cpu_compiled.py`` (forward), ``mmgroupmamba::directional_scan_backward``
its backward; both are registered with ``torch.library.custom_op`` with a
fake (meta) implementation, and the first is differentiable through the
second. ``torch.compile`` therefore keeps each scan as one opaque node (no
graph break, no traced Python), ``torch.export`` shows it as
``torch.ops.mmgroupmamba.directional_scan``, and autograd, fake tensors
and AOTAutograd's backward graph need no kernel at trace time. The flat
``selective_scan`` of the 'cpu_compiled' backend is the same operator with
``directional=False``.

Registration happens when ``mmgroupmamba.ops`` is imported and needs torch
>= 2.4; the kernel itself is still built or loaded on the first call, never
at import. On older torch nothing is registered and ``cpu_compiled.py`` runs
the same kernel calls through an autograd Function: the same numbers, but
``torch.compile`` breaks its graph around each scan.

Operator arguments (any strides unless said)::

    u, delta (b, L, d), A (d, n), B, C (b, L, g, n), D (d,) or None,
    z (b, L, d) or None, delta_bias (d,) or None, delta_softplus (bool),
    height, width (int, height * width = L), directional (bool: group k of
    g = 4 walks direction k; False: every group scans row-major)

and outputs ``(out (b, L, d) laid out like u, last state (b, d, n))``.
"""
from typing import Optional, Tuple

import torch

from ..torch_version import CUSTOM_OPS_SUPPORTED
from .cpu_compiled import kernel_backward, kernel_forward, present_grads

#: The scan operator's public name (its FLOP handle is keyed by it too).
SCAN_OP = 'mmgroupmamba::directional_scan'
#: Its backward, an operator of its own so that AOTAutograd traces it.
SCAN_BACKWARD_OP = 'mmgroupmamba::directional_scan_backward'

Tensor = torch.Tensor


def _scan(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor,
          D: Optional[Tensor], z: Optional[Tensor],
          delta_bias: Optional[Tensor], delta_softplus: bool, height: int,
          width: int, directional: bool) -> Tuple[Tensor, Tensor]:
    """``mmgroupmamba::directional_scan`` on CPU tensors: the kernel."""
    return kernel_forward(u, delta, A, B, C, D, z, delta_bias,
                          delta_softplus, height, width, directional)


def _scan_fake(u, delta, A, B, C, D, z, delta_bias, delta_softplus, height,
               width, directional):
    """Outputs' shapes, dtype and strides, as the kernel makes them."""
    batch, _, channels = u.shape
    return torch.empty_like(u), u.new_empty((batch, channels, A.shape[1]))


def _scan_backward(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor,
    D: Optional[Tensor], z: Optional[Tensor], delta_bias: Optional[Tensor],
    grad_out: Tensor, grad_last: Optional[Tensor], delta_softplus: bool,
    height: int, width: int, directional: bool
) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``mmgroupmamba::directional_scan_backward``: the gradients of u,
    delta, A, B, C, D, z and delta_bias (see
    :func:`cpu_compiled.kernel_backward`)."""
    return kernel_backward(u, delta, A, B, C, D, z, delta_bias, grad_out,
                           grad_last, delta_softplus, height, width,
                           directional)


def _scan_backward_fake(u, delta, A, B, C, D, z, delta_bias, grad_out,
                        grad_last, delta_softplus, height, width,
                        directional):
    """The gradients' shapes and strides, as :func:`_scan_backward` makes
    them."""
    channels = u.shape[2]
    return (torch.empty_like(u), torch.empty_like(u), u.new_empty(A.shape),
            u.new_empty(B.shape), u.new_empty(C.shape),
            u.new_empty((channels, )),
            u.new_empty((0, )) if z is None else torch.empty_like(u),
            u.new_empty((channels, )))


def _setup_context(ctx, inputs, output):
    """Save the inputs; the backward recomputes the states from them."""
    ctx.save_for_backward(*inputs[:8])
    ctx.constants = inputs[8:]


def _backward(ctx, grad_out, grad_last):
    """Gradients of u, delta, A, B, C, D, z, delta_bias (None for an absent
    optional input), then None for the four constants."""
    inputs = ctx.saved_tensors
    if grad_out is None:
        grad_out = torch.zeros_like(inputs[0])
    grads = torch.ops.mmgroupmamba.directional_scan_backward(
        *inputs, grad_out, grad_last, *ctx.constants)
    return present_grads(inputs, grads) + (None, ) * 4


if CUSTOM_OPS_SUPPORTED:
    scan_op = torch.library.custom_op(SCAN_OP, _scan, mutates_args=(),
                                      device_types='cpu')
    scan_op.register_fake(_scan_fake)
    scan_backward_op = torch.library.custom_op(
        SCAN_BACKWARD_OP, _scan_backward, mutates_args=(), device_types='cpu')
    scan_backward_op.register_fake(_scan_backward_fake)
    scan_op.register_autograd(_backward, setup_context=_setup_context)
