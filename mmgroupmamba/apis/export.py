"""ONNX export of a GroupMamba classifier or backbone (``tools/export_onnx.py``).

The selective scan is exported in standard ONNX ops through the loop-free
'segsum' backend (chunked segment sums: CumSum, Exp, Mul, ReduceSum), so the
file runs in any ONNX runtime with no custom operator. Batch, height and width
are dynamic (H, W from 33 to 4096: torch.export treats a stage of size 1 as a
special case, so 32 px inputs need a static export). The export writes one
self-contained ``.onnx`` file. Needs torch >= 2.5 (``torch.onnx.export`` with
``dynamo=True``) and, for :func:`check_with_onnxruntime`, onnxruntime.
"""
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope

from ..torch_version import ONNX_EXPORT, require_torch
from ..wrappers import ClassifierLogits
from .inference import init_model, set_scan_backend

MIN_DYNAMIC_SIZE = 33


class BackboneMaps(torch.nn.Module):
    """A GroupMamba backbone as image -> its tuple of NCHW maps."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, image):
        return self.backbone(image)


def build(config, checkpoint, backbone_only):
    """The module to export, in eval mode, on the 'segsum' scan backend.

    Args:
        config (str): An mmpretrain classifier config of this project.
        checkpoint (str | None): Weights covering the whole classifier,
            loaded strictly (:func:`mmgroupmamba.apis.init_model`); None
            exports the config's initial (random) weights.
        backbone_only (bool): Export the backbone's four stage maps instead
            of the logits.

    Returns:
        nn.Module: ``BackboneMaps`` or ``ClassifierLogits``, eval mode.
    """
    cfg = Config.fromfile(config)
    if backbone_only:
        cfg.model.backbone['out_indices'] = (0, 1, 2, 3)
    if checkpoint is None:
        # The constructors' (official) initialisation; not init_weights,
        # which would load a distillation config's teacher file.
        with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
            model = MODELS.build(cfg.model)
        set_scan_backend(model, 'segsum')
    else:
        model = init_model(cfg, checkpoint, scan_backend='segsum')
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
        # external_data=False: one self-contained file (a GroupMamba-B is
        # far below protobuf's 2 GB), not a .onnx plus a .onnx.data beside.
        torch.onnx.export(
            module, (sample, ), path, dynamo=True, input_names=['image'],
            dynamic_shapes=dynamic_shapes, external_data=False,
            verbose=False)


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
