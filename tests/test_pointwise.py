"""The blocks' pointwise layers on a CPU: linear layers as one 1x1
convolution each (GEMMs in compiled and exported graphs), with the numbers
and gradients of ``nn.Linear`` / the per-group ``einsum``; the depthwise
convs with their activation fused in inference (the FFN's GELU, the mixer's
SiLU); the FFN split by images, or an image by bands of rows, where its
hidden map is large."""
import pytest
import torch
import torch.nn.functional as F
from conftest import OpNames
from torch import nn

from mmgroupmamba.models import ffn as ffn_module
from mmgroupmamba.models.ffn import ConvFFN
from mmgroupmamba.models.pointwise import (channel_last_linear,
                                           depthwise_conv_act,
                                           grouped_channel_last_linear)


def grouped_reference(weight, x):
    b, h, w, _ = x.shape
    groups, c_out, c_in = weight.shape
    out = torch.einsum('bhwkc,koc->bhwko', x.view(b, h, w, groups, c_in),
                       weight)
    return out.reshape(b, h, w, groups * c_out)


@pytest.mark.parametrize('dtype, tol', [(torch.float32, 1e-5),
                                        (torch.float64, 1e-12)])
def test_linear_values_and_gradients(dtype, tol):
    torch.manual_seed(0)
    linear = nn.Linear(24, 40).to(dtype)
    x = torch.randn(2, 5, 7, 24, dtype=dtype, requires_grad=True)
    out = channel_last_linear(linear, x)
    expected = linear(x)
    assert out.shape == (2, 5, 7, 40) and out.is_contiguous()
    torch.testing.assert_close(out, expected, rtol=tol, atol=tol)
    grad = torch.randn_like(out)
    got = torch.autograd.grad(out, (x, linear.weight, linear.bias), grad)
    want = torch.autograd.grad(expected, (x, linear.weight, linear.bias),
                               grad)
    for g, e in zip(got, want):
        torch.testing.assert_close(g, e, rtol=tol, atol=tol * 10)


@pytest.mark.parametrize('dtype, tol', [(torch.float32, 1e-5),
                                        (torch.float64, 1e-12)])
def test_grouped_values_and_gradients(dtype, tol):
    torch.manual_seed(0)
    weight = torch.randn(4, 6, 3, dtype=dtype, requires_grad=True)
    x = torch.randn(2, 5, 7, 12, dtype=dtype, requires_grad=True)
    out = grouped_channel_last_linear(weight, x)
    expected = grouped_reference(weight, x)
    assert out.shape == (2, 5, 7, 24) and out.is_contiguous()
    torch.testing.assert_close(out, expected, rtol=tol, atol=tol)
    grad = torch.randn_like(out)
    got = torch.autograd.grad(out, (x, weight), grad)
    want = torch.autograd.grad(expected, (x, weight), grad)
    for g, e in zip(got, want):
        torch.testing.assert_close(g, e, rtol=tol, atol=tol * 10)


def test_cpu_runs_one_convolution_and_copies_nothing():
    # The speed comes from oneDNN's convolution (see pointwise.py); a GEMM,
    # or a copy of the input or output, would bring the old cost back.
    linear = nn.Linear(16, 32)
    x = torch.randn(2, 4, 4, 16)
    for run in (lambda: channel_last_linear(linear, x),
                lambda: grouped_channel_last_linear(torch.randn(4, 8, 4), x)):
        with torch.no_grad(), OpNames() as ops:
            run()
        assert ops.names.count('aten.convolution.default') == 1, ops.names
        slow = [n for n in ops.names
                if any(word in n for word in ('mm', 'copy', 'clone',
                                              'contiguous', 'einsum'))]
        assert not slow, ops.names


class PointwiseLayer(nn.Module):
    """A dense or a grouped channel-last linear layer as a module, the form
    torch.export takes."""

    def __init__(self, grouped):
        super().__init__()
        torch.manual_seed(0)
        self.grouped = grouped
        self.linear = nn.Linear(16, 32)
        self.weight = nn.Parameter(torch.randn(4, 8, 4))

    def forward(self, x):
        if self.grouped:
            return grouped_channel_last_linear(self.weight, x)
        return channel_last_linear(self.linear, x)


def graph_targets(module, x):
    """What the graphs that torch.compile's dynamo and torch.export record
    for ``module(x)`` call, as two sets of lower-case names (a submodule
    call by its class)."""
    recorded = []

    def backend(gm, example_inputs):
        recorded.append(gm)
        return gm.forward

    def names(graph_module):
        called = set()
        for node in graph_module.graph.nodes:
            if node.op == 'call_module':
                called.add(type(graph_module.get_submodule(
                    node.target)).__name__.lower())
            elif node.op == 'call_function':
                called.add(str(node.target).lower())
        return called

    torch._dynamo.reset()
    torch.compile(module, backend=backend, fullgraph=True)(x)
    exported = torch.export.export(module, (x, ))
    return names(recorded[0]), names(exported.graph_module)


@pytest.mark.parametrize('grouped', [False, True])
def test_recorded_graphs_hold_gemms(grouped):
    # Under torch.compile a 1x1 convolution got batch-1 maps with batch
    # stride 0 from Inductor and paid an NCHW output plus a copy back
    # (pointwise._as_convolution): graphs take linear / einsum.
    module = PointwiseLayer(grouped)
    x = torch.randn(1, 4, 4, 16)
    with torch.no_grad():
        graphs = graph_targets(module, x)
        compiled_out = torch.compile(module, backend='eager')(x)
        expected = (grouped_reference(module.weight, x)
                    if grouped else module.linear(x))
    for targets in graphs:
        assert not any('conv' in name for name in targets), targets
        assert any(word in name for name in targets
                   for word in ('linear', 'einsum', 'mm')), targets
    torch.testing.assert_close(compiled_out, expected, rtol=1e-5, atol=1e-5)


def test_autocast_gives_linear_dtype():
    torch.manual_seed(0)
    linear = nn.Linear(16, 32)
    x = torch.randn(2, 4, 4, 16)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out, expected = channel_last_linear(linear, x), linear(x)
    assert out.dtype == expected.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), expected.float(), rtol=2e-2,
                               atol=2e-2)


def depthwise_conv(channels=24):
    torch.manual_seed(0)
    return nn.Conv2d(channels, channels, 3, padding=1, groups=channels)


def channels_last_map(*shape, dtype=torch.float32, requires_grad=False):
    b, c, h, w = shape
    x = torch.randn(b, h, w, c, dtype=dtype).permute(0, 3, 1, 2)
    return x.requires_grad_(requires_grad)


EAGER = {'gelu': F.gelu, 'silu': F.silu}


def conv_act(conv, x, activation):
    return depthwise_conv_act(x, conv.weight, conv.bias, conv.padding[0],
                              activation)


@pytest.mark.parametrize('activation', ['gelu', 'silu'])
def test_conv_act_fuses_in_cpu_inference(activation):
    conv = depthwise_conv()
    x = channels_last_map(2, 24, 9, 11)
    with torch.no_grad(), OpNames() as ops:
        out = conv_act(conv, x, activation)
    # One oneDNN call; a separate activation would write the map again.
    assert ops.names == ['mkldnn._convolution_pointwise.default'], ops.names
    expected = EAGER[activation](conv(x))
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('activation', ['gelu', 'silu'])
def test_conv_act_keeps_autograd_and_other_dtypes_on_aten(activation):
    conv = depthwise_conv()
    eager = EAGER[activation]
    x = channels_last_map(2, 24, 9, 11, requires_grad=True)
    with OpNames() as ops:
        out = conv_act(conv, x, activation)
    assert f'aten.{activation}.default' in ops.names, ops.names
    grad = torch.randn_like(out)
    got = torch.autograd.grad(out, (x, conv.weight), grad)
    want = torch.autograd.grad(eager(conv(x)), (x, conv.weight), grad)
    for g, e in zip(got, want):
        torch.testing.assert_close(g, e)
    # A parameter that needs a gradient is enough to stay on aten.
    with OpNames() as ops:
        conv_act(conv, x.detach(), activation)
    assert f'aten.{activation}.default' in ops.names, ops.names
    conv64 = depthwise_conv().double()
    x64 = channels_last_map(2, 24, 9, 11, dtype=torch.float64)
    with torch.no_grad(), OpNames() as ops:
        out = conv_act(conv64, x64, activation)
    assert f'aten.{activation}.default' in ops.names, ops.names
    torch.testing.assert_close(out, eager(conv64(x64)), rtol=0, atol=0)


@pytest.mark.parametrize('activation', ['gelu', 'silu'])
def test_conv_act_traces_to_aten_for_export(activation):
    # ONNX and torch.export know no oneDNN operator.
    class ConvAct(nn.Module):

        def __init__(self):
            super().__init__()
            self.conv = depthwise_conv()

        def forward(self, x):
            return conv_act(self.conv, x, activation)

    x = channels_last_map(1, 24, 6, 6)
    with torch.no_grad():
        graph = torch.jit.trace(ConvAct().eval(), x)
    kinds = {node.kind() for node in graph.graph.nodes()}
    assert f'aten::{activation}' in kinds, kinds
    assert not any('mkldnn' in k for k in kinds)


def stage1_ffn():
    torch.manual_seed(0)
    return ConvFFN(64, 512).eval()  # GroupMamba-T/S stage 1


def test_ffn_splits_large_cpu_batches_by_hidden_bytes():
    ffn = stage1_ffn()
    # 512 x 56 x 56 float32 is 6.4 MB an image: five fit under 32 MiB.
    tokens = torch.randn(8, 56, 56, 64)
    assert ffn.images_per_pass(tokens.permute(0, 3, 1, 2)) == 5
    with torch.no_grad(), OpNames() as ops:
        ffn(tokens[:5])
    assert ops.names.count('aten.convolution.default') == 2, ops.names
    with torch.no_grad(), OpNames() as ops:
        out = ffn(tokens)
    assert ops.names.count('aten.convolution.default') == 2 * 2, ops.names
    whole = ffn.fc2(F.gelu(ffn.dwconv(
        ffn.fc1(tokens).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)))
    assert out.shape == whole.shape and out.is_contiguous()
    torch.testing.assert_close(out, whole, rtol=1e-4, atol=1e-5)


def test_split_ffn_gradients_match_one_pass(monkeypatch):
    torch.manual_seed(0)
    ffn = ConvFFN(8, 32)
    tokens = torch.randn(5, 6, 7, 8, requires_grad=True)
    grad = torch.randn(5, 6, 7, 8)
    results = []
    # Two images' hidden maps a pass (2 + 2 + 1), then all five at once.
    for budget, passes in ((32 * 6 * 7 * 4 * 2, 3), (2**30, 1)):
        monkeypatch.setattr(ffn_module, 'CPU_HIDDEN_BYTES', budget)
        with OpNames() as ops:
            out = ffn(tokens)
        assert ops.names.count('aten.convolution.default') == 3 * passes
        results.append(
            (out, *torch.autograd.grad(out, (tokens, *ffn.parameters()),
                                       grad)))
    for split, whole in zip(*results):
        torch.testing.assert_close(split, whole)


def test_ffn_bands_keep_each_hidden_map_under_the_mmap_threshold():
    ffn = stage1_ffn()
    # A detector's stage 1 at 800x1216: 124 MB of hidden map an image, in
    # four bands of 50 rows (52 with the halo: 30.9 MiB each).
    assert ffn.rows_per_band(torch.empty(1, 64, 200, 304)) == 50
    # UperNet's at 512x512 is exactly 32 MiB, which glibc maps afresh.
    assert ffn.rows_per_band(torch.empty(2, 64, 128, 128)) == 64
    # A classifier's at 224x224 (6.4 MB an image) runs whole.
    assert ffn.rows_per_band(torch.empty(8, 64, 56, 56)) == 56


@pytest.mark.parametrize('grad', [False, True])
def test_ffn_bands_join_to_the_one_pass_result(monkeypatch, grad):
    torch.manual_seed(0)
    ffn = ConvFFN(8, 32)
    tokens = torch.randn(2, 13, 7, 8, requires_grad=grad)
    upstream = torch.randn(2, 13, 7, 8)
    results = []
    # 32 x 7 float32 is 896 bytes a row: six rows a pass leave four output
    # rows a band (4 + 4 + 4 + 1 per image), then everything in one pass.
    for budget, bands in ((896 * 6, 4 * 2), (2**30, 1)):
        monkeypatch.setattr(ffn_module, 'CPU_HIDDEN_BYTES', budget)
        with torch.set_grad_enabled(grad), OpNames() as ops:
            out = ffn(tokens)
        # fc1 and fc2 per band; the depthwise conv is fused in inference.
        convs = ops.names.count('aten.convolution.default')
        assert convs == (3 if grad else 2) * bands, ops.names
        assert out.shape == tokens.shape and out.is_contiguous()
        results.append([out] + (list(torch.autograd.grad(
            out, (tokens, *ffn.parameters()), upstream)) if grad else []))
    for banded, whole in zip(*results):
        torch.testing.assert_close(banded, whole, rtol=1e-6, atol=1e-6)
