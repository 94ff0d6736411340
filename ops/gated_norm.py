"""The gated per-group LayerNorm that follows the scan in a GroupMamba mixer
(mamba-ssm's gated norm with the norm before the gate, one norm per group)."""
import torch
import torch.nn.functional as F

from . import cpu_compiled
from .tracing import eager_cpu_float32_inference


def _check_shapes(y, weight, bias, z):
    """Raise ValueError naming the tensor whose shape does not fit."""
    if y.dim() != 4:
        raise ValueError('layer_norm_gated: y must be (b, L, G, g), got '
                         f'shape {tuple(y.shape)}')
    if z.shape != y.shape:
        raise ValueError(f'layer_norm_gated: z must be shaped like y '
                         f'{tuple(y.shape)}, got {tuple(z.shape)}')
    for name, t in (('weight', weight), ('bias', bias)):
        if t.shape != y.shape[2:]:
            raise ValueError(
                f'layer_norm_gated: {name} must be (G, g) = '
                f'{tuple(y.shape[2:])}, got {tuple(t.shape)}')


def _compiled_applies(y, weight, bias, z):
    """Whether :func:`layer_norm_gated` may take the compiled kernel: an
    eager float32 CPU call that autograd does not record (the kernel has no
    backward), with the extension built on this machine."""
    if not eager_cpu_float32_inference(y, weight, bias, z):
        return False
    return cpu_compiled.unavailable_reason(y.device) is None


def layer_norm_gated(y, weight, bias, z, eps=1e-5):
    """``(layer_norm(y) * weight + bias) * silu(z)``, each group of channels
    normalised on its own.

    Why: torch runs this as five passes over the map, and on a CPU its
    layer_norm over rows of a few dozen values spends more on bookkeeping
    than on arithmetic (GroupMamba-T stage 1, batch 8: 13.7 ms against
    0.3 ms for a copy of the map on an Intel Xeon, 2 threads). In CPU
    inference (float32, no gradient recorded, not traced) the compiled
    extension of :mod:`~mmgroupmamba.ops.cpu_compiled` does it in one pass
    when it is built here; the results agree with torch's ops within
    float32 rounding. Anywhere else (autograd, float64, GPU, a traced
    graph, no C++ compiler) it is torch's ops.

    Args:
        y (Tensor): (b, L, G, g): G groups of g channels per token.
        weight (Tensor): (G, g), the affine scale of each group.
        bias (Tensor): (G, g).
        z (Tensor): Gate (b, L, G, g), any strides.
        eps (float): LayerNorm epsilon. Defaults to 1e-5.

    Returns:
        Tensor: (b, L, G, g), contiguous on the compiled path.

    Raises:
        ValueError: y is not 4-D, z is not shaped like y, or weight / bias
            are not (G, g).
    """
    if not torch.jit.is_tracing():  # a jit trace's sizes are tensors
        _check_shapes(y, weight, bias, z)
    if _compiled_applies(y, weight, bias, z):
        return cpu_compiled.extension().layer_norm_gated(
            y, weight, bias, z, eps)
    out = F.layer_norm(y, y.shape[-1:], eps=eps)
    return (out * weight + bias) * F.silu(z)
