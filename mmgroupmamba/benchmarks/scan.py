"""Selective-scan inputs, calls and byte counts at GroupMamba's scan shapes.

The model makes one scan call per layer with its four groups together:
d = C channels, g = 4 groups of B / C, n = 1, l = H * W, softplus, D and
delta_bias, no z.
"""
import torch

from mmgroupmamba.ops import directional_scan_fn, selective_scan_fn

#: (channels C, tokens H * W) of the four GroupMamba-T stages at 224 px.
STAGES = ((64, 3136), (128, 784), (348, 196), (448, 49))
#: Stage grids (H, W) of GroupMamba-T at 224 px, matching ``STAGES``.
GRIDS = ((56, 56), (28, 28), (14, 14), (7, 7))
GROUPS = 4


def make_inputs(batch, channels, length, seed=0):
    """Scan inputs shaped and initialised like a GroupMamba layer's.

    Args:
        batch (int): b.
        channels (int): d.
        length (int): l.
        seed (int): RNG seed.

    Returns:
        dict[str, torch.Tensor]: u, delta (b, d, l), A (d, 1),
        B, C (b, 4, 1, l), D, delta_bias (d,), all float32 on the CPU,
        all requiring grad.
    """
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=gen)

    tensors = dict(
        u=randn(batch, channels, length),
        delta=randn(batch, channels, length) * 0.5,
        A=-torch.ones(channels, 1),
        B=randn(batch, GROUPS, 1, length),
        C=randn(batch, GROUPS, 1, length),
        D=torch.ones(channels),
        delta_bias=randn(channels) * 0.5 - 4.0)
    return {k: v.requires_grad_() for k, v in tensors.items()}


def scan_step(inputs, backend, backward):
    """A closure running one flat scan: forward only under no_grad
    (inference), or forward and backward (grads of every input)."""

    def run():
        with torch.set_grad_enabled(backward):
            out = selective_scan_fn(
                inputs['u'], inputs['delta'], inputs['A'], inputs['B'],
                inputs['C'], D=inputs['D'], delta_bias=inputs['delta_bias'],
                delta_softplus=True, backend=backend)
        if backward:
            torch.autograd.grad(out, list(inputs.values()),
                                torch.ones_like(out))

    return run


def copy_step(inputs):
    """A closure copying what a scan reads (u, delta, B, C) and writes
    (out, the size of u)."""
    sources = [inputs[k].detach() for k in ('u', 'delta', 'B', 'C', 'u')]

    def run():
        for tensor in sources:
            tensor.clone()

    return run


def directional_inputs(batch, channels, height, width, device, seed=0):
    """A layer's scan inputs as DirectionalSSM passes them: u, delta are
    (b, L, d) views of (b, d, L) tensors, B, C (b, L, 4, 1) views of
    (b, 4, 1, L); all require grad.

    Returns:
        tuple[dict, dict]: The leaves (on ``device``), and views of them in
        the layout the scan call takes.
    """
    flat = make_inputs(batch, channels, height * width, seed=seed)
    leaves = {k: v.detach().to(device).requires_grad_()
              for k, v in flat.items()}
    return leaves, layer_views(leaves)


def layer_views(leaves):
    """The views :func:`directional_scan_fn` takes of :func:`make_inputs`'
    tensors: u, delta (b, L, d) and B, C (b, L, 4, n), no copies."""
    return dict(leaves, u=leaves['u'].transpose(1, 2),
                delta=leaves['delta'].transpose(1, 2),
                B=leaves['B'].permute(0, 3, 1, 2),
                C=leaves['C'].permute(0, 3, 1, 2))


def directional_step(leaves, views, height, width, backend, backward):
    """A closure running one layer scan (forward, or forward + backward)."""

    def run():
        with torch.set_grad_enabled(backward):
            out = directional_scan_fn(
                views['u'], views['delta'], views['A'], views['B'],
                views['C'], D=views['D'], delta_bias=views['delta_bias'],
                delta_softplus=True, height=height, width=width,
                backend=backend)
        if backward:
            torch.autograd.grad(out, list(leaves.values()),
                                torch.ones_like(out))

    return run


def scan_bytes(batch, channels, length, backward):
    """Bytes a scan must move at least, float32, n = 1: forward reads u,
    delta, B, C and writes out; the backward also reads them and grad_out
    and writes grads of u, delta, B, C (per-channel parameters ignored)."""
    tokens = batch * length * channels
    bc = batch * length * GROUPS
    forward = 3 * tokens + 2 * bc
    total = forward + (5 * tokens + 4 * bc if backward else 0)
    return 4 * total
