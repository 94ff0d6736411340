"""The model index (model-index.yml and the metafiles it imports), as
``mim search mmgroupmamba`` reads it: mim's own loader and table code, here
on the clone's files (tests/test_packaging.py runs ``mim search`` itself
on an installed wheel; mim cannot find an editable install's index).

Every detector and segmentor entry is checked against its built config
(parameters), the paper's metrics appear only where the paper reports them,
and no entry points at a download.
"""
import pytest
from conftest import REPO, one_thread_in_scope
from mim.commands.search import convert2df
from mmengine.config import Config
from modelindex.load_model_index import load

import mmgroupmamba  # noqa: F401

SIZES = ('t', 's', 'b')
DETECTORS = {
    **{f'mask-rcnn_groupmamba-{s}_fpn_1x_coco':
       f'maskrcnn_groupmamba_{s}_1x_coco.py' for s in SIZES},
    **{f'mask-rcnn_groupmamba-{s}_fpn_ms-crop-3x_coco':
       f'maskrcnn_groupmamba_{s}_3x_ms_coco.py' for s in SIZES},
    **{f'cascade-mask-rcnn_groupmamba-{s}_fpn_4conv1fc-giou_amp-ms-crop-3x_coco':
       f'cascade_maskrcnn_groupmamba_{s}_3x_ms_coco.py' for s in SIZES},
}
SEGMENTORS = {f'upernet_groupmamba-{s}_8xb2-160k_ade20k-512x512':
              f'upernet_groupmamba_{s}_ade20k.py' for s in SIZES}
CLASSIFIERS = [f'groupmamba-{size}_3rdparty_in1k'
               for size in ('tiny', 'small', 'base')]
# arXiv 2407.13772, Tables 2 and 3: the only dense results it reports.
PAPER = {
    'mask-rcnn_groupmamba-t_fpn_1x_coco': {'coco/box_ap': 47.6,
                                           'coco/mask_ap': 42.9},
    'upernet_groupmamba-t_8xb2-160k_ade20k-512x512': {
        'ade20k/miou': 48.6, 'ade20k/miou(ms)': 49.2},
}
METRIC_COLUMNS = ('coco/box_ap', 'coco/mask_ap', 'ade20k/miou',
                  'ade20k/miou(ms)', 'imagenet-1k/top_1_accuracy')


@pytest.fixture(scope='module')
def index():
    """mim's table of the index: one row per model name."""
    return convert2df(load(str(REPO / 'model-index.yml')))


def test_index_lists_every_task(index):
    assert sorted(index.index) == sorted(
        CLASSIFIERS + list(DETECTORS) + list(SEGMENTORS))
    for name, config in {**DETECTORS, **SEGMENTORS}.items():
        assert index.loc[name, 'config'] == f'configs/{config}'
        assert (REPO / 'configs' / config).is_file()
    assert set(index.loc[list(DETECTORS), 'training_data']) == {'coco'}
    assert set(index.loc[list(SEGMENTORS), 'training_data']) == {'ade20k'}


def test_paper_metrics_only_where_the_paper_reports_them(index):
    for name in index.index:
        row = index.loc[name].dropna()
        metrics = {k: row[k] for k in METRIC_COLUMNS if k in row}
        if name in CLASSIFIERS:
            continue  # the official release's top-1 (test_model_zoo)
        assert metrics == PAPER.get(name, {}), name
        source = row['metrics_source']
        assert source.startswith("the paper's (arxiv 2407.13772") == \
            (name in PAPER), (name, source)


def test_no_entry_points_at_a_download(index):
    assert 'weight' not in index.columns  # no `Weights` anywhere


@pytest.mark.parametrize('name', sorted({**DETECTORS, **SEGMENTORS}))
def test_parameters_are_those_of_the_built_config(name, index):
    """The index's parameter count is the config's model (for segmentors,
    without the training-only auxiliary head, as the FLOPs are counted)."""
    config = {**DETECTORS, **SEGMENTORS}[name]
    scope = 'mmdet' if name in DETECTORS else 'mmseg'
    cfg = Config.fromfile(REPO / 'configs' / config)
    with one_thread_in_scope(scope):
        from mmengine.registry import MODELS
        with MODELS.switch_scope_and_registry(scope) as registry:
            model = registry.build(cfg.model)
    if name in SEGMENTORS:
        model.auxiliary_head = None
    assert index.loc[name, 'parameters'] == sum(
        p.numel() for p in model.parameters())


def test_flops_follow_the_models(index):
    """The 3x Mask R-CNN is the 1x model (the same FLOPs); T < S < B; the
    paper sizes in the index."""
    flops = index['flops']
    for size in SIZES:
        assert flops[f'mask-rcnn_groupmamba-{size}_fpn_1x_coco'] == \
            flops[f'mask-rcnn_groupmamba-{size}_fpn_ms-crop-3x_coco']
    for prefix, suffix in (('mask-rcnn_groupmamba-', '_fpn_1x_coco'),
                           ('cascade-mask-rcnn_groupmamba-',
                            '_fpn_4conv1fc-giou_amp-ms-crop-3x_coco'),
                           ('upernet_groupmamba-',
                            '_8xb2-160k_ade20k-512x512')):
        values = [flops[f'{prefix}{size}{suffix}'] for size in SIZES]
        assert values == sorted(values) and len(set(values)) == 3
    # tools/get_flops.py: 266.086 G at 800x1280 (the paper: 279 G), 941.302 G
    # at 512x2048 (the paper: 955 G).
    assert flops['mask-rcnn_groupmamba-t_fpn_1x_coco'] == 266_086_000_000
    assert flops['upernet_groupmamba-t_8xb2-160k_ade20k-512x512'] == \
        941_302_000_000
    assert set(index.loc[list(DETECTORS), 'flops_input_size']) == \
        {'800x1280'}
    assert set(index.loc[list(SEGMENTORS), 'flops_input_size']) == \
        {'512x2048'}
