#!/usr/bin/env python
"""Throughput of GroupMamba against timm peers, same process, same input.

    python tools/benchmark.py --batch 8 --repeats 10
    python tools/benchmark.py --batch 8 --train

Inference: eval mode under ``torch.inference_mode``. ``--train``: one training
step (train mode, forward, cross-entropy on random labels, backward, AdamW
step). Every model runs on the same random batch after warm-up; the table gives
the median time, the spread (min-max), images/s and the ratio to the first
model. Random weights: speed does not depend on their values.
"""
import argparse
import statistics
import time
from pathlib import Path

import timm
import torch
from mmengine.config import Config

from mmgroupmamba.wrappers import ClassifierLogits

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
        return ClassifierLogits(MODELS.build(cfg.model))
    return timm.create_model(name, pretrained=False)


def inference_step(model):
    model.eval()

    def step(batch):
        with torch.inference_mode():
            model(batch)

    return step


def training_step(model, num_classes=1000):
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    labels = torch.randint(num_classes, (1, ))

    def step(batch):
        optimizer.zero_grad(set_to_none=True)
        logits = model(batch)
        loss = torch.nn.functional.cross_entropy(
            logits, labels.expand(len(batch)))
        loss.backward()
        optimizer.step()

    return step


def time_step(step, batch, warmup, repeats):
    for _ in range(warmup):
        step(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step(batch)
        times.append(time.perf_counter() - start)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--models', nargs='+', default=[
        'convnext_tiny', 'groupmamba_tiny', 'swin_tiny_patch4_window7_224',
        'resnet50'])
    parser.add_argument('--train', action='store_true',
                        help='time training steps instead of inference')
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
        model = build(name, args.scan_backend)
        step = training_step(model) if args.train else inference_step(model)
        times = time_step(step, batch, args.warmup, args.repeats)
        median = statistics.median(times)
        rows.append((name, median, min(times), max(times),
                     args.batch / median))
    base = rows[0][4]
    mode = 'training step (fwd + bwd + AdamW)' if args.train else 'inference'
    print(f'CPU {mode}, batch {args.batch} at {args.size}px, '
          f'{torch.get_num_threads()} threads, torch {torch.__version__}, '
          f'{args.warmup} warm-up + {args.repeats} timed runs\n')
    print(f'| model | median ms | min-max ms | img/s | vs {rows[0][0]} |')
    print('|---|---|---|---|---|')
    for name, median, low, high, rate in rows:
        print(f'| {name} | {median * 1e3:.1f} | {low * 1e3:.1f}-'
              f'{high * 1e3:.1f} | {rate:.1f} | {rate / base:.2f}x |')


if __name__ == '__main__':
    main()
