"""Shared fixtures: the official golden case and checkpoints made from it.

The golden outputs and the seeded-weight generator live in ``shared/golden``
beside the checkout (``../shared``), or wherever ``MMGROUPMAMBA_SHARED``
points. They are required: the parity tests fail, never skip, without them.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / 'configs'
CONFIG_OF_ARCH = {
    'tiny': CONFIGS / 'groupmamba_t_in1k.py',
    'small': CONFIGS / 'groupmamba_s_in1k.py',
    'base': CONFIGS / 'groupmamba_b_in1k.py',
}
OFFICIAL_PARAMS = {'tiny': 23_361_917, 'small': 34_781_555, 'base': 57_150_838}


def shared_dir():
    path = Path(os.environ.get('MMGROUPMAMBA_SHARED', REPO.parent / 'shared'))
    if not (path / 'golden' / 'groupmamba_tiny_seed0.pt').is_file():
        pytest.fail(f'golden data not found under {path}/golden: clone the '
                    'project with its shared/ folder beside it or set '
                    'MMGROUPMAMBA_SHARED')
    return path


@pytest.fixture(scope='session')
def golden():
    return torch.load(shared_dir() / 'golden' / 'groupmamba_tiny_seed0.pt',
                      weights_only=True)


@pytest.fixture(scope='session')
def official_weights():
    """The generator module of shared/golden (``make_arch_state_dict``)."""
    path = shared_dir() / 'golden' / 'official_weights.py'
    spec = importlib.util.spec_from_file_location('official_weights', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def official_tiny_path(official_weights, golden, tmp_path_factory):
    """The golden case's seeded weights, saved as the official release is."""
    state_dict = official_weights.make_arch_state_dict('tiny', 0)
    assert official_weights.state_dict_digest(state_dict) == \
        golden['weights_sha256'], 'torch RNG stream differs from the golden one'
    path = tmp_path_factory.mktemp('official') / 'groupmamba_tiny_seed0.pth'
    torch.save(state_dict, path)
    return path


def run_tool(*args):
    """Run a tools/ script as a user would; return its stdout."""
    result = subprocess.run([sys.executable, *map(str, args)],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope='session')
def converted_tiny_path(official_tiny_path, tmp_path_factory):
    out = tmp_path_factory.mktemp('converted') / 'groupmamba_t_mm.pth'
    run_tool('tools/convert_official.py', official_tiny_path, out)
    return out
