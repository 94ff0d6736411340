"""The compiled CPU kernel ('cpu_compiled') against the float64 reference.

The four-direction scan as the model calls it (and contiguous (b, L, d)
inputs), values and the gradients of every input; the flat scan is covered
by the ``FAST_BACKENDS`` tests of test_scan_ops.py. The first test to run
compiles the kernel (see ``ops/cpu_compiled.py``); where no compiler or
ninja exists the tests skip with that reason, a compiler that fails on the
source fails them.
"""
import os
import subprocess
import sys

import pytest
import torch
from conftest import REPO
from test_directions import make_directional_inputs, run_directional
from test_scan_ops import assert_close, assert_layer_equals_reference

from mmgroupmamba import ops
from mmgroupmamba.ops import cpu_compiled, directional_scan_fn

GRAD_NAMES = ('u', 'delta', 'A', 'B', 'C', 'D', 'z', 'delta_bias')
CPU = torch.device('cpu')


@pytest.fixture(autouse=True)
def compiled_kernel():
    """Skip where the kernel cannot be built for lack of tools; build it."""
    missing = cpu_compiled.build_prerequisites_missing()
    if missing is not None:
        pytest.skip(missing)
    cpu_compiled.extension()


def directional_grads(inputs, height, width, backend, softplus=True):
    """Output and the gradients of every present input for a random
    projection of the output."""
    leaves = {k: None if v is None else v.detach().clone().requires_grad_()
              for k, v in inputs.items()}
    out = run_directional(directional_scan_fn, leaves, height, width,
                          delta_softplus=softplus, backend=backend)
    gen = torch.Generator().manual_seed(1)
    weight = torch.randn(out.shape, generator=gen,
                         dtype=torch.float64).to(out.dtype)
    present = [k for k in GRAD_NAMES if leaves[k] is not None]
    grads = torch.autograd.grad((out * weight).sum(),
                                [leaves[k] for k in present])
    return out.detach(), dict(zip(present, grads))


def compare_directional(inputs, height, width, rtol=1e-10, softplus=True):
    """cpu_compiled vs the float64 reference: output and all gradients."""
    out, grads = directional_grads(inputs, height, width, 'cpu_compiled',
                                   softplus)
    as_f64 = {k: None if v is None else v.double() for k, v in inputs.items()}
    ref_out, ref_grads = directional_grads(as_f64, height, width, 'reference',
                                           softplus)
    assert_close(out.double(), ref_out, rtol, 'out')
    assert grads.keys() == ref_grads.keys()
    for name, grad in grads.items():
        assert grad.dtype == inputs[name].dtype, name
        assert_close(grad.double(), ref_grads[name], rtol, f'grad {name}')


@pytest.mark.parametrize('height, width', [(1, 1), (5, 3), (7, 9), (4, 4),
                                           (2, 7)])
def test_directional_matches_reference(height, width):
    """Odd, non-square, square and one-token grids; batch 2, 4 x 3
    channels (one short channel block per group)."""
    inputs = make_directional_inputs(height=height, width=width)
    compare_directional(inputs, height, width)


@pytest.mark.parametrize('direction', range(4))
def test_each_direction_alone(direction):
    """Only group ``direction`` gets a nonzero input and output gradient, so
    any mix-up of the four orders shows in that group's values alone."""
    inputs = make_directional_inputs(height=5, width=3, per_group=17)
    mask = torch.zeros(4, 17, dtype=torch.float64)
    mask[direction] = 1
    inputs['u'] = inputs['u'] * mask.view(-1)
    compare_directional(inputs, 5, 3)


@pytest.mark.parametrize('layout', ['channels_first', 'channels_last'])
@pytest.mark.parametrize('n', [1, 3])
def test_layouts_gate_and_state_sizes(layout, n):
    """Batch 3, 5 channels a group; the model's channel-major views and
    contiguous (b, L, d); a gate z; state sizes 1 and 3."""
    inputs = make_directional_inputs(b=3, height=2, width=5, per_group=5,
                                     n=n, layout=layout, with_z=True)
    compare_directional(inputs, 2, 5)


@pytest.mark.parametrize('with_D', [True, False])
@pytest.mark.parametrize('with_bias', [True, False])
@pytest.mark.parametrize('softplus', [True, False])
def test_options(with_D, with_bias, softplus):
    """With and without D, delta_bias and softplus."""
    inputs = make_directional_inputs(height=3, width=5, per_group=4)
    if not with_D:
        inputs['D'] = None
    if not with_bias:
        inputs['delta_bias'] = None
    if not softplus:  # keep step sizes positive
        inputs['delta'] = inputs['delta'].abs()
    compare_directional(inputs, 3, 5, softplus=softplus)


@pytest.mark.parametrize('per_group', [16, 87, 106])
def test_groupmamba_widths(per_group):
    """Whole channel blocks (16), d = 4 * 87 = 348 (GroupMamba-T stage 3)
    and 4 * 106: several blocks a group, the last one short."""
    inputs = make_directional_inputs(height=2, width=3, per_group=per_group)
    compare_directional(inputs, 2, 3)


def test_long_sequence_values_and_gradients():
    """A 64 x 64 grid (4096 tokens a scan)."""
    inputs = make_directional_inputs(b=1, height=64, width=64, per_group=2)
    compare_directional(inputs, 64, 64)


def test_large_decays():
    """delta * A around -50 per token over 56 x 56 tokens: finite and exact
    in float64, within 1e-5 in float32."""
    inputs = make_directional_inputs(b=1, height=56, width=56, per_group=3,
                                     n=2)
    inputs['A'] = torch.full_like(inputs['A'], -50.0)
    inputs['delta'] = inputs['delta'].abs() + 0.5
    compare_directional(inputs, 56, 56)
    ref = run_directional(directional_scan_fn, inputs, 56, 56,
                          backend='reference')
    as_f32 = {k: None if v is None else v.float() for k, v in inputs.items()}
    out = run_directional(directional_scan_fn, as_f32, 56, 56,
                          backend='cpu_compiled')
    assert torch.isfinite(out).all()
    assert_close(out.double(), ref, 1e-5, 'float32')


def test_softplus_above_threshold():
    """delta + bias > 20: softplus is the identity (and its grad 1)."""
    inputs = make_directional_inputs(height=2, width=3)
    inputs['delta'] = inputs['delta'] + 22.0
    inputs['A'] = inputs['A'] * 0.01  # keep exp(delta A) away from 0
    compare_directional(inputs, 2, 3)


def test_float32_against_float64_reference():
    """float32 kernel (its exp / softplus approximations) vs the float64
    reference: out within 2e-5, grads within 1e-4 of max(1, max
    |reference|), as for 'cpu'; at GroupMamba-T stage-1 length too."""
    for height, width, per_group, n in ((5, 6, 6, 2), (56, 56, 16, 1)):
        inputs = make_directional_inputs(
            b=1, height=height, width=width, per_group=per_group, n=n,
            dtype=torch.float32, with_z=True)
        out, grads = directional_grads(inputs, height, width, 'cpu_compiled')
        as_f64 = {k: None if v is None else v.double()
                  for k, v in inputs.items()}
        ref_out, ref_grads = directional_grads(as_f64, height, width,
                                               'reference')
        assert out.dtype == torch.float32
        assert_close(out.double(), ref_out, 2e-5, 'out')
        for name, grad in grads.items():
            assert grad.dtype == torch.float32
            assert_close(grad.double(), ref_grads[name], 1e-4, name)


def test_gradcheck():
    """torch.autograd.gradcheck of the directional scan (float64), with a
    gate and a state size of 2."""
    inputs = make_directional_inputs(b=1, height=2, width=3, per_group=2,
                                     n=2, with_z=True)
    leaves = tuple(inputs[k].detach().clone().requires_grad_()
                   for k in GRAD_NAMES)
    assert torch.autograd.gradcheck(
        lambda *args: directional_scan_fn(*args, height=2, width=3,
                                          backend='cpu_compiled'), leaves)


def test_writes_the_input_layout_and_no_grad_path_agrees():
    inputs = make_directional_inputs(layout='channels_first')
    leaves = {k: None if v is None else v.detach().clone().requires_grad_()
              for k, v in inputs.items()}
    out = run_directional(directional_scan_fn, leaves, 3, 4,
                          backend='cpu_compiled')
    # (b, d, L) memory like u: the output is written in place, no copy.
    assert out.stride() == inputs['u'].stride()
    with torch.no_grad():
        again = run_directional(directional_scan_fn, inputs, 3, 4,
                                backend='cpu_compiled')
    assert torch.equal(out.detach(), again)


def test_threads_do_not_change_results():
    """Work items never share an output element: 1 and 2 threads agree
    bit for bit, output and gradients."""
    inputs = make_directional_inputs(b=3, height=7, width=9, per_group=20,
                                     dtype=torch.float32, with_z=True)
    threads = torch.get_num_threads()
    results = []
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            results.append(directional_grads(inputs, 7, 9, 'cpu_compiled'))
    finally:
        torch.set_num_threads(threads)
    (out1, grads1), (out2, grads2) = results
    assert torch.equal(out1, out2)
    for name in grads1:
        assert torch.equal(grads1[name], grads2[name]), name


def test_empty_batch():
    inputs = make_directional_inputs(b=0, height=2, width=3)
    out, grads = directional_grads(inputs, 2, 3, 'cpu_compiled')
    assert out.shape == (0, 6, 12)
    assert grads['A'].abs().sum() == 0 and grads['u'].shape == (0, 6, 12)


def test_group_mamba_layer_equals_reference():
    """A whole GroupMambaLayer (348 channels, 5 x 3 tokens, float64):
    output and every parameter gradient."""
    assert_layer_equals_reference('cpu_compiled', 5, 3)


def test_auto_on_cpu_picks_the_compiled_kernel(monkeypatch):
    monkeypatch.delenv(ops.BACKEND_ENV_VAR, raising=False)
    assert ops.available_backends(CPU)['cpu_compiled'].available
    assert ops._auto_backend(CPU) == 'cpu_compiled'
    monkeypatch.setenv(ops.BACKEND_ENV_VAR, 'cpu')  # the override wins
    assert ops._auto_backend(CPU) == 'cpu'
    assert 'CPU kernel' in ops.available_backends('meta')[
        'cpu_compiled'].reason


def test_without_a_compiler_it_is_unavailable_and_auto_keeps_cpu():
    """In a fresh process whose CXX names no compiler (and a fresh
    extension cache): the reason says so, 'auto' is 'cpu', and asking for
    cpu_compiled raises with the reason."""
    script = (
        'import torch\n'
        'from mmgroupmamba import ops\n'
        "print('reason:', ops.available_backends('cpu')['cpu_compiled']"
        '.reason)\n'
        "print('auto:', ops._auto_backend(torch.device('cpu')))\n"
        'try:\n'
        "    ops.resolve_backend('cpu_compiled', torch.device('cpu'))\n"
        'except RuntimeError as error:\n'
        "    print('raised:', error)\n")
    env = {k: v for k, v in os.environ.items()
           if k != ops.BACKEND_ENV_VAR}
    env['CXX'] = 'no-such-compiler-xyz'
    result = subprocess.run([sys.executable, '-c', script], cwd=REPO, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("reason: no C++ compiler: 'no-such-compiler")
    assert lines[1] == 'auto: cpu'
    assert lines[2].startswith(
        "raised: Scan backend 'cpu_compiled' is unavailable on cpu: no C++ "
        'compiler')
