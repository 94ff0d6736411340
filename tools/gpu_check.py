#!/usr/bin/env python
"""GPU acceptance check: the Triton kernels and the models on CUDA, in one run.

Correctness (triton scan vs the float64 reference, fp32 and fp16 / bf16
autocast; GroupMamba-T backbone triton vs cpu backend; fp16 AMP training
steps; fp16 autocast of T/S/B), scan speed (GB/s against the measured copy
bandwidth) and classifier images/s beside convnext_tiny, swin_tiny and
resnet50 at batch 128. Writes a JSON of every figure (after each row) and a
markdown table beside it; exits 1 if any check failed or raised. The work is
in :mod:`mmgroupmamba.benchmarks.gpu_check`.

On a GPU machine with torch, Triton, timm, numpy, einops and pytest but no
OpenMMLab packages and no network, bring mmengine and what it imports as
wheels (``bash tools/gather_gpu_wheels.sh`` fills the git-ignored
``.gpu_wheels/``; carry it with the working tree) and run, in one line::

    pip install -q --no-index --no-deps .gpu_wheels/*.whl && pip install -q --no-index --no-deps --no-build-isolation -e . && python tools/gpu_check.py --out $OUT/gpu_check.json

(about 400 s allowed; the check is sized for under 4 minutes on an H200).
On a CPU, ``--smoke`` runs the same code on tiny shapes; start it with
``TRITON_INTERPRET=1`` in the environment so that the kernels run in
Triton's interpreter (the test suite does, tests/test_gpu_check.py)::

    TRITON_INTERPRET=1 python tools/gpu_check.py --smoke --out smoke.json
"""
import argparse
import sys
from pathlib import Path


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('--out', type=Path, default=Path('gpu_check.json'),
                        help='JSON report (default: gpu_check.json); the '
                        'markdown table goes beside it (.md)')
    parser.add_argument('--smoke', action='store_true',
                        help='tiny shapes, any device (CPU: set '
                        'TRITON_INTERPRET=1; default: off)')
    parser.add_argument('--device', default=None,
                        help='default: cuda if available, else cpu')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import torch

    from mmgroupmamba.benchmarks.gpu_check import format_report, run_check
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if not args.smoke and torch.device(device).type != 'cuda':
        sys.exit(f'the full check needs a CUDA device, got {device!r}; '
                 'use --smoke on a CPU')
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = run_check(args.out, smoke=args.smoke, device=device,
                       log=lambda line: print(line, flush=True))
    table = format_report(report)
    args.out.with_suffix('.md').write_text(table + '\n')
    print('\n' + table)
    print(f'\nreport: {args.out}')
    return 0 if report['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
