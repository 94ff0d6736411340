"""UperNet with GroupMamba in mmseg: configs, training, mIoU, TTA, inference.

Everything runs on the CPU. The smoke config trains a narrow GroupMamba
UperNet for a few iterations on drawn ADE20K-format scenes
(tools/make_ade_data.py) through mmengine's Runner, in one process and in two
(torchrun, gloo); the real 160k configs are built and run forward without
training.
"""
import copy
import math
import os
import re
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

import mmgroupmamba  # noqa: F401
from mmgroupmamba.apis import as_cfg_options, data_root_options

CONFIGS = REPO / 'configs'
T_CONFIG = CONFIGS / 'upernet_groupmamba_t_ade20k.py'
SMOKE_CONFIG = CONFIGS / 'smoke' / 'upernet_groupmamba_t_smoke.py'
LEARNING_CONFIG = CONFIGS / 'smoke' / 'upernet_groupmamba_t_learning.py'
# Measured at build time: the backbone has the classifier's parameters less
# its neck and heads, plus the four out norms (T: 20,463,304).
SEGMENTOR_PARAMS = {'t': 50_604_020, 's': 61_711_078, 'b': 84_343_873}
STAGE_WIDTHS = {
    't': [64, 128, 348, 448],
    's': [64, 128, 348, 512],
    'b': [96, 192, 424, 512]
}
DROP_PATH = {'t': 0.2, 's': 0.3, 'b': 0.6}  # VMamba's UperNet values
# tools/make_ade_data.py labels (1-based ADE20K indices) and what mmseg's
# reduce_zero_label makes of them (k -> k - 1, 0 "other" -> 255 ignore).
DRAWN_LABELS = {0, 2, 3, 5, 7, 10}
TRAIN_LABELS = {1, 2, 4, 6, 9}
SMOKE_ITERS = 20
ONE_THREAD = dict(os.environ, OMP_NUM_THREADS='1')  # see conftest


@pytest.fixture(scope='module', autouse=True)
def isolated_mmseg_run():
    """This module runs in mmseg's scope on one thread (see conftest)."""
    with one_thread_in_scope('mmseg'):
        yield


def data_options(data_root):
    """``--cfg-options`` that aim the three loaders at ``data_root``."""
    return as_cfg_options(data_root_options(data_root))


def run_command(*args):
    """Run a command from the repository on one thread; return stdout."""
    result = subprocess.run([str(arg) for arg in args], cwd=REPO,
                            capture_output=True, text=True, env=ONE_THREAD)
    assert result.returncode == 0, \
        result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def mim(*args):
    return run_command(Path(sys.executable).with_name('mim'), *args)


def confusion_miou(runner):
    """mIoU (%) of the runner's model on its test set, counted here.

    Per class: intersection / union of prediction and ground truth over the
    whole set, ignoring 255; classes in neither are left out; as ADE20K's
    official evaluation and mmseg's IoUMetric define it.
    """
    num_classes = len(runner.test_dataloader.dataset.metainfo['classes'])
    confusion = np.zeros((num_classes, num_classes), np.int64)
    model = runner.model.eval()
    with torch.no_grad():
        for batch in runner.test_dataloader:
            for sample in model.test_step(batch):
                pred = sample.pred_sem_seg.data.squeeze(0).numpy()
                label = sample.gt_sem_seg.data.squeeze(0).numpy()
                keep = label != 255
                confusion += np.bincount(
                    num_classes * label[keep] + pred[keep],
                    minlength=num_classes**2).reshape(num_classes, -1)
    intersection = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - intersection
    return 100 * np.mean(intersection[union > 0] / union[union > 0])


@pytest.fixture(scope='module')
def trained(ade_data, tmp_path_factory):
    """Train the smoke config through mmengine's Runner, then evaluate it.

    The evaluation runs once, through ``runner.test()`` (the val set and
    IoUMetric); the in-training validation is exercised by the two-process
    run instead.

    Returns:
        dict: ``runner``, per-iteration ``losses`` and ``accuracies``
        (decode head, % of pixels), ``metrics``,
        ``own_miou`` (:func:`confusion_miou`), ``work_dir``.
    """
    cfg = Config.fromfile(SMOKE_CONFIG)
    cfg.merge_from_dict(
        dict(option.split('=', 1) for option in data_options(ade_data)))
    cfg.work_dir = str(tmp_path_factory.mktemp('smoke_work_dir'))
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    return dict(
        runner=runner,
        losses=runner.message_hub.get_scalar('train/loss').data[0].tolist(),
        accuracies=runner.message_hub.get_scalar(
            'train/decode.acc_seg').data[0].tolist(),
        metrics=runner.test(),
        own_miou=confusion_miou(runner),
        work_dir=Path(cfg.work_dir))


@pytest.fixture(scope='module')
def t_cfg():
    return Config.fromfile(T_CONFIG)


def build_segmentor(cfg):
    from mmseg.registry import MODELS
    return MODELS.build(cfg.model)


# ---------------------------------------------------------------- the data set
def test_made_data_is_deterministic_ade20k(tmp_path):
    for name, seed in (('a', 0), ('b', 0), ('c', 1)):
        run_tool('tools/make_ade_data.py', tmp_path / name, '--seed', seed,
                 '--num-train', 6, '--num-val', 3)

    def files(name):
        root = tmp_path / name
        return {p.relative_to(root): p.read_bytes()
                for p in sorted(root.rglob('*')) if p.is_file()}

    assert files('a') == files('b')
    assert files('a') != files('c')
    for split, folder, count in (('train', 'training', 6),
                                 ('val', 'validation', 3)):
        images = sorted((tmp_path / 'a' / 'images' / folder).iterdir())
        labels = sorted((tmp_path / 'a' / 'annotations' / folder).iterdir())
        assert [p.name for p in images] == \
            [f'ADE_{split}_{i:08d}.jpg' for i in range(1, count + 1)]
        assert [p.stem for p in labels] == [p.stem for p in images]
        for image_path, label_path in zip(images, labels):
            image = cv2.imread(str(image_path), cv2.IMREAD_UNCHANGED)
            label = cv2.imread(str(label_path), cv2.IMREAD_UNCHANGED)
            assert image.shape == (128, 192, 3)
            assert label.shape == (128, 192) and label.dtype == np.uint8
            assert set(np.unique(label).tolist()) <= DRAWN_LABELS


@pytest.mark.parametrize('option, value, message', [
    ('--height', 16, 'at least 32x32'),
    ('--num-val', 0, 'at least one image'),
])
def test_made_data_refuses_bad_sizes(tmp_path, option, value, message):
    result = subprocess.run(
        [sys.executable, 'tools/make_ade_data.py', str(tmp_path / 'out'),
         option, str(value)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode != 0
    assert message in result.stderr
    assert not (tmp_path / 'out').exists()


def test_mmseg_reads_the_made_set_with_reduce_zero_label(ade_data):
    """The smoke config's train set, as mmseg loads it: 150-class labels."""
    from mmseg.registry import DATASETS
    cfg = Config.fromfile(SMOKE_CONFIG)
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.data_root = str(ade_data)
    dataset_cfg.pipeline = [dict(type='LoadAnnotations',
                                 reduce_zero_label=True)]
    dataset = DATASETS.build(dataset_cfg)
    assert len(dataset) == 64
    assert len(dataset.metainfo['classes']) == 150
    seen = set()
    for index in range(len(dataset)):
        seen |= set(np.unique(dataset[index]['gt_seg_map']).tolist())
    assert seen == TRAIN_LABELS | {255}
    assert [dataset.metainfo['classes'][k] for k in sorted(TRAIN_LABELS)] \
        == ['building', 'sky', 'tree', 'road', 'grass']


# ------------------------------------------------------------- smoke training
def test_smoke_training_learns(trained):
    losses, accuracies = trained['losses'], trained['accuracies']
    assert len(losses) == len(accuracies) == SMOKE_ITERS
    assert all(math.isfinite(loss) for loss in losses)
    # The decode head's pixel accuracy, deterministic (seed 0): measured
    # 3.3% over the first 3 iterations, 62.3% over the last 5. (The summed
    # loss is no measure at this length: mmseg averages it over ignored
    # pixels too, whose share varies with each random crop.)
    assert np.mean(accuracies[-5:]) > np.mean(accuracies[:3]) + 30


def test_smoke_test_reports_miou_as_counted_here(trained):
    metrics = trained['metrics']
    assert set(metrics) == {'aAcc', 'mIoU', 'mAcc'}
    for key, value in metrics.items():
        assert 0.0 <= float(value) <= 100.0, (key, value)
    # Measured 57.55 after the 20 iterations; random weights score < 5.
    assert float(metrics['mIoU']) > 30
    # IoUMetric rounds to 2 decimals.
    assert float(metrics['mIoU']) == pytest.approx(trained['own_miou'],
                                                   abs=0.006)


def test_runner_checkpoint_loads_weights_only(trained):
    """The config's WeightsOnlyCheckpointHook: torch's default load reads
    the Runner's own checkpoint, weights unchanged."""
    path = trained['work_dir'] / f'iter_{SMOKE_ITERS}.pth'
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    model_state = trained['runner'].model.state_dict()
    assert set(checkpoint['state_dict']) == set(model_state)
    for key, value in model_state.items():
        assert torch.equal(checkpoint['state_dict'][key], value), key
    assert checkpoint['meta']['dataset_meta']['classes'][2] == 'sky'


def test_mim_test_with_tta_reads_the_checkpoint(trained, ade_data, tmp_path):
    """``mim test mmseg CONFIG --checkpoint CKPT --tta``: mmseg's own
    test.py, multi-scale + flip through SegTTAModel, IoUMetric."""
    work_dir = tmp_path / 'tta'
    out = mim('test', 'mmseg', SMOKE_CONFIG, '--checkpoint',
              trained['work_dir'] / f'iter_{SMOKE_ITERS}.pth', '--tta',
              '--work-dir', work_dir, '--cfg-options',
              *data_options(ade_data))
    miou = re.findall(r'Iter\(test\) \[16/16\].*mIoU: ([0-9.]+)', out)
    assert len(miou) == 1, out[-2000:]
    assert 0.0 < float(miou[0]) <= 100.0
    dumped = Config.fromfile(work_dir / SMOKE_CONFIG.name)
    assert dumped.model.type == 'SegTTAModel'
    assert dumped.model.module.backbone.type == 'GroupMamba'
    augment = dumped.test_dataloader.dataset.pipeline[1]
    assert augment.type == 'TestTimeAug'
    assert [t.scale_factor for t in augment.transforms[0]] == \
        [0.75, 1.0, 1.25]


def test_inferencer_saves_the_coloured_prediction(trained, ade_data,
                                                  tmp_path):
    """mmseg's MMSegInferencer on the Runner's checkpoint file: the same
    prediction as the Runner's model, drawn in the ADE20K palette."""
    from mmseg.apis import MMSegInferencer
    runner = trained['runner']
    inferencer = MMSegInferencer(
        model=str(trained['work_dir'] / SMOKE_CONFIG.name),
        weights=str(trained['work_dir'] / f'iter_{SMOKE_ITERS}.pth'),
        device='cpu')
    image_path = ade_data / 'images' / 'validation' / 'ADE_val_00000001.jpg'
    out_dir = tmp_path / 'out'
    result = inferencer(
        str(image_path), out_dir=str(out_dir), opacity=1.0,
        with_labels=False)
    prediction = result['predictions']
    assert prediction.shape == (128, 192)

    batch = next(iter(runner.test_dataloader))  # ADE_val_00000001 first
    assert Path(batch['data_samples'][0].img_path) == image_path
    with torch.no_grad():
        expected = runner.model.eval().test_step(batch)[0]
    np.testing.assert_array_equal(
        prediction, expected.pred_sem_seg.data[0].numpy())

    saved = cv2.imread(str(out_dir / 'pred' / '00000000_pred.png'),
                       cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(saved, prediction)
    drawn = cv2.imread(str(out_dir / 'vis' / image_path.name))
    palette = np.array(inferencer.visualizer.dataset_meta['palette'],
                       np.uint8)
    expected_bgr = palette[prediction][..., ::-1].astype(int)
    # Opacity 1: every pixel is its class colour, up to JPEG's rounding.
    close = np.abs(drawn.astype(int) - expected_bgr).max(axis=2) <= 48
    assert close.mean() > 0.95, close.mean()


def test_mim_train_runs_the_smoke_config(ade_data, tmp_path):
    """``mim train mmseg CONFIG`` (mmseg's own tools/train.py) accepts it."""
    work_dir = tmp_path / 'work_dir'
    out = mim('train', 'mmseg', SMOKE_CONFIG, '--work-dir', work_dir,
              '--cfg-options', 'train_cfg.max_iters=2',
              'train_cfg.val_interval=2',
              'default_hooks.checkpoint.interval=2', *data_options(ade_data))
    assert 'mIoU' in out
    assert (work_dir / 'iter_2.pth').is_file()


def test_two_cpu_processes_train_and_validate(ade_data, tmp_path):
    """torchrun, 2 processes, gloo: the Runner trains, validates (IoUMetric
    gathers both halves of the val set) and checkpoints."""
    work_dir = tmp_path / 'dist'
    torchrun = Path(sys.executable).with_name('torchrun')
    out = run_command(
        torchrun, '--nproc_per_node', 2, '--master_port', 29531,
        'tools/dist_train_cpu.py', SMOKE_CONFIG, '--work-dir', work_dir,
        '--cfg-options', 'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
        'default_hooks.checkpoint.interval=4', *data_options(ade_data))
    log = next(work_dir.glob('*/*.log')).read_text()  # rank 0 writes it
    assert 'Distributed launcher: pytorch' in log
    assert 'Distributed training: True' in log
    # 16 val images split over the two processes: 8 batches each.
    assert re.search(r'Iter\(val\) \[8/8\].*mIoU: [0-9.]+', log), log[-2000:]
    assert 'Iter(train) [4/4]' in log
    checkpoint = torch.load(work_dir / 'iter_4.pth', weights_only=True)
    assert checkpoint['meta']['iter'] == 4
    assert 'Traceback' not in out


def test_cpu_processes_refuse_sync_bn_with_the_keys_to_change(tmp_path):
    """The real config on CPUs: a message naming the keys, before building."""
    torchrun = Path(sys.executable).with_name('torchrun')
    result = subprocess.run(
        [str(torchrun), '--nproc_per_node', '1', '--master_port', '29532',
         'tools/dist_train_cpu.py', str(T_CONFIG), '--work-dir',
         str(tmp_path)], cwd=REPO, capture_output=True, text=True,
        env=ONE_THREAD)
    assert result.returncode != 0
    assert 'This config cannot train in CPU processes' in result.stderr
    assert "env_cfg.dist_cfg.backend is 'nccl'" in result.stderr
    for head in ('decode_head', 'auxiliary_head'):
        assert (f"model.{head}.norm_cfg=dict(type='BN', requires_grad=True)"
                in result.stderr)
    assert list(tmp_path.iterdir()) == []  # stopped before the Runner


def test_cpu_launcher_outside_torchrun_says_how_to_start(tmp_path):
    result = subprocess.run(
        [sys.executable, 'tools/dist_train_cpu.py', str(SMOKE_CONFIG),
         '--work-dir', str(tmp_path)], cwd=REPO, capture_output=True,
        text=True, env={k: v for k, v in ONE_THREAD.items()
                        if k not in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK')})
    assert result.returncode != 0
    assert 'start this script with torchrun' in result.stderr


def test_real_config_in_one_process_runs_sync_bn_as_bn(t_cfg, tmp_path):
    """One process (CPU or one GPU): mmengine's Runner reverts the heads'
    SyncBN to BatchNorm (identical maths at world size 1) and logs it."""
    from mmengine.model.utils import _BatchNormXd
    cfg = copy.deepcopy(t_cfg)
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    kinds = {type(m) for m in runner.model.modules()
             if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)}
    assert kinds == {_BatchNormXd, torch.nn.BatchNorm2d}  # heads, stem
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert 'SyncBatchNorm (SyncBN) layers in the model will be ' \
        'automatically reverted' in log


# ---------------------------------------------------------------- real configs
def test_t_config_is_the_swin_160k_recipe(t_cfg):
    optimizer = t_cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.weight_decay,
            optimizer.betas) == ('AdamW', 6e-5, 0.01, (0.9, 0.999))
    warm_up, poly = t_cfg.param_scheduler
    assert (warm_up.type, warm_up.start_factor, warm_up.end) == \
        ('LinearLR', 1e-6, 1500)
    assert (poly.type, poly.power, poly.eta_min, poly.begin, poly.end) == \
        ('PolyLR', 1.0, 0.0, 1500, 160000)
    assert t_cfg.train_cfg.max_iters == 160000
    assert t_cfg.train_dataloader.batch_size == 2  # x 8 GPUs
    assert t_cfg.crop_size == (512, 512)
    model = t_cfg.model
    assert model.data_preprocessor.size == (512, 512)
    assert model.decode_head.type == 'UPerHead'
    assert model.decode_head.num_classes == 150
    assert model.auxiliary_head.type == 'FCNHead'
    assert model.auxiliary_head.in_index == 2
    assert model.auxiliary_head.loss_decode.loss_weight == 0.4
    for head in (model.decode_head, model.auxiliary_head):
        assert head.norm_cfg.type == 'SyncBN'
    assert model.test_cfg == dict(
        mode='slide', crop_size=(512, 512), stride=(341, 341))
    assert t_cfg.train_pipeline[1].type == 'LoadAnnotations'
    assert t_cfg.train_pipeline[1].reduce_zero_label is True
    assert [t.scale_factor for t in
            t_cfg.tta_pipeline[1].transforms[0]] == \
        [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    assert t_cfg.custom_hooks == [dict(type='WeightsOnlyCheckpointHook')]


@pytest.mark.parametrize('arch', ['t', 's', 'b'])
def test_configs_build_the_paper_sized_segmentors(arch):
    cfg = Config.fromfile(CONFIGS / f'upernet_groupmamba_{arch}_ade20k.py')
    backbone = cfg.model.backbone
    assert backbone.type == 'GroupMamba'
    assert backbone.drop_path_rate == DROP_PATH[arch]
    assert Path(backbone.init_cfg.checkpoint).name == \
        f'groupmamba_{arch}_in1k.pth'
    assert cfg.model.decode_head.in_channels == STAGE_WIDTHS[arch]
    assert cfg.model.auxiliary_head.in_channels == STAGE_WIDTHS[arch][2]
    segmentor = build_segmentor(cfg)
    assert segmentor.backbone.embed_dims == STAGE_WIDTHS[arch]
    # The paper: 49M for T.
    assert sum(p.numel() for p in segmentor.parameters()) == \
        SEGMENTOR_PARAMS[arch]


def test_t_config_segments_one_image(t_cfg):
    """The real T segmentor, sliding-window inference, 150 classes."""
    from mmseg.structures import SegDataSample
    segmentor = build_segmentor(t_cfg).eval()
    torch.manual_seed(0)
    image = torch.randint(0, 256, (3, 256, 320), dtype=torch.uint8)
    sample = SegDataSample(metainfo=dict(
        img_shape=(256, 320), ori_shape=(256, 320), pad_shape=(256, 320),
        scale_factor=(1.0, 1.0), flip=False, padding_size=[0, 0, 0, 0]))
    with torch.no_grad():
        result = segmentor.test_step(dict(inputs=[image],
                                          data_samples=[sample]))[0]
    logits = result.seg_logits.data
    assert logits.shape == (150, 256, 320)
    assert torch.isfinite(logits).all()
    pred = result.pred_sem_seg.data
    assert pred.shape == (1, 256, 320)
    assert 0 <= pred.min() and pred.max() < 150


def test_t_config_weight_decay_split(t_cfg):
    """No decay exactly where the official ImageNet training had none."""
    decay = check_weight_decay_split(build_segmentor(t_cfg),
                                     t_cfg.optim_wrapper, lr=6e-5,
                                     weight_decay=0.01)
    assert decay['backbone.stem.conv.1.weight'] == 0.0  # a stem BatchNorm
    assert decay['decode_head.conv_seg.weight'] == 0.01
    assert decay['decode_head.conv_seg.bias'] == 0.0


@pytest.mark.parametrize('fixture', ['official_tiny_path',
                                     'converted_tiny_path'])
def test_t_config_loads_official_and_converted_weights(t_cfg, fixture,
                                                       request):
    path = request.getfixturevalue(fixture)
    cfg = copy.deepcopy(t_cfg)
    cfg.model.backbone.init_cfg.checkpoint = str(path)
    segmentor = build_segmentor(cfg)
    segmentor.init_weights()
    check_backbone_loaded(segmentor, path)


def test_learning_config_is_the_smoke_config_run_longer():
    smoke = Config.fromfile(SMOKE_CONFIG)
    learning = Config.fromfile(LEARNING_CONFIG)
    assert learning.train_cfg.max_iters == 1500
    assert learning.param_scheduler[-1].end == 1500
    assert learning.model == smoke.model
    assert learning.train_pipeline == smoke.train_pipeline
