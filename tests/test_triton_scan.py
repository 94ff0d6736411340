"""The fused Triton scan against the float64 reference, in the interpreter.

No GPU here: the kernels run in the Triton interpreter on CPU tensors. That
needs TRITON_INTERPRET=1 from the start of the process (triton decorates its
own library functions when it is imported, and torch imports triton early),
so ``test_kernels_in_the_triton_interpreter`` runs this module's
``TestInterpretedKernels`` in a child pytest with it set; the class exists
only in such a process, so the rest of the suite stays compiled-mode.
Shapes are small: the interpreter runs every tile op in numpy.

Also the 'cuda' (mamba-ssm) adapter and 'auto', as far as a CPU can check.
"""
import os
import subprocess
import sys

import pytest
import torch
from conftest import REPO
from test_directions import make_directional_inputs, run_directional
from test_scan_ops import (assert_close, assert_layer_equals_reference,
                           compare_with_reference, make_inputs, run_scan)

from mmgroupmamba import ops
from mmgroupmamba.ops import (cpu_compiled, directional_scan_fn,
                              mamba_ssm_backend, selective_scan_fn,
                              selective_scan_ref, triton_scan)

GRAD_NAMES = ('u', 'delta', 'A', 'B', 'C', 'D', 'z', 'delta_bias')
INTERPRETED = triton_scan.interpreting()


def cpu_auto_backend():
    """What 'auto' means on CPU here: the compiled kernel where it can be
    built (a failed build is an error, not a fallback), else 'cpu'."""
    if cpu_compiled.build_prerequisites_missing() is None:
        return 'cpu_compiled'
    return 'cpu'


def without_backend_env():
    """os.environ without TRITON_INTERPRET and the backend override."""
    return {k: v for k, v in os.environ.items()
            if k not in ('TRITON_INTERPRET', ops.BACKEND_ENV_VAR)}


if not INTERPRETED:

    def test_kernels_in_the_triton_interpreter():
        """TestInterpretedKernels, in a child pytest with TRITON_INTERPRET=1
        in its environment from the start."""
        env = dict(without_backend_env(), TRITON_INTERPRET='1')
        result = subprocess.run(
            [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
             f'{__file__}::TestInterpretedKernels'], cwd=REPO, env=env,
            capture_output=True, text=True)
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr
        assert ' passed' in result.stdout and 'skipped' not in result.stdout

    @pytest.mark.parametrize('kernel', ['scan_fwd_kernel', 'scan_bwd_kernel'])
    @pytest.mark.parametrize('dtype, flags', [
        ('fp32', dict(DIRECTIONAL=True, HAS_Z=False, BLOCK_N=1)),  # the model
        ('fp64', dict(DIRECTIONAL=False, HAS_Z=True, BLOCK_N=4)),
    ])
    def test_kernels_compile_for_h100(kernel, dtype, flags):
        """The interpreter checks what the kernels compute; this checks that
        they also lower to a cubin for sm_90 (Triton's bundled ptxas; no
        GPU needed). It does not run them."""
        import triton
        from triton.backends.compiler import GPUTarget
        from triton.compiler import ASTSource
        fn = getattr(triton_scan._kernels(), kernel)
        constants = dict(flags, HAS_D=True, HAS_BIAS=True, SOFTPLUS=True,
                         HAS_GLAST=True, BLOCK_L=64, BLOCK_C=32)
        constants = {k: v for k, v in constants.items() if k in fn.arg_names}
        signature = {
            name: 'constexpr' if name in constants else
            f'*{dtype}' if name.endswith('_ptr') else 'i32'
            for name in fn.arg_names}
        compiled = triton.compile(
            ASTSource(fn, signature, constexprs=constants),
            target=GPUTarget('cuda', 90, 32),
            options=dict(enable_fp_fusion=True))  # triton 3.9's default
        assert compiled.asm['cubin'] and '.target sm_90' in compiled.asm['ptx']


def use_small_tiles(monkeypatch):
    """4-token tiles of at most 8 channels: many tiles (state carries,
    checkpoints) and masked channel blocks even at small shapes."""
    default = triton_scan.tile_sizes

    def small(length, per_group, n):
        _, block_c, block_n = default(length, per_group, n)
        return 4, min(8, block_c), block_n

    monkeypatch.setattr(triton_scan, 'tile_sizes', small)


@pytest.fixture
def small_tiles(monkeypatch):
    use_small_tiles(monkeypatch)


@pytest.fixture(params=['default tiles', 'small tiles'])
def tiles(request, monkeypatch):
    """The default tile shape, then small tiles."""
    if request.param == 'small tiles':
        use_small_tiles(monkeypatch)


def directional_grads(inputs, height, width, backend):
    """Output and gradients of every input for a random projection."""
    leaves = {k: None if v is None else v.detach().clone().requires_grad_()
              for k, v in inputs.items()}
    out = run_directional(directional_scan_fn, leaves, height, width,
                          backend=backend)
    gen = torch.Generator().manual_seed(1)
    weight = torch.randn(out.shape, generator=gen,
                         dtype=torch.float64).to(out.dtype)
    present = [k for k in GRAD_NAMES if leaves[k] is not None]
    grads = torch.autograd.grad((out * weight).sum(),
                                [leaves[k] for k in present])
    return out.detach(), dict(zip(present, grads))


def compare_directional(inputs, height, width, rtol=1e-10):
    """triton vs the float64 reference: output and all gradients."""
    out, grads = directional_grads(inputs, height, width, 'triton')
    as_f64 = {k: None if v is None else v.double() for k, v in inputs.items()}
    ref_out, ref_grads = directional_grads(as_f64, height, width, 'reference')
    assert_close(out.double(), ref_out, rtol, 'out')
    assert grads.keys() == ref_grads.keys()
    for name, grad in grads.items():
        assert grad.dtype == inputs[name].dtype, name
        assert_close(grad.double(), ref_grads[name], rtol, f'grad {name}')


if INTERPRETED:  # a child process started with TRITON_INTERPRET=1

    class TestInterpretedKernels:
        """Fused kernels vs the float64 reference (values and gradients of
        u, delta, A, B, C, D, z, delta_bias)."""

        @pytest.mark.parametrize('height, width', [(1, 1), (4, 4), (3, 5),
                                                   (5, 3), (2, 7)])
        def test_directional_matches_reference(self, height, width, tiles):
            """Square, non-square, odd, one token; batch 2, 4 x 3 channels."""
            inputs = make_directional_inputs(height=height, width=width)
            compare_directional(inputs, height, width)

        @pytest.mark.parametrize('layout', ['channels_first', 'channels_last'])
        @pytest.mark.parametrize('n', [1, 3])
        def test_directional_layouts_gate_and_state_sizes(
                self, layout, n, small_tiles):
            """Batch 3, 5 channels a group (a masked channel block)."""
            inputs = make_directional_inputs(
                b=3, height=2, width=5, per_group=5, n=n, layout=layout,
                with_z=True)
            compare_directional(inputs, 2, 5)

        @pytest.mark.parametrize('per_group', [87, 106])
        def test_directional_groupmamba_widths(self, per_group):
            """d = 4 * 87 = 348 (GroupMamba-T stage 3), and 4 * 106."""
            inputs = make_directional_inputs(height=2, width=3,
                                             per_group=per_group)
            compare_directional(inputs, 2, 3)

        def test_directional_writes_the_input_layout(self):
            inputs = make_directional_inputs(layout='channels_first')
            out = run_directional(directional_scan_fn, inputs, 3, 4,
                                  backend='triton')
            # (b, d, L) memory like u: written in place, no copy.
            assert out.stride() == inputs['u'].stride()
            with torch.no_grad():  # the no-grad path: same kernel
                again = run_directional(directional_scan_fn, inputs, 3, 4,
                                        backend='triton')
            assert torch.equal(out, again)

        def test_float32_against_float64_reference(self):
            """float32 kernel vs float64 reference: out within 2e-5, grads
            within 1e-4 of max(1, max |reference|), as for 'cpu'."""
            inputs = make_directional_inputs(
                height=5, width=6, per_group=6, n=2, dtype=torch.float32,
                with_z=True)
            out, grads = directional_grads(inputs, 5, 6, 'triton')
            as_f64 = {k: None if v is None else v.double()
                      for k, v in inputs.items()}
            ref_out, ref_grads = directional_grads(as_f64, 5, 6, 'reference')
            assert out.dtype == torch.float32
            assert_close(out.double(), ref_out, 2e-5, 'out')
            for name, grad in grads.items():
                assert grad.dtype == torch.float32
                assert_close(grad.double(), ref_grads[name], 1e-4, name)

        @pytest.mark.parametrize('length, n, groups', [
            (1, 1, 4), (7, 2, None), (30, 1, 2), (13, 3, 1)])
        def test_flat_scan_matches_reference(self, length, n, groups, tiles):
            """The flat (b, d, l) scan, last state and its gradient too."""
            compare_with_reference(
                make_inputs(length=length, n=n, groups=groups),
                backend='triton')

        @pytest.mark.parametrize('with_z', [True, False])
        @pytest.mark.parametrize('softplus', [True, False])
        def test_flat_scan_options(self, with_z, softplus):
            inputs = make_inputs(length=9, with_z=with_z, with_bias=softplus,
                                 with_D=not softplus)
            if not softplus:  # keep step sizes positive
                inputs['delta'] = inputs['delta'].abs()
            compare_with_reference(inputs, softplus=softplus,
                                   backend='triton')

        def test_softplus_above_threshold(self):
            """delta + bias > 20: softplus is the identity (and its grad 1)."""
            inputs = make_inputs(length=6, groups=4)
            inputs['delta'] = inputs['delta'] + 22.0
            inputs['A'] = inputs['A'] * 0.01  # keep exp(delta A) away from 0
            compare_with_reference(inputs, backend='triton')

        def test_group_mamba_layer_triton_equals_reference(self):
            """A whole GroupMambaLayer (348 channels, 2 x 3 tokens, float64):
            output and every parameter gradient."""
            assert_layer_equals_reference('triton', 2, 3)


def test_triton_on_cpu_needs_the_interpreter():
    """In a fresh process without TRITON_INTERPRET: importing mmgroupmamba
    leaves the kernels unimported, 'auto' on CPU is a CPU backend (the
    compiled kernel where it builds, else cpu), and asking for triton on CPU
    raises with the reason."""
    script = (
        'import sys, torch\n'
        'from mmgroupmamba import ops\n'
        "print('kernels imported:', 'mmgroupmamba.ops._triton_kernels' in "
        'sys.modules)\n'
        "print('auto:', ops._auto_backend(torch.device('cpu')))\n"
        "print('triton:', ops.available_backends('cpu')['triton'].reason)\n"
        'try:\n'
        "    ops.resolve_backend('triton', torch.device('cpu'))\n"
        'except RuntimeError as error:\n'
        "    print('raised:', error)\n")
    result = subprocess.run([sys.executable, '-c', script], cwd=REPO,
                            env=without_backend_env(), capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == 'kernels imported: False'
    assert lines[1] == f'auto: {cpu_auto_backend()}'
    assert 'only in the Triton interpreter' in lines[2]
    assert 'TRITON_INTERPRET=1' in lines[2]
    assert lines[3].startswith("raised: Scan backend 'triton' is unavailable "
                               'on cpu: Triton kernels are compiled for CUDA')


def test_auto_prefers_triton_on_cuda(monkeypatch):
    """The choice 'auto' makes for CUDA tensors (a device-free decision)."""
    monkeypatch.delenv(ops.BACKEND_ENV_VAR, raising=False)
    cuda = torch.device('cuda')
    assert triton_scan.unavailable_reason(cuda) is None  # triton installed
    assert ops._auto_backend(cuda) == 'triton'
    assert ops._auto_backend(torch.device('cpu')) == cpu_auto_backend()
    monkeypatch.setenv(ops.BACKEND_ENV_VAR, 'reference')
    assert ops._auto_backend(cuda) == 'reference'


@pytest.mark.parametrize('version, supported', [
    ('3.6.0', True), ('3.9.0', True), ('3.10.2', True), ('4.0.0', True),
    ('3.6.0+git1a2b3c4d', True), ('3.5.1', False), ('3.0.0', False),
    ('2.1.0', False)])
def test_triton_version_gate(version, supported):
    """From MIN_TRITON_VERSION (3.6) on the backend runs; below it the
    reason names the version and the minimum."""
    assert triton_scan.MIN_TRITON_VERSION == (3, 6)
    reason = triton_scan.version_reason(version)
    if supported:
        assert reason is None
    else:
        assert reason.startswith(f'Triton {version} is older than 3.6')


def test_old_triton_is_unavailable_and_auto_picks_another(monkeypatch):
    """With Triton 2.1 (torch 2.1's) installed, 'triton' reports itself
    unavailable with the reason on every device, 'auto' on CUDA goes on to
    the next backend, and forcing 'triton' raises before any kernel runs."""
    import triton
    monkeypatch.delenv(ops.BACKEND_ENV_VAR, raising=False)
    monkeypatch.setattr(triton, '__version__', '2.1.0')
    cuda = torch.device('cuda')
    for device in (cuda, torch.device('cpu')):
        status = ops.available_backends(device)['triton']
        assert not status.available
        assert status.reason.startswith('Triton 2.1.0 is older than 3.6')
    assert ops._auto_backend(cuda) == 'cpu'  # mamba-ssm is absent here
    with pytest.raises(RuntimeError, match="'triton' is unavailable on cuda: "
                       'Triton 2.1.0 is older than 3.6'):
        ops.resolve_backend('triton', cuda)


def test_cuda_backend_says_why_it_is_unavailable(monkeypatch):
    """mamba-ssm is not installed here; forcing it raises with the reason."""
    for device in ('cpu', 'cuda'):
        reason = mamba_ssm_backend.unavailable_reason(torch.device(device))
        assert reason.startswith('mamba-ssm is not installed')
        assert 'mmgroupmamba[cuda]' in reason
    monkeypatch.setenv(ops.BACKEND_ENV_VAR, 'cuda')
    with pytest.raises(RuntimeError, match="'cuda' is unavailable on cpu: "
                       'mamba-ssm is not installed'):
        run_scan(selective_scan_fn, make_inputs())


def test_mamba_ssm_argument_adaptation():
    """The adapted arguments, fed to the reference (mamba-ssm's signature),
    give the reference's result; strides and dtypes as its kernel needs."""
    inputs = make_inputs(b=2, d=8, length=10, n=2, groups=4,
                         dtype=torch.float32)
    strided = dict(inputs, A=inputs['A'].double(),
                   u=inputs['u'].transpose(1, 2).contiguous().transpose(1, 2))
    assert strided['u'].stride(-1) != 1
    args = mamba_ssm_backend.mamba_ssm_arguments(**strided)
    assert all(args[k].stride(-1) == 1 for k in ('u', 'delta', 'B', 'C', 'z'))
    assert all(args[k].dtype == torch.float32
               for k in ('A', 'D', 'delta_bias'))
    expected = run_scan(selective_scan_ref, inputs, delta_softplus=True)
    assert torch.equal(selective_scan_ref(**args, delta_softplus=True),
                       expected)
    with pytest.raises(ValueError, match='computes in float32'):
        mamba_ssm_backend.mamba_ssm_arguments(
            **{k: v.double() for k, v in inputs.items()})
