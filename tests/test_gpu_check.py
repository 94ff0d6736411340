"""tools/gpu_check.py --smoke: the GPU check's code, on tiny CPU shapes.

Run as a user would (a child process with TRITON_INTERPRET=1, so the Triton
kernels run in the interpreter), then read the JSON it writes.
"""
import json
import math
import os
import subprocess
import sys

import pytest
from conftest import REPO

from mmgroupmamba.benchmarks.gpu_check import (ARCHS, BACKBONE_TOL, PEERS,
                                               SCAN_BACKENDS, settings)
from mmgroupmamba.ops import BACKEND_ENV_VAR


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ('TRITON_INTERPRET', BACKEND_ENV_VAR)}
    return dict(env, OMP_NUM_THREADS='1', **extra)


@pytest.fixture(scope='module')
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp('gpu_check') / 'report.json'
    result = subprocess.run(
        [sys.executable, 'tools/gpu_check.py', '--smoke', '--device', 'cpu',
         '--out', str(out)], cwd=REPO, env=_env(TRITON_INTERPRET='1'),
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return json.loads(out.read_text()), out


def _rows(report, section):
    return {r['name']: r for r in report['rows'] if r['section'] == section}


def test_smoke_environment_and_files(smoke):
    report, out = smoke
    env = report['environment']
    assert env['smoke'] and env['triton_interpreted']
    assert env['device'] == 'cpu'
    assert env['scan_backends']['triton'] == 'available'  # interpreted
    assert report['ok']
    assert not [r for r in report['rows'] if r['status'] in ('fail', 'error')]
    table = out.with_suffix('.md').read_text()
    assert table.count('\n| correct |') == len(_rows(report, 'correct'))


def test_smoke_correctness_rows(smoke):
    report, _ = smoke
    rows = _rows(report, 'correct')
    cfg = settings(smoke=True)
    expected_scans = [('fp32', g, w) for g, w in cfg['scan_cases']] + [
        (p, g, w) for g, w in cfg['half_cases'] for p in ('fp16', 'bf16')]
    for precision, (height, width), channels in expected_scans:
        row = rows[f'scan triton vs reference, {precision}, {height}x'
                   f'{width}, d={channels}']
        assert row['status'] == 'pass'
        assert row['out_dtype'] == 'torch.float32'  # even from half inputs
        grads = {f'grad {k}' for k in ('u', 'delta', 'A', 'B', 'C', 'D',
                                       'delta_bias')}
        assert set(row['errors']) == grads | {'out'}
        for name, error in row['errors'].items():
            assert 0 <= error <= row['tolerances'][name], (row['name'], name)
        assert row['errors']['out'] < 2e-5
    backbone = rows['GroupMamba-T backbone fwd+bwd, triton vs cpu, fp32']
    assert backbone['status'] == 'pass'
    assert backbone['out_error'] < BACKBONE_TOL['out']
    assert backbone['grad_error'] < BACKBONE_TOL['grad']
    assert backbone['parameters'] > 100  # every parameter compared
    amp = rows['GroupMamba-T fp16 AMP training steps']
    assert len(amp['losses']) == cfg['amp']['steps']
    assert all(math.isfinite(x) and x > 0 for x in amp['losses'])
    for arch in ARCHS:
        row = rows[f'GroupMamba-{arch[0].upper()} fp16 autocast']
        assert row['status'] == 'pass' and row['grads_finite']
        assert row['logits_dtype'] == 'torch.float16'
        assert 0 < row['relative_l2_vs_fp32'] < 0.05


def test_smoke_speed_rows(smoke):
    report, _ = smoke
    cfg = settings(smoke=True)
    scans = _rows(report, 'scan speed')
    copy = scans.pop('device-to-device copy')
    assert copy['gbs'] > 0 and report['copy_gbs'] == copy['gbs']
    assert len(scans) == len(cfg['bench_shapes']) * len(SCAN_BACKENDS)
    for name, row in scans.items():
        if name.startswith('cuda,'):  # mamba-ssm is not installed here
            assert row['status'] == 'skipped'
            assert row['reason'].startswith('mamba-ssm is not installed')
            continue
        assert row['status'] == 'measured', name
        assert row['fwd_ms'] > 0 and row['fwd_bwd_ms'] > 0
        assert row['fwd_bwd_gbs'] == pytest.approx(
            row['fwd_bwd_of_copy'] * copy['gbs'])
    models = _rows(report, 'model speed')
    assert len(models) == (len(ARCHS) + len(PEERS)) * 6
    for row in models.values():
        assert row['status'] == 'measured'
        assert row['images_per_s'] > 0 and row['batch'] == cfg['bench_batch']
        assert row['peak_mb_per_image'] is None
        assert row['peak_memory'] == 'skipped: CUDA only'
    assert [g['goal'].split(' ')[0] for g in report['goals']] == [
        'triton', 'GroupMamba-T', 'GroupMamba-T']
    for goal in report['goals']:  # computed, not judged off the GPU
        assert goal['value'] > 0 and goal['met'] is None


def test_full_check_needs_cuda(tmp_path):
    result = subprocess.run(
        [sys.executable, 'tools/gpu_check.py', '--device', 'cpu', '--out',
         str(tmp_path / 'r.json')], cwd=REPO, env=_env(),
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert 'the full check needs a CUDA device' in result.stderr
    assert not (tmp_path / 'r.json').exists()
