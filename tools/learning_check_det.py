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
from pathlib import Path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/learning_check_det',
                        help='where the data and the run go (default: %(default)s)')
    parser.add_argument('--iters', type=int, default=400,
                        help='training iterations (default: %(default)s)')
    parser.add_argument('--num-train', type=int, default=192,
                        help='drawn training images (default: %(default)s)')
    parser.add_argument('--threads', type=int, default=1,
                        help='CPU threads (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the data and the run (default: %(default)s)')
    args = parser.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    work_dir = Path(args.work_dir)
    data_root = work_dir / 'data'

    from mmgroupmamba.apis.learning import (AP_KEYS, learning_config,
                                            train_and_evaluate)
    from mmgroupmamba.datasets import make_coco_data
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
