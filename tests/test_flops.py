"""mmgroupmamba.apis.complexity (tools/get_flops.py): the official FLOP
counts reproduced, scan included, for classifiers; detectors and segmentors
counted part by part."""
import os
import re
import subprocess
import sys

import pytest
from conftest import (CONFIG_OF_ARCH, CONFIGS, OFFICIAL_PARAMS, REPO,
                      one_thread_in_scope)

from mmgroupmamba.apis import complexity

# Official fvcore totals and the scan's share (official-params-flops.md).
OFFICIAL_GFLOPS = {'tiny': (4.706, 0.0168), 'small': (7.281, 0.0217),
                   'base': (14.186, 0.0363)}


@pytest.mark.parametrize('arch', ['tiny', 'small', 'base'])
def test_get_flops_matches_official(arch, capsys):
    result = complexity.report(str(CONFIG_OF_ARCH[arch]), None)
    out = capsys.readouterr().out
    official_total, official_scan = OFFICIAL_GFLOPS[arch]
    assert result['kind'] == 'classifier'
    assert result['input'] == (1, 3, 224, 224)
    assert result['params'] == OFFICIAL_PARAMS[arch]
    assert abs(result['gflops'] / official_total - 1) < 0.005
    scan = float(re.search(r'PythonOp\.TracedDirectionalScan ([\d.]+)',
                           out)[1])
    assert scan == pytest.approx(official_scan, rel=0.01)
    assert f'official GroupMamba-{arch}' in out


def test_get_flops_command_line_other_input_size():
    result = subprocess.run(
        [sys.executable, 'tools/get_flops.py',
         str(CONFIG_OF_ARCH['tiny']), '--shape', '256', '320'],
        cwd=REPO, capture_output=True, text=True,
        env=dict(os.environ, OMP_NUM_THREADS='1'))  # see conftest
    assert result.returncode == 0, result.stderr[-3000:]
    gflops = float(re.search(r'\*\*total\*\* \| \*\*[\d,]+\*\* \| '
                             r'\*\*([\d.]+)\*\*', result.stdout)[1])
    # roughly linear in pixels: 256*320 / 224^2 = 1.63x
    assert 1.5 * 4.706 < gflops < 1.75 * 4.706
    # no 224 px reference to compare with
    assert 'official GroupMamba' not in result.stdout


def test_stock_mmpretrain_get_flops_counts_the_scan():
    """OpenMMLab's own tool, unchanged (``mim run mmpretrain get_flops``):
    the config imports mmgroupmamba, whose ops register the scan's handles
    with every mmengine FlopAnalyzer and ActivationAnalyzer."""
    result = subprocess.run(
        [sys.executable, '-m', 'mim', 'run', 'mmpretrain', 'get_flops',
         str(CONFIG_OF_ARCH['tiny'])],
        cwd=REPO, capture_output=True, text=True,
        env=dict(os.environ, OMP_NUM_THREADS='1'))  # see conftest
    assert result.returncode == 0, result.stderr[-3000:]
    # mmpretrain's tool counts ``extract_feat``: backbone and neck, the
    # head's 0.9 MFLOPs left out (4.704 G with it, tools/get_flops.py);
    # without the scan's 0.0168 G it read 4.686G.
    assert 'Flops: 4.703G' in result.stdout
    log = result.stdout + result.stderr
    unsupported = re.findall(r'Unsupported operator (\S+)', log)
    assert 'aten::gelu' in unsupported  # the warnings are on
    assert not [op for op in unsupported if 'Scan' in op]



def test_stock_mmdet_get_flops_counts_the_scan(tmp_path):
    """``mim run mmdet get_flops`` on the real Mask R-CNN config, one drawn
    COCO-format image (mmdet's tool measures a picture of the val set)."""
    from mmgroupmamba.datasets import make_coco_data
    make_coco_data(tmp_path, num_train=1, num_val=1)
    result = subprocess.run(
        [sys.executable, '-m', 'mim', 'run', 'mmdet', 'get_flops',
         str(DETECTOR_T), '--num-images', '1', '--cfg-options',
         f'val_dataloader.dataset.data_root={tmp_path}/',
         'val_dataloader.dataset.ann_file=annotations/instances_val.json',
         'val_dataloader.dataset.data_prefix.img=val/'],
        cwd=tmp_path, capture_output=True, text=True,
        env=dict(os.environ, OMP_NUM_THREADS='1'))  # see conftest
    assert result.returncode == 0, result.stderr[-3000:]
    # 192 x 256 resized to 800 x 1067, padded to 1088; params as ours.
    assert 'Input shape: (800, 1088)' in result.stdout
    # tools/get_flops.py --shape 800 1088: 236.267 G, the scan 0.292 G.
    assert 'Flops: 0.236T' in result.stdout
    assert re.search(r'Params: 40\.62\d?M', result.stdout)
    log = result.stdout + result.stderr
    unsupported = re.findall(r'Unsupported operator (\S+)', log)
    assert 'prim::PythonOp.RoIAlignFunction' in unsupported  # warnings on
    assert not [op for op in unsupported if 'Scan' in op]


# ------------------------------------------------- detectors and segmentors
DETECTOR_T = CONFIGS / 'maskrcnn_groupmamba_t_1x_coco.py'
# Measured from the T config (tests/test_detection.py): the classifier's
# backbone plus the four new out norms, and the whole detector.
T_BACKBONE_PARAMS, T_DETECTOR_PARAMS = 20_463_304, 40_621_496
SMALL, LARGE = (128, 192), (256, 384)  # multiples of 32; LARGE = 4x pixels
SEGMENTOR_T = CONFIGS / 'upernet_groupmamba_t_ade20k.py'


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """One OpenMP thread (see conftest); the tool sets its models' scope."""
    with one_thread_in_scope('mmpretrain'):
        yield


def rows_by_name(result):
    return {name: (params, gflops, scan)
            for name, params, gflops, scan in result['rows']}


def backbone_rows(result):
    return {name: row for name, row in rows_by_name(result).items()
            if name.startswith('backbone.')}


@pytest.fixture(scope='module')
def classifier_small():
    return complexity.report(str(CONFIG_OF_ARCH['tiny']), SMALL)


@pytest.fixture(scope='module')
def detector_small():
    return complexity.report(str(DETECTOR_T), SMALL)


def test_detector_backbone_counts_as_the_classifier_backbone(
        detector_small, classifier_small):
    assert detector_small['kind'] == 'detector'
    assert detector_small['input'] == (1, 3, *SMALL)
    assert detector_small['params'] == T_DETECTOR_PARAMS
    rows = rows_by_name(detector_small)
    assert rows['backbone'][0] == T_BACKBONE_PARAMS
    # Stem and stages: the same modules on the same input, the same count,
    # scan included; the detector's backbone adds only its out norms.
    assert backbone_rows(detector_small) == backbone_rows(classifier_small)
    assert set(rows) == {
        'backbone.stem', 'backbone.stages.0', 'backbone.stages.1',
        'backbone.stages.2', 'backbone.stages.3', 'backbone', 'neck',
        'rpn_head', 'roi_head'
    }
    stages = sum(row[1] for row in backbone_rows(detector_small).values())
    assert stages < rows['backbone'][1] < stages + 0.001
    # The scan: the official 0.0168 G of GroupMamba-T at 224x224, with every
    # stage's length scaled by the pixel ratio.
    pixels = SMALL[0] * SMALL[1] / 224**2
    assert rows['backbone'][2] == pytest.approx(0.0168 * pixels, rel=0.01)
    # The parts add up to the total.
    parts = ('backbone', 'neck', 'rpn_head', 'roi_head')
    assert sum(rows[p][1] for p in parts) == \
        pytest.approx(detector_small['gflops'], rel=1e-9)
    assert sum(rows[p][0] for p in parts) == T_DETECTOR_PARAMS
    # StandardRoIHead: the box head on the RPN's proposals (at most the
    # test_cfg's 1000), the mask head on the first 100 of them.
    rois = detector_small['rois']
    assert 0 < rois['roi_head.bbox_roi_extractor'] <= 1000
    assert rois['roi_head.mask_roi_extractor'] == \
        min(100, rois['roi_head.bbox_roi_extractor'])


def test_detector_count_scales_with_the_input(detector_small):
    large = complexity.report(str(DETECTOR_T), LARGE)
    small_rows, large_rows = rows_by_name(detector_small), rows_by_name(large)
    # The scan is linear in the length: exactly 4x for 4x the pixels.
    assert large_rows['backbone'][2] == \
        pytest.approx(4 * small_rows['backbone'][2], rel=1e-9)
    # Backbone, FPN and RPN head are convolutions and per-token layers:
    # 4x, less the few per-image terms (channel attention on pooled vectors).
    for part in ('backbone', 'neck', 'rpn_head'):
        assert large_rows[part][1] / small_rows[part][1] == \
            pytest.approx(4, rel=0.01), part
    # The RoI heads cost the same per RoI at any input size.
    assert large['rois'] == detector_small['rois']
    assert large_rows['roi_head'][1] == \
        pytest.approx(small_rows['roi_head'][1], rel=1e-9)
    assert large['params'] == detector_small['params']


def test_segmentor_counts_backbone_and_decode_head(classifier_small,
                                                   capsys):
    result = complexity.report(str(SEGMENTOR_T), SMALL)
    out = capsys.readouterr().out
    assert result['kind'] == 'segmentor'
    rows = rows_by_name(result)
    assert backbone_rows(result) == backbone_rows(classifier_small)
    assert rows['backbone'][0] == T_BACKBONE_PARAMS
    # The auxiliary head is training-only: counted apart, as mmseg does.
    assert set(rows) - set(backbone_rows(result)) == {'backbone',
                                                      'decode_head'}
    assert result['params'] == T_BACKBONE_PARAMS + rows['decode_head'][0]
    aux = int(re.search(r'auxiliary_head .*: ([\d,]+) params',
                        out)[1].replace(',', ''))
    # FCNHead on stage 2: one 3x3 conv 348 -> 256 with BN, one 1x1 to 150.
    assert aux == 348 * 256 * 9 + 2 * 256 + 256 * 150 + 150
    # Sum of parts; the decode head (UPerHead, 512 channels) outweighs the
    # backbone at this input, as it does for Swin-T.
    assert rows['backbone'][1] + rows['decode_head'][1] == \
        pytest.approx(result['gflops'], rel=1e-9)
    assert rows['decode_head'][1] > rows['backbone'][1]


def test_unsupported_configs_fail_naming_the_reason(tmp_path):
    retriever = tmp_path / 'retriever.py'
    retriever.write_text(
        "default_scope = 'mmpretrain'\n"
        "custom_imports = dict(imports=['mmgroupmamba'])\n"
        "model = dict(type='ImageToImageRetriever', image_encoder=[dict("
        "type='GroupMamba', arch='tiny')])\n")
    with pytest.raises(ValueError, match='backbone is None, not GroupMamba'):
        complexity.build_model(str(retriever))
    retriever.write_text(
        "default_scope = 'mmpretrain'\n"
        "model = dict(type='ImageToImageRetriever', "
        "backbone=dict(type='GroupMamba'))\n")
    with pytest.raises(ValueError, match="model type 'ImageToImageRetriever'"
                       ' is not supported'):
        complexity.build_model(str(retriever))
    resnet = tmp_path / 'resnet.py'
    resnet.write_text(
        "_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'\n")
    with pytest.raises(ValueError, match="backbone is 'ResNet', not "
                       'GroupMamba'):
        complexity.build_model(str(resnet))
    no_scope = tmp_path / 'no_scope.py'
    no_scope.write_text("model = dict(type='GroupMamba')\n")
    with pytest.raises(ValueError, match='default_scope is None'):
        complexity.build_model(str(no_scope))
