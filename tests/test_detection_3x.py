"""Mask R-CNN 3x multi-scale and Cascade Mask R-CNN 3x configs (T/S/B) and
their CPU smoke variants.

The six real configs are built in mmdet and their recipes and parameter
counts checked; the two smoke configs run through ``mim train mmdet`` on the
drawn COCO-format set (tools/make_coco_data.py) for 6 iterations each and
are evaluated with COCO bbox/segm AP (pycocotools). The cascade smoke run
also switches on activation checkpointing (``model.backbone.with_cp=True``).
"""
import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (CONFIGS, REPO, check_weight_decay_split,
                      one_thread_in_scope)
from mmengine.config import Config

import mmgroupmamba  # noqa: F401
from mmgroupmamba.apis import as_cfg_options, coco_data_options

SIZES = ('t', 's', 'b')
# Measured here from each config. The Mask R-CNN 3x detectors are the 1x
# ones (same model, other schedule and pipeline): T is the paper's 40M. The
# cascade heads (3 stages of 4conv1fc box heads, FPN, RPN, mask heads) hold
# 57,993,394 parameters; with ConvNeXt-T's 28M backbone that is mmdet's 86M.
PARAMS = {
    'maskrcnn_groupmamba_t_3x_ms_coco': 40_621_496,
    'maskrcnn_groupmamba_s_3x_ms_coco': 51_318_954,
    'maskrcnn_groupmamba_b_3x_ms_coco': 73_732_613,
    'cascade_maskrcnn_groupmamba_t_3x_ms_coco': 78_456_698,
    'cascade_maskrcnn_groupmamba_s_3x_ms_coco': 89_154_156,
    'cascade_maskrcnn_groupmamba_b_3x_ms_coco': 111_567_815,
}
BACKBONE_PARAMS = {'t': 20_463_304, 's': 31_144_378, 'b': 53_514_005}
WIDTHS = {'t': [64, 128, 348, 448], 's': [64, 128, 348, 512],
          'b': [96, 192, 424, 512]}
ARCH = {'t': 'tiny', 's': 'small', 'b': 'base'}
SMOKE = {
    'maskrcnn': CONFIGS / 'smoke' / 'maskrcnn_groupmamba_t_3x_ms_smoke.py',
    'cascade': CONFIGS / 'smoke' /
    'cascade_maskrcnn_groupmamba_t_3x_ms_smoke.py',
}
METRIC_KEYS = [
    f'coco/{kind}_mAP{suffix}' for kind in ('bbox', 'segm')
    for suffix in ('', '_50', '_75', '_s', '_m', '_l')
]


@pytest.fixture(scope='module', autouse=True)
def isolated_mmdet_run():
    """This module runs in mmdet's scope on one thread (see conftest)."""
    with one_thread_in_scope('mmdet'):
        yield


def build(cfg):
    from mmdet.registry import MODELS
    return MODELS.build(cfg.model)


# --------------------------------------------------------------- real configs
@pytest.mark.parametrize('name', sorted(PARAMS))
def test_config_builds_with_the_measured_parameter_count(name):
    cfg = Config.fromfile(CONFIGS / f'{name}.py')
    size = name.split('_')[-4]
    detector = build(cfg)
    assert type(detector).__name__ == (
        'CascadeRCNN' if name.startswith('cascade') else 'MaskRCNN')
    assert cfg.model.backbone.arch == ARCH[size]
    assert cfg.model.neck.in_channels == WIDTHS[size]
    assert sum(p.numel() for p in detector.backbone.parameters()) == \
        BACKBONE_PARAMS[size]
    assert sum(p.numel() for p in detector.parameters()) == PARAMS[name]
    # The ImageNet file of its own size, loaded strictly at init_weights.
    assert cfg.model.backbone.init_cfg.checkpoint == \
        f'checkpoints/groupmamba_{size}_in1k.pth'
    assert cfg.model.backbone.with_cp is False


def test_maskrcnn_3x_is_the_swin_3x_recipe():
    for size in SIZES:
        cfg = Config.fromfile(CONFIGS /
                              f'maskrcnn_groupmamba_{size}_3x_ms_coco.py')
        assert cfg.model.backbone.drop_path_rate == 0.2
        assert cfg.train_cfg.max_epochs == 36
        warmup, steps = cfg.param_scheduler
        assert (warmup.type, warmup.end, warmup.start_factor) == \
            ('LinearLR', 1000, 0.001)
        assert (steps.milestones, steps.gamma) == ([27, 33], 0.1)
        assert cfg.optim_wrapper.type == 'OptimWrapper'
        assert cfg.optim_wrapper.optimizer == dict(
            type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05)
        assert cfg.optim_wrapper.constructor == \
            'GroupMambaOptimWrapperConstructor'
        assert cfg.train_dataloader.batch_size == 2
        assert cfg.auto_scale_lr.base_batch_size == 16
        choice = cfg.train_pipeline[3]
        assert choice.type == 'RandomChoice'
        plain, crop = choice.transforms
        assert [short for short, _ in plain[0].scales] == \
            list(range(480, 801, 32))
        assert [t.type for t in crop] == \
            ['RandomChoiceResize', 'RandomCrop', 'RandomChoiceResize']
        assert cfg.test_pipeline[1].scale == (1333, 800)


def test_cascade_is_the_convnext_cascade_recipe():
    for size, drop_path in zip(SIZES, (0.4, 0.6, 0.7)):
        cfg = Config.fromfile(
            CONFIGS / f'cascade_maskrcnn_groupmamba_{size}_3x_ms_coco.py')
        assert cfg.model.backbone.drop_path_rate == drop_path
        assert cfg.custom_imports.imports == ['mmgroupmamba']
        heads = cfg.model.roi_head.bbox_head
        assert len(heads) == 3
        for head in heads:
            assert (head.type, head.num_shared_convs, head.num_shared_fcs) \
                == ('ConvFCBBoxHead', 4, 1)
            assert head.loss_bbox.type == 'GIoULoss'
            assert head.reg_decoded_bbox
        assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
        assert cfg.optim_wrapper.optimizer.lr == 2e-4
        assert cfg.optim_wrapper.constructor == \
            'GroupMambaOptimWrapperConstructor'
        assert cfg.optim_wrapper.paramwise_cfg is None
        assert cfg.train_cfg.max_epochs == 36
        assert cfg.param_scheduler[1].milestones == [27, 33]
        assert cfg.train_pipeline[3].type == 'RandomChoice'


def test_cascade_weight_decay_split():
    """No decay exactly where the official ImageNet training had none; the
    base's ConvNeXt layer-wise decay is gone (one LR for every group)."""
    cfg = Config.fromfile(CONFIGS /
                          'cascade_maskrcnn_groupmamba_t_3x_ms_coco.py')
    # AmpOptimWrapper needs CUDA; the split is the constructor's alone.
    optim_wrapper = copy.deepcopy(cfg.optim_wrapper)
    optim_wrapper.type = 'OptimWrapper'
    decay = check_weight_decay_split(build(cfg), optim_wrapper, lr=2e-4,
                                     weight_decay=0.05)
    assert decay['roi_head.bbox_head.2.shared_convs.0.conv.weight'] == 0.05
    assert decay['roi_head.bbox_head.2.shared_convs.0.bn.weight'] == 0.0
    assert decay['backbone.stages.2.blocks.0.mixer.ssm.D'] == 0.0


# ---------------------------------------------------------------- smoke runs
def test_smoke_pipeline_runs_both_multi_scale_branches(coco_data):
    """The recipe's pipeline at 1/4 size on the 256x192 drawn images: every
    image ends with a short side from 120-200 in steps of 8 (the long-side
    limit 333 never binds), through the plain branch (4:3 kept) or the crop
    branch (another aspect ratio); 40 seeded draws see both and many sizes."""
    import numpy as np
    from mmdet.registry import DATASETS
    cfg = Config.fromfile(SMOKE['maskrcnn'])
    cfg.merge_from_dict(coco_data_options(coco_data))
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    np.random.seed(0)  # mmcv's random transforms draw from numpy
    shapes = [tuple(dataset[i % len(dataset)]['inputs'].shape[1:])
              for i in range(40)]
    assert all(min(shape) in range(120, 201, 8) for shape in shapes), shapes
    assert len({min(shape) for shape in shapes}) >= 6, shapes
    ratios = [w / h for h, w in shapes]
    plain = [r for r in ratios if abs(r - 4 / 3) < 0.01]
    assert 5 <= len(plain) <= 35, ratios  # both branches taken


def mim_train(config, coco_data, work_dir, *options):
    mim = Path(sys.executable).with_name('mim')
    result = subprocess.run(
        [
            str(mim), 'train', 'mmdet',
            str(config), '--work-dir',
            str(work_dir), '--cfg-options',
            *as_cfg_options(coco_data_options(coco_data)),
            # 4 of the 16 val images (CPU time); COCO AP is still over the
            # annotation file's 16, the rest counted as missed.
            'val_dataloader.dataset.indices=4', *options
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS='1'))  # see isolated_mmdet_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert 'Training finished successfully' in result.stdout
    (scalars, ) = work_dir.glob('*/vis_data/scalars.json')
    records = [json.loads(line) for line in scalars.read_text().splitlines()]
    # Six training iterations, then the validation after the last one.
    assert ['loss' in r for r in records] == [True] * 6 + [False]
    return dict(log=result.stdout, train=records[:-1], val=records[-1])


@pytest.fixture(scope='module')
def smoke_runs(coco_data, tmp_path_factory):
    runs = {}
    runs['maskrcnn'] = mim_train(SMOKE['maskrcnn'], coco_data,
                                 tmp_path_factory.mktemp('maskrcnn_3x'))
    runs['cascade'] = mim_train(SMOKE['cascade'], coco_data,
                                tmp_path_factory.mktemp('cascade_3x'),
                                'model.backbone.with_cp=True')
    return runs


@pytest.mark.parametrize('kind', ['maskrcnn', 'cascade'])
def test_smoke_trains_and_evaluates_coco_ap(kind, smoke_runs):
    run = smoke_runs[kind]
    assert [r['step'] for r in run['train']] == list(range(1, 7))
    assert all(math.isfinite(r['loss']) and r['loss'] > 0
               for r in run['train'])
    for key in METRIC_KEYS:
        value = run['val'][key]
        assert type(value) is float and 0.0 <= value <= 1.0, (key, value)


def test_cascade_smoke_trains_three_stages_with_checkpointing(smoke_runs):
    run = smoke_runs['cascade']
    for stage in range(3):
        for loss in ('loss_cls', 'loss_bbox', 'loss_mask'):
            assert all(f's{stage}.{loss}' in r for r in run['train'])
    # The --cfg-options switch reached the backbone in the dumped config.
    assert 'with_cp=True' in run['log']
    assert "type='OptimWrapper'" in run['log']  # AMP is CUDA-only
