"""The compiled CPU scan as the operator ``mmgroupmamba::directional_scan``
(``ops/custom_op.py``): torch's own operator checks, one node under
``torch.compile`` and ``torch.export``, compiled numbers equal to eager, the
same numbers as the autograd Function that torch < 2.4 runs, and its FLOP
handle. Skipped on torch < 2.4 (no ``torch.library.custom_op``) and where
the kernel cannot be built for lack of a compiler or ninja; a build that
fails on the source fails them.
"""
import pytest
import torch
from mmengine.analysis import FlopAnalyzer
# compiled_kernel: autouse, skips without compiler or ninja, builds it.
from test_cpu_compiled_scan import compiled_kernel  # noqa: F401
from test_scan_ops import assert_close

from mmgroupmamba.models.group_mamba_layer import GroupMambaLayer
from mmgroupmamba.ops import cpu_compiled, selective_scan_flops
from mmgroupmamba.torch_version import CUSTOM_OPS, CUSTOM_OPS_SUPPORTED

pytestmark = pytest.mark.skipif(
    not CUSTOM_OPS_SUPPORTED,
    reason=f'torch.library.custom_op needs torch >= {CUSTOM_OPS[0]}.'
    f'{CUSTOM_OPS[1]}; this torch runs the scan as an autograd Function')

HEIGHT, WIDTH = 3, 5


def operator():
    """The forward operator (looked up at run time: registered only on
    torch >= 2.4)."""
    return torch.ops.mmgroupmamba.directional_scan.default


def operator_args(optional, directional, channels=32, n=2):
    """Arguments of the operator at a small grid, float64, tensors requiring
    grad; D, z, delta_bias given or None."""
    gen = torch.Generator().manual_seed(0)
    length = HEIGHT * WIDTH

    def rand(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    tensors = [rand(2, length, channels), rand(2, length, channels) - 1,
               -rand(channels, n).exp(), rand(2, length, 4, n),
               rand(2, length, 4, n)]
    if optional:
        tensors += [rand(channels), rand(2, length, channels), rand(channels)]
    tensors = [x.requires_grad_() for x in tensors]
    if not optional:
        tensors += [None, None, None]
    height, width = (HEIGHT, WIDTH) if directional else (1, length)
    return tensors + [True, height, width, directional]


@pytest.mark.parametrize('optional,directional', [(True, True),
                                                  (False, False)])
def test_opcheck(optional, directional):
    """Schema, autograd registration, fake tensors and AOT dispatch."""
    torch.library.opcheck(operator(), operator_args(optional, directional))


def test_operator_equals_autograd_function():
    """The operator and the autograd Function of torch < 2.4 give the same
    output and gradients (the same kernel calls)."""
    args = operator_args(optional=True, directional=True)
    tensors = args[:8]
    gen = torch.Generator().manual_seed(1)
    weight = torch.randn(tensors[0].shape, generator=gen, dtype=torch.float64)
    results = []
    for scan in (operator(), cpu_compiled._CompiledScan.apply):
        out = scan(*args)[0]
        results.append((out, torch.autograd.grad((out * weight).sum(),
                                                  tensors)))
    (out_op, grads_op), (out_fn, grads_fn) = results
    assert torch.equal(out_op, out_fn)
    for grad_op, grad_fn in zip(grads_op, grads_fn):
        assert torch.equal(grad_op, grad_fn)


def make_layer():
    """A small float64 GroupMambaLayer and its input (B, H, W, C)."""
    torch.manual_seed(0)
    layer = GroupMambaLayer(32, d_state=2).double()
    x = torch.randn(2, HEIGHT, WIDTH, 32, dtype=torch.float64)
    return layer, x


def scan_calls(graph_module):
    """Calls of the scan operator in an FX graph module and its submodules
    (Dynamo's graph records the operator, export's its overload)."""
    return sum(node.target in (operator(), operator().overloadpacket)
               for module in graph_module.modules()
               if isinstance(module, torch.fx.GraphModule)
               for node in module.graph.nodes)


def test_compile_sees_one_operator_call():
    """Dynamo traces the whole layer (fullgraph=True: no break) with the
    scan as one call of the operator."""
    layer, x = make_layer()
    graphs = []

    def recording_backend(graph_module, example_inputs):
        graphs.append(graph_module)
        return graph_module.forward

    compiled = torch.compile(layer, backend=recording_backend, fullgraph=True)
    assert_close(compiled(x), layer(x), 1e-12)
    assert len(graphs) == 1
    assert scan_calls(graphs[0]) == 1


def test_compiled_layer_matches_eager():
    """Inductor's compiled layer: output and the gradients of the input and
    every parameter equal eager's to rounding."""
    layer, x = make_layer()
    compiled = torch.compile(layer, fullgraph=True)
    gen = torch.Generator().manual_seed(1)
    weight = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    names = ['x'] + [name for name, _ in layer.named_parameters()]
    results = []
    for model in (layer, compiled):
        leaf = x.clone().requires_grad_()
        out = model(leaf)
        grads = torch.autograd.grad((out * weight).sum(),
                                    [leaf] + list(layer.parameters()))
        results.append((out.detach(), grads))
    (out, grads), (out_compiled, grads_compiled) = results
    assert_close(out_compiled, out, 1e-12, 'out')
    for name, grad, grad_compiled in zip(names, grads, grads_compiled):
        assert_close(grad_compiled, grad, 1e-12, name)


def test_export_shows_one_operator():
    layer, x = make_layer()
    exported = torch.export.export(layer, (x, ))
    assert scan_calls(exported.graph_module) == 1
    assert_close(exported.module()(x), layer(x), 1e-12)


class OperatorCall(torch.nn.Module):
    """Calls the operator itself (no dispatcher), with D and no z."""

    def forward(self, u, delta, A, B, C, D):
        return operator()(u, delta, A, B, C, D, None, None, False, HEIGHT,
                          WIDTH, True)[0]


def test_flop_handle_of_the_operator():
    """A trace that sees the operator itself counts it by its public name
    with the scan's formula."""
    args = operator_args(optional=True, directional=True)
    tensors = tuple(x.detach() for x in args[:6])
    counted = FlopAnalyzer(OperatorCall(), tensors).total()
    batch, length, channels = tensors[0].shape
    assert counted == selective_scan_flops(batch, channels, length,
                                           tensors[2].shape[1], with_D=True,
                                           with_z=False)
