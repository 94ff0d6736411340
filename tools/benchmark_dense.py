#!/usr/bin/env python
"""Whole-detector and whole-segmentor predict time: our Mask R-CNN and
UperNet against mmdet's and mmseg's Swin-T and ResNet-50 configs.

    python tools/benchmark_dense.py --threads 2                  # the detectors, 800x1216
    python tools/benchmark_dense.py --task seg --threads 2       # the segmentors, 512x512

Each model runs ``model.test_step`` on the same random image (random
weights, eval mode, one process); the first model of the task is the
baseline of the last column (speed over its speed). The header names the
CPU, torch's kernels, threads, torch and the allocator setting. The
measuring is :mod:`mmgroupmamba.benchmarks.dense`.
"""
import argparse

SHAPES = {'det': (800, 1216), 'seg': (512, 512)}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--task', choices=['det', 'seg'], default='det',
                        help='Mask R-CNN detectors or UperNet segmentors '
                        '(default: det)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        default=None,
                        help='image size (default: 800 1216 for det, 512 '
                        '512 for seg)')
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed runs per model (default: 1)')
    parser.add_argument('--repeats', type=int, default=5,
                        help='timed runs per model (default: 5)')
    parser.add_argument('--threads', type=int, default=None,
                        help="torch's CPU threads (default: torch's own "
                        'choice)')
    return parser.parse_args()


def main():
    args = parse_args()
    import tempfile
    from pathlib import Path

    import torch

    import mmgroupmamba  # noqa: F401  (registers GroupMamba)
    from mmgroupmamba.benchmarks.dense import (DETECTORS, SEGMENTORS,
                                               format_table, measure)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    height, width = args.shape or SHAPES[args.task]
    names = list(DETECTORS if args.task == 'det' else SEGMENTORS)
    with tempfile.TemporaryDirectory() as work_dir:
        rows = measure(names, height, width, args.repeats, args.warmup,
                       Path(work_dir))
    print(format_table(rows, height, width, args.repeats, args.warmup))


if __name__ == '__main__':
    main()
