#!/usr/bin/env python
"""Learning check of the distillation recipe on CPU (a benchmark, not a test).

    python tools/learning_check_cls.py [--work-dir work_dirs/learning_check_cls]
        [--teacher-epochs 30] [--epochs 30] [--threads 1]

Makes the drawn-shapes ImageNet-format set (tools/make_imagenet_data.py),
trains the smoke teacher (configs/smoke/teacher_smoke.py), then distils the
smoke GroupMamba (configs/smoke/groupmamba_in1k_smoke.py) from it, both from
seeded random weights, and prints the validation top-1 of the teacher, of the
student's EMA (what the checkpoint holds) and of its live weights, with wall
times. The epochs replace the smoke configs' 8; the LR schedule (1 warm-up
epoch, cosine to the end) follows them.
"""
import argparse
import time
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

import mmgroupmamba  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / 'configs' / 'smoke'


def schedule(epochs):
    """The smoke configs' LR schedule stretched to ``epochs``."""
    return [
        dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=1,
             convert_to_iter_based=True),
        dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
             end=epochs, convert_to_iter_based=True),
    ]


class LastMetrics(Hook):
    """Keeps the last validation metrics, plus the live weights' ones that
    mmpretrain's EMA hook logs as ``val/*_origin`` (it runs first)."""

    priority = 'LOWEST'

    def __init__(self):
        self.metrics = {}

    def after_val_epoch(self, runner, metrics=None):
        self.metrics = dict(metrics or {})
        for key, buffer in runner.message_hub.log_scalars.items():
            if key.startswith('val/') and key.endswith('_origin'):
                self.metrics[key[len('val/'):]] = buffer.current()


def train(config, work_dir, data_root, epochs, teacher_checkpoint=None):
    """Train ``config`` for ``epochs``; return (final val metrics, seconds)."""
    cfg = Config.fromfile(config)
    cfg.work_dir = str(work_dir)
    root = f'{data_root}/'
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader):
        loader.dataset.data_root = root
    cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = epochs
    cfg.param_scheduler = schedule(epochs)
    cfg.default_hooks.checkpoint.interval = epochs
    if teacher_checkpoint is not None:
        cfg.model.teacher_checkpoint = str(teacher_checkpoint)
    start = time.perf_counter()
    recorder = LastMetrics()
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        runner = Runner.from_cfg(cfg)
        runner.register_hook(recorder)
        runner.train()
    return recorder.metrics, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/learning_check_cls')
    parser.add_argument('--teacher-epochs', type=int, default=12)
    parser.add_argument('--epochs', type=int, default=20)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--train-per-class', type=int, default=150)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work_dir = Path(args.work_dir)
    data_root = work_dir / 'data'

    from mmgroupmamba.datasets import make_imagenet_data
    make_imagenet_data(data_root, seed=args.seed,
                       train_per_class=args.train_per_class)

    teacher_metrics, teacher_time = train(
        SMOKE / 'teacher_smoke.py', work_dir / 'teacher', data_root,
        args.teacher_epochs)
    teacher_ckpt = work_dir / 'teacher' / f'epoch_{args.teacher_epochs}.pth'
    student_metrics, student_time = train(
        SMOKE / 'groupmamba_in1k_smoke.py', work_dir / 'student', data_root,
        args.epochs, teacher_checkpoint=teacher_ckpt)

    def top1(metrics, key):
        return float(metrics.get(key, float('nan')))

    print(f'\nthreads {args.threads}; {6 * args.train_per_class} training '
          'and 120 validation images, 6 classes (chance 16.7%)')
    print(f'{"model":<34}{"epochs":>7}{"top-1 %":>9}{"wall s":>8}')
    rows = [
        ('teacher (resnet10t, CE)', args.teacher_epochs,
         top1(teacher_metrics, 'accuracy/top1'), teacher_time),
        ('student EMA (saved weights)', args.epochs,
         top1(student_metrics, 'accuracy/top1'), student_time),
        ('student live weights', args.epochs,
         top1(student_metrics, 'accuracy/top1_origin'), float('nan')),
    ]
    for name, epochs, acc, seconds in rows:
        print(f'{name:<34}{epochs:>7}{acc:>9.1f}{seconds:>8.0f}')


if __name__ == '__main__':
    main()
