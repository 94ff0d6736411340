#!/usr/bin/env python
"""Learning check of Mask R-CNN + GroupMamba on CPU (a benchmark, not a test).

    python tools/learning_check_det.py [--work-dir work_dirs/learning_check_det]
        [--iters 400] [--num-train 192] [--threads 1] [--seed 0]

Makes the drawn-shapes COCO-format set (tools/make_coco_data.py; the val split
is the standard 16 images whatever ``--num-train``), trains
configs/smoke/maskrcnn_groupmamba_t_learning.py from seeded random weights
through mmengine's Runner, evaluates bbox and segm with mmdet's CocoMetric
(pycocotools) on the val split and prints the APs and the wall time.
``--iters`` replaces the config's iteration count; the LR schedule (warm-up
over 1/12, cosine to zero) is stretched to it.

Measured with the defaults on one thread (a shared 2-core machine): bbox AP
0.240 (AP50 0.431), segm AP 0.259 (AP50 0.397); training took 1080 s of CPU
time (2517 s wall under contention), evaluation 16 s.
"""
import argparse
import time
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

import mmgroupmamba  # noqa: F401  (registers models, hooks, backends)

REPO = Path(__file__).resolve().parents[1]
LEARNING_CONFIG = REPO / 'configs' / 'smoke' / \
    'maskrcnn_groupmamba_t_learning.py'
AP_KEYS = ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP',
           'coco/segm_mAP_50')


def learning_config(data_root, work_dir, iters, seed):
    """The learning config aimed at ``data_root``, run for ``iters``.

    Args:
        data_root (str | Path): A set written by tools/make_coco_data.py.
        work_dir (str | Path): Folder for logs and the checkpoint.
        iters (int): Training iterations (>= 12); the config's warm-up and
            cosine decay are rescaled to them.
        seed (int): Seed of the weights and the data order.

    Returns:
        Config: Ready for ``Runner.from_cfg``.
    """
    if iters < 12:
        raise ValueError(f'iters must be >= 12 (the warm-up is 1/12), got '
                         f'{iters}')
    cfg = Config.fromfile(LEARNING_CONFIG)
    root = f'{data_root}/'
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader):
        loader.dataset.data_root = root
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        evaluator.ann_file = root + 'annotations/instances_val.json'
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = iters
    warmup, cosine = cfg.param_scheduler
    warmup.end = cosine.begin = iters // 12
    cosine.end = iters
    cosine.T_max = iters - iters // 12
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.logger.interval = max(1, min(50, iters // 10))
    cfg.randomness = dict(seed=seed)
    return cfg


def train_and_evaluate(cfg):
    """Train ``cfg`` in mmdet's scope, then evaluate it on the val split.

    Args:
        cfg (Config): A detection config (see :func:`learning_config`).

    Returns:
        tuple[dict, dict]: The test metrics (CocoMetric's ``coco/...`` keys)
        and the seconds spent: ``train`` and ``test`` wall time, and
        ``train_cpu``, this process's CPU time in training (on one thread,
        what the wall time would be on an idle core).
    """
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None  # test once
    with DefaultScope.overwrite_default_scope('mmdet'):
        start, start_cpu = time.perf_counter(), time.process_time()
        runner = Runner.from_cfg(cfg)
        runner.train()
        trained, trained_cpu = time.perf_counter(), time.process_time()
        metrics = runner.test()
    seconds = dict(train=trained - start, train_cpu=trained_cpu - start_cpu,
                   test=time.perf_counter() - trained)
    return metrics, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/learning_check_det')
    parser.add_argument('--iters', type=int, default=400)
    parser.add_argument('--num-train', type=int, default=192)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work_dir = Path(args.work_dir)
    data_root = work_dir / 'data'

    from make_coco_data import make_coco_data
    make_coco_data(data_root, seed=args.seed, num_train=args.num_train)
    cfg = learning_config(data_root, work_dir, args.iters, args.seed)
    metrics, seconds = train_and_evaluate(cfg)

    print(f'\nlearning check: {args.iters} iterations x 2 images, '
          f'{args.num_train} train images, {args.threads} thread(s)')
    print('val (16 images): ' + ', '.join(
        f'{key[5:]} {metrics[key]:.3f}' for key in AP_KEYS))
    print(f'training: {seconds["train"]:.0f} s wall, '
          f'{seconds["train_cpu"]:.0f} s CPU; evaluation: '
          f'{seconds["test"]:.0f} s wall')


if __name__ == '__main__':
    main()
