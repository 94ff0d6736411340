"""Mask R-CNN smoke config in two CPU processes: torchrun, gloo, DDP, COCO eval.

One run of ``torchrun --nproc_per_node 2 tools/dist_train_cpu.py`` on the
smoke config (its ``env_cfg.dist_cfg.backend`` is 'gloo'): 8 training
iterations of 2 images per process through MMDistributedDataParallel, then the
in-training validation with CocoMetric, the val set split over the two ranks.
Measured here: about 80 s on the shared 2-core machine.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPO, run_tool

from mmgroupmamba.apis import as_cfg_options, coco_data_options

SMOKE_CONFIG = REPO / 'configs' / 'smoke' / 'maskrcnn_groupmamba_t_smoke.py'


@pytest.fixture(scope='module')
def dist_run(tmp_path_factory):
    """Train and validate in two processes; return the log and work dir."""
    data_root = tmp_path_factory.mktemp('shapes')
    run_tool('tools/make_coco_data.py', data_root)
    work_dir = tmp_path_factory.mktemp('dist_work_dir')
    torchrun = Path(sys.executable).with_name('torchrun')
    result = subprocess.run(
        [
            str(torchrun), '--standalone', '--nproc_per_node', '2',
            'tools/dist_train_cpu.py',
            str(SMOKE_CONFIG), '--work-dir',
            str(work_dir), '--cfg-options',
            *as_cfg_options(coco_data_options(data_root))
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        # One OpenMP thread per process: the two processes share the cores.
        env=dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES=''))
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    return dict(log=log, work_dir=work_dir)


def test_two_processes_train_with_ddp(dist_run):
    log = dist_run['log']
    assert 'Distributed launcher: pytorch' in log
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    assert "type='MMDistributedDataParallel'" in log
    assert 'Iter(train) [8/8]' in log
    # Every logged loss is finite.
    losses = [float(v) for v in re.findall(r'Iter\(train\).* loss: ([\d.]+)',
                                           log)]
    assert len(losses) == 8 and all(0 < loss < 100 for loss in losses)


def test_validation_runs_coco_eval_over_both_ranks(dist_run):
    log = dist_run['log']
    # 16 val images at 1 per batch over 2 ranks: 8 iterations each.
    assert 'Iter(val) [8/8]' in log
    final = log[log.index('Iter(val) [8/8]'):]
    for kind in ('bbox', 'segm'):
        for suffix in ('', '_50', '_75', '_s', '_m', '_l'):
            value = float(re.search(rf'coco/{kind}_mAP{suffix}: (-?[\d.]+)',
                                    final)[1])
            assert 0.0 <= value <= 1.0, (kind, suffix, value)


def test_rank_zero_checkpoint_loads_weights_only(dist_run):
    path = dist_run['work_dir'] / 'iter_8.pth'
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    assert checkpoint['meta']['iter'] == 8
    # The DDP wrapper's 'module.' prefix is not saved.
    assert all(not key.startswith('module.')
               for key in checkpoint['state_dict'])
    assert 'backbone.stem.conv.0.weight' in checkpoint['state_dict']
    history = checkpoint['message_hub']['log_scalars']['train/loss']
    assert len(history['log_history']) == 8
