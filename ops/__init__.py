"""Selective-scan (S6) kernels behind two entry points.

``selective_scan_fn`` is mamba-ssm's flat (b, d, l) scan;
``directional_scan_fn`` is the one call a GroupMambaLayer makes: four channel
groups, group k scanning the H x W token grid in direction k (see
``directions.py``), inputs and output in row-major token order.

A backend is a small adapter module registered by name in ``SCAN_BACKENDS``.
It provides ``selective_scan(u, delta, A, B, C, D=, z=, delta_bias=,
delta_softplus=, return_last_state=)``, called with validated inputs of one
float32 / float64 dtype and autocast disabled, and
``unavailable_reason(device)`` returning None, or a string saying why it
cannot run on that device. A backend that scans the four directions natively
also provides ``directional_scan(u, delta, A, B, C, D=, z=, delta_bias=,
delta_softplus=, height=, width=)``; the others get the generic gather /
flat scan / un-gather of ``directions.directional_scan``.
"""
import os
from typing import NamedTuple

import torch

from . import cpu, directions, mamba_ssm_backend, reference, segsum
from . import triton_scan
from .reference import compute_dtype, selective_scan_ref

SCAN_BACKENDS = {
    'reference': reference,
    'cpu': cpu,
    'segsum': segsum,
    'triton': triton_scan,
    'cuda': mamba_ssm_backend,
}

#: Environment variable that forces the backend chosen by ``backend='auto'``.
BACKEND_ENV_VAR = 'MMGROUPMAMBA_SCAN_BACKEND'


class BackendStatus(NamedTuple):
    """Whether a scan backend can run, and if not why."""
    available: bool
    reason: str


def available_backends(device='cpu'):
    """Availability of every registered backend on ``device``.

    Args:
        device (str | torch.device): Device the scan inputs would live on.

    Returns:
        dict[str, BackendStatus]: Backend name -> status.
    """
    device = torch.device(device)
    statuses = {}
    for name, module in SCAN_BACKENDS.items():
        reason = module.unavailable_reason(device)
        statuses[name] = BackendStatus(reason is None, reason or 'available')
    return statuses


# What 'auto' tries, in order, per device type: the first available wins.
# The 'cpu' backend is device-agnostic plain PyTorch, the last resort on GPUs.
_AUTO_BACKENDS = {'cuda': ('triton', 'cuda', 'cpu')}


def _auto_backend(device):
    """The backend name ``'auto'`` means for tensors on ``device``."""
    forced = os.environ.get(BACKEND_ENV_VAR)
    if forced:
        if forced not in SCAN_BACKENDS:
            raise ValueError(
                f'{BACKEND_ENV_VAR}={forced!r} is not a scan backend; known: '
                f'{sorted(SCAN_BACKENDS)}')
        return forced
    for name in _AUTO_BACKENDS.get(device.type, ()):
        if SCAN_BACKENDS[name].unavailable_reason(device) is None:
            return name
    return 'cpu'


def resolve_backend(backend, device):
    """Backend name -> module, raising rather than falling back.

    Args:
        backend (str): 'auto' or a name in ``SCAN_BACKENDS``.
        device (torch.device): Device of the scan inputs.

    Returns:
        module: The backend adapter.

    Raises:
        ValueError: Unknown backend name.
        RuntimeError: Known backend that cannot run on ``device``.
    """
    name = _auto_backend(device) if backend == 'auto' else backend
    if name not in SCAN_BACKENDS:
        raise ValueError(f'Unknown scan backend {backend!r}; known: '
                         f"{['auto'] + sorted(SCAN_BACKENDS)}")
    module = SCAN_BACKENDS[name]
    reason = module.unavailable_reason(device)
    if reason is not None:
        raise RuntimeError(
            f'Scan backend {name!r} is unavailable on {device}: {reason}')
    return module


def _check_shape(name, tensor, expected, shape_text):
    """Raise ValueError unless ``tensor.shape == expected``."""
    if tuple(tensor.shape) != tuple(expected):
        raise ValueError(f'{name} must have shape {shape_text} = '
                         f'{tuple(expected)}, got {tuple(tensor.shape)}')


def _check_bc(name, tensor, b, d, n, length):
    """B / C must be (b, n, l) or (b, g, n, l) with g dividing d."""
    shape = tuple(tensor.shape)
    grouped = (len(shape) == 4 and shape[0] == b and shape[2:] == (n, length)
               and shape[1] > 0 and d % shape[1] == 0)
    if shape != (b, n, length) and not grouped:
        raise ValueError(f'{name} must have shape (b, n, l) = {(b, n, length)}'
                         f' or (b, g, n, l) = ({b}, g, {n}, {length}) with d '
                         f'= {d} divisible by g, got {shape}')


def _check_dtypes_and_devices(u, delta, A, B, C, D, z, delta_bias):
    """Every given input is real floating point and on u's device."""
    tensors = dict(u=u, delta=delta, A=A, B=B, C=C, D=D, z=z,
                   delta_bias=delta_bias)
    for name, tensor in tensors.items():
        if tensor is not None and not tensor.is_floating_point():
            raise ValueError(f'{name} must be a real floating point tensor, '
                             f'got {tensor.dtype}')
        if tensor is not None and tensor.device != u.device:
            raise ValueError(f'{name} is on {tensor.device}, u on {u.device}')


def _check_per_channel(A, D, delta_bias, d):
    """A (d, n), D and delta_bias (d,); returns n."""
    if A.dim() != 2:
        raise ValueError(f'A must have shape (d, n), got {tuple(A.shape)}')
    _check_shape('A', A, (d, A.shape[1]), '(d, n)')
    if D is not None:
        _check_shape('D', D, (d, ), '(d,)')
    if delta_bias is not None:
        _check_shape('delta_bias', delta_bias, (d, ), '(d,)')
    return A.shape[1]


def _validate(u, delta, A, B, C, D, z, delta_bias):
    """Shape, dtype and device checks with messages naming the argument."""
    _check_dtypes_and_devices(u, delta, A, B, C, D, z, delta_bias)
    if u.dim() != 3 or u.shape[2] == 0:
        raise ValueError(f'u must have shape (b, d, l) with l >= 1, got '
                         f'{tuple(u.shape)}')
    b, d, length = u.shape
    n = _check_per_channel(A, D, delta_bias, d)
    _check_shape('delta', delta, (b, d, length), '(b, d, l)')
    _check_bc('B', B, b, d, n, length)
    _check_bc('C', C, b, d, n, length)
    if z is not None:
        _check_shape('z', z, (b, d, length), '(b, d, l)')


def _validate_directional(u, delta, A, B, C, D, z, delta_bias, height,
                          width):
    """The checks of :func:`directional_scan_fn`'s inputs."""
    _check_dtypes_and_devices(u, delta, A, B, C, D, z, delta_bias)
    k = directions.NUM_DIRECTIONS
    for name, size in (('height', height), ('width', width)):
        # SymInt: a symbolic size under torch.export / torch.compile; a
        # 0-dim tensor: a size under torch.jit tracing (FLOP counters).
        traced = torch.jit.is_tracing() and isinstance(
            size, torch.Tensor) and size.dim() == 0
        if not traced and (isinstance(size, bool) or
                           not isinstance(size, (int, torch.SymInt))):
            raise ValueError(f'{name} must be an int, got {size!r}')
    length = height * width
    if u.dim() != 3 or u.shape[1] != length or u.shape[1] == 0 or \
            u.shape[2] % k:
        raise ValueError(
            f'u must have shape (b, H * W, d) = (b, {length}, d) with d '
            f'divisible by {k}, got {tuple(u.shape)}')
    b, _, d = u.shape
    n = _check_per_channel(A, D, delta_bias, d)
    _check_shape('delta', delta, u.shape, '(b, H * W, d)')
    if z is not None:
        _check_shape('z', z, u.shape, '(b, H * W, d)')
    _check_shape('B', B, (b, length, k, n), '(b, H * W, 4, n)')
    _check_shape('C', C, (b, length, k, n), '(b, H * W, 4, n)')


def _cast_inputs(*tensors):
    """Inputs in the scan's compute dtype (None kept)."""
    dtype = compute_dtype(*tensors)
    return tuple(None if x is None else x.to(dtype) for x in tensors)


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
    group k. The scan runs in float32, or float64 if any input is float64;
    half inputs are upcast and give float32 outputs, also under autocast.

    Args:
        u (torch.Tensor): Input, (b, d, l).
        delta (torch.Tensor): Step sizes, (b, d, l).
        A (torch.Tensor): Diagonal state matrix, (d, n).
        B (torch.Tensor): (b, n, l) or (b, g, n, l).
        C (torch.Tensor): (b, n, l) or (b, g, n, l).
        D (torch.Tensor, optional): Skip connection, (d,).
        z (torch.Tensor, optional): Gate, (b, d, l).
        delta_bias (torch.Tensor, optional): (d,).
        delta_softplus (bool): Apply softplus to delta + delta_bias.
        return_last_state (bool): Also return the last state h_{l-1}.
        backend (str): 'auto', or a name in ``SCAN_BACKENDS``. 'auto' picks
            the best backend for the device, unless the environment variable
            ``MMGROUPMAMBA_SCAN_BACKEND`` names one.

    Returns:
        torch.Tensor | tuple[torch.Tensor, torch.Tensor]: out (b, d, l) and,
        with ``return_last_state``, the last state (b, d, n).

    Raises:
        ValueError: Bad shapes or dtypes, or an unknown backend name.
        RuntimeError: The chosen backend cannot run on these tensors.
    """
    _validate(u, delta, A, B, C, D, z, delta_bias)
    module = resolve_backend(backend, u.device)
    u, delta, A, B, C, D, z, delta_bias = _cast_inputs(
        u, delta, A, B, C, D, z, delta_bias)
    with torch.autocast(device_type=u.device.type, enabled=False):
        return module.selective_scan(
            u, delta, A, B, C, D=D, z=z, delta_bias=delta_bias,
            delta_softplus=delta_softplus,
            return_last_state=return_last_state)


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
        backend (str): As for :func:`selective_scan_fn`.

    Returns:
        torch.Tensor: out (b, L, d), float32 or float64 like
        :func:`selective_scan_fn`.

    Raises:
        ValueError: Bad shapes or dtypes, or an unknown backend name.
        RuntimeError: The chosen backend cannot run on these tensors.
    """
    _validate_directional(u, delta, A, B, C, D, z, delta_bias, height, width)
    module = resolve_backend(backend, u.device)
    u, delta, A, B, C, D, z, delta_bias = _cast_inputs(
        u, delta, A, B, C, D, z, delta_bias)
    with torch.autocast(device_type=u.device.type, enabled=False):
        if hasattr(module, 'directional_scan'):
            return module.directional_scan(
                u, delta, A, B, C, D=D, z=z, delta_bias=delta_bias,
                delta_softplus=delta_softplus, height=height, width=width)
        return directions.directional_scan(
            module.selective_scan, u, delta, A, B, C, D=D, z=z,
            delta_bias=delta_bias, delta_softplus=delta_softplus,
            height=height, width=width)


#: How one whole scan appears in a ``torch.jit`` trace (for FLOP counters):
#: the 'cpu' backend's autograd Function, which the backend uses whenever an
#: input requires grad. Trace with grad enabled to see it.
TRACED_SCAN_OPS = ('prim::PythonOp._ChunkedScan', )


def selective_scan_flops(batch, channels, length, state_size, with_D=True,
                         with_z=False):
    """FLOPs of one scan, counted as the official GroupMamba/VMamba code does.

    ``9 * B * L * D * N`` for the recurrence, plus ``B * D * L`` for the D
    skip and again for the z gate; a multiply-add counts as one FLOP.

    Args:
        batch (int): B.
        channels (int): D, the scanned channels of the call.
        length (int): L.
        state_size (int): N.
        with_D (bool): The D skip is applied. Defaults to True.
        with_z (bool): The z gate is applied. Defaults to False.

    Returns:
        int: FLOPs.
    """
    flops = 9 * batch * length * channels * state_size
    return flops + batch * channels * length * (int(with_D) + int(with_z))


__all__ = [
    'selective_scan_fn', 'directional_scan_fn', 'selective_scan_ref',
    'selective_scan_flops',
    'available_backends', 'resolve_backend', 'SCAN_BACKENDS',
    'BACKEND_ENV_VAR', 'BackendStatus', 'TRACED_SCAN_OPS'
]
