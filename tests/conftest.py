"""Shared fixtures: the official golden case and checkpoints made from it;
helpers shared by the detection and segmentation tests.

The golden outputs live in ``tests/data`` and the seeded official-layout
weights are drawn again by ``tests/official_weights.py``: the suite reads
nothing outside the repository.
"""
import contextlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from official_weights import save_official_state_dict, state_dict_digest

from mmgroupmamba.checkpoint import (is_official_layout, official_to_mm,
                                     read_checkpoint)
from mmgroupmamba.engine import no_weight_decay_names

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / 'tests' / 'data'
CONFIGS = REPO / 'configs'
CONFIG_OF_ARCH = {
    'tiny': CONFIGS / 'groupmamba_t_in1k.py',
    'small': CONFIGS / 'groupmamba_s_in1k.py',
    'base': CONFIGS / 'groupmamba_b_in1k.py',
}
OFFICIAL_PARAMS = {'tiny': 23_361_917, 'small': 34_781_555, 'base': 57_150_838}


@pytest.fixture(scope='session')
def golden():
    """What the official code computed for the seeded tiny weights (see
    tests/data/README.md)."""
    return torch.load(DATA / 'golden_tiny_seed0.pt', weights_only=True)


@pytest.fixture(scope='session')
def official_tiny_path(golden, tmp_path_factory):
    """The golden case's seeded weights, saved as the official release is."""
    path = tmp_path_factory.mktemp('official') / 'groupmamba_tiny_seed0.pth'
    save_official_state_dict('tiny', 0, path)
    state_dict = torch.load(path, weights_only=True)
    assert state_dict_digest(state_dict) == golden['weights_sha256'], \
        'the regenerated weights differ from those of the golden outputs'
    return path


@pytest.fixture(scope='session')
def coco_data(tmp_path_factory):
    """The drawn COCO-format shapes set (tools/make_coco_data.py, seed 0),
    made once for every module that trains or evaluates a detector."""
    root = tmp_path_factory.mktemp('shapes')
    run_tool('tools/make_coco_data.py', root, '--seed', '0')
    return root


@pytest.fixture(scope='session')
def ade_data(tmp_path_factory):
    """The drawn ADE20K-format scenes (tools/make_ade_data.py, seed 0)."""
    root = tmp_path_factory.mktemp('scenes')
    run_tool('tools/make_ade_data.py', root, '--seed', '0')
    return root


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


@contextlib.contextmanager
def one_thread_in_scope(scope):
    """Run the block in an OpenMMLab default scope on one thread; undo both.

    The scope: Runner.from_cfg and the inferencers make their library the
    process's current default scope, after which other modules' builds look
    in the wrong registry; ``overwrite_default_scope`` restores it on exit.

    The thread: on the shared 2-core test machine, two OpenMP threads made a
    smoke backbone's forward+backward 20-70x slower (0.08 s -> 1.7-6 s)
    whenever another process held a core; one thread measured 0.08 s every
    time.

    Args:
        scope (str): 'mmdet', 'mmseg' or 'mmpretrain'.
    """
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with DefaultScope.overwrite_default_scope(scope):
            yield
    finally:
        torch.set_num_threads(previous_threads)


# The parameters the configs exempt from weight decay although they are not
# 1-D: the per-scan-group vectors stacked over the four groups. The model
# declares them (no_weight_decay()); this pins what it must declare.
STACKED_NO_DECAY = ('ssm.D', 'ssm.out_norm_weight', 'ssm.out_norm_bias',
                    'ssm.conv_bias')


def check_weight_decay_split(model, optim_wrapper_cfg, lr, weight_decay):
    """Assert the configs' rule: no decay exactly where the official
    ImageNet training had none (1-D tensors and the tensors the model
    declares in ``no_weight_decay()``, which must be exactly the stacked
    scan vectors).

    Args:
        model (nn.Module): The classifier, detector or segmentor.
        optim_wrapper_cfg (dict): Its config's ``optim_wrapper``.
        lr (float): The LR every group must have.
        weight_decay (float): The decay of every other parameter.

    Returns:
        dict[str, float]: The weight decay of each named parameter, for
        spot checks.
    """
    optim_wrapper = build_optim_wrapper(model, optim_wrapper_cfg)
    decay_of = {}
    for group in optim_wrapper.optimizer.param_groups:
        assert group['lr'] == lr
        for param in group['params']:
            decay_of[id(param)] = group['weight_decay']
    named = list(model.named_parameters())
    assert len(decay_of) == len(named)
    declared = no_weight_decay_names(model)
    assert declared == {
        name for name, _ in named if name.endswith(STACKED_NO_DECAY)}
    for name, param in named:
        no_decay = param.ndim <= 1 or name in declared
        assert decay_of[id(param)] == (0.0 if no_decay else weight_decay), \
            name
    return {name: decay_of[id(param)] for name, param in named}


def check_backbone_loaded(model, path):
    """Assert that ``model.backbone`` holds the weights of checkpoint ``path``
    (official or converted layout); only the dense out norms are new."""
    expected = read_checkpoint(str(path))
    if is_official_layout(expected):
        expected = official_to_mm(expected)
    loaded = model.state_dict()
    backbone_keys = [k for k in loaded if k.startswith('backbone.')]
    new_norms = {f'backbone.norm{i}.{p}' for i in range(4)
                 for p in ('weight', 'bias')}
    assert set(backbone_keys) - set(expected) == new_norms
    for key in backbone_keys:
        if key not in new_norms:
            assert torch.equal(loaded[key], expected[key]), key


class OpNames(TorchDispatchMode):
    """Record the names of the aten operators a block of code runs."""

    def __init__(self):
        super().__init__()
        self.names = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.append(str(func))
        return func(*args, **(kwargs or {}))
