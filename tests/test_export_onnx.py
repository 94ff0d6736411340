"""ONNX export with dynamic batch/H/W, checked in onnxruntime.

A small custom arch keeps the export (torch.export + ONNX translation) to
seconds; the full GroupMamba-T goes through the same code path (README).
"""
import importlib.util
from pathlib import Path

import pytest
import torch

from mmgroupmamba.models import GroupMamba

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location(
    'export_onnx', REPO / 'tools' / 'export_onnx.py')
export_onnx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(export_onnx)

SMALL = dict(stem_channels=8, embed_dims=[16, 32, 48, 64], depths=[1, 1, 2, 1],
             mlp_ratios=[2, 2, 2, 2])


@pytest.fixture(scope='module')
def backbone():
    torch.manual_seed(0)
    model = GroupMamba(SMALL, out_indices=(0, 1, 2, 3), out_norms=True,
                       scan_backend='segsum')
    return export_onnx.BackboneMaps(model).eval()


def test_backbone_dynamic_shapes_match_pytorch(backbone, tmp_path):
    path = str(tmp_path / 'backbone.onnx')
    export_onnx.export(backbone, path)
    shapes = [(1, 3, 64, 64), (3, 3, 96, 160), (1, 3, 33, 47),
              (2, 3, 224, 224)]
    for shape, diff, scale in export_onnx.check_with_onnxruntime(
            backbone, path, shapes):
        assert diff < 1e-4 * (1 + scale), (shape, diff)


def test_classifier_export_matches_pytorch(tmp_path):
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    import mmgroupmamba  # noqa: F401
    cfg = Config.fromfile(REPO / 'configs' / 'groupmamba_t_in1k.py').model
    cfg.backbone.update(arch=SMALL, scan_backend='segsum')
    cfg.neck.update(in_channels=64, scan_backend='segsum')
    cfg.head.update(in_channels=64)
    torch.manual_seed(0)
    module = export_onnx.ClassifierLogits(MODELS.build(cfg)).eval()
    path = str(tmp_path / 'classifier.onnx')
    export_onnx.export(module, path)
    (shape, diff, scale), = export_onnx.check_with_onnxruntime(
        module, path, [(2, 3, 128, 96)])
    assert diff < 1e-4 * (1 + scale)
    with torch.no_grad():  # the segsum backend is the cpu backend's twin
        images = torch.randn(2, 3, 128, 96)
        exported_path = module(images)
        module.classifier.backbone.stages.apply(
            lambda m: setattr(m, 'scan_backend', 'cpu')
            if hasattr(m, 'scan_backend') else None)
        assert torch.allclose(module(images), exported_path, atol=1e-5)
