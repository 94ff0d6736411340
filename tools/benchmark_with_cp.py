#!/usr/bin/env python
"""Peak memory and step time of a GroupMamba backbone training step, with
and without activation checkpointing (``with_cp``).

    python tools/benchmark_with_cp.py                      # T, batch 2, 800x1216
    python tools/benchmark_with_cp.py --arch base --device cuda

On a CPU each setting runs in a fresh process and its peak resident set size
is read; on CUDA, ``torch.cuda.max_memory_allocated``. The header names the
CPU (from /proc/cpuinfo) or GPU, the threads and the torch version. The
measuring is :mod:`mmgroupmamba.benchmarks.checkpointing`.
"""
import argparse


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--arch', default='tiny',
                        choices=['tiny', 'small', 'base'],
                        help='GroupMamba size (default: tiny)')
    parser.add_argument('--batch', type=int, default=2,
                        help='images per step (default: 2, one GPU of the '
                        'detection recipes)')
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1216],
                        metavar=('H', 'W'),
                        help='image size (default: 800 1216, a padded '
                        'COCO training image)')
    parser.add_argument('--steps', type=int, default=3,
                        help='timed steps per setting (default: 3)')
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed steps first (default: 1)')
    parser.add_argument('--device', default='cpu',
                        help="'cpu' or a CUDA device such as 'cuda' "
                        "(default: cpu)")
    parser.add_argument('--threads', type=int, default=None,
                        help="torch's CPU threads (default: torch's own "
                        'choice)')
    return parser.parse_args()


def main():
    args = parse_args()
    from mmgroupmamba.benchmarks.checkpointing import compare, format_table
    height, width = args.shape
    rows, threads = compare(arch=args.arch, batch=args.batch, height=height,
                            width=width, steps=args.steps,
                            warmup=args.warmup, device=args.device,
                            threads=args.threads)
    print(format_table(rows, args.arch, args.batch, height, width,
                       args.device, threads))


if __name__ == '__main__':
    main()
