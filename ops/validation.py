"""Checks of the scan entry points' inputs, with messages naming the argument.

Run before any backend sees the tensors, so every backend gets the same
early ``ValueError`` instead of its own failure deep inside a kernel.
"""
import torch

from .directions import NUM_DIRECTIONS


def _check_shape(name, tensor, expected, shape_text):
    """Raise ValueError unless ``tensor.shape == expected``."""
    if tuple(tensor.shape) != tuple(expected):
        raise ValueError(f'{name} must have shape {shape_text} = '
                         f'{tuple(expected)}, got {tuple(tensor.shape)}')


def _check_bc(name, tensor, b, d, n, length):
    """B / C must be (d, n), (b, n, l) or (b, g, n, l) with g dividing d."""
    shape = tuple(tensor.shape)
    grouped = (len(shape) == 4 and shape[0] == b and shape[2:] == (n, length)
               and shape[1] > 0 and d % shape[1] == 0)
    if shape not in ((d, n), (b, n, length)) and not grouped:
        raise ValueError(f'{name} must have shape (d, n) = {(d, n)}, (b, n, '
                         f'l) = {(b, n, length)} or (b, g, n, l) = ({b}, g, '
                         f'{n}, {length}) with d = {d} divisible by g, got '
                         f'{shape}')


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


def validate_scan_inputs(u, delta, A, B, C, D, z, delta_bias):
    """The checks of :func:`mmgroupmamba.ops.selective_scan_fn`'s inputs.

    Args:
        u, delta (torch.Tensor): (b, d, l), l >= 1.
        A (torch.Tensor): (d, n).
        B, C (torch.Tensor): (d, n), (b, n, l) or (b, g, n, l), g | d.
        D, delta_bias (torch.Tensor | None): (d,).
        z (torch.Tensor | None): (b, d, l).

    Raises:
        ValueError: A shape, dtype or device that does not fit.
    """
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


def validate_directional_inputs(u, delta, A, B, C, D, z, delta_bias, height,
                                width):
    """The checks of :func:`mmgroupmamba.ops.directional_scan_fn`'s inputs.

    Args:
        u, delta (torch.Tensor): (b, H * W, d), d divisible by 4.
        A (torch.Tensor): (d, n).
        B, C (torch.Tensor): (b, H * W, 4, n).
        D, delta_bias (torch.Tensor | None): (d,).
        z (torch.Tensor | None): (b, H * W, d).
        height, width (int): H and W.

    Raises:
        ValueError: A shape, size, dtype or device that does not fit.
    """
    _check_dtypes_and_devices(u, delta, A, B, C, D, z, delta_bias)
    k = NUM_DIRECTIONS
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
