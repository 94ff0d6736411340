#!/usr/bin/env python
"""Export a GroupMamba classifier, or its backbone alone, to ONNX.

    python tools/export_onnx.py configs/groupmamba_t_in1k.py groupmamba_t.onnx \
        --checkpoint groupmamba_t_mm.pth
    python tools/export_onnx.py configs/groupmamba_t_in1k.py backbone.onnx \
        --checkpoint groupmamba_t_mm.pth --backbone

Writes one self-contained .onnx file, with the scan in standard ONNX ops and
dynamic batch, height and width (see :mod:`mmgroupmamba.apis.export`), then
checks it against PyTorch in onnxruntime before it exits. The checkpoint is
loaded strictly; exporting the config's random initial weights needs
``--random-weights``, said explicitly.
"""
import argparse
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='an mmpretrain config of this project')
    parser.add_argument('output', help='the .onnx file to write')
    weights = parser.add_mutually_exclusive_group(required=True)
    weights.add_argument('--checkpoint', help='converted weights to export')
    weights.add_argument(
        '--random-weights', action='store_true',
        help="export the config's random initial weights (for trying the "
        'export; the outputs mean nothing)')
    parser.add_argument('--backbone', action='store_true',
                        help='export the backbone alone (4 stage maps; '
                        'default: the classifier logits)')
    parser.add_argument('--static', type=int, nargs=2, metavar=('H', 'W'),
                        help='fixed input size and batch 1 (default: '
                        'dynamic batch, height and width)')
    args = parser.parse_args()
    from mmgroupmamba.apis.export import (build, check_with_onnxruntime,
                                          export)

    module = build(args.config, args.checkpoint, args.backbone)
    print(f'exporting {args.config} to {args.output} (GroupMamba-T: about '
          '100 s on 2 CPU cores) ...', flush=True)
    start = time.perf_counter()
    export(module, args.output,
           static_size=tuple(args.static) if args.static else None)
    print(f'wrote {args.output} in {time.perf_counter() - start:.0f} s')
    shapes = ([(1, 3, *args.static)] if args.static else
              [(1, 3, 224, 224), (2, 3, 160, 96)])
    for shape, diff, scale in check_with_onnxruntime(module, args.output,
                                                     shapes):
        print(f'onnxruntime vs PyTorch at {shape}: max |diff| {diff:.2e} '
              f'(outputs up to {scale:.2f})')
        if diff > 1e-3 * (1 + scale):
            raise RuntimeError(f'the exported model disagrees with PyTorch '
                               f'at {shape}: {diff:.3e}')


if __name__ == '__main__':
    main()
