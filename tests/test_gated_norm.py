"""The gated per-group LayerNorm after the scan: one pass of the compiled
CPU extension in float32 inference, torch's ops everywhere else, the same
numbers either way."""
import pytest
import torch
import torch.nn.functional as F
from conftest import OpNames

from mmgroupmamba.ops import cpu_compiled, layer_norm_gated

needs_extension = pytest.mark.skipif(
    cpu_compiled.unavailable_reason(torch.device('cpu')) is not None,
    reason='the compiled CPU extension cannot be built here')


def reference(y, weight, bias, z, eps=1e-5):
    out = F.layer_norm(y, y.shape[-1:], eps=eps)
    return (out * weight + bias) * F.silu(z)


def inputs(b, length, g, dtype=torch.float32, seed=0):
    """y contiguous, z a strided half of a wider map (as the model's gate
    is), per-group weight and bias; y has an offset mean and scale."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randn(b, length, 4, g, generator=gen, dtype=dtype) * 3 + 1
    z = torch.randn(b, length, 4, 2 * g, generator=gen, dtype=dtype)[..., g:]
    weight = torch.randn(4, g, generator=gen, dtype=dtype)
    bias = torch.randn(4, g, generator=gen, dtype=dtype)
    return y, weight, bias, z


@needs_extension
@pytest.mark.parametrize('g', [5, 16, 87, 112])
def test_compiled_matches_torch_ops(g):
    # g: a short row, one vector of lanes, GroupMamba-T stage 3 and 4.
    y, weight, bias, z = inputs(2, 33, g)
    assert not z.is_contiguous()
    with torch.no_grad(), OpNames() as ops:
        out = layer_norm_gated(y, weight, bias, z)
    assert 'aten.native_layer_norm.default' not in ops.names
    assert out.shape == y.shape and out.is_contiguous()
    torch.testing.assert_close(out, reference(y, weight, bias, z),
                               rtol=1e-5, atol=1e-5)


@needs_extension
def test_compiled_reads_any_strides():
    y, weight, bias, z = inputs(2, 20, 24)
    y_t = y.transpose(2, 3).contiguous().transpose(2, 3)  # last stride 4
    with torch.inference_mode():
        out = layer_norm_gated(y_t, weight, bias, z)
    torch.testing.assert_close(out, reference(y, weight, bias, z),
                               rtol=1e-5, atol=1e-5)


def test_autograd_and_float64_take_torch_ops():
    y, weight, bias, z = inputs(2, 9, 16)
    weight.requires_grad_(True)
    with OpNames() as ops:
        out = layer_norm_gated(y, weight, bias, z)
    assert 'aten.native_layer_norm.default' in ops.names
    grad = torch.randn_like(out)
    (got, ) = torch.autograd.grad(out, weight, grad)
    (want, ) = torch.autograd.grad(reference(y, weight, bias, z), weight,
                                   grad)
    torch.testing.assert_close(got, want, rtol=0, atol=0)

    y, weight, bias, z = inputs(2, 9, 16, dtype=torch.float64)
    with torch.no_grad(), OpNames() as ops:
        out = layer_norm_gated(y, weight, bias, z)
    assert 'aten.native_layer_norm.default' in ops.names
    assert torch.equal(out, reference(y, weight, bias, z))


class LayerNormGated(torch.nn.Module):

    def __init__(self, weight, bias):
        super().__init__()
        self.weight = torch.nn.Parameter(weight)
        self.bias = torch.nn.Parameter(bias)

    def forward(self, y, z):
        return layer_norm_gated(y, self.weight, self.bias, z)


def test_traced_graph_holds_aten_ops():
    # ONNX and torch.export see torch's ops, never the extension.
    y, weight, bias, z = inputs(1, 6, 8)
    traced = torch.jit.trace(
        lambda y, z: layer_norm_gated(y, weight, bias, z), (y, z))
    assert 'aten::layer_norm' in str(traced.graph)
    program = torch.export.export(LayerNormGated(weight, bias), (y, z))
    names = {str(node.target) for node in program.graph.nodes}
    assert any('layer_norm' in name for name in names)


@pytest.mark.parametrize('change, message', [
    (lambda y, w, b, z: (y[0], w, b, z[0]), 'y must be'),
    (lambda y, w, b, z: (y, w, b, z[:, :-1]), 'z must be shaped like y'),
    (lambda y, w, b, z: (y, w[:3], b, z), 'weight must be'),
    (lambda y, w, b, z: (y, w, b[:, :-1], z), 'bias must be'),
])
def test_bad_shapes_fail_early(change, message):
    with pytest.raises(ValueError, match=message):
        layer_norm_gated(*change(*inputs(1, 4, 8)))
