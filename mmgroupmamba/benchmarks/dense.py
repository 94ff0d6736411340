"""Whole-model ``predict`` of detectors and segmentors, ours against the
configs users compare with (mmdet's and mmseg's Swin-T and ResNet-50).

What a user runs: ``model.test_step`` on one image (the data preprocessor's
normalisation and padding, the backbone, the neck, the heads and their
post-processing), random weights, eval mode, same process, the same image
for every model. For the detectors the R-CNN test score threshold is 0, so
that every model post-processes the same 100 boxes and masks whatever its
random weights score (the heads' work would otherwise depend on them).
"""
import statistics

import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS as REGISTRY
from mmengine.registry import DefaultScope

from ..model_zoo import MIM_ROOT
from .machine import describe
from .timing import wall_times

#: name -> (library, config): ours from the package, the peers from the
#: libraries' own configs.
DETECTORS = {
    'maskrcnn_groupmamba_t': ('mmdet', 'maskrcnn_groupmamba_t_1x_coco.py'),
    'maskrcnn_swin_t': ('mmdet',
                        'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'),
    'maskrcnn_r50': ('mmdet', 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'),
}
SEGMENTORS = {
    'upernet_groupmamba_t': ('mmseg', 'upernet_groupmamba_t_ade20k.py'),
    'upernet_swin_t': (
        'mmseg', 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_'
        '8xb2-160k_ade20k-512x512.py'),
    'upernet_r50': ('mmseg',
                    'mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py'),
}
MODELS = {**DETECTORS, **SEGMENTORS}


def load(name, work_dir):
    """The config of ``name`` with no pretrained download (str -> Config).

    A library's ``pkg::path`` config is read through a one-line file that
    inherits it, as a user's config would.
    """
    library, path = MODELS[name]
    if '::' not in path:
        return Config.fromfile(MIM_ROOT / 'configs' / path)
    stub = work_dir / f'{name}.py'
    stub.write_text(f'_base_ = {path!r}\n')
    return Config.fromfile(stub)


def build(name, work_dir):
    """``(model, library)``: random weights, eval mode, BatchNorm for SyncBN
    (one process)."""
    library = MODELS[name][0]
    cfg = load(name, work_dir)
    cfg.model.backbone.init_cfg = None
    if library == 'mmdet':
        cfg.model.test_cfg.rcnn.score_thr = 0.0
    with DefaultScope.overwrite_default_scope(library):
        __import__(f'{library}.models')
        model = revert_sync_batchnorm(REGISTRY.build(cfg.model))
    return model.eval(), library


def sample(library, height, width):
    """One ``test_step`` batch: a random uint8 image and its data sample."""
    image = torch.randint(0, 256, (3, height, width), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0))
    meta = dict(img_shape=(height, width), ori_shape=(height, width),
                pad_shape=(height, width), scale_factor=(1.0, 1.0),
                img_path='random.png')
    if library == 'mmdet':
        from mmdet.structures import DetDataSample
        data_sample = DetDataSample(metainfo=meta)
    else:
        from mmseg.structures import SegDataSample
        data_sample = SegDataSample(metainfo=meta)
    return dict(inputs=[image], data_samples=[data_sample])


def measure(names, height, width, repeats, warmup, work_dir):
    """``[(name, median s, min s, max s)]`` of ``model.test_step``."""
    rows = []
    for name in names:
        model, library = build(name, work_dir)
        data = sample(library, height, width)
        with DefaultScope.overwrite_default_scope(library):

            def step():
                with torch.inference_mode():
                    model.test_step(data)

            times = wall_times(step, repeats, warmup)
        rows.append((name, statistics.median(times), min(times), max(times)))
    return rows


def format_table(rows, height, width, repeats, warmup):
    """A markdown table under the machine line; the last column is each
    model's speed over the first row's."""
    base = rows[0][1]
    lines = [describe(),
             f'predict (model.test_step, 1 image {height}x{width}), eager, '
             f'{warmup} warm-up + {repeats} timed runs', '',
             f'| model | median s | min-max s | vs {rows[0][0]} |',
             '|---|---|---|---|']
    for name, median, low, high in rows:
        lines.append(f'| {name} | {median:.2f} | {low:.2f}-{high:.2f} | '
                     f'{base / median:.2f}x |')
    return '\n'.join(lines)
