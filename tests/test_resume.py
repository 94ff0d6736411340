"""Interrupted training: SIGKILL mid-run, then ``tools/train.py --resume``.

For the classification recipe (distillation, EMA, epoch-based) and for Mask
R-CNN (iteration-based): a training process is killed with SIGKILL while it
runs; every checkpoint file left behind must load (writes are atomic); the
resumed run must start from the last checkpoint with its optimizer state,
LR schedule, EMA, logged losses and counters, and finish the schedule.
"""
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO, one_thread_in_scope, run_tool
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.runner import Runner

import mmgroupmamba  # noqa: F401
from mmgroupmamba.apis import (as_cfg_options, coco_data_options,
                               data_root_options, training_config)
from mmgroupmamba.datasets import make_imagenet_data


CLS_SMOKE = REPO / 'configs' / 'smoke' / 'groupmamba_in1k_smoke.py'
DET_SMOKE = REPO / 'configs' / 'smoke' / 'maskrcnn_groupmamba_t_smoke.py'


class ResumedState(Hook):
    """What the Runner holds when training (re)starts, after the resume."""

    priority = 'LOWEST'

    def before_train(self, runner):
        self.epoch, self.iter = runner.epoch, runner.iter
        self.optimizer_steps = {
            int(state['step'])
            for state in runner.optim_wrapper.optimizer.state.values()
        }
        self.scheduler_steps = [s.last_step for s in runner.param_schedulers]
        self.lr = runner.optim_wrapper.get_lr()['lr'][0]
        self.model = {k: v.clone() for k, v in runner.model.state_dict().items()}
        ema_hooks = [h for h in runner.hooks if type(h).__name__ == 'EMAHook']
        self.ema = None
        if ema_hooks:
            ema = ema_hooks[0].ema_model
            self.ema_steps = int(ema.steps)
            self.ema = {k: v.clone() for k, v in ema.module.state_dict().items()}
        losses = runner.message_hub.log_scalars.get('train/loss')
        self.losses_type = type(losses)
        self.losses = losses.data[0].tolist()  # a copy: training appends


def kill_after(cmd, work_dir, marker, delay, env):
    """Start ``cmd``; SIGKILL it ``delay`` s after ``work_dir/marker`` appears."""
    process = subprocess.Popen(cmd, cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while not (work_dir / marker).exists():
        if process.poll() is not None:
            raise AssertionError(f'training ended before {marker} was '
                                 f'written:\n{process.stderr.read()[-3000:]}')
        assert time.monotonic() < deadline, f'{marker} never appeared'
        time.sleep(0.05)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, 'it finished first'


def check_files_left_behind(work_dir):
    """Every .pth that exists loads; ``last_checkpoint`` names one."""
    for path in work_dir.glob('*.pth'):
        torch.load(path, map_location='cpu', weights_only=True)
    last = Path((work_dir / 'last_checkpoint').read_text().strip())
    assert last.is_file()
    return torch.load(last, map_location='cpu', weights_only=True)


def resume(config, work_dir, cfg_options, scope):
    """``tools/train.py CONFIG --work-dir W --resume`` run in this process."""
    with one_thread_in_scope(scope):
        runner = Runner.from_cfg(
            training_config(str(config), work_dir=str(work_dir),
                            cfg_options=cfg_options, resume='auto'))
        state = ResumedState()
        runner.register_hook(state)
        runner.train()
    return runner, state


def assert_resumed_from(state, checkpoint):
    """The optimizer, schedulers and counters are the checkpoint's."""
    meta = checkpoint['meta']
    assert (state.epoch, state.iter) == (meta['epoch'], meta['iter'])
    assert state.optimizer_steps == {meta['iter']}
    assert state.scheduler_steps == [
        s['last_step'] for s in checkpoint['param_schedulers']
    ]
    saved_losses = checkpoint['message_hub']['log_scalars']['train/loss']
    assert state.losses_type is HistoryBuffer
    assert state.losses == saved_losses['log_history']


def test_classification_resumes_after_sigkill(tmp_path):
    data = tmp_path / 'data'
    make_imagenet_data(data, seed=0, train_per_class=8, val_per_class=2)
    teacher = tmp_path / 'teacher.pth'
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    teacher_model = MODELS.build(Config.fromfile(CLS_SMOKE).model.teacher)
    torch.save({'state_dict': teacher_model.state_dict()}, teacher)
    epochs, per_epoch = 4, 3  # 48 images, batch 16
    options = {
        **data_root_options(data),
        'model.teacher_checkpoint': str(teacher),
        'train_cfg.max_epochs': epochs,
        'train_cfg.val_interval': epochs,
        'param_scheduler.1.end': epochs,
    }
    work_dir = tmp_path / 'work_dir'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    kill_after(
        [sys.executable, 'tools/train.py', str(CLS_SMOKE), '--work-dir',
         str(work_dir), '--cfg-options',
         *as_cfg_options(options)],
        work_dir, 'epoch_2.pth', delay=0.6, env=env)  # inside epoch 3
    checkpoint = check_files_left_behind(work_dir)
    assert checkpoint['meta']['epoch'] >= 2

    runner, state = resume(CLS_SMOKE, work_dir, options, 'mmpretrain')
    assert_resumed_from(state, checkpoint)
    # The EMA hook swaps back: live weights from ema_state_dict, the EMA from
    # state_dict (the saved release weights), and its step count.
    for key, value in state.model.items():
        assert torch.equal(value,
                           checkpoint['ema_state_dict']['module.' + key]), key
    for key, value in state.ema.items():
        assert torch.equal(value, checkpoint['state_dict'][key]), key
    assert state.ema_steps == checkpoint['meta']['iter']
    # The LR continues the cosine where it stopped.
    t, warmup, total = state.iter, per_epoch, epochs * per_epoch
    expected = 1e-5 + (2e-3 - 1e-5) * 0.5 * (
        1 + math.cos(math.pi * (t - warmup) / (total - warmup)))
    assert state.lr == pytest.approx(expected, rel=1e-6)
    assert runner.iter == total and runner.epoch == epochs
    final = torch.load(work_dir / f'epoch_{epochs}.pth', weights_only=True)
    assert final['meta']['iter'] == total


def test_detection_resumes_after_sigkill(tmp_path):
    data = tmp_path / 'shapes'
    run_tool('tools/make_coco_data.py', data, '--seed', '0')
    options = {
        **coco_data_options(data),
        'default_hooks.checkpoint.interval': 2,
    }
    work_dir = tmp_path / 'work_dir'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    kill_after(
        [sys.executable, 'tools/train.py', str(DET_SMOKE), '--work-dir',
         str(work_dir), '--cfg-options',
         *as_cfg_options(options)],
        work_dir, 'iter_4.pth', delay=0.5, env=env)
    checkpoint = check_files_left_behind(work_dir)
    assert checkpoint['meta']['iter'] >= 4

    runner, state = resume(DET_SMOKE, work_dir, options, 'mmdet')
    assert_resumed_from(state, checkpoint)
    for key, value in state.model.items():
        assert torch.equal(value, checkpoint['state_dict'][key]), key
    assert runner.iter == 8
    assert (work_dir / 'iter_8.pth').is_file()
