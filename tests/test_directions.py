"""The four scan orders of a GroupMambaLayer, and the directional scan."""
import pytest
import torch

from mmgroupmamba.ops import (cpu_compiled, directional_scan_fn,
                              selective_scan_ref)
from mmgroupmamba.ops.directions import scan_orders

DIRECTIONAL_NAMES = ('u', 'delta', 'A', 'B', 'C', 'D', 'z', 'delta_bias')


def make_directional_inputs(b=2, height=3, width=4, per_group=3, n=1,
                            dtype=torch.float64, layout='channels_first',
                            with_z=False, seed=0):
    """Inputs of ``directional_scan_fn`` in row-major token order.

    Step sizes around softplus(-2 +- 1), A in [-2, -0.1] (as in
    test_scan_ops.make_inputs), so states carry across many tokens.

    Args:
        b (int): Batch.
        height (int): H.
        width (int): W.
        per_group (int): Channels per direction group; d = 4 * per_group.
        n (int): State size.
        dtype (torch.dtype): Float dtype.
        layout (str): 'channels_first': u / delta / z are transposed views
            of (b, d, L) tensors, as the model passes them;
            'channels_last': contiguous (b, L, d).
        with_z (bool): Include a gate z.
        seed (int): RNG seed.

    Returns:
        dict[str, torch.Tensor | None]: u, delta, z (b, L, d), A (d, n),
        B, C (b, L, 4, n), D, delta_bias (d,).
    """
    gen = torch.Generator().manual_seed(seed)
    length, d = height * width, 4 * per_group

    def rand(*shape, scale=1.0, shift=0.0):
        return (torch.randn(*shape, generator=gen, dtype=torch.float64) *
                scale + shift).to(dtype)

    def tokens(scale=1.0, shift=0.0):
        if layout == 'channels_first':
            return rand(b, d, length, scale=scale,
                        shift=shift).transpose(1, 2)
        return rand(b, length, d, scale=scale, shift=shift)

    A = -(torch.rand(d, n, generator=gen, dtype=torch.float64) * 1.9 + 0.1)
    return dict(
        u=tokens(),
        delta=tokens(scale=0.5, shift=-1.0),
        A=A.to(dtype),
        B=rand(b, length, 4, n),
        C=rand(b, length, 4, n),
        D=rand(d),
        z=tokens() if with_z else None,
        delta_bias=rand(d, scale=0.5, shift=-1.0))


def run_directional(fn, inputs, height, width, **kwargs):
    """Call ``directional_scan_fn``-like ``fn`` with the inputs dict."""
    return fn(*(inputs[k] for k in DIRECTIONAL_NAMES), height=height,
              width=width, **kwargs)


def test_scan_orders_on_a_3x4_grid():
    order, unorder = scan_orders(3, 4, torch.device('cpu'))
    row_major = list(range(12))  # token h * 4 + w
    column_major = [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]
    assert order[0].tolist() == row_major
    assert order[1].tolist() == column_major
    assert order[2].tolist() == row_major[::-1]  # starts at (2, 3)
    assert order[3].tolist() == column_major[::-1]
    for k in range(4):  # merging is the exact inverse of scanning
        assert order[k][unorder[k]].tolist() == row_major
        assert unorder[k][order[k]].tolist() == row_major


def test_inference_mode_then_training_on_the_same_grid():
    """The cached orders are made under inference_mode by an evaluation
    first; a training step on the same grid then saves them for backward,
    which torch refuses for inference tensors."""
    grid = (5, 7)  # a grid no other test caches first
    scan_orders.cache_clear()
    inputs = make_directional_inputs(height=5, width=7, dtype=torch.float32)
    with torch.inference_mode():
        evaluated = run_directional(directional_scan_fn, inputs, *grid,
                                    backend='cpu')
    assert not any(t.is_inference()
                   for t in scan_orders(*grid, torch.device('cpu')))
    leaves = {k: None if v is None else v.detach().requires_grad_()
              for k, v in inputs.items()}
    trained = run_directional(directional_scan_fn, leaves, *grid,
                              backend='cpu')
    trained.sum().backward()
    assert torch.equal(trained.detach(), evaluated)
    assert leaves['u'].grad is not None


def test_single_token_and_single_row():
    order, _ = scan_orders(1, 1, torch.device('cpu'))
    assert order.tolist() == [[0]] * 4
    order, _ = scan_orders(1, 5, torch.device('cpu'))
    assert order[1].tolist() == [0, 1, 2, 3, 4]  # a 1-row column scan is a row scan


def scan_one_direction(inputs, k, height, width):
    """Group k scanned by flipping / transposing its (H, W) grid: an
    independent construction of direction k (no scan_orders)."""
    e = inputs['u'].shape[2] // 4
    group = slice(k * e, (k + 1) * e)

    def to_scan_order(x):  # (b, L, c) row-major -> (b, c, L) in k's order
        grid = x.reshape(x.shape[0], height, width, x.shape[-1])
        if k % 2:
            grid = grid.transpose(1, 2)
        x = grid.reshape(x.shape[0], height * width, -1).transpose(1, 2)
        return x.flip(-1) if k >= 2 else x

    def to_row_major(y):  # inverse of to_scan_order
        y = y.flip(-1) if k >= 2 else y
        if k % 2:
            y = y.reshape(y.shape[0], -1, width, height).transpose(-1, -2)
        return y.reshape(y.shape[0], -1, height * width).transpose(1, 2)

    out = selective_scan_ref(
        to_scan_order(inputs['u'][..., group]),
        to_scan_order(inputs['delta'][..., group]), inputs['A'][group],
        to_scan_order(inputs['B'][:, :, k]),
        to_scan_order(inputs['C'][:, :, k]), D=inputs['D'][group],
        z=None if inputs['z'] is None else to_scan_order(
            inputs['z'][..., group]),
        delta_bias=inputs['delta_bias'][group], delta_softplus=True)
    return to_row_major(out)


# The compiled kernel walks the four orders itself: checked here against
# flips and transposes, independently of scan_orders.
COMPILED = pytest.param(
    'cpu_compiled', marks=pytest.mark.skipif(
        cpu_compiled.build_prerequisites_missing() is not None,
        reason=str(cpu_compiled.build_prerequisites_missing())))


@pytest.mark.parametrize('backend', ['reference', 'cpu', 'segsum', COMPILED])
@pytest.mark.parametrize('height, width', [(3, 5), (4, 4), (1, 1), (2, 7)])
def test_directional_scan_is_four_flipped_scans(backend, height, width):
    inputs = make_directional_inputs(height=height, width=width, n=2,
                                     with_z=True)
    out = run_directional(directional_scan_fn, inputs, height, width,
                          backend=backend)
    expected = torch.cat(
        [scan_one_direction(inputs, k, height, width) for k in range(4)], -1)
    assert out.shape == expected.shape and out.dtype == torch.float64
    assert (out - expected).abs().max() < 1e-12


@pytest.mark.parametrize('name, value, message', [
    ('u', torch.zeros(2, 11, 12), r'u must have shape \(b, H \* W, d\)'),
    ('u', torch.zeros(2, 12, 10), 'divisible by 4'),
    ('delta', torch.zeros(2, 12, 8), 'delta must have shape'),
    ('B', torch.zeros(2, 12, 2, 1), r'B must have shape \(b, H \* W, 4, n\)'),
    ('C', torch.zeros(2, 1, 12), 'C must have shape'),
    ('A', torch.zeros(12), 'A must have shape'),
    ('delta_bias', torch.zeros(11), 'delta_bias must have shape'),
])
def test_directional_bad_inputs_raise(name, value, message):
    inputs = make_directional_inputs()
    inputs[name] = value.double()
    with pytest.raises(ValueError, match=message):
        run_directional(directional_scan_fn, inputs, 3, 4)


def test_directional_bad_grid_raises():
    inputs = make_directional_inputs()
    with pytest.raises(ValueError, match='height must be an int'):
        run_directional(directional_scan_fn, inputs, 3.0, 4)
    with pytest.raises(ValueError, match=r'\(b, 8, d\)'):
        run_directional(directional_scan_fn, inputs, 2, 4)
