#!/usr/bin/env python
"""Inference throughput of GroupMamba against timm peers, same process, same input.

    python tools/benchmark.py --batch 8 --repeats 10

Each model runs in eval mode under ``torch.inference_mode`` on the same random
batch, after warm-up; the table gives median latency, the spread (min-max) and
images/s, plus each model's ratio to the first peer. Random weights: speed does
not depend on their values.
"""
import argparse
import statistics
import time
from pathlib import Path

import timm
import torch
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[1]
GROUPMAMBA_CONFIGS = {
    'groupmamba_tiny': 'groupmamba_t_in1k.py',
    'groupmamba_small': 'groupmamba_s_in1k.py',
    'groupmamba_base': 'groupmamba_b_in1k.py',
}


def build(name, scan_backend):
    if name in GROUPMAMBA_CONFIGS:
        import mmgroupmamba  # noqa: F401
        from mmpretrain.registry import MODELS
        cfg = Config.fromfile(REPO / 'configs' / GROUPMAMBA_CONFIGS[name])
        cfg.model.backbone.scan_backend = scan_backend
        cfg.model.neck.scan_backend = scan_backend
        model = MODELS.build(cfg.model)
        return lambda x: model(x, mode='tensor'), model
    model = timm.create_model(name, pretrained=False)
    return model, model


def time_model(forward, batch, warmup, repeats):
    with torch.inference_mode():
        for _ in range(warmup):
            forward(batch)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            forward(batch)
            times.append(time.perf_counter() - start)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--models', nargs='+', default=[
        'convnext_tiny', 'groupmamba_tiny'])
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--scan-backend', default='auto')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    batch = torch.randn(args.batch, 3, args.size, args.size)
    rows = []
    for name in args.models:
        forward, module = build(name, args.scan_backend)
        module.eval()
        times = time_model(forward, batch, args.warmup, args.repeats)
        median = statistics.median(times)
        rows.append((name, median, min(times), max(times),
                     args.batch / median))
    base = rows[0][4]
    print(f'CPU inference, batch {args.batch} at {args.size}px, '
          f'{torch.get_num_threads()} threads, torch {torch.__version__}, '
          f'{args.warmup} warm-up + {args.repeats} timed runs\n')
    print(f'| model | median ms | min-max ms | img/s | vs {rows[0][0]} |')
    print('|---|---|---|---|---|')
    for name, median, low, high, rate in rows:
        print(f'| {name} | {median * 1e3:.1f} | {low * 1e3:.1f}-'
              f'{high * 1e3:.1f} | {rate:.1f} | {rate / base:.2f}x |')


if __name__ == '__main__':
    main()
