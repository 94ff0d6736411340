#!/usr/bin/env python
"""Throughput of GroupMamba against timm peers, same process, same input.

    python tools/benchmark.py --batch 8 --repeats 10
    python tools/benchmark.py --batch 8 --train
    python tools/benchmark.py --batch 8 --compile

Inference: eval mode under ``torch.inference_mode``. ``--train``: one training
step (train mode, forward, cross-entropy on random labels, backward, AdamW
step). ``--compile``: each model through ``torch.compile`` (the warm-up
compiles it). Every model runs on the same random batch after warm-up; the
table gives the median time, the spread (min-max), images/s and the ratio to
the first model. Random weights: speed does not depend on their values. The
measuring is :mod:`mmgroupmamba.benchmarks.models`.

Memory allocation changes the figures: with glibc's defaults, activations
over 32 MB (batch 8, first stages) are mapped afresh and page-faulted at every
step. The tables in docs/benchmarks.md run with
``MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=4294967296`` set
in the environment (the header line says which setting was measured).
"""
import argparse

MODELS = ['convnext_tiny', 'groupmamba_tiny', 'groupmamba_small',
          'groupmamba_base', 'swin_tiny_patch4_window7_224', 'resnet50',
          'mambaout_tiny']


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--models', nargs='+', default=MODELS,
                        help='groupmamba_tiny/small/base or timm model '
                        f'names; the first is the baseline (default: '
                        f'{" ".join(MODELS)})')
    parser.add_argument('--train', action='store_true',
                        help='time training steps instead of inference '
                        '(default: inference)')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile each model; the warm-up '
                        'includes the compilation (default: eager)')
    parser.add_argument('--batch', type=int, default=8,
                        help='images per batch (default: 8)')
    parser.add_argument('--size', type=int, default=224,
                        help='image side in pixels (default: 224)')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed steps per model, at least 1 with '
                        '--compile (default: 2)')
    parser.add_argument('--repeats', type=int, default=10,
                        help='timed steps per model (default: 10)')
    parser.add_argument('--threads', type=int, default=None,
                        help="torch's CPU threads (default: torch's own "
                        'choice)')
    parser.add_argument('--scan-backend', default='auto',
                        help="GroupMamba's selective-scan backend "
                        '(default: auto)')
    return parser.parse_args()


def main():
    args = parse_args()
    import torch

    from mmgroupmamba.benchmarks.models import format_table, measure
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = measure(args.models, batch_size=args.batch, size=args.size,
                   warmup=args.warmup, repeats=args.repeats, train=args.train,
                   scan_backend=args.scan_backend, compiled=args.compile)
    print(format_table(rows, args.batch, args.size, args.warmup, args.repeats,
                       args.train, args.compile))


if __name__ == '__main__':
    main()
