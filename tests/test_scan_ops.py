"""Selective-scan backends against the sequential float64 reference."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.analysis import FlopAnalyzer

from mmgroupmamba import ops
from mmgroupmamba.ops import (SCAN_BACKENDS, ScanBackend,
                              available_backends, cpu, cpu_compiled,
                              selective_scan_flops,
                              selective_scan_fn, selective_scan_ref)

INPUT_NAMES = ('u', 'delta', 'A', 'B', 'C', 'D', 'z', 'delta_bias')


def make_inputs(b=2, d=8, length=7, n=1, groups=None, dtype=torch.float64,
                with_D=True, with_z=True, with_bias=True, seed=0):
    """Random scan inputs; B / C are 4-D (b, groups, n, l) if groups else 3-D.

    Step sizes stay around softplus(-2 +- 1) and A in [-2, -0.1], so decays
    are mostly close to 1 and the state carries across many chunks.
    """
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=1.0, shift=0.0):
        return (torch.randn(*shape, generator=gen, dtype=torch.float64) *
                scale + shift).to(dtype)

    bc_shape = (b, groups, n, length) if groups else (b, n, length)
    A = -(torch.rand(d, n, generator=gen, dtype=torch.float64) * 1.9 + 0.1)
    return dict(
        u=rand(b, d, length),
        delta=rand(b, d, length, scale=0.5, shift=-1.0),
        A=A.to(dtype),
        B=rand(*bc_shape),
        C=rand(*bc_shape),
        D=rand(d) if with_D else None,
        z=rand(b, d, length) if with_z else None,
        delta_bias=rand(d, scale=0.5, shift=-1.0) if with_bias else None)


def run_scan(fn, inputs, **kwargs):
    """Call a scan function with the inputs dict spread as arguments."""
    return fn(*(inputs[k] for k in INPUT_NAMES), **kwargs)


def requiring_grad(inputs):
    """Copies of the given inputs that require grad, None kept."""
    return {
        k: None if v is None else v.detach().clone().requires_grad_()
        for k, v in inputs.items()
    }


def truncated(inputs, length):
    """The inputs cut to their first ``length`` time steps."""
    return {
        k: v[..., :length] if k in ('u', 'delta', 'B', 'C', 'z')
        and v is not None else v
        for k, v in inputs.items()
    }


def assert_close(actual, expected, rtol, name='value'):
    """max |actual - expected| <= rtol * max(1, max |expected|)."""
    assert actual.shape == expected.shape, name
    assert actual.dtype == expected.dtype, name
    scale = max(1.0, expected.abs().max().item())
    err = (actual - expected).abs().max().item()
    assert err <= rtol * scale, f'{name}: error {err:.3g}, scale {scale:.3g}'


def assert_layer_equals_reference(backend, height, width):
    """A whole GroupMambaLayer (348 channels, float64) on ``backend``:
    output and every parameter gradient equal the reference's to 1e-10."""
    from mmgroupmamba.models.group_mamba_layer import GroupMambaLayer
    torch.manual_seed(0)
    layer = GroupMambaLayer(348).double()
    x = torch.randn(2, height, width, 348, dtype=torch.float64)
    results = {}
    for name in (backend, 'reference'):
        layer.ssm.scan_backend = name
        layer.zero_grad()
        out = layer(x)
        out.pow(2).sum().backward()
        results[name] = (out.detach(), {
            key: p.grad.clone() for key, p in layer.named_parameters()})
    out, grads = results[backend]
    ref_out, ref_grads = results['reference']
    assert_close(out, ref_out, 1e-10, 'out')
    for key, grad in grads.items():
        assert_close(grad, ref_grads[key], 1e-10, key)


def grads_of(fn, inputs, out_grad_seed=1, **kwargs):
    """Output (and last state) and the gradients of a random projection."""
    inputs = requiring_grad(inputs)
    out, last = run_scan(fn, inputs, return_last_state=True, **kwargs)
    gen = torch.Generator().manual_seed(out_grad_seed)
    w_out = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    w_last = torch.randn(last.shape, generator=gen, dtype=torch.float64)
    leaves = [v for v in inputs.values() if v is not None]
    loss = (out * w_out.to(out.dtype)).sum() + (last *
                                                w_last.to(out.dtype)).sum()
    grads = torch.autograd.grad(loss, leaves)
    names = [k for k, v in inputs.items() if v is not None]
    return out.detach(), last.detach(), dict(zip(names, grads))


def compare_with_reference(inputs, rtol=1e-10, softplus=True, backend='cpu'):
    """A backend vs reference: values, last state and all gradients."""
    out, last, grads = grads_of(selective_scan_fn, inputs, backend=backend,
                                delta_softplus=softplus)
    ref_out, ref_last, ref_grads = grads_of(selective_scan_ref, inputs,
                                            delta_softplus=softplus)
    assert_close(out, ref_out, rtol, 'out')
    assert_close(last, ref_last, rtol, 'last_state')
    assert grads.keys() == ref_grads.keys()
    for name in grads:
        assert_close(grads[name], ref_grads[name], rtol, f'grad {name}')


FAST_BACKENDS = ['cpu', 'segsum', 'cpu_compiled']


@pytest.fixture(autouse=True)
def compiled_kernel_buildable(request):
    """Tests of 'cpu_compiled' skip where it cannot be built for lack of a
    compiler or ninja (a build that fails on the source fails them)."""
    callspec = getattr(request.node, 'callspec', None)
    if callspec is not None and callspec.params.get(
            'backend') == 'cpu_compiled':
        missing = cpu_compiled.build_prerequisites_missing()
        if missing is not None:
            pytest.skip(missing)


@pytest.mark.parametrize('backend', FAST_BACKENDS)
@pytest.mark.parametrize('length', [1, 2, 7, 97, 300])
@pytest.mark.parametrize('n', [1, 4])
def test_matches_reference_lengths(length, n, backend):
    compare_with_reference(make_inputs(length=length, n=n, groups=4),
                           backend=backend)


@pytest.mark.parametrize('backend', FAST_BACKENDS)
@pytest.mark.parametrize('with_D', [True, False])
@pytest.mark.parametrize('with_z', [True, False])
@pytest.mark.parametrize('with_bias', [True, False])
@pytest.mark.parametrize('softplus', [True, False])
def test_matches_reference_options(with_D, with_z, with_bias, softplus,
                                   backend):
    inputs = make_inputs(length=29, with_D=with_D, with_z=with_z,
                         with_bias=with_bias)
    if not softplus:  # keep step sizes positive
        inputs['delta'] = inputs['delta'].abs()
    compare_with_reference(inputs, softplus=softplus, backend=backend)


@pytest.mark.parametrize('backend', FAST_BACKENDS)
@pytest.mark.parametrize('groups', [None, 1, 2, 4])
def test_matches_reference_group_layouts(groups, backend):
    compare_with_reference(make_inputs(d=12, length=50, n=2, groups=groups),
                           backend=backend)


@pytest.mark.parametrize('backend', FAST_BACKENDS + ['reference'])
@pytest.mark.parametrize('length', [1, 7, 97])
def test_time_invariant_bc_matches_reference(backend, length):
    """B / C of shape (d, n) (mamba-ssm's time-invariant form): the same as
    (b, d, n, l) grouped B / C holding row i at every step of channel i."""
    inputs = make_inputs(d=8, length=length, n=3)
    gen = torch.Generator().manual_seed(5)
    inputs['B'] = torch.randn(8, 3, generator=gen, dtype=torch.float64)
    inputs['C'] = torch.randn(8, 3, generator=gen, dtype=torch.float64)
    out, last, grads = grads_of(selective_scan_fn, inputs, backend=backend,
                                delta_softplus=True)

    def per_step(x):  # (d, n) -> (b, d, n, l), the same value at each step
        return x[None, :, :, None].expand(2, 8, 3, length)

    expanded = requiring_grad(inputs)
    ref_out, ref_last = run_scan(
        selective_scan_ref, dict(expanded, B=per_step(expanded['B']),
                                 C=per_step(expanded['C'])),
        delta_softplus=True, return_last_state=True)
    gen = torch.Generator().manual_seed(1)  # grads_of's output weights
    w_out = torch.randn(ref_out.shape, generator=gen, dtype=torch.float64)
    w_last = torch.randn(ref_last.shape, generator=gen, dtype=torch.float64)
    ((ref_out * w_out).sum() + (ref_last * w_last).sum()).backward()
    assert_close(out, ref_out.detach(), 1e-10, 'out')
    assert_close(last, ref_last.detach(), 1e-10, 'last_state')
    for name, grad in grads.items():
        assert_close(grad, expanded[name].grad, 1e-10, f'grad {name}')


def test_groupmamba_width_grouped():
    """d = 4 * 87 = 348 channels in 4 groups, n = 1, as GroupMamba runs."""
    compare_with_reference(
        make_inputs(b=2, d=348, length=196, groups=4, with_z=False))


@pytest.mark.parametrize('backend', FAST_BACKENDS)
def test_long_sequence_values(backend):
    inputs = make_inputs(b=2, d=8, length=3136, n=1, groups=4)
    out, last = run_scan(selective_scan_fn, inputs, delta_softplus=True,
                         return_last_state=True, backend=backend)
    ref_out, ref_last = run_scan(selective_scan_ref, inputs,
                                 delta_softplus=True, return_last_state=True)
    assert_close(out, ref_out, 1e-10, 'out')
    assert_close(last, ref_last, 1e-10, 'last_state')


def test_long_sequence_gradients():
    compare_with_reference(
        make_inputs(b=1, d=4, length=3136, n=2, groups=2, with_z=False))


def test_gradcheck_cpu_backend():
    for n, groups, length in ((1, 4, 7), (2, None, 5)):
        inputs = requiring_grad(
            make_inputs(b=2, d=4, length=length, n=n, groups=groups,
                        seed=n))
        assert torch.autograd.gradcheck(
            lambda *args: selective_scan_fn(
                *args, delta_softplus=True, return_last_state=True,
                backend='cpu'),
            tuple(inputs[k] for k in INPUT_NAMES))


@pytest.mark.parametrize('backend', FAST_BACKENDS)
def test_large_decays_long_sequence(backend):
    """delta * A around -50 per step: stays finite and exact (float32 too)."""
    inputs = make_inputs(b=2, d=8, length=3136, n=2, groups=2)
    inputs['A'] = torch.full_like(inputs['A'], -50.0)
    inputs['delta'] = inputs['delta'].abs() + 0.5
    inputs['delta_bias'] = None
    ref = run_scan(selective_scan_ref, inputs, delta_softplus=False)
    for dtype, rtol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
        cast = {k: None if v is None else v.to(dtype)
                for k, v in inputs.items()}
        out = run_scan(selective_scan_fn, cast, delta_softplus=False,
                       backend=backend)
        assert torch.isfinite(out).all()
        assert_close(out.double(), ref, rtol, str(dtype))
    compare_with_reference(truncated(inputs, 300), softplus=False,
                           backend=backend)


def test_float32_vs_float64_reference():
    """float32 inputs: out within 2e-5 of max |out| of the float64 result."""
    inputs = make_inputs(b=2, d=64, length=3136, groups=4, with_z=False)
    ref = run_scan(selective_scan_ref, inputs, delta_softplus=True)
    as_f32 = {k: None if v is None else v.float() for k, v in inputs.items()}
    for backend in ('cpu', 'reference'):
        out = run_scan(selective_scan_fn, as_f32, delta_softplus=True,
                       backend=backend)
        assert out.dtype == torch.float32
        assert_close(out.double(), ref, 2e-5, backend)


def test_float32_gradients_close_to_float64():
    inputs = make_inputs(b=2, d=16, length=500, n=2, groups=4)
    as_f32 = {k: None if v is None else v.float() for k, v in inputs.items()}
    _, _, grads = grads_of(selective_scan_fn, as_f32, backend='cpu',
                           delta_softplus=True)
    _, _, ref_grads = grads_of(selective_scan_ref, inputs,
                               delta_softplus=True)
    for name, grad in grads.items():
        assert grad.dtype == torch.float32
        assert_close(grad.double(), ref_grads[name], 1e-4, name)


def test_float32_softplus_matches_torch():
    x = torch.cat([
        torch.randn(100000, generator=torch.Generator().manual_seed(0)) * 8,
        torch.tensor([20.0, 20.0001, 19.9999, 25.0, 100.0, -100.0, 0.0,
                      -20.0, 1e-30, -1e-30, float('inf'), float('-inf')])
    ])
    ours = cpu._softplus_(x.clone(), (torch.empty_like(x),
                                      torch.empty_like(x)))
    exact = F.softplus(x.double())
    finite = x.isfinite()
    info = torch.finfo(torch.float32)
    ulp = info.eps * (exact[finite].abs() + info.smallest_normal)  # subnormal
    assert ((ours[finite].double() - exact[finite]).abs() <= 2 * ulp).all()
    assert torch.equal(ours[x > 20], x[x > 20])  # linear above 20
    assert torch.equal(ours[~finite], exact[~finite].float())


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_inputs_computed_in_float32_out_in_input_dtype(dtype):
    """mamba-ssm's rule: float32 math, out in u's dtype, last state float32."""
    inputs = make_inputs(length=40, groups=4, dtype=dtype)
    expected, expected_last = run_scan(
        selective_scan_ref, {k: v.double() for k, v in inputs.items()},
        delta_softplus=True, return_last_state=True)
    # float32 math, then one rounding to the half type: half an ulp of it.
    half_ulp = torch.finfo(dtype).eps / 2
    for backend in ('cpu', 'reference'):
        out, last = run_scan(selective_scan_fn, inputs, delta_softplus=True,
                             return_last_state=True, backend=backend)
        assert out.dtype == dtype and last.dtype == torch.float32
        assert_close(last.double(), expected_last, 1e-5, backend)
        bound = half_ulp * expected.abs() + 1e-5 * max(
            1.0, expected.abs().max().item())
        assert ((out.double() - expected).abs() <= bound).all(), backend
    # selective_scan_ref has selective_scan_fn's signature and rule.
    ref_out = run_scan(selective_scan_ref, inputs, delta_softplus=True)
    assert ref_out.dtype == dtype


def test_bfloat16_gradients_flow_back_as_bfloat16():
    inputs = requiring_grad(make_inputs(length=20, dtype=torch.bfloat16))
    out = run_scan(selective_scan_fn, inputs, delta_softplus=True)
    out.sum().backward()
    for name, value in inputs.items():
        assert value.grad.dtype == torch.bfloat16, name
        assert torch.isfinite(value.grad.float()).all(), name


def test_float64_end_to_end():
    out, last = run_scan(selective_scan_fn, make_inputs(length=10),
                         return_last_state=True)
    assert out.dtype == last.dtype == torch.float64


def test_autocast_keeps_float32_math():
    inputs = make_inputs(length=300, groups=4, dtype=torch.float32)
    expected = run_scan(selective_scan_ref,
                        {k: v.double() for k, v in inputs.items()},
                        delta_softplus=True)
    for backend in ('cpu', 'reference'):
        leaves = requiring_grad(inputs)
        with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
            out = run_scan(selective_scan_fn, leaves, delta_softplus=True,
                           backend=backend)
            out.sum().backward()
        assert out.dtype == torch.float32
        assert_close(out.double(), expected, 2e-5, backend)
        assert all(v.grad.dtype == torch.float32 for v in leaves.values())


@pytest.mark.parametrize('length', [97, 98])  # padded, not padded
@pytest.mark.parametrize('n', [1, 2])
def test_without_grad_matches_with_grad(length, n):
    """The no-grad path recycles buffers differently; same values."""
    inputs = make_inputs(length=length, n=n, groups=4)
    with torch.no_grad():
        plain = run_scan(selective_scan_fn, inputs, delta_softplus=True)
    tracked = run_scan(selective_scan_fn, requiring_grad(inputs),
                       delta_softplus=True)
    assert torch.equal(plain, tracked.detach())


def test_last_state_only_gradient():
    inputs = requiring_grad(make_inputs(length=33, n=2))
    _, last = run_scan(selective_scan_fn, inputs, return_last_state=True,
                       backend='cpu')
    last.sum().backward()
    ref_inputs = requiring_grad(inputs)
    _, ref_last = run_scan(selective_scan_ref, ref_inputs,
                           return_last_state=True)
    ref_last.sum().backward()
    for name in INPUT_NAMES:  # None: no path to the state (C, D, z)
        actual, expected = inputs[name].grad, ref_inputs[name].grad
        zeros = torch.zeros_like(inputs[name])
        assert_close(zeros if actual is None else actual,
                     zeros if expected is None else expected, 1e-10, name)


@pytest.mark.parametrize('chunks', [1, 3, 7, 50])
def test_any_chunking_matches_reference(monkeypatch, chunks):
    """One chunk, padded chunks (3, 7 do not divide 50), one-step chunks."""
    monkeypatch.setattr(cpu, 'num_chunks', lambda length: chunks)
    compare_with_reference(make_inputs(length=50, n=2, groups=2))


@pytest.mark.parametrize('length', [1, 2, 7, 49, 97, 196, 784, 3136, 3137])
def test_num_chunks_covers_length(length):
    chunks = cpu.num_chunks(length)
    steps = -(-length // chunks)
    assert 1 <= chunks <= length
    assert chunks * steps - length < steps  # padding below one chunk


def test_unknown_backend_raises():
    with pytest.raises(ValueError, match='cpu'):
        run_scan(selective_scan_fn, make_inputs(), backend='nope')


def test_unavailable_backend_raises(monkeypatch):
    fake = ScanBackend('fake', selective_scan=None,
                       unavailable_reason=lambda device: 'needs a unicorn')
    monkeypatch.setitem(SCAN_BACKENDS, 'fake', fake)
    assert available_backends()['fake'] == (False, 'needs a unicorn')
    assert available_backends()['cpu'].available
    with pytest.raises(RuntimeError, match='needs a unicorn'):
        run_scan(selective_scan_fn, make_inputs(), backend='fake')


def spy_on(monkeypatch, name):
    """Record calls of backend ``name``'s flat scan."""
    calls = []
    original = SCAN_BACKENDS[name].selective_scan

    def spy(u, delta, A, B, C, D, z, delta_bias, delta_softplus,
            return_last_state):
        calls.append(name)
        return original(u, delta, A, B, C, D=D, z=z, delta_bias=delta_bias,
                        delta_softplus=delta_softplus,
                        return_last_state=return_last_state)

    monkeypatch.setitem(SCAN_BACKENDS, name,
                        SCAN_BACKENDS[name]._replace(selective_scan=spy))
    return calls


def test_auto_on_cpu_uses_the_compiled_kernel_else_cpu(monkeypatch):
    monkeypatch.delenv(ops.BACKEND_ENV_VAR, raising=False)
    compiled = ('cpu_compiled' if cpu_compiled.build_prerequisites_missing()
                is None else 'cpu')
    calls = spy_on(monkeypatch, compiled)
    run_scan(selective_scan_fn, make_inputs())
    assert calls == [compiled]
    # Unavailable (as without a compiler): 'auto' keeps the 'cpu' backend.
    monkeypatch.setitem(
        SCAN_BACKENDS, 'cpu_compiled', SCAN_BACKENDS['cpu_compiled']._replace(
            unavailable_reason=lambda device: 'no C++ compiler'))
    calls = spy_on(monkeypatch, 'cpu')
    run_scan(selective_scan_fn, make_inputs())
    assert calls == ['cpu']


def test_env_var_forces_auto_backend(monkeypatch):
    monkeypatch.setenv(ops.BACKEND_ENV_VAR, 'reference')
    ref_calls = spy_on(monkeypatch, 'reference')
    cpu_calls = spy_on(monkeypatch, 'cpu')
    run_scan(selective_scan_fn, make_inputs())
    assert ref_calls == ['reference'] and not cpu_calls
    run_scan(selective_scan_fn, make_inputs(), backend='cpu')  # explicit
    assert cpu_calls == ['cpu']
    monkeypatch.setenv(ops.BACKEND_ENV_VAR, 'nope')
    with pytest.raises(ValueError, match=ops.BACKEND_ENV_VAR):
        run_scan(selective_scan_fn, make_inputs())


@pytest.mark.parametrize('name, value, message', [
    ('u', torch.zeros(2, 8), 'u must have shape'),
    ('delta', torch.zeros(2, 8, 6), 'delta must have shape'),
    ('A', torch.zeros(8, 1, 1), 'A must have shape'),
    ('A', torch.zeros(7, 1), 'A must have shape'),
    ('B', torch.zeros(2, 3, 1, 7), 'B must have shape'),
    ('C', torch.zeros(2, 2, 7), 'C must have shape'),
    ('D', torch.zeros(7), 'D must have shape'),
    ('z', torch.zeros(2, 8, 6), 'z must have shape'),
    ('delta_bias', torch.zeros(8, 1), 'delta_bias must have shape'),
    ('u', torch.zeros(2, 8, 7, dtype=torch.int64), 'u must be a real'),
])
def test_bad_inputs_raise(name, value, message):
    inputs = make_inputs(b=2, d=8, length=7, n=1)
    inputs[name] = value.double() if value.is_floating_point() else value
    with pytest.raises(ValueError, match=message):
        run_scan(selective_scan_fn, inputs)



@pytest.mark.parametrize('with_D, with_z', [(True, False), (False, True)])
def test_flop_counter_sees_one_scan_node(with_D, with_z):
    """mmengine's stock FlopAnalyzer (no handle set here) counts the scan as
    one node, with the official formula."""
    inputs = make_inputs(b=2, d=8, length=20, n=3, groups=2, with_D=with_D,
                         with_z=with_z)

    class Scan(torch.nn.Module):

        def forward(self, u, delta):
            return run_scan(selective_scan_fn, dict(inputs, u=u, delta=delta),
                            delta_softplus=True, backend='reference')

    analyzer = FlopAnalyzer(Scan(), (inputs['u'], inputs['delta']))
    assert analyzer.by_operator() == {
        'PythonOp.TracedSelectiveScan':
        selective_scan_flops(2, 8, 20, 3, with_D=with_D, with_z=with_z)
    }
    assert not analyzer.unsupported_ops()


def test_jit_traced_scan_values_and_gradients():
    """Under torch.jit.trace the scan is one Python node whose backward
    recomputes the backend's scan: same values and gradients."""
    inputs = make_inputs(length=30, n=2, groups=2)
    traced = torch.jit.trace(
        lambda *tensors: selective_scan_fn(*tensors, delta_softplus=True,
                                           return_last_state=True),
        tuple(inputs[k] for k in INPUT_NAMES), check_trace=False)
    assert 'prim::PythonOp' in [node.kind() for node in traced.graph.nodes()]

    def traced_scan(u, delta, A, B, C, D, z, delta_bias, return_last_state,
                    delta_softplus):
        assert return_last_state and delta_softplus  # as traced
        return traced(u, delta, A, B, C, D, z, delta_bias)

    out, last, grads = grads_of(traced_scan, inputs, delta_softplus=True)
    ref_out, ref_last, ref_grads = grads_of(selective_scan_ref, inputs,
                                            delta_softplus=True)
    assert_close(out, ref_out, 1e-10, 'out')
    assert_close(last, ref_last, 1e-10, 'last_state')
    assert grads.keys() == ref_grads.keys()
    for name in grads:
        assert_close(grads[name], ref_grads[name], 1e-10, f'grad {name}')
