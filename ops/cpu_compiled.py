"""The 'cpu_compiled' backend: a compiled C++ kernel for the scan on CPU.

One call scans all four channel groups of a GroupMambaLayer, group k in
direction k, reading u, delta, B, C (and z) through their own strides in
row-major token order and writing the output in u's layout: no gathered,
flipped or transposed copies. softplus(delta + delta_bias), the D skip and
the z gate are fused. The backward recomputes each channel block's states
from zero in a per-thread buffer (L x n x 16 values), so the forward saves
no states at all, then runs the adjoint scan backwards in time. The flat
(b, d, l) ``selective_scan`` is the same kernel with every group scanning
row-major. float32 and float64; any d_state.

The sources in ``csrc/`` (shipped with the package: the scan, the gated
per-group LayerNorm of :mod:`~mmgroupmamba.ops.gated_norm`, shared
float32 approximations and the bindings) are compiled on first use, into one
module, with ``torch.utils.cpp_extension.load`` into torch's extension cache
(``TORCH_EXTENSIONS_DIR``, by default ``~/.cache/torch_extensions``), under
a name that changes with the sources, the torch version and the compiler
flags, so a new torch or an edited source never loads a stale build. Without a C++ compiler or ninja the backend is
unavailable with that reason (``'auto'`` then keeps ``'cpu'``); a compiler
that fails on the source makes it unavailable with the compiler's message.
"""
import functools
import hashlib
import os
import platform
import shutil
import subprocess

import torch

from ..torch_version import CUSTOM_OPS_SUPPORTED
from .directions import flat_as_token_major

#: The C++ sources, shipped as package data: the scan, the gated norm that
#: follows it in the model, and the module's bindings.
CSRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'csrc')
SOURCES = [
    os.path.join(CSRC, name)
    for name in ('directional_scan_cpu.cpp', 'layer_norm_gated_cpu.cpp',
                 'extension.cpp')
]
#: Headers the sources include: part of what a build depends on.
HEADERS = [os.path.join(CSRC, name) for name in ('fast_math.h', 'kernels.h')]


def _compiler():
    """The C++ compiler torch's extension builder runs (``$CXX`` or c++)."""
    return os.environ.get('CXX', 'c++')


def compile_flags():
    """Compiler flags of the build.

    -O3 for the vectorised lane loops; -fopenmp so that ``at::parallel_for``
    (OpenMP in torch's CPU builds) runs on all threads (without it the
    pragma is ignored and the kernel runs on one). On x86-64 the build is
    for this machine's CPU (-march=native: AVX2 / AVX-512 lanes); the
    extension name includes the CPU model, so a shared cache never loads
    another machine's build.

    Returns:
        list[str]: The flags.
    """
    flags = ['-O3', '-fopenmp']
    if platform.machine().lower() in ('x86_64', 'amd64'):
        flags.append('-march=native')
    return flags


def _cpu_model():
    """The CPU's model name and instruction-set flags from /proc/cpuinfo
    (first core), or the platform's name where there is none."""
    if os.path.exists('/proc/cpuinfo'):
        lines = {}
        with open('/proc/cpuinfo') as f:
            for line in f:
                key = line.split(':')[0].strip()
                if key in ('model name', 'flags') and key not in lines:
                    lines[key] = line
        if lines:
            return ''.join(sorted(lines.values()))
    return platform.processor() or platform.machine()


def extension_name():
    """Name of the compiled module: a hash of what the build depends on.

    Returns:
        str: ``mmgroupmamba_scan_cpu_<hash>``.
    """
    digest = hashlib.sha256()
    for path in SOURCES + HEADERS:
        with open(path, 'rb') as f:
            digest.update(f.read())
    for part in (torch.__version__, ' '.join(compile_flags()), _cpu_model()):
        digest.update(part.encode())
    return f'mmgroupmamba_scan_cpu_{digest.hexdigest()[:12]}'


def build_prerequisites_missing():
    """Why the extension cannot be built here at all (None: it can try).

    Returns:
        str | None: No compiler, or no ninja; None if both are there.
    """
    if shutil.which(_compiler()) is None:
        return (f'no C++ compiler: {_compiler()!r} is not on PATH (install '
                f'g++ or clang, or set CXX)')
    from torch.utils.cpp_extension import is_ninja_available
    if not is_ninja_available():
        return ('ninja is not available (pip install ninja): torch builds '
                'C++ extensions with it')
    return None


@functools.lru_cache(maxsize=None)
def _load():
    """Build (first use on this machine) or load the extension.

    Returns:
        tuple[module | None, str | None]: The module, or None and why it
        could not be built.
    """
    missing = build_prerequisites_missing()
    if missing is not None:
        return None, missing
    from torch.utils.cpp_extension import load
    flags = compile_flags()
    try:
        module = load(name=extension_name(), sources=SOURCES,
                      extra_cflags=flags, extra_ldflags=['-fopenmp'])
    except RuntimeError as error:
        # torch raises RuntimeError from the compiler's CalledProcessError;
        # anything else is not a failed build and must surface.
        if not isinstance(error.__cause__, subprocess.CalledProcessError):
            raise
        return None, f'building {CSRC} failed: {error}'
    return module, None


def extension():
    """The compiled module (built on first use).

    Raises:
        RuntimeError: It cannot be built here (the reason is the message).
    """
    module, reason = _load()
    if module is None:
        raise RuntimeError(reason)
    return module


def unavailable_reason(device):
    """Why the compiled kernel cannot run on ``device`` (None: it can).

    The first call on a machine compiles the kernel (see :func:`_load`).

    Args:
        device (torch.device): Device of the scan inputs.

    Returns:
        str | None: The reason, or None.
    """
    if device.type != 'cpu':
        return f'a CPU kernel; the tensors are on {device.type}'
    return _load()[1]


def kernel_forward(u, delta, A, B, C, D, z, delta_bias, delta_softplus,
                   height, width, directional):
    """One forward call of the kernel (no autograd).

    Args:
        u, delta (torch.Tensor): (b, L, d) in row-major token order, any
            strides.
        A (torch.Tensor): (d, n).
        B, C (torch.Tensor): (b, L, g, n), any strides.
        D, delta_bias (torch.Tensor | None): (d,).
        z (torch.Tensor | None): (b, L, d).
        delta_softplus (bool): softplus(delta + delta_bias).
        height, width (int): The token grid, height * width = L.
        directional (bool): Group k walks direction k (4 groups); False:
            every group scans row-major (the flat scan).

    Returns:
        tuple[torch.Tensor, torch.Tensor]: out (b, L, d) laid out like u,
        last state (b, d, n) (of each group's scan order).
    """
    # The kernel indexes A, D and delta_bias densely.
    A, D, delta_bias = (None if x is None else x.contiguous()
                        for x in (A, D, delta_bias))
    out, last = extension().forward(u, delta, A, B, C, D, z, delta_bias,
                                    delta_softplus, height, width,
                                    directional)
    return out, last


def kernel_backward(u, delta, A, B, C, D, z, delta_bias, grad_out, grad_last,
                    delta_softplus, height, width, directional):
    """One backward call of the kernel: the forward's arguments, then the
    gradients of its two outputs (``grad_last`` may be None).

    The forward's states are recomputed, none are saved. The kernel writes
    per batch element (A, D, delta_bias) and per channel block (B, C)
    partial sums, so no two threads ever write one element; they are summed
    here.

    Returns:
        tuple[torch.Tensor, ...]: Gradients in the inputs' order: u and
        delta (laid out like u), A (d, n), B and C (b, L, g, n) contiguous,
        D (d,) (computed even where D is None), z (b, L, d) (an empty tensor
        where z is None), delta_bias (d,) (computed even where it is None).
    """
    A, D, delta_bias = (None if x is None else x.contiguous()
                        for x in (A, D, delta_bias))
    (grad_u, grad_delta, grad_A, grad_B, grad_C, grad_D, grad_bias,
     grad_z) = extension().backward(u, delta, A, B, C, D, z, delta_bias,
                                    grad_out, grad_last, delta_softplus,
                                    height, width, directional)
    return (grad_u, grad_delta, grad_A.sum(0), grad_B.sum(0), grad_C.sum(0),
            grad_D.sum(0), grad_z, grad_bias.sum(0))


class _CompiledScan(torch.autograd.Function):
    """(out, last state) of the compiled scan as an autograd Function: the
    path on torch < 2.4, which has no ``torch.library.custom_op`` (the same
    kernel calls as the operators of ``custom_op.py``, the same numbers)."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, delta_softplus,
                height, width, directional):
        """Scan forward; see :func:`kernel_forward`."""
        ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias)
        ctx.constants = (delta_softplus, height, width, directional)
        ctx.set_materialize_grads(False)
        return kernel_forward(u, delta, A, B, C, D, z, delta_bias,
                              delta_softplus, height, width, directional)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out, grad_last):
        """Gradients of all tensor inputs by the backward kernel.

        Args:
            ctx: Autograd context.
            grad_out (torch.Tensor | None): (b, L, d).
            grad_last (torch.Tensor | None): (b, d, n).

        Returns:
            tuple: Gradients for u, delta, A, B, C, D, z, delta_bias, then
            None for the four constants.
        """
        if grad_out is None and grad_last is None:
            return (None, ) * 12
        inputs = ctx.saved_tensors
        if grad_out is None:
            grad_out = torch.zeros_like(inputs[0])
        grads = kernel_backward(*inputs, grad_out, grad_last, *ctx.constants)
        return present_grads(inputs, grads) + (None, ) * 4


def present_grads(inputs, grads):
    """The kernel's gradients with None for the optional inputs (D, z,
    delta_bias) that were None."""
    return tuple(None if x is None else g for x, g in zip(inputs, grads))


def _scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, height, width,
          directional):
    """The compiled scan with autograd: the ``mmgroupmamba::directional_scan``
    operator on torch >= 2.4 (one opaque call to ``torch.compile`` and
    ``torch.export``), else :class:`_CompiledScan`, only when something needs
    a gradient.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: out (b, L, d), last (b, d, n).
    """
    args = (u, delta, A, B, C, D, z, delta_bias, delta_softplus, height,
            width, directional)
    if CUSTOM_OPS_SUPPORTED:  # registered by custom_op.py
        return torch.ops.mmgroupmamba.directional_scan(*args)
    if torch.is_grad_enabled() and any(
            x is not None and x.requires_grad for x in args[:8]):
        return _CompiledScan.apply(*args)
    with torch.no_grad():
        return kernel_forward(*args)


def directional_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None,
                     delta_softplus=True, height=None, width=None):
    """Four-direction scan in one call: the ``directional_scan`` of
    :class:`~mmgroupmamba.ops.ScanBackend` (validated inputs of one dtype;
    u (b, L, d) in row-major token order, any strides; out laid out like u).
    """
    return _scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, height,
                 width, True)[0]


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None,
                   delta_softplus=False, return_last_state=False):
    """Flat selective scan (every group row-major) by the same kernel; see
    :func:`mmgroupmamba.ops.selective_scan_fn`.

    Args:
        u, delta (torch.Tensor): (b, d, l).
        A (torch.Tensor): (d, n).
        B, C (torch.Tensor): (b, n, l) or (b, g, n, l).
        D, delta_bias (torch.Tensor | None): (d,).
        z (torch.Tensor | None): (b, d, l).
        delta_softplus (bool): softplus(delta + delta_bias).
        return_last_state (bool): Also return the last state.

    Returns:
        torch.Tensor | tuple[torch.Tensor, torch.Tensor]: out (b, d, l) and,
        with ``return_last_state``, the last state (b, d, n).
    """
    u_t, delta_t, B_t, C_t, z_t = flat_as_token_major(u, delta, B, C, z)
    out, last = _scan(u_t, delta_t, A, B_t, C_t, D, z_t, delta_bias,
                      delta_softplus, 1, u.shape[2], False)
    out = out.transpose(1, 2)
    return (out, last) if return_last_state else out
