"""ONNX export with dynamic batch/H/W, checked in onnxruntime.

A small custom arch keeps the export (torch.export + ONNX translation) to
seconds; the full GroupMamba-T goes through the same code path
(docs/user_guides/onnx.md).
"""
import subprocess
import sys

import pytest
import torch
from conftest import REPO

from mmgroupmamba.apis import export as export_onnx
from mmgroupmamba.models import GroupMamba

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


def test_export_writes_one_self_contained_file(backbone, tmp_path):
    path = tmp_path / 'backbone.onnx'
    export_onnx.export(backbone, str(path))
    assert [p.name for p in tmp_path.iterdir()] == ['backbone.onnx']


def test_tool_refuses_to_export_random_weights_unasked(tmp_path):
    result = subprocess.run(
        [sys.executable, 'tools/export_onnx.py', 'configs/groupmamba_t_in1k.py',
         str(tmp_path / 'out.onnx')], cwd=REPO, capture_output=True,
        text=True)
    assert result.returncode == 2
    assert ('one of the arguments --checkpoint --random-weights is required'
            in result.stderr)
    assert not any(tmp_path.iterdir())


def test_build_loads_the_checkpoint_strictly(converted_tiny_path, golden,
                                            tmp_path):
    config = str(REPO / 'configs' / 'groupmamba_t_in1k.py')
    module = export_onnx.build(config, str(converted_tiny_path),
                               backbone_only=False)
    scan_backends = {m.scan_backend for m in module.modules()
                     if hasattr(m, 'scan_backend')}
    assert scan_backends == {'segsum'}
    with torch.no_grad():
        logits = module(golden['input'])
    reference = golden['logits_eval']
    assert (logits - reference).abs().max() < 1e-4 * (
        1 + reference.abs().max())
    partial = torch.load(converted_tiny_path, weights_only=True)
    del partial['state_dict']['head.dist_fc.weight']
    torch.save(partial, tmp_path / 'partial.pth')
    from mmgroupmamba.checkpoint import CheckpointError
    with pytest.raises(CheckpointError, match='head.dist_fc.weight'):
        export_onnx.build(config, str(tmp_path / 'partial.pth'),
                          backbone_only=False)
