"""Mask R-CNN with GroupMamba in mmdet: configs, training, evaluation, inference.

Everything runs on the CPU. The smoke config trains a narrow GroupMamba
Mask R-CNN for a few iterations on drawn shapes (tools/make_coco_data.py);
the real 1x config is built and run forward without training.
"""
import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import (REPO, check_backbone_loaded, check_weight_decay_split,
                      one_thread_in_scope, run_tool)
from mmengine.config import Config
from mmengine.runner import Runner
from pycocotools.coco import COCO

import mmgroupmamba  # noqa: F401
from mmgroupmamba.apis import as_cfg_options, coco_data_options

T_CONFIG = REPO / 'configs' / 'maskrcnn_groupmamba_t_1x_coco.py'
SMOKE_CONFIG = REPO / 'configs' / 'smoke' / 'maskrcnn_groupmamba_t_smoke.py'
CLASSES = ('circle', 'rectangle', 'triangle')
# Measured at build time from the T config: 20,463,304 in the backbone (the
# classifier's 23,361,917 less its neck and heads, plus the four out norms).
T_DETECTOR_PARAMS = 40_621_496
METRIC_KEYS = [
    f'coco/{kind}_mAP{suffix}' for kind in ('bbox', 'segm')
    for suffix in ('', '_50', '_75', '_s', '_m', '_l')
]


@pytest.fixture(scope='module', autouse=True)
def isolated_mmdet_run():
    """This module runs in mmdet's scope on one thread (see conftest)."""
    with one_thread_in_scope('mmdet'):
        yield


def point_at_data(cfg, data_root):
    """Aim the smoke config's train/val/test data at ``data_root``."""
    cfg.merge_from_dict(coco_data_options(data_root))


def data_options(data_root):
    """The same as :func:`point_at_data`, as train.py ``--cfg-options``."""
    return as_cfg_options(coco_data_options(data_root))


@pytest.fixture(scope='module')
def trained(coco_data, tmp_path_factory):
    """Train the smoke config through mmengine's Runner, then evaluate it.

    The evaluation runs once, through ``runner.test()`` (the same val set and
    CocoMetric), because that returns the metrics as the evaluator made
    them; the in-training validation is switched off here and exercised by
    :func:`test_mim_train_runs_the_smoke_config` instead.

    Returns:
        dict: ``runner``, per-iteration ``losses``, ``metrics``, ``work_dir``.
    """
    cfg = Config.fromfile(SMOKE_CONFIG)
    point_at_data(cfg, coco_data)
    cfg.work_dir = str(tmp_path_factory.mktemp('smoke_work_dir'))
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    return dict(
        runner=runner,
        losses=runner.message_hub.get_scalar('train/loss').data[0].tolist(),
        metrics=runner.test(),
        work_dir=Path(cfg.work_dir))


@pytest.fixture(scope='module')
def t_cfg():
    return Config.fromfile(T_CONFIG)


@pytest.fixture(scope='module')
def t_detector(t_cfg):
    """The real T detector, built but never initialised from a checkpoint."""
    from mmdet.registry import MODELS
    return MODELS.build(t_cfg.model)


# ---------------------------------------------------------------- the data set
def test_made_data_is_deterministic_coco(tmp_path):
    for name, seed in (('a', 0), ('b', 0), ('c', 1)):
        run_tool('tools/make_coco_data.py', tmp_path / name, '--seed', seed)

    def files(name):
        root = tmp_path / name
        return {p.relative_to(root): p.read_bytes()
                for p in sorted(root.rglob('*')) if p.is_file()}

    assert files('a') == files('b')
    assert files('a') != files('c')

    for split, num_images in (('train', 48), ('val', 16)):
        coco = COCO(str(tmp_path / 'a' / 'annotations' /
                        f'instances_{split}.json'))
        assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == \
            list(CLASSES)
        assert len(coco.imgs) == num_images
        areas = []
        for image_id, info in coco.imgs.items():
            image = cv2.imread(str(tmp_path / 'a' / split / info['file_name']))
            assert image.shape == (info['height'], info['width'], 3)
            anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
            assert len(anns) >= 2
            for ann in anns:
                assert ann['iscrowd'] == 0
                mask = coco.annToMask(ann)
                # Polygons run through boundary pixel centres, so they cover
                # a little less than the visible pixels that ``area`` counts.
                assert 0.8 * ann['area'] <= mask.sum() <= ann['area']
                x, y, w, h = ann['bbox']
                ys, xs = np.nonzero(mask)
                assert x <= xs.min() and xs.max() < x + w
                assert y <= ys.min() and ys.max() < y + h
                areas.append(ann['area'])
        # COCO's small / medium / large ranges all occur, so no size-range
        # metric is -1 (undefined) on this set.
        assert min(areas) < 32**2 and max(areas) > 96**2
        assert any(32**2 <= a <= 96**2 for a in areas)


# ------------------------------------------------------------- smoke training
def test_smoke_training_losses_are_finite_and_fall(trained):
    losses = trained['losses']
    assert len(losses) == 8
    assert all(math.isfinite(loss) for loss in losses)
    # Deterministic (seed 0); measured 4.55 -> 3.25 over the 8 iterations.
    assert losses[-1] < 0.85 * losses[0]


def test_smoke_validation_reports_coco_bbox_and_segm(trained):
    for key in METRIC_KEYS:
        value = trained['metrics'][key]
        assert type(value) is float, (key, type(value))
        assert 0.0 <= value <= 1.0, (key, value)


def test_runner_checkpoint_loads_weights_only(trained):
    """WeightsOnlyCheckpointHook: torch's default weights-only load reads it.

    Without the hook, mmengine 0.10.7 stores HistoryBuffer objects and numpy
    scalars in ``message_hub``, which torch >= 2.6 refuses.
    """
    path = trained['work_dir'] / 'iter_8.pth'
    assert path.is_file()
    assert (trained['work_dir'] / 'last_checkpoint').read_text().strip() == \
        str(path)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    model_state = trained['runner'].model.state_dict()
    assert set(checkpoint['state_dict']) == set(model_state)
    for key, value in model_state.items():
        assert torch.equal(checkpoint['state_dict'][key], value), key
    # The logged losses survive as plain lists (restored on resume).
    loss_log = checkpoint['message_hub']['log_scalars']['train/loss']
    assert loss_log['log_history'] == pytest.approx(trained['losses'])
    # Written through the atomic backend: no temporary file is left behind.
    assert sorted(p.name for p in trained['work_dir'].iterdir()
                  if p.name.endswith('.tmp')) == []


def test_det_inferencer_draws_the_trained_model(trained, coco_data, tmp_path):
    """mmdet's DetInferencer on the Runner's own checkpoint file."""
    from mmdet.apis import DetInferencer
    runner = trained['runner']
    inferencer = DetInferencer(
        model=Config.fromfile(trained['work_dir'] /
                              'maskrcnn_groupmamba_t_smoke.py'),
        weights=str(trained['work_dir'] / 'iter_8.pth'),
        device='cpu',
        show_progress=False)
    assert inferencer.model.dataset_meta['classes'] == CLASSES
    for key, value in runner.model.state_dict().items():
        assert torch.equal(inferencer.model.state_dict()[key], value), key

    image_path = coco_data / 'val' / '000000.png'
    out_dir = tmp_path / 'out'
    result = inferencer(
        str(image_path),
        out_dir=str(out_dir),
        no_save_pred=False,
        pred_score_thr=0.0)  # an 8-iteration model scores low: draw them all
    prediction = result['predictions'][0]
    assert len(prediction['labels']) > 0
    assert len(prediction['bboxes']) == len(prediction['masks']) == \
        len(prediction['labels'])
    assert set(prediction['labels']) <= set(range(len(CLASSES)))
    assert json.loads((out_dir / 'preds' / '000000.json').read_text()) \
        .keys() >= {'labels', 'scores', 'bboxes', 'masks'}

    drawn = cv2.imread(str(out_dir / 'vis' / '000000.png'))
    original = cv2.imread(str(image_path))
    assert drawn.shape == original.shape
    # Boxes, mask fills and labels change a visible share of the pixels.
    changed = np.any(drawn != original, axis=2).mean()
    assert changed > 0.05, changed


def test_mim_train_runs_the_smoke_config(coco_data, tmp_path):
    """``mim train mmdet CONFIG`` (mmdet's own tools/train.py) accepts it."""
    mim = Path(sys.executable).with_name('mim')
    work_dir = tmp_path / 'work_dir'
    result = subprocess.run(
        [
            str(mim), 'train', 'mmdet',
            str(SMOKE_CONFIG), '--work-dir',
            str(work_dir), '--cfg-options', 'train_cfg.max_iters=1',
            'default_hooks.checkpoint.interval=1', *data_options(coco_data)
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS='1'))  # see isolated_mmdet_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert 'Training finished successfully' in result.stdout
    assert (work_dir / 'iter_1.pth').is_file()


def test_mim_test_evaluates_the_runner_checkpoint(trained, coco_data,
                                                  tmp_path):
    """``mim test mmdet CONFIG --checkpoint`` (mmdet's own tools/test.py)
    reads the Runner's checkpoint weights-only and gives the Runner's APs."""
    mim = Path(sys.executable).with_name('mim')
    result = subprocess.run(
        [
            str(mim), 'test', 'mmdet',
            str(SMOKE_CONFIG), '--checkpoint',
            str(trained['work_dir'] / 'iter_8.pth'), '--work-dir',
            str(tmp_path), '--cfg-options', *data_options(coco_data)
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    expected = trained['metrics']['coco/bbox_mAP_50']
    assert f'coco/bbox_mAP_50: {expected:.4f}' in result.stdout


# ---------------------------------------------------------------- real config
def test_t_config_builds_the_paper_sized_detector(t_cfg, t_detector):
    backbone = t_cfg.model.backbone
    assert backbone.type == 'GroupMamba' and backbone.arch == 'tiny'
    assert t_cfg.model.neck.in_channels == [64, 128, 348, 448]
    assert t_cfg.train_dataloader.batch_size == 2
    assert t_cfg.auto_scale_lr.base_batch_size == 16
    assert sum(p.numel() for p in t_detector.parameters()) == \
        T_DETECTOR_PARAMS  # the paper: 40M


def test_t_config_detects_on_one_image(t_cfg):
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    cfg = copy.deepcopy(t_cfg)
    # Untrained class scores sit near 1/81, under the 0.05 threshold: keep
    # them so that the box and mask branches really run to the end.
    cfg.model.test_cfg.rcnn.score_thr = 0.0
    detector = MODELS.build(cfg.model).eval()
    torch.manual_seed(0)
    image = torch.randint(0, 256, (3, 320, 320), dtype=torch.uint8)
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(320, 320), ori_shape=(320, 320),
            scale_factor=(1.0, 1.0)))
    with torch.no_grad():
        result = detector.test_step(dict(inputs=[image],
                                          data_samples=[sample]))[0]
    pred = result.pred_instances
    num = len(pred)
    assert 0 < num <= cfg.model.test_cfg.rcnn.max_per_img
    assert pred.bboxes.shape == (num, 4)
    assert pred.masks.shape == (num, 320, 320)
    assert pred.labels.min() >= 0 and pred.labels.max() < 80
    assert torch.all((pred.scores >= 0) & (pred.scores <= 1))
    assert torch.isfinite(pred.bboxes).all()


def test_t_config_weight_decay_split(t_cfg, t_detector):
    """No decay exactly where the official ImageNet training had none."""
    decay = check_weight_decay_split(t_detector, t_cfg.optim_wrapper,
                                     lr=1e-4, weight_decay=0.05)
    # Spot checks of the rule's intent.
    block = 'backbone.stages.2.blocks.0.mixer.'
    assert decay['backbone.stem.conv.1.weight'] == 0.0  # a stem BatchNorm
    assert decay[block + 'ssm.D'] == 0.0
    assert decay[block + 'ssm.A_log'] == 0.05  # 2-D officially, decayed
    assert decay[block + 'ssm.dt_bias'] == 0.05  # 2-D officially, decayed
    assert decay[block + 'skip_scale'] == 0.0
    assert decay['neck.lateral_convs.0.conv.bias'] == 0.0
    assert decay['roi_head.bbox_head.fc_cls.weight'] == 0.05


@pytest.mark.parametrize('fixture', ['official_tiny_path', 'converted_tiny_path'])
def test_t_config_loads_official_and_converted_weights(t_cfg, fixture,
                                                       request):
    from mmdet.registry import MODELS
    path = request.getfixturevalue(fixture)
    cfg = copy.deepcopy(t_cfg)
    cfg.model.backbone.init_cfg.checkpoint = str(path)
    detector = MODELS.build(cfg.model)
    detector.init_weights()
    check_backbone_loaded(detector, path)


def test_t_config_missing_checkpoint_fails_loudly(t_cfg, tmp_path,
                                                  monkeypatch):
    """The shipped path, relative to a folder that lacks it: init fails."""
    from mmdet.registry import MODELS
    monkeypatch.chdir(tmp_path)
    detector = MODELS.build(t_cfg.model)
    with pytest.raises(FileNotFoundError,
                       match='checkpoints/groupmamba_t_in1k.pth'):
        detector.init_weights()
