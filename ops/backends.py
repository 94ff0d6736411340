"""The scan backends, one record each, and how a backend name is resolved.

A :class:`ScanBackend` names a backend and holds its functions: the flat
scan, the reason it cannot run on a device (or None) and, for a backend that
walks the four directions natively, its directional scan. ``SCAN_BACKENDS``
maps names to records; ``'auto'`` is resolved per device, never falling back
silently from a name the caller gave.
"""
import os
from typing import Callable, NamedTuple, Optional

import torch

from . import (cpu, cpu_compiled, mamba_ssm_backend, reference, segsum,
               triton_scan)

#: Environment variable that forces the backend chosen by ``backend='auto'``.
BACKEND_ENV_VAR = 'MMGROUPMAMBA_SCAN_BACKEND'


class BackendStatus(NamedTuple):
    """Whether a scan backend can run, and if not why."""
    available: bool
    reason: str


class ScanBackend(NamedTuple):
    """One selective-scan backend.

    The dispatcher calls its functions with validated inputs of one float32
    or float64 dtype, B / C as (b, n, l) or (b, g, n, l), and autocast
    disabled.

    Attributes:
        name (str): The name ``backend=`` selects it by.
        selective_scan (callable): The flat scan, ``selective_scan(u, delta,
            A, B, C, D=, z=, delta_bias=, delta_softplus=,
            return_last_state=)`` with u (b, d, l); see
            :func:`mmgroupmamba.ops.selective_scan_fn`.
        unavailable_reason (callable): ``unavailable_reason(device)`` -> None
            if the backend runs on that ``torch.device``, else a sentence
            saying why not.
        directional_scan (callable, optional): The four-direction scan,
            ``directional_scan(u, delta, A, B, C, D=, z=, delta_bias=,
            delta_softplus=, height=, width=)`` with u (b, H * W, d); see
            :func:`mmgroupmamba.ops.directional_scan_fn`. None: the
            dispatcher gathers each group's tokens into its order and runs
            ``selective_scan`` once (``directions.directional_scan``).
    """
    name: str
    selective_scan: Callable
    unavailable_reason: Callable[[torch.device], Optional[str]]
    directional_scan: Optional[Callable] = None

    def status(self, device):
        """:class:`BackendStatus` of this backend on ``device``."""
        reason = self.unavailable_reason(torch.device(device))
        return BackendStatus(reason is None, reason or 'available')


SCAN_BACKENDS = {
    backend.name: backend
    for backend in (
        ScanBackend('reference', reference.selective_scan_ref,
                    reference.unavailable_reason),
        ScanBackend('cpu', cpu.selective_scan, cpu.unavailable_reason),
        ScanBackend('cpu_compiled', cpu_compiled.selective_scan,
                    cpu_compiled.unavailable_reason,
                    directional_scan=cpu_compiled.directional_scan),
        ScanBackend('segsum', segsum.selective_scan,
                    segsum.unavailable_reason),
        ScanBackend('triton', triton_scan.selective_scan,
                    triton_scan.unavailable_reason,
                    directional_scan=triton_scan.directional_scan),
        ScanBackend('cuda', mamba_ssm_backend.selective_scan,
                    mamba_ssm_backend.unavailable_reason),
    )
}

# What 'auto' tries, in order, per device type: the first available wins.
# The 'cpu' backend is device-agnostic plain PyTorch, the last resort on every
# device: on CPU where the compiled kernel cannot be built (no compiler), its
# results equal the compiled kernel's to rounding.
_AUTO_BACKENDS = {
    'cuda': ('triton', 'cuda', 'cpu'),
    'cpu': ('cpu_compiled', 'cpu'),
}


def available_backends(device='cpu'):
    """Availability of every registered backend on ``device``.

    Args:
        device (str | torch.device): Device the scan inputs would live on.
            Defaults to 'cpu'.

    Returns:
        dict[str, BackendStatus]: Backend name -> status.
    """
    return {name: backend.status(device)
            for name, backend in SCAN_BACKENDS.items()}


# A backend's availability on a device is a fact of the machine: under
# torch.compile it is read once, at trace time, and kept as a constant (it
# builds or loads kernels and probes files, which would break the graph).
@torch.compiler.assume_constant_result
def _unavailable_reason(name, device):
    """``SCAN_BACKENDS[name].unavailable_reason(device)``."""
    return SCAN_BACKENDS[name].unavailable_reason(device)


@torch.compiler.assume_constant_result
def _auto_backend(device):
    """The backend name ``'auto'`` means for tensors on ``device`` (under
    ``torch.compile``: when the model is traced)."""
    forced = os.environ.get(BACKEND_ENV_VAR)
    if forced:
        if forced not in SCAN_BACKENDS:
            raise ValueError(
                f'{BACKEND_ENV_VAR}={forced!r} is not a scan backend; known: '
                f'{sorted(SCAN_BACKENDS)}')
        return forced
    for name in _AUTO_BACKENDS.get(device.type, ()):
        if _unavailable_reason(name, device) is None:
            return name
    return 'cpu'


def resolve_backend(backend, device):
    """Backend name -> its record, raising rather than falling back.

    Args:
        backend (str): 'auto' or a name in ``SCAN_BACKENDS``.
        device (torch.device): Device of the scan inputs.

    Returns:
        ScanBackend: The backend.

    Raises:
        ValueError: Unknown backend name.
        RuntimeError: Known backend that cannot run on ``device``.
    """
    name = _auto_backend(device) if backend == 'auto' else backend
    if name not in SCAN_BACKENDS:
        raise ValueError(f'Unknown scan backend {backend!r}; known: '
                         f"{['auto'] + sorted(SCAN_BACKENDS)}")
    reason = _unavailable_reason(name, device)
    if reason is not None:
        raise RuntimeError(
            f'Scan backend {name!r} is unavailable on {device}: {reason}')
    return SCAN_BACKENDS[name]
