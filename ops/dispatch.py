"""The two scan entry points: validate, pick the backend, cast, call.

``selective_scan_fn`` is mamba-ssm's flat (b, d, l) scan;
``directional_scan_fn`` is the one call a GroupMambaLayer makes: four channel
groups, group k scanning the H x W token grid in direction k (see
``directions.py``), inputs and output in row-major token order.
"""
import torch

from . import directions
from .backends import resolve_backend
from .flops import (TracedDirectionalScan, TracedSelectiveScan,
                    tracing_for_analysis)
from .reference import compute_dtype, output_dtype, time_varying
from .validation import validate_directional_inputs, validate_scan_inputs


def _cast_inputs(*tensors):
    """Inputs in the scan's compute dtype (None kept)."""
    dtype = compute_dtype(*tensors)
    return tuple(None if x is None else x.to(dtype) for x in tensors)


def _run(traced_function, scan, inputs, constants):
    """``scan(*inputs, *constants)`` with autocast off; under a jit trace
    for analysis as one ``traced_function`` node (see ``flops.py``)."""
    with torch.autocast(device_type=inputs[0].device.type, enabled=False):
        if tracing_for_analysis():
            # A grid size read from a traced shape is a 0-dim tensor, which
            # the node cannot take as an argument; the trace is of this one
            # input size anyway, so it becomes the int it is.
            constants = tuple(int(c) if isinstance(c, torch.Tensor) else c
                              for c in constants)
            return traced_function.apply(scan, *inputs, *constants)
        return scan(*inputs, *constants)


def selective_scan_fn(u, delta, A, B, C, D=None, z=None, delta_bias=None,
                      delta_softplus=False, return_last_state=False, *,
                      backend='auto'):
    """Selective scan (S6) with mamba-ssm's ``selective_scan_fn`` semantics.

    ``delta <- softplus(delta + delta_bias)`` (softplus only if asked), then
    per channel, from ``h_{-1} = 0``::

        h_t = exp(delta_t * A) * h_{t-1} + delta_t * B_t * u_t   # (n,)
        y_t = sum_n C_t[n] * h_t[n]
        out = (y + D * u) * silu(z)

    With grouped B / C (b, g, n, l), channel block k (d / g channels) uses
    group k; with (d, n) B / C, channel i uses row i at every step. The scan
    runs in float32, or float64 if any input is float64, also under
    autocast. As in mamba-ssm, out comes back in u's dtype when u is
    float16 / bfloat16; the last state stays in the computed dtype.

    Args:
        u (torch.Tensor): Input, (b, d, l).
        delta (torch.Tensor): Step sizes, (b, d, l).
        A (torch.Tensor): Diagonal state matrix, (d, n).
        B (torch.Tensor): (d, n), (b, n, l) or (b, g, n, l).
        C (torch.Tensor): (d, n), (b, n, l) or (b, g, n, l).
        D (torch.Tensor, optional): Skip connection, (d,).
        z (torch.Tensor, optional): Gate, (b, d, l).
        delta_bias (torch.Tensor, optional): (d,).
        delta_softplus (bool): Apply softplus to delta + delta_bias.
            Defaults to False.
        return_last_state (bool): Also return the last state h_{l-1}.
            Defaults to False.
        backend (str): 'auto', or a name in ``SCAN_BACKENDS``. 'auto' picks
            the best backend for the device, unless the environment variable
            ``MMGROUPMAMBA_SCAN_BACKEND`` names one. Defaults to 'auto'.

    Returns:
        torch.Tensor | tuple[torch.Tensor, torch.Tensor]: out (b, d, l) and,
        with ``return_last_state``, the last state (b, d, n).

    Raises:
        ValueError: Bad shapes or dtypes, or an unknown backend name.
        RuntimeError: The chosen backend cannot run on these tensors.
    """
    validate_scan_inputs(u, delta, A, B, C, D, z, delta_bias)
    record = resolve_backend(backend, u.device)
    b, _, length = u.shape
    inputs = _cast_inputs(u, delta, A, time_varying(B, b, length),
                          time_varying(C, b, length), D, z, delta_bias)

    def scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, height,
             width):  # no grid: height and width are None
        return record.selective_scan(
            u, delta, A, B, C, D=D, z=z, delta_bias=delta_bias,
            delta_softplus=delta_softplus,
            return_last_state=return_last_state)

    result = _run(TracedSelectiveScan, scan, inputs,
                  (delta_softplus, None, None))
    out_dtype = output_dtype(u, inputs[0].dtype)
    if return_last_state:
        return result[0].to(out_dtype), result[1]
    return result.to(out_dtype)


def directional_scan_fn(u, delta, A, B, C, D=None, z=None, delta_bias=None,
                        delta_softplus=True, *, height, width,
                        backend='auto'):
    """The four-direction selective scan of a GroupMambaLayer, in one call.

    The d channels are 4 groups of e = d / 4; group k scans the
    ``height x width`` grid in direction k (0 row-major, 1 column-major,
    2 and 3 the same reversed; ``directions.scan_orders``) with its own
    B / C, exactly :func:`selective_scan_fn` on the group's tokens in that
    order. Inputs and output are in row-major token order; any strides (a
    transposed view of (b, d, L) is read in place by backends that can).

    Args:
        u (torch.Tensor): Input, (b, L, d), L = height * width.
        delta (torch.Tensor): Step sizes, (b, L, d).
        A (torch.Tensor): Diagonal state matrix, (d, n).
        B (torch.Tensor): (b, L, 4, n), group k's at [:, :, k].
        C (torch.Tensor): (b, L, 4, n).
        D (torch.Tensor, optional): Skip connection, (d,).
        z (torch.Tensor, optional): Gate, (b, L, d).
        delta_bias (torch.Tensor, optional): (d,).
        delta_softplus (bool): Apply softplus to delta + delta_bias.
            Defaults to True.
        height (int): H.
        width (int): W.
        backend (str): As for :func:`selective_scan_fn`. Defaults to 'auto'.

    Returns:
        torch.Tensor: out (b, L, d) in float32, or float64 if any input is
        float64 (half inputs too: the model runs the scan in float32).

    Raises:
        ValueError: Bad shapes or dtypes, or an unknown backend name.
        RuntimeError: The chosen backend cannot run on these tensors.
    """
    validate_directional_inputs(u, delta, A, B, C, D, z, delta_bias, height,
                                width)
    record = resolve_backend(backend, u.device)
    inputs = _cast_inputs(u, delta, A, B, C, D, z, delta_bias)

    def scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, height,
             width):
        if record.directional_scan is not None:
            return record.directional_scan(
                u, delta, A, B, C, D=D, z=z, delta_bias=delta_bias,
                delta_softplus=delta_softplus, height=height, width=width)
        return directions.directional_scan(
            record.selective_scan, u, delta, A, B, C, D=D, z=z,
            delta_bias=delta_bias, delta_softplus=delta_softplus,
            height=height, width=width)

    return _run(TracedDirectionalScan, scan, inputs,
                (delta_softplus, height, width))
