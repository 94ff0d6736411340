"""The 'triton' backend: one fused kernel scans all four directions.

One launch scans the four channel groups of a GroupMambaLayer, group k in
direction k, reading u, delta, B, C (and z) through their own strides in row
major token order (a (B, H, W, C) tensor or a transposed (B, C, H, W) view
alike: no flipped, transposed or gathered copies) and writing the output in
the same layout. softplus(delta + delta_bias), the D skip and the optional
z gate are fused. The backward is its own kernel: it recomputes the states
tile by tile from checkpoints the forward keeps every ``BLOCK_L`` steps (the
state entering each tile), never a state per step, and runs the adjoint scan
backwards. Any d_state works; GroupMamba's is 1. The flat (b, d, l)
``selective_scan`` is the same kernel with every group scanning row-major.

GroupMamba applies its z gate after a LayerNorm of the scan output, so its
layer cannot use the fused gate; it is there for the flat interface.

Speed is unmeasured (no GPU in this project's CI). On a GPU a tile load
coalesces when channels are contiguous, i.e. (B, H, W, C) inputs; the model
passes transposed views of (B, C, H, W) tensors, which are read in place but
are strided along channels (and, in the column directions, along tokens).

The kernels (``_triton_kernels.py``) are compiled for CUDA tensors. On CPU
they run only in the Triton interpreter (``TRITON_INTERPRET=1`` in the
environment from the start of the process, see :func:`interpreting`): that
is how the tests check them on a machine without a GPU.

Triton older than :data:`MIN_TRITON_VERSION` makes the backend unavailable
(with the reason, so ``'auto'`` picks another), rather than failing at the
first forward.
"""
import functools
import importlib.util

import torch

from .directions import flat_as_token_major

#: Largest tile of one program, BLOCK_L * BLOCK_C * BLOCK_N elements.
MAX_TILE = 2048

#: Oldest Triton (major, minor) the backend supports: the oldest the kernels
#: are tested with, interpreted and compiled for sm_90 (Triton 3.6, torch
#: 2.11's; and 3.9). Older ones are untested, and some lack what the
#: launcher uses (``triton.knobs`` came in 3.4).
MIN_TRITON_VERSION = (3, 6)


def _next_power_of_2(x):
    return 1 << max(0, x - 1).bit_length()


@functools.lru_cache(maxsize=None)
def _kernels():
    """The kernel module, imported (so compiled or interpreted) once."""
    from . import _triton_kernels
    return _triton_kernels


def interpreting():
    """Whether the kernels run in the Triton interpreter.

    Triton decides per ``@triton.jit`` function when it is decorated: its
    own library (``tl.zeros``, ``tl.sum``, ...) when triton is imported
    (torch imports it early), our kernels when first used. Both must be
    interpreted, so ``TRITON_INTERPRET=1`` must be in the environment from
    the start of the process.

    Returns:
        bool: True when triton's library is interpreted (and our kernels,
        once imported, are too).
    """
    import triton
    import triton.language as tl
    from triton.runtime.interpreter import InterpretedFunction
    library = isinstance(tl.zeros, InterpretedFunction)
    if _kernels.cache_info().currsize:
        return library and isinstance(_kernels().scan_fwd_kernel,
                                      InterpretedFunction)
    return library and bool(triton.knobs.runtime.interpret)


def version_reason(version):
    """Why Triton ``version`` cannot run the kernels (None: it can).

    Args:
        version (str): A Triton version, e.g. ``triton.__version__``
            ('3.6.0', '3.4.0+git1234abcd').

    Returns:
        str | None: The reason, or None from :data:`MIN_TRITON_VERSION` on.
    """
    release = version.split('+')[0].split('.')
    if len(release) < 2 or not all(part.isdigit() for part in release[:2]):
        return f'cannot read the Triton version {version!r}'
    if tuple(int(part) for part in release[:2]) >= MIN_TRITON_VERSION:
        return None
    oldest = '.'.join(map(str, MIN_TRITON_VERSION))
    return (f'Triton {version} is older than {oldest}, the oldest the '
            f'kernels support (torch 2.11 comes with Triton 3.6)')


def unavailable_reason(device):
    """Why the Triton kernels cannot run on ``device`` (None: they can).

    Args:
        device (torch.device): Device of the scan inputs.

    Returns:
        str | None: The reason, or None.
    """
    if importlib.util.find_spec('triton') is None:
        return 'Triton is not installed (pip install triton)'
    import triton
    too_old = version_reason(triton.__version__)
    if too_old is not None:
        return too_old
    if device.type == 'cuda' or interpreting():
        return None
    if device.type == 'cpu':
        return ('Triton kernels are compiled for CUDA devices; CPU tensors '
                'run only in the Triton interpreter: start the process with '
                'TRITON_INTERPRET=1 in its environment (slow, for tests)')
    return (f'Triton kernels run on CUDA devices (or on CPU under '
            f'TRITON_INTERPRET=1), not on {device.type}')


def tile_sizes(length, channels_per_group, n_state):
    """Tile shape of one program: (BLOCK_L, BLOCK_C, BLOCK_N), powers of 2.

    Args:
        length (int): L, tokens per scan.
        channels_per_group (int): e.
        n_state (int): n.

    Returns:
        tuple[int, int, int]: Tokens per tile, channels and padded states
        per program.
    """
    block_n = _next_power_of_2(n_state)
    block_c = min(32, _next_power_of_2(channels_per_group))
    block_l = min(64, _next_power_of_2(length),
                  max(1, MAX_TILE // (block_c * block_n)))
    return block_l, block_c, block_n


def _strides(x, dims):
    """x's strides, or zeros for an absent tensor."""
    return tuple(x.stride()) if x is not None else (0, ) * dims


class _Sizes:
    """Launch sizes of one scan (inputs (b, L, d), B / C (b, L, g, n))."""

    def __init__(self, u, B, height, width, directional):
        self.batch, self.length, self.channels = u.shape
        self.groups, self.n_state = B.shape[2], B.shape[3]
        self.per_group = self.channels // self.groups
        self.height, self.width = height, width
        self.directional = directional
        self.block_l, self.block_c, self.block_n = tile_sizes(
            self.length, self.per_group, self.n_state)
        self.n_tiles = -(-self.length // self.block_l)
        self.n_cblocks = -(-self.per_group // self.block_c)

    @property
    def grid(self):
        return (self.batch, self.groups * self.n_cblocks)

    def common(self):
        """Scalar arguments shared by both kernels, in kernel order."""
        return (self.length, self.height, self.width, self.n_state,
                self.channels, self.per_group, self.n_cblocks, self.n_tiles)

    def blocks(self):
        return dict(DIRECTIONAL=self.directional, BLOCK_L=self.block_l,
                    BLOCK_C=self.block_c, BLOCK_N=self.block_n)


def _forward(u, delta, A, B, C, D, z, delta_bias, delta_softplus, sizes):
    """Launch the forward kernel; returns out (u's layout) and the
    checkpoints (b, d, n_tiles + 1, n), the last being the final state."""
    out = torch.empty_like(u)
    ckpt = u.new_empty(sizes.batch, sizes.channels, sizes.n_tiles + 1,
                       sizes.n_state)
    _kernels().scan_fwd_kernel[sizes.grid](
        u, delta, A, B, C, u if D is None else D,
        u if delta_bias is None else delta_bias, u if z is None else z, out,
        ckpt, *sizes.common(), *u.stride(), *delta.stride(), *B.stride(),
        *C.stride(), *_strides(z, 3), *out.stride(), HAS_D=D is not None,
        HAS_BIAS=delta_bias is not None, HAS_Z=z is not None,
        SOFTPLUS=delta_softplus, **sizes.blocks())
    return out, ckpt


def _backward(saved, grad_out, grad_last, delta_softplus, sizes):
    """Launch the backward kernel; returns the grads of u, delta, A, B, C,
    D, z, delta_bias (None for absent D, z, delta_bias)."""
    u, delta, A, B, C, D, z, delta_bias, ckpt = saved
    if grad_out is None:
        grad_out = torch.zeros_like(u)
    # Input gradients in u's layout (a dense one if u is not dense).
    grad_u, grad_delta = torch.empty_like(u), torch.empty_like(u)
    grad_z = None if z is None else torch.empty_like(u)
    per_channel = u.new_empty(2, sizes.batch, sizes.channels)  # D, bias
    grad_A = u.new_empty(sizes.batch, sizes.channels, sizes.n_state)
    grad_BC = u.new_empty(2, sizes.n_cblocks, sizes.batch, sizes.length,
                          sizes.groups, sizes.n_state)
    _kernels().scan_bwd_kernel[sizes.grid](
        u, delta, A, B, C, u if D is None else D,
        u if delta_bias is None else delta_bias, u if z is None else z,
        ckpt, grad_out, u if grad_last is None else grad_last.contiguous(),
        grad_u, grad_delta, u if z is None else grad_z, grad_A,
        per_channel[0], per_channel[1], grad_BC[0], grad_BC[1],
        *sizes.common(), sizes.groups, *u.stride(), *delta.stride(),
        *B.stride(), *C.stride(), *_strides(z, 3), *grad_out.stride(),
        *grad_u.stride(), HAS_D=D is not None, HAS_BIAS=delta_bias is not None,
        HAS_Z=z is not None, HAS_GLAST=grad_last is not None,
        SOFTPLUS=delta_softplus, **sizes.blocks())
    grad_B, grad_C = grad_BC.sum(1)
    return (grad_u, grad_delta, grad_A.sum(0), grad_B, grad_C,
            None if D is None else per_channel[0].sum(0), grad_z,
            None if delta_bias is None else per_channel[1].sum(0))


class _FusedScan(torch.autograd.Function):
    """(out, last state) of the fused scan; inputs (b, L, d), B / C
    (b, L, g, n) in row-major token order, any strides."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, delta_softplus,
                sizes):
        """Scan forward; see :func:`directional_scan`.

        Returns:
            tuple[torch.Tensor, torch.Tensor]: out (b, L, d) in u's layout,
            last state (b, d, n) (of each group's scan order).
        """
        A, D, delta_bias = (None if x is None else x.contiguous()
                            for x in (A, D, delta_bias))
        out, ckpt = _forward(u, delta, A, B, C, D, z, delta_bias,
                             delta_softplus, sizes)
        ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias, ckpt)
        ctx.delta_softplus = delta_softplus
        ctx.sizes = sizes
        ctx.set_materialize_grads(False)
        return out, ckpt[:, :, -1]

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
            None for delta_softplus and sizes.
        """
        if grad_out is None and grad_last is None:
            return (None, ) * 10
        grads = _backward(ctx.saved_tensors, grad_out, grad_last,
                          ctx.delta_softplus, ctx.sizes)
        return grads + (None, None)


def _scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, sizes):
    """Fused scan through autograd only when something needs a gradient."""
    inputs = (u, delta, A, B, C, D, z, delta_bias)
    if u.numel() == 0:  # an empty batch: nothing to launch
        return torch.zeros_like(u), u.new_zeros(sizes.batch, sizes.channels,
                                               sizes.n_state)
    if torch.is_grad_enabled() and any(
            x is not None and x.requires_grad for x in inputs):
        return _FusedScan.apply(*inputs, delta_softplus, sizes)
    with torch.no_grad():
        A, D, delta_bias = (None if x is None else x.contiguous()
                            for x in (A, D, delta_bias))
        out, ckpt = _forward(u, delta, A, B, C, D, z, delta_bias,
                             delta_softplus, sizes)
    return out, ckpt[:, :, -1]


def directional_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None,
                     delta_softplus=True, height=None, width=None):
    """Four-direction scan in one launch: the ``directional_scan`` of
    :class:`~mmgroupmamba.ops.ScanBackend` (validated inputs of one dtype;
    u (b, L, d) in row-major token order, any strides; out laid out like u).
    """
    sizes = _Sizes(u, B, height, width, directional=True)
    return _scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus,
                 sizes)[0]


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None,
                   delta_softplus=False, return_last_state=False):
    """Flat selective scan (every group row-major) by the same kernel; see
    :func:`mmgroupmamba.ops.selective_scan_fn`.

    Returns:
        torch.Tensor | tuple[torch.Tensor, torch.Tensor]: out (b, d, l) and,
        with ``return_last_state``, the last state (b, d, n).
    """
    u_t, delta_t, B_t, C_t, z_t = flat_as_token_major(u, delta, B, C, z)
    sizes = _Sizes(u_t, B_t, 1, u.shape[2], directional=False)
    out, last = _scan(u_t, delta_t, A, B_t, C_t, D, z_t, delta_bias,
                      delta_softplus, sizes)
    out = out.transpose(1, 2)
    return (out, last) if return_last_state else out
