"""The 'cuda' backend: mamba-ssm's compiled CUDA selective scan, adapted.

An optional extra (``pip install mmgroupmamba[cuda]``) for CUDA machines.
mamba-ssm's ``selective_scan_fn`` has our flat signature and semantics
(grouped (b, g, n, l) B / C included); this module only checks that it can
run and adapts the arguments (its kernel takes A, D and delta_bias in float32
and computes in float32, so float64 inputs are refused rather than silently
downcast). The four directions come from the dispatcher's generic gather /
scan / un-gather (``directions.py``): mamba-ssm scans one direction.

Nothing here has been run against a real mamba-ssm build in this project
(no GPU in its CI); the argument adaptation is tested on CPU through the
reference scan, which shares mamba-ssm's signature.
"""
import importlib
import importlib.util

import torch

#: The compiled extension module mamba-ssm builds.
_EXTENSION = 'selective_scan_cuda'


def unavailable_reason(device):
    """Why mamba-ssm's kernel cannot run on ``device`` (None: it can).

    Args:
        device (torch.device): Device of the scan inputs.

    Returns:
        str | None: The reason, or None.
    """
    if importlib.util.find_spec('mamba_ssm') is None:
        return ('mamba-ssm is not installed (pip install mmgroupmamba[cuda] '
                'on a CUDA machine)')
    if device.type != 'cuda':
        return (f'mamba-ssm runs on CUDA devices only; the tensors are on '
                f'{device.type}')
    try:
        importlib.import_module(_EXTENSION)
    except ImportError as error:  # installed without its compiled kernel
        return (f'mamba-ssm is installed but its compiled extension '
                f'{_EXTENSION!r} does not import: {error}')
    return None


def mamba_ssm_arguments(u, delta, A, B, C, D=None, z=None, delta_bias=None):
    """Our validated scan inputs -> the arguments mamba-ssm's kernel takes.

    Args:
        u, delta (torch.Tensor): (b, d, l), float32 (half types are upcast
            by the dispatcher).
        A (torch.Tensor): (d, n).
        B, C (torch.Tensor): (b, n, l) or (b, g, n, l).
        D, delta_bias (torch.Tensor | None): (d,).
        z (torch.Tensor | None): (b, d, l).

    Returns:
        dict[str, torch.Tensor | None]: u, delta, A, B, C, D, z, delta_bias
        with a unit stride along l (the kernel's requirement) and A, D,
        delta_bias in float32.

    Raises:
        ValueError: float64 inputs (mamba-ssm computes in float32).
    """
    if u.dtype == torch.float64:
        raise ValueError('the cuda (mamba-ssm) backend computes in float32; '
                         'use the reference or cpu backend for float64')

    def unit_stride(x):
        return x if x is None or x.stride(-1) == 1 else x.contiguous()

    def as_float32(x):
        return None if x is None else x.float().contiguous()

    args = {k: unit_stride(v) for k, v in
            dict(u=u, delta=delta, B=B, C=C, z=z).items()}
    args.update(A=as_float32(A), D=as_float32(D),
                delta_bias=as_float32(delta_bias))
    return args


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None,
                   delta_softplus=False, return_last_state=False):
    """mamba-ssm's selective scan; see
    :func:`mmgroupmamba.ops.selective_scan_fn` for the arguments.

    Returns:
        torch.Tensor | tuple[torch.Tensor, torch.Tensor]: out (b, d, l) and,
        with ``return_last_state``, the last state (b, d, n).
    """
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    args = mamba_ssm_arguments(u, delta, A, B, C, D=D, z=z,
                               delta_bias=delta_bias)
    return selective_scan_fn(
        args['u'], args['delta'], args['A'], args['B'], args['C'],
        D=args['D'], z=args['z'], delta_bias=args['delta_bias'],
        delta_softplus=delta_softplus, return_last_state=return_last_state)
