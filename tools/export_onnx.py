#!/usr/bin/env python
"""Export a GroupMamba classifier, or its backbone alone, to ONNX.

    python tools/export_onnx.py configs/groupmamba_t_in1k.py groupmamba_t.onnx \
        --checkpoint groupmamba_t_mm.pth
    python tools/export_onnx.py configs/groupmamba_t_in1k.py backbone.onnx --backbone

The selective scan is exported in standard ONNX ops through the loop-free
'segsum' backend (chunked segment sums: CumSum, Exp, Mul, ReduceSum), so the
file runs in any ONNX runtime with no custom operator. Batch, height and width
are dynamic (H, W from 33 to 4096: torch.export treats a stage of size 1 as a
special case, so 32 px inputs need a static export with ``--static``). The
exported file is checked against PyTorch in onnxruntime before the tool exits.
"""
import argparse
import time
import warnings

import numpy as np
import torch
from mmengine.config import Config

from mmgroupmamba.torch_version import ONNX_EXPORT, require_torch
from mmgroupmamba.wrappers import ClassifierLogits

# mmengine 0.10.7 imports pkg_resources; its deprecation notice is not ours.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

MIN_DYNAMIC_SIZE = 33


class BackboneMaps(torch.nn.Module):
    """A GroupMamba backbone as image -> its tuple of NCHW maps."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, image):
        return self.backbone(image)


def build(config, checkpoint, backbone_only):
    """The module to export, in eval mode, on the 'segsum' scan backend."""
    import mmgroupmamba  # noqa: F401  (registers the models)
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(config)
    for part in ('backbone', 'neck'):
        cfg.model[part]['scan_backend'] = 'segsum'
    if backbone_only:
        cfg.model.backbone['out_indices'] = (0, 1, 2, 3)
    model = MODELS.build(cfg.model)
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu')
    wrapped = (BackboneMaps(model.backbone)
               if backbone_only else ClassifierLogits(model))
    return wrapped.eval()


def export(module, path, static_size=None, sample_size=64):
    """Export ``module`` (image -> tensor or tuple) to ONNX at ``path``.

    Args:
        module (torch.nn.Module): Eval-mode module taking (B, 3, H, W).
        path (str): Output file.
        static_size (tuple[int, int] | None): Fix (H, W) and batch 1
            instead of exporting dynamic axes.
        sample_size (int): Side of the sample image traced for a dynamic
            export. Defaults to 64.
    """
    require_torch(ONNX_EXPORT, 'ONNX export (torch.onnx.export with dynamo)')
    if static_size is not None:
        sample = torch.randn(1, 3, *static_size)
        dynamic_shapes = None
    else:
        # Batch 2 and 64 px: torch.export specialises dimensions of size 1.
        sample = torch.randn(2, 3, sample_size, sample_size)
        dim = torch.export.Dim
        # Positional (one entry per input), whatever the forward calls it.
        dynamic_shapes = ({
            0: dim('batch', max=4096),
            2: dim('height', min=MIN_DYNAMIC_SIZE, max=4096),
            3: dim('width', min=MIN_DYNAMIC_SIZE, max=4096),
        }, )
    with torch.no_grad():
        torch.onnx.export(
            module, (sample, ), path, dynamo=True, input_names=['image'],
            dynamic_shapes=dynamic_shapes, verbose=False)


def check_with_onnxruntime(module, path, shapes):
    """Max abs difference between onnxruntime and PyTorch per input shape."""
    import onnxruntime
    session = onnxruntime.InferenceSession(
        path, providers=['CPUExecutionProvider'])
    name = session.get_inputs()[0].name
    report = []
    for shape in shapes:
        image = torch.randn(*shape)
        with torch.no_grad():
            expected = module(image)
        expected = expected if isinstance(expected, tuple) else (expected, )
        outputs = session.run(None, {name: image.numpy()})
        diff = max(
            float(np.abs(out - ref.numpy()).max())
            for out, ref in zip(outputs, expected))
        scale = max(float(ref.abs().max()) for ref in expected)
        report.append((shape, diff, scale))
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='an mmpretrain config of this project')
    parser.add_argument('output', help='the .onnx file to write')
    parser.add_argument('--checkpoint', help='converted weights to export')
    parser.add_argument('--backbone', action='store_true',
                        help='export the backbone alone (4 stage maps)')
    parser.add_argument('--static', type=int, nargs=2, metavar=('H', 'W'),
                        help='fixed input size and batch 1 instead of '
                        'dynamic axes')
    args = parser.parse_args()

    module = build(args.config, args.checkpoint, args.backbone)
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
