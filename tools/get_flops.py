#!/usr/bin/env python
"""Parameters and FLOPs of a GroupMamba model, selective scan included.

    python tools/get_flops.py configs/groupmamba_t_in1k.py
    python tools/get_flops.py configs/groupmamba_b_in1k.py --shape 384 384

Counted with mmengine's FlopAnalyzer (the fvcore counter: a multiply-add of a
conv / linear / einsum / matmul is one FLOP; norms by fvcore's norm rule;
elementwise ops are not counted) plus a handle for the selective scan, which
every fvcore-based counter otherwise skips: ``9*B*L*D*N + B*D*L`` per call,
the official GroupMamba/VMamba formula. This is the method of the official
figures, so the numbers are comparable with them. Prints a per-part table and,
for the ImageNet configs at 224 px, the official and paper figures beside ours.
"""
import argparse
import warnings
from collections import Counter

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape
from mmengine.config import Config

from mmgroupmamba.ops import TRACED_SCAN_OPS, selective_scan_flops
from mmgroupmamba.wrappers import ClassifierLogits

# mmengine 0.10.7 imports pkg_resources; its deprecation notice is not ours.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

# Official code (fvcore + the scan handle) and paper figures at 224 px.
REFERENCE = {
    'tiny': dict(params=23_361_917, gflops=4.706, paper='23M / 4.5G'),
    'small': dict(params=34_781_555, gflops=7.281, paper='34M / 7.0G'),
    'base': dict(params=57_150_838, gflops=14.186, paper='57M / 14G'),
}


def scan_flop_handle(inputs, outputs):
    """FLOPs of one traced scan node: inputs are (u, delta, A, B, C, D, ...)."""
    batch, channels, length = get_shape(inputs[0])
    state_size = get_shape(inputs[2])[1]
    with_D = inputs[5].type().kind() == 'TensorType'
    return selective_scan_flops(batch, channels, length, state_size,
                                with_D=with_D)


def build_classifier(config):
    import mmgroupmamba  # noqa: F401  (registers the models)
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(config)
    if cfg.model.get('type') != 'ImageClassifier':
        raise ValueError(
            f'{config}: model type {cfg.model.get("type")!r} is not supported '
            'yet; get_flops.py counts mmpretrain ImageClassifier configs')
    # The scan must be one traced node: force the backend that provides it.
    for part in ('backbone', 'neck'):
        cfg.model[part]['scan_backend'] = 'cpu'
    return MODELS.build(cfg.model).eval()


def count(model, shape):
    """Run the analysis; return (FlopAnalyzer, number of scan calls)."""
    analyzer = FlopAnalyzer(ClassifierLogits(model),
                            (torch.randn(1, 3, *shape), ))
    for name in TRACED_SCAN_OPS:
        analyzer.set_op_handle(name, scan_flop_handle)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    # Grad stays enabled: the scan is one traced autograd node only then.
    total = analyzer.total()
    scans = sum(
        count for op, count in analyzer.by_operator().items()
        if f'prim::{op}' in TRACED_SCAN_OPS or op in TRACED_SCAN_OPS)
    if total == 0 or not scans:
        raise RuntimeError('no selective-scan call was traced, so the count '
                           'would silently miss it')
    return analyzer


def parts_table(model, analyzer):
    """Rows (part, params, GFLOPs) for stem, each stage, neck and head."""
    by_module = analyzer.by_module()
    rows = []
    names = ['backbone.stem'] + [
        f'backbone.stages.{i}' for i in range(len(model.backbone.stages))
    ] + ['neck', 'head']
    for name in names:
        module = model.get_submodule(name)
        params = sum(p.numel() for p in module.parameters())
        rows.append((name, params, by_module[f'classifier.{name}'] / 1e9))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='an mmpretrain config of this project')
    parser.add_argument('--shape', type=int, nargs=2, default=[224, 224],
                        metavar=('H', 'W'), help='input size (default 224 224)')
    args = parser.parse_args()

    model = build_classifier(args.config)
    analyzer = count(model, tuple(args.shape))
    params = sum(p.numel() for p in model.parameters())
    gflops = analyzer.total() / 1e9
    operators = Counter({k: v / 1e9 for k, v in analyzer.by_operator().items()})

    print(f'{args.config} at {args.shape[0]}x{args.shape[1]}, batch 1\n')
    print('| part | params | GFLOPs |\n|---|---|---|')
    for name, part_params, part_gflops in parts_table(model, analyzer):
        print(f'| {name} | {part_params:,} | {part_gflops:.3f} |')
    print(f'| **total** | **{params:,}** | **{gflops:.3f}** |\n')
    print('by operator (GFLOPs): ' + ', '.join(
        f'{op} {value:.4f}' for op, value in operators.most_common()))

    arch = model.backbone.arch
    for name, settings in model.backbone.arch_settings.items():
        if settings == arch and tuple(args.shape) == (224, 224):
            ref = REFERENCE[name]
            print(f'\nofficial GroupMamba-{name} (fvcore + scan handle): '
                  f'{ref["params"]:,} params, {ref["gflops"]:.3f} GFLOPs; '
                  f'ours {gflops / ref["gflops"] - 1:+.2%}; '
                  f'paper claims {ref["paper"]}')


if __name__ == '__main__':
    main()
