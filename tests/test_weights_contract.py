"""The loading contract, one test per row (docs/user_guides/checkpoints.md,
"Loading weights").

* Fine-tuning follows the host: a file of another class count loads every
  tensor that fits, through mmdet (``mim train`` with ``load_from``), mmseg
  (the Runner) and mmpretrain (``get_model(pretrained=)`` and our loader),
  with one readable warning from our runner.
* Loud where a mismatch cannot be intended: another backbone arch, a
  ResNet's ``backbone.*`` keys, a file that fills nothing, unreadable files,
  the official layout where a converted file is due; ``resume``, evaluation
  and ``apis.init_model`` load the whole model or nothing.
* torch's ``strict`` means what torch says.
* Importing the package changes nothing process-wide (tests/test_import_effects.py).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import CONFIG_OF_ARCH, REPO, one_thread_in_scope
from mmengine.config import Config
from mmengine.registry import MODELS, RUNNERS

import mmgroupmamba  # noqa: F401
from mmgroupmamba.apis import (as_cfg_options, coco_data_options,
                               data_root_options, init_model,
                               set_scan_backend)
from mmgroupmamba.checkpoint import CheckpointError, read_checkpoint
from mmgroupmamba.engine import GroupMambaRunner
from mmgroupmamba.models import GroupMamba

SMOKE = REPO / 'configs' / 'smoke'
DET_SMOKE = SMOKE / 'maskrcnn_groupmamba_t_smoke.py'
SEG_SMOKE = SMOKE / 'upernet_groupmamba_t_smoke.py'
ONE_THREAD = dict(os.environ, OMP_NUM_THREADS='1')  # see conftest
# Another arch than the smoke configs' (depths [1, 1, 2, 1]): one block less.
OTHER_ARCH = dict(stem_channels=16, embed_dims=[32, 64, 96, 128],
                  depths=[1, 1, 1, 1], mlp_ratios=[4, 4, 4, 4])


def detector_cfg(num_classes=3, arch=None):
    """The smoke Mask R-CNN config, with another class count or arch."""
    cfg = Config.fromfile(DET_SMOKE)
    cfg.model.roi_head.bbox_head.num_classes = num_classes
    cfg.model.roi_head.mask_head.num_classes = num_classes
    if arch is not None:
        cfg.model.backbone.arch = arch
    return cfg


def segmentor_cfg(num_classes=150):
    cfg = Config.fromfile(SEG_SMOKE)
    cfg.model.decode_head.num_classes = num_classes
    cfg.model.auxiliary_head.num_classes = num_classes
    return cfg


def save_model(cfg, scope, path, seed=1):
    """Build ``cfg``'s model with seeded random weights and save it as the
    Runner does (``state_dict`` + ``meta``); return its state_dict."""
    torch.manual_seed(seed)
    with one_thread_in_scope(scope):
        model = MODELS.build(cfg.model)
    state_dict = model.state_dict()
    torch.save(dict(state_dict=state_dict, meta={}), path)
    return state_dict


def parameters_equal(model, state_dict, keys):
    for key in keys:
        assert torch.equal(model.state_dict()[key], state_dict[key]), key


def log_text(work_dir):
    """Everything the run's mmengine logger wrote."""
    return '\n'.join(p.read_text() for p in Path(work_dir).rglob('*.log'))


@pytest.fixture(scope='module')
def detector_2_classes(tmp_path_factory):
    """A smoke Mask R-CNN with 2 classes, as a user's earlier training."""
    pytest.importorskip('mmdet')  # the oldest tested stack has no mmdet
    path = tmp_path_factory.mktemp('det') / 'maskrcnn_2_classes.pth'
    return path, save_model(detector_cfg(2), 'mmdet', path)


@pytest.fixture(scope='module')
def segmentor_path(tmp_path_factory):
    pytest.importorskip('mmseg')
    path = tmp_path_factory.mktemp('seg') / 'upernet_smoke.pth'
    save_model(segmentor_cfg(), 'mmseg', path)
    return path


# ------------------------------------------------------------ fine-tuning
@pytest.mark.parametrize('config', sorted(
    p.name for p in (REPO / 'configs').glob('*.py')))
def test_every_config_of_ours_asks_for_our_runner(config):
    """What makes ``mim train``/``mim test`` fine-tune and evaluate by these
    rules (the OpenMMLab scripts build ``runner_type`` from the registry)."""
    if 'maskrcnn' in config or config.startswith('upernet'):
        pytest.importorskip('mmseg' if 'upernet' in config else 'mmdet')
    assert Config.fromfile(REPO / 'configs' / config).runner_type == \
        'GroupMambaRunner'


def test_mim_train_mmdet_fine_tunes_a_detector_of_another_class_count(
        detector_2_classes, coco_data, tmp_path):
    """mmdet's fine-tuning guide: the 3-class smoke config with ``load_from``
    a 2-class detector, through ``mim train mmdet`` (our config's
    ``runner_type``). With lr 0 the saved weights are what was loaded."""
    path, saved = detector_2_classes
    work_dir = tmp_path / 'work_dir'
    result = subprocess.run(
        [str(Path(sys.executable).with_name('mim')), 'train', 'mmdet',
         str(DET_SMOKE), '--work-dir', str(work_dir), '--cfg-options',
         f'load_from={path}', 'train_cfg.max_iters=2',
         'default_hooks.checkpoint.interval=2', 'optim_wrapper.optimizer.lr=0',
         *as_cfg_options(coco_data_options(coco_data))],
        cwd=REPO, capture_output=True, text=True, env=ONE_THREAD)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert 'Training finished successfully' in result.stdout
    log = log_text(work_dir)
    # One warning, per module, with the reason; not mmengine's key list.
    assert log.count('WARNING - load_from') == 1, log[-3000:]
    for line in (
            'roi_head.bbox_head.fc_cls (weight, bias): 2 classes in the '
            'file, 3 in the model',
            'roi_head.bbox_head.fc_reg (weight, bias): 2 classes in the '
            'file, 3 in the model',
            'roi_head.mask_head.conv_logits (weight, bias): 2 classes in the '
            'file, 3 in the model'):
        assert line in log, log[-3000:]
    assert 'size mismatch' not in log and 'missing keys in source' not in log
    trained = read_checkpoint(str(work_dir / 'iter_2.pth'))
    resized = {f'roi_head.{m}.{p}' for m in
               ('bbox_head.fc_cls', 'bbox_head.fc_reg', 'mask_head.conv_logits')
               for p in ('weight', 'bias')}
    fitting = [k for k in saved if k not in resized
               and 'running_' not in k and 'num_batches' not in k]
    assert len(fitting) > 100
    for key in fitting:  # lr 0: every fitting tensor is the file's
        assert torch.equal(trained[key], saved[key]), key
    assert trained['roi_head.bbox_head.fc_cls.weight'].shape[0] == 4  # 3 + bg
    assert trained['roi_head.mask_head.conv_logits.weight'].shape[0] == 3


def test_runner_fine_tunes_a_segmentor_to_another_class_count(
        segmentor_path, ade_data, tmp_path):
    """mmseg's guide: decode and auxiliary heads to another ``num_classes``
    (150 in the file, 10 in the model), through the config's runner."""
    cfg = segmentor_cfg(10)
    cfg.merge_from_dict(data_root_options(ade_data))
    cfg.merge_from_dict({'train_cfg.max_iters': 1,
                         'train_cfg.val_interval': 1,
                         'default_hooks.checkpoint.interval': 1,
                         'optim_wrapper.optimizer.lr': 0.0})
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.work_dir = str(tmp_path)
    cfg.load_from = str(segmentor_path)
    saved = read_checkpoint(str(segmentor_path))
    with one_thread_in_scope('mmseg'):
        runner = RUNNERS.build(cfg)
        assert isinstance(runner, GroupMambaRunner)
        runner.train()
    model = runner.model
    heads = {f'{h}.conv_seg.{p}' for h in ('decode_head', 'auxiliary_head')
             for p in ('weight', 'bias')}
    params = [k for k, _ in model.named_parameters()]
    parameters_equal(model, saved, [k for k in params if k not in heads])
    assert model.decode_head.conv_seg.weight.shape[0] == 10
    log = log_text(tmp_path)
    assert ('decode_head.conv_seg (weight, bias): 150 classes in the file, '
            '10 in the model') in log
    assert ('auxiliary_head.conv_seg (weight, bias): 150 classes in the '
            'file, 10 in the model') in log


def test_mmpretrain_fine_tunes_our_classifier_to_another_class_count(
        converted_tiny_path):
    """A 1000-class GroupMamba-T into a 10-class one: mmpretrain's
    ``get_model(pretrained=)`` (the host's loader) and our runner's loader
    both fill the backbone and neck and keep the new heads."""
    from mmpretrain import get_model

    from mmgroupmamba.checkpoint import load_what_fits
    saved = read_checkpoint(str(converted_tiny_path))
    cfg = Config.fromfile(CONFIG_OF_ARCH['tiny'])
    cfg.model.head.num_classes = 10
    with one_thread_in_scope('mmpretrain'):
        hosted = get_model(cfg, pretrained=str(converted_tiny_path))
        ours = MODELS.build(cfg.model)
    _, report = load_what_fits(ours, saved, 'load_from FILE')
    heads = {f'head.{fc}.{p}' for fc in ('fc', 'dist_fc')
             for p in ('weight', 'bias')}
    for model in (hosted, ours):
        parameters_equal(model, saved, [k for k in model.state_dict()
                                        if k not in heads])
        assert model.head.fc.weight.shape == (10, 448)
    assert sorted(report.splitlines()[1:]) == [
        '  head.dist_fc (weight, bias): 1000 classes in the file, 10 in the '
        'model',
        '  head.fc (weight, bias): 1000 classes in the file, 10 in the model']


def test_a_detectors_backbone_starts_a_segmentor(detector_2_classes,
                                                 ade_data, tmp_path):
    """Another task's file is a fine-tuning start too: its backbone fits,
    everything else is named as not loaded."""
    path, saved = detector_2_classes
    cfg = segmentor_cfg()
    cfg.merge_from_dict(data_root_options(ade_data))
    cfg.merge_from_dict({'train_cfg.max_iters': 1,
                         'default_hooks.checkpoint.interval': 1,
                         'optim_wrapper.optimizer.lr': 0.0})
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.work_dir = str(tmp_path)
    cfg.load_from = str(path)
    with one_thread_in_scope('mmseg'):
        runner = RUNNERS.build(cfg)
        runner.train()
    backbone = [k for k, _ in runner.model.named_parameters()
                if k.startswith('backbone.')]
    parameters_equal(runner.model, saved, backbone)
    log = log_text(tmp_path)
    assert 'not in the file: decode_head' in log
    assert 'in the file, not in the model (ignored): neck' in log


# ------------------------------------------- loud where it cannot be intended
def test_another_backbone_arch_stops_load_from_before_copying(
        detector_2_classes, coco_data, tmp_path):
    """Fine-tuning (``train()`` with ``load_from``) from a detector whose
    backbone has one block more: stopped before the first tensor is copied."""
    path, saved = detector_2_classes
    cfg = detector_cfg(2, arch=OTHER_ARCH)
    cfg.merge_from_dict(coco_data_options(coco_data))
    cfg.work_dir = str(tmp_path)
    cfg.load_from = str(path)
    with one_thread_in_scope('mmdet'):
        runner = RUNNERS.build(cfg)
        with pytest.raises(CheckpointError) as info:
            runner.train()
    message = str(info.value)
    assert "GroupMamba backbone (keys under 'backbone.')" in message
    assert 'model: a custom GroupMamba (depths [1, 1, 1, 1]' in message
    assert 'checkpoint: a custom GroupMamba (depths [1, 1, 2, 1]' in message
    # Nothing copied: no randomly drawn tensor of the model (its neck and
    # heads fit the file) holds the file's values (drawn with another seed).
    copied = [k for k, v in runner.model.state_dict().items()
              if k in saved and v.shape == saved[k].shape
              and v.is_floating_point() and v.numel() > 1
              and v.std() > 0 and torch.equal(v, saved[k])]
    assert copied == []


def test_another_arch_through_the_host_loaders(detector_2_classes):
    """mmengine's loaders (``DetInferencer(weights=)``, ``load_checkpoint``)
    reach the backbone's own check: the same error, naming both archs."""
    from mmdet.apis import DetInferencer
    path, _ = detector_2_classes
    cfg = detector_cfg(2, arch=OTHER_ARCH)
    with one_thread_in_scope('mmdet'), pytest.raises(
            CheckpointError, match=r'(?s)GroupMamba backbone.*depths '
            r'\[1, 1, 1, 1\].*depths \[1, 1, 2, 1\]'):
        DetInferencer(model=cfg, weights=str(path), device='cpu',
                      show_progress=False)


def test_a_resnet_detectors_file_is_refused_by_our_backbone(coco_data,
                                                          tmp_path):
    """The keys are ``backbone.*`` too, but a ResNet's: fine-tuning from
    mmdet's ResNet-50 Mask R-CNN stops, naming them."""
    pytest.importorskip('mmdet')
    stock = tmp_path / 'maskrcnn_r50.py'
    stock.write_text("_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'\n")
    resnet = Config.fromfile(stock)
    resnet.model.backbone.init_cfg = None
    path = tmp_path / 'maskrcnn_r50.pth'
    save_model(resnet, 'mmdet', path)
    cfg = detector_cfg(80)
    cfg.merge_from_dict(coco_data_options(coco_data))
    cfg.work_dir = str(tmp_path / 'work_dir')
    cfg.load_from = str(path)
    with one_thread_in_scope('mmdet'):
        runner = RUNNERS.build(cfg)
        with pytest.raises(CheckpointError,
                           match=r'(?s)GroupMamba backbone.*checkpoint: no '
                           r'GroupMamba blocks.*unexpected keys \(\d+\): '
                           r'conv1\.weight'):
            runner.train()


@pytest.mark.parametrize('resume', [False, True])
def test_resume_and_evaluation_load_the_whole_model_or_nothing(
        detector_2_classes, tmp_path, resume):
    """A detector's file into a segmentor: ``resume``, and ``load_from`` of a
    test run (what ``mim test --checkpoint`` sets), refuse it."""
    pytest.importorskip('mmseg')
    path, _ = detector_2_classes
    cfg = segmentor_cfg()
    cfg.work_dir = str(tmp_path)
    cfg.load_from = str(path)
    cfg.resume = resume
    with one_thread_in_scope('mmseg'):
        runner = RUNNERS.build(cfg)
        with pytest.raises(CheckpointError,
                           match=r'(?s)EncoderDecoder from .*missing keys '
                           r'\(\d+\): (decode_head|auxiliary_head).*'
                           r'unexpected keys'):
            runner.load_or_resume()


def test_init_model_loads_the_whole_model_with_the_chosen_backend(
        converted_tiny_path, tmp_path):
    model = init_model(CONFIG_OF_ARCH['tiny'], str(converted_tiny_path),
                       scan_backend='reference')
    expected = read_checkpoint(str(converted_tiny_path))
    for key, value in model.state_dict().items():
        assert torch.equal(value, expected[key]), key
    assert {m.scan_backend for m in model.modules()
            if hasattr(m, 'scan_backend')} == {'reference'}
    assert not model.training
    set_scan_backend(model, 'cpu')
    assert {m.scan_backend for m in model.modules()
            if hasattr(m, 'scan_backend')} == {'cpu'}
    with pytest.raises(ValueError, match='scan backend'):
        set_scan_backend(model, 'bogus')
    # A head tensor short: random heads are never intended in inference.
    del expected['head.fc.bias']
    partial = tmp_path / 'partial.pth'
    torch.save(dict(state_dict=expected), partial)
    with pytest.raises(CheckpointError, match=r'missing keys \(1\): head'):
        init_model(CONFIG_OF_ARCH['tiny'], str(partial))


def test_unreadable_files_fail_clearly_on_our_paths(converted_tiny_path,
                                                   tmp_path):
    """``apis.init_model``, the backbone's ``init_cfg`` and our runner."""
    pytest.importorskip('mmdet')
    text, empty, truncated = (tmp_path / n for n in
                              ('text.pth', 'empty.pth', 'truncated.pth'))
    text.write_text('x\n')
    empty.write_bytes(b'')
    data = converted_tiny_path.read_bytes()
    truncated.write_bytes(data[:len(data) // 2])
    cases = [(text, 'not a PyTorch checkpoint'),
             (empty, 'not a PyTorch checkpoint \\(an empty file'),
             (truncated, 'truncated or corrupt')]
    cfg = detector_cfg()
    cfg.work_dir = str(tmp_path / 'work_dir')
    for path, message in cases:
        with pytest.raises(CheckpointError, match=message) as info:
            init_model(CONFIG_OF_ARCH['tiny'], str(path))
        # Never the unsafe advice meant for files of pickled objects.
        assert 'weights_only' not in str(info.value)
        backbone = GroupMamba('tiny', init_cfg=dict(type='Pretrained',
                                                    checkpoint=str(path)))
        with pytest.raises(CheckpointError, match=message):
            backbone.init_weights()
        cfg.load_from = str(path)  # as tools/test.py and mim test set it
        with one_thread_in_scope('mmdet'):
            runner = RUNNERS.build(cfg)
            with pytest.raises(CheckpointError, match=message):
                runner.load_or_resume()


def test_the_official_layout_names_the_conversion(official_tiny_path):
    """Where a converted file is due: our whole-model loader and, through
    mmpretrain's ``get_model(pretrained=)``, the backbone's own check."""
    from mmpretrain import get_model
    conversion = r'(?s)official.*tools/convert_official\.py'
    with pytest.raises(CheckpointError, match=conversion):
        init_model(CONFIG_OF_ARCH['tiny'], str(official_tiny_path))
    with one_thread_in_scope('mmpretrain'), pytest.raises(
            CheckpointError, match=conversion):
        get_model(str(CONFIG_OF_ARCH['tiny']),
                  pretrained=str(official_tiny_path))


# -------------------------------------------------------- torch's contract
def test_torch_strict_false_returns_the_missing_keys(converted_tiny_path):
    """``strict=False`` with only the backbone's keys: the backbone loads
    and torch's missing keys name the rest, as torch documents."""
    saved = read_checkpoint(str(converted_tiny_path))
    backbone_only = {k: v for k, v in saved.items()
                     if k.startswith('backbone.')}
    with one_thread_in_scope('mmpretrain'):
        model = MODELS.build(Config.fromfile(CONFIG_OF_ARCH['tiny']).model)
    result = model.load_state_dict(backbone_only, strict=False)
    assert result.unexpected_keys == []
    assert sorted(result.missing_keys) == sorted(
        k for k in model.state_dict() if not k.startswith('backbone.'))
    parameters_equal(model, saved, list(backbone_only))
    # strict=True: torch's RuntimeError (the same missing keys).
    with pytest.raises(RuntimeError, match='Missing key'):
        model.load_state_dict(backbone_only, strict=True)
    # A backbone key short: torch's strict=False still reports it...
    del backbone_only['backbone.stages.2.blocks.8.ffn.fc2.bias']
    result = model.load_state_dict(backbone_only, strict=False)
    assert 'backbone.stages.2.blocks.8.ffn.fc2.bias' in result.missing_keys
    # ...while mmengine's loader, which would only warn, meets our check.
    from mmengine.runner.checkpoint import load_state_dict as mmengine_load
    with pytest.raises(CheckpointError, match=r'missing keys \(1\): '
                       r'stages\.2\.blocks\.8\.ffn\.fc2\.bias'):
        mmengine_load(model, backbone_only, strict=False)


def test_torch_strict_true_with_another_arch_names_both(converted_tiny_path):
    saved = read_checkpoint(str(converted_tiny_path))
    with one_thread_in_scope('mmpretrain'):
        base = MODELS.build(Config.fromfile(CONFIG_OF_ARCH['base']).model)
    before = {k: v.clone() for k, v in base.state_dict().items()}
    with pytest.raises(RuntimeError) as info:  # a CheckpointError
        base.load_state_dict(saved)
    assert isinstance(info.value, CheckpointError)
    assert 'model: GroupMamba-base' in str(info.value)
    assert 'checkpoint: GroupMamba-tiny' in str(info.value)
    for key, value in base.state_dict().items():  # nothing copied
        assert torch.equal(value, before[key]), key
    # strict=False: torch's own size-mismatch error, nothing of ours.
    with pytest.raises(RuntimeError, match='size mismatch') as info:
        base.load_state_dict(saved, strict=False)
    assert not isinstance(info.value, CheckpointError)


# ---------------------------------------------- impossible arguments
@pytest.mark.parametrize('backend', ['bogus', 'CPU'])
def test_unknown_scan_backend_fails_at_construction(backend):
    with pytest.raises(ValueError, match=r"scan backend.*'cpu'.*'reference'"):
        GroupMamba('tiny', scan_backend=backend)


def test_unavailable_scan_backend_fails_at_construction():
    statuses = mmgroupmamba.ops.available_backends('cpu')
    if torch.cuda.is_available():
        pytest.skip('every backend may run on this machine\'s GPU')
    unavailable = [name for name, status in statuses.items()
                   if not status.available]
    if not unavailable:
        pytest.skip('every scan backend can run here')
    with pytest.raises(ValueError, match='cannot run on this machine'):
        GroupMamba('tiny', scan_backend=unavailable[0])


@pytest.mark.parametrize('kwargs, message', [
    (dict(out_indices=()), 'out_indices must name at least one stage'),
    (dict(out_indices=(1, -3)), 'twice'),
    (dict(in_channels=0), 'in_channels'),
    (dict(drop_path_rate=1.0), 'drop_path_rate'),
    (dict(drop_path_rate=-0.1), 'drop_path_rate'),
])
def test_impossible_arguments_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GroupMamba('tiny', **kwargs)
