"""Selective-scan (S6) kernels behind two entry points.

``selective_scan_fn`` is mamba-ssm's flat (b, d, l) scan;
``directional_scan_fn`` is the one call a GroupMambaLayer makes (four channel
groups, group k scanning the H x W token grid in direction k).

Modules:

* ``dispatch``: the two entry points (validate, resolve the backend, cast,
  call);
* ``validation``: their input checks;
* ``backends``: one :class:`ScanBackend` record per backend (name, scan,
  optional directional scan, why it cannot run on a device) in
  ``SCAN_BACKENDS``, and how ``'auto'`` resolves;
* ``flops``: the scan's FLOP formula and the handles that count it in a
  ``torch.jit`` trace, registered with mmengine's ``FlopAnalyzer`` when this
  package is imported;
* the kernels: ``reference`` (sequential, the ground truth), ``cpu``
  (chunked), ``cpu_compiled`` (a C++ kernel, ``csrc/``, compiled on first
  use; on torch >= 2.4 the operator ``mmgroupmamba::directional_scan`` of
  ``custom_op``, which ``torch.compile`` and ``torch.export`` see whole),
  ``segsum`` (loop-free, exportable), ``triton_scan``,
  ``mamba_ssm_backend``; ``directions`` (the four scan orders);
* ``gated_norm``: ``layer_norm_gated``, the gated per-group LayerNorm
  after the scan (one pass of the compiled extension in CPU inference);
* ``tracing``: whether a call is being recorded into a graph (the fast
  eager paths step aside).
"""
from . import (cpu, cpu_compiled, directions, mamba_ssm_backend, reference,
               segsum)
from . import custom_op  # noqa: F401  (registers the scan operators)
from . import triton_scan
from .backends import (_auto_backend, BACKEND_ENV_VAR, BackendStatus,
                       SCAN_BACKENDS, ScanBackend, available_backends,
                       resolve_backend)
from .dispatch import directional_scan_fn, selective_scan_fn
from .gated_norm import layer_norm_gated
from .flops import (SCAN_FLOP_HANDLES, TRACED_SCAN_OPS,
                    TracedDirectionalScan, TracedSelectiveScan,
                    register_flop_handles, selective_scan_flops)
from .reference import selective_scan_ref

# Stock get_flops tools build their own FlopAnalyzer: give every one of them
# the scan's handles (see flops.py).
register_flop_handles()

__all__ = [
    'selective_scan_fn', 'directional_scan_fn', 'layer_norm_gated',
    'selective_scan_ref',
    'selective_scan_flops', 'available_backends', 'resolve_backend',
    'SCAN_BACKENDS', 'ScanBackend', 'BACKEND_ENV_VAR', 'BackendStatus',
    'TRACED_SCAN_OPS', 'SCAN_FLOP_HANDLES', 'TracedSelectiveScan',
    'TracedDirectionalScan', 'register_flop_handles'
]
