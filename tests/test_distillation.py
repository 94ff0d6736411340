"""ImageNet recipe with hard distillation: configs, classifier, Runner training.

Everything runs on the CPU on tools/make_imagenet_data.py's drawn shapes with
configs/smoke/groupmamba_in1k_smoke.py (a narrow GroupMamba distilled from a
resnet10t teacher); the real configs are built and checked value by value.
"""
import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch
import torch.nn.functional as F
from conftest import REPO, check_weight_decay_split, one_thread_in_scope
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

import mmgroupmamba  # noqa: F401
from mmgroupmamba.apis import as_cfg_options, data_root_options
from mmgroupmamba.checkpoint import CheckpointError
from mmgroupmamba.datasets.drawn_imagenet import CLASSES, make_imagenet_data
from mmgroupmamba.models.distiller import load_teacher


T_CONFIG = REPO / 'configs' / 'groupmamba_t_8xb128_in1k.py'
SMOKE_CONFIG = REPO / 'configs' / 'smoke' / 'groupmamba_in1k_smoke.py'
TRAIN_IMAGES, BATCH = 48, 16  # 8 per class; 3 iterations an epoch
EPOCHS = 3
SMOOTHING = 0.1


@pytest.fixture(scope='module', autouse=True)
def isolated_mmpretrain_run():
    with one_thread_in_scope('mmpretrain'):
        yield


@pytest.fixture(scope='module')
def in1k_data(tmp_path_factory):
    root = tmp_path_factory.mktemp('in1k_shapes')
    make_imagenet_data(root, seed=0, train_per_class=TRAIN_IMAGES // 6,
                       val_per_class=4)
    return root


def smoke_teacher():
    """The smoke config's teacher, with seeded random weights."""
    cfg = Config.fromfile(SMOKE_CONFIG)
    torch.manual_seed(1)
    return MODELS.build(cfg.model.teacher).eval()


@pytest.fixture(scope='module')
def teacher_path(tmp_path_factory):
    """A teacher checkpoint as the smoke teacher's Runner would save it."""
    path = tmp_path_factory.mktemp('teacher') / 'teacher.pth'
    torch.save({'state_dict': smoke_teacher().state_dict()}, path)
    return path


def smoke_cfg(data_root, teacher_path, work_dir, epochs=EPOCHS):
    """The smoke config on ``data_root``, ``epochs`` long, validated once at
    the end, a checkpoint every epoch."""
    cfg = Config.fromfile(SMOKE_CONFIG)
    cfg.work_dir = str(work_dir)
    cfg.merge_from_dict(data_root_options(data_root))
    cfg.model.teacher_checkpoint = str(teacher_path)
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = epochs
    cfg.param_scheduler[1].end = epochs
    cfg.default_hooks.checkpoint.interval = 1
    cfg.default_hooks.logger.interval = 1
    return cfg


def ema_model(runner):
    """The EMA hook's averaged model."""
    (hook, ) = [h for h in runner.hooks if type(h).__name__ == 'EMAHook']
    return hook.ema_model


class StepRecorder(Hook):
    """Records, around every training iteration: the LR, the EMA and live
    weights, the teacher's weights, and the batch the model saw, with the
    loss terms it reported. Runs after the EMA hook's update."""

    priority = 'LOWEST'

    def __init__(self):
        self.steps = []
        self._batch = None

    def before_train(self, runner):
        model = runner.model

        def keep_batch(module, args, kwargs):
            if kwargs.get('mode') == 'loss':
                self._batch = (kwargs['inputs'].detach().clone(),
                               copy.deepcopy(kwargs['data_samples']),
                               copy.deepcopy(module.state_dict()))

        model.register_forward_pre_hook(keep_batch, with_kwargs=True)

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        ema = ema_model(runner)
        self.steps.append(dict(
            lr=runner.optim_wrapper.get_lr()['lr'][0],
            ema_before={k: v.clone() for k, v in
                        ema.module.state_dict().items()}))

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        ema = ema_model(runner)
        inputs, samples, weights = self._batch
        self.steps[-1].update(
            outputs={k: float(v.detach()) for k, v in outputs.items()},
            inputs=inputs, samples=samples, weights_before=weights,
            live_after={k: v.clone() for k, v in
                        runner.model.state_dict().items()},
            ema_after={k: v.clone() for k, v in
                       ema.module.state_dict().items()},
            ema_steps=int(ema.steps))


@pytest.fixture(scope='module')
def distilled(in1k_data, teacher_path, tmp_path_factory):
    """Distil for 3 epochs (9 iterations) through mmengine's Runner.

    Drop path is off so that the recorded batch can be run again
    deterministically for the loss check.
    """
    cfg = smoke_cfg(in1k_data, teacher_path,
                    tmp_path_factory.mktemp('distill_work_dir'))
    cfg.model.backbone.drop_path_rate = 0.0
    runner = Runner.from_cfg(cfg)
    recorder = StepRecorder()
    runner.register_hook(recorder)
    runner.train()
    return dict(runner=runner, steps=recorder.steps,
                work_dir=Path(cfg.work_dir))


# --------------------------------------------------------------- real configs
def test_t_config_is_the_official_recipe():
    cfg = Config.fromfile(T_CONFIG)
    optim = cfg.optim_wrapper
    assert optim.type == 'AmpOptimWrapper'
    optimizer = {k: v for k, v in optim.optimizer.items() if k != '_scope_'}
    assert optimizer == dict(type='AdamW', lr=1e-3, weight_decay=0.05,
                             eps=1e-8, betas=(0.9, 0.999))
    assert optim.clip_grad == dict(max_norm=5.0)
    assert cfg.train_dataloader.batch_size == 128  # x 8 GPUs = 1024
    assert cfg.auto_scale_lr.base_batch_size == 1024
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.end) == ('LinearLR',
                                                              1e-3, 20)
    assert (cosine.type, cosine.eta_min, cosine.begin, cosine.end) == (
        'CosineAnnealingLR', 1e-5, 20, 300)
    assert warmup.convert_to_iter_based and cosine.convert_to_iter_based
    assert cfg.train_cfg.max_epochs == 300
    ema = [h for h in cfg.custom_hooks if h.type == 'EMAHook'][0]
    assert ema.momentum == 1e-4 and ema.update_buffers
    assert 'WeightsOnlyCheckpointHook' in [h.type for h in cfg.custom_hooks]
    model = cfg.model
    assert model.backbone.drop_path_rate == 0.05
    assert (model.distillation, model.alpha) == ('hard', 0.5)
    assert model.teacher.backbone.model_name == 'regnety_160'
    assert [a.type for a in model.train_cfg.augments] == ['Mixup', 'CutMix']
    assert [a.alpha for a in model.train_cfg.augments] == [0.8, 1.0]
    assert model.head.loss.label_smooth_val == 0.1
    names = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert names == ['LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip',
                     'RandAugment', 'RandomErasing', 'PackInputs']
    erasing = cfg.train_dataloader.dataset.pipeline[4]
    assert erasing.erase_prob == 0.25
    resize, crop = cfg.test_dataloader.dataset.pipeline[1:3]
    assert (resize.scale, resize.interpolation, crop.crop_size) == (256,
                                                                    'bicubic',
                                                                    224)


@pytest.mark.parametrize('name, arch, width', [('s', 'small', 512),
                                               ('b', 'base', 512)])
def test_s_and_b_configs_change_only_the_arch(name, arch, width):
    t_cfg = Config.fromfile(T_CONFIG)
    cfg = Config.fromfile(REPO / 'configs' / f'groupmamba_{name}_in1k.py')
    assert cfg.model.backbone.arch == arch
    assert cfg.model.neck.in_channels == cfg.model.head.in_channels == width
    for key in ('optim_wrapper', 'param_scheduler', 'custom_hooks',
                'train_dataloader', 'train_cfg'):
        assert cfg[key] == t_cfg[key], key


def test_t_config_builds_without_the_teacher_file_and_fails_at_start(
        tmp_path, monkeypatch):
    """Evaluation never needs the teacher; training stops before step 1."""
    monkeypatch.chdir(tmp_path)
    model = MODELS.build(Config.fromfile(T_CONFIG).model)
    assert model.teacher is None
    with pytest.raises(FileNotFoundError,
                       match='checkpoints/regnety_160-a5fe301d.pth'):
        model.init_weights()


def test_official_no_decay_rule():
    """No decay exactly for 1-D tensors and the stacked per-group vectors."""
    cfg = Config.fromfile(T_CONFIG)
    cfg.model.teacher = cfg.model.teacher_checkpoint = None
    model = MODELS.build(cfg.model)
    decay = check_weight_decay_split(
        model, dict(cfg.optim_wrapper, type='OptimWrapper'), lr=1e-3,
        weight_decay=0.05)
    assert decay['backbone.stages.0.blocks.0.mixer.ssm.A_log'] == 0.05
    assert decay['backbone.stages.0.blocks.0.mixer.ssm.dt_bias'] == 0.05
    assert decay['head.fc.bias'] == 0.0 and decay['head.fc.weight'] == 0.05


# ------------------------------------------------------------ the classifier
def test_bad_distillation_settings_are_refused(teacher_path):
    model_cfg = Config.fromfile(SMOKE_CONFIG).model
    with pytest.raises(ValueError, match='needs teacher_checkpoint'):
        MODELS.build(dict(model_cfg, teacher_checkpoint=None))
    with pytest.raises(ValueError, match='without a teacher config'):
        MODELS.build(dict(model_cfg, teacher=None))
    with pytest.raises(ValueError, match="'hard', 'soft'"):
        MODELS.build(dict(model_cfg, teacher_checkpoint=str(teacher_path),
                          distillation='kl'))
    with pytest.raises(ValueError, match='alpha'):
        MODELS.build(dict(model_cfg, teacher_checkpoint=str(teacher_path),
                          alpha=1.5))


def test_teacher_loads_its_own_and_the_timm_layout(teacher_path, tmp_path):
    """Runner checkpoints and timm files (DeiT's RegNetY) both load, all of
    them; a file of another model is refused with the keys named."""
    reference = smoke_teacher()
    timm_model = timm.create_model('resnet10t', num_classes=len(CLASSES))
    timm_state = {k[len('backbone.timm_model.'):] if k.startswith(
        'backbone.') else k.replace('head.', ''): v
        for k, v in reference.state_dict().items()}
    timm_model.load_state_dict(timm_state)  # the layouts are one mapping
    timm_path = tmp_path / 'timm_layout.pth'
    torch.save({'model': timm_model.state_dict()}, timm_path)

    for path in (teacher_path, timm_path):
        torch.manual_seed(2)
        teacher = MODELS.build(Config.fromfile(SMOKE_CONFIG).model.teacher)
        load_teacher(teacher, str(path))
        for key, value in reference.state_dict().items():
            assert torch.equal(teacher.state_dict()[key], value), key

    other = timm.create_model('resnet18', num_classes=len(CLASSES))
    other_path = tmp_path / 'resnet18.pth'
    torch.save({'model': other.state_dict()}, other_path)
    teacher = MODELS.build(Config.fromfile(SMOKE_CONFIG).model.teacher)
    before = copy.deepcopy(teacher.state_dict())
    with pytest.raises(CheckpointError, match='missing keys|unexpected keys'):
        load_teacher(teacher, str(other_path))
    for key, value in before.items():
        assert torch.equal(teacher.state_dict()[key], value), key


def test_soft_distillation_is_deits_kl(teacher_path):
    model = MODELS.build(dict(Config.fromfile(SMOKE_CONFIG).model,
                              teacher_checkpoint=str(teacher_path),
                              distillation='soft', tau=2.0))
    torch.manual_seed(0)
    student, teacher = torch.randn(2, 4, 6).unbind(0)
    tau = 2.0
    p_teacher = F.softmax(teacher / tau, dim=1)
    kl = (p_teacher * (p_teacher.log() - F.log_softmax(student / tau, 1)))
    expected = kl.sum() * tau**2 / student.numel()
    torch.testing.assert_close(model.distillation_loss(student, teacher),
                               expected)


# ---------------------------------------------------------- Runner training
def test_loss_is_half_soft_ce_plus_half_teacher_ce(distilled, teacher_path):
    """Recomputed outside the model from the recorded batches: the head on
    the mixed, smoothed targets, the dist head on the teacher's arg-max."""
    runner = distilled['runner']
    teacher = timm.create_model('resnet10t', num_classes=len(CLASSES))
    state = torch.load(teacher_path, weights_only=True)['state_dict']
    teacher.load_state_dict({
        k[len('backbone.timm_model.'):] if k.startswith('backbone.') else
        k.replace('head.', ''): v for k, v in state.items()})
    teacher.eval()
    student = copy.deepcopy(runner.model)
    checked = mixed_targets = 0
    for step in distilled['steps']:
        student.load_state_dict(step['weights_before'])
        student.train()
        inputs, samples = step['inputs'], step['samples']
        with torch.no_grad():
            pooled = student.extract_feat(inputs)[-1]
            head_logits = F.linear(pooled, student.head.fc.weight,
                                   student.head.fc.bias)
            dist_logits = F.linear(pooled, student.head.dist_fc.weight,
                                   student.head.dist_fc.bias)
            mixed = torch.stack([s.gt_score for s in samples])
            targets = mixed * (1 - SMOOTHING) + SMOOTHING / len(CLASSES)
            soft_ce = -(targets * F.log_softmax(head_logits, 1)).sum(1).mean()
            teacher_ce = F.cross_entropy(dist_logits,
                                         teacher(inputs).argmax(1))
        # Mixup/CutMix made soft targets, not one-hot ones.
        mixed_targets += int(((mixed > 0) & (mixed < 1)).any())
        outputs = step['outputs']
        assert outputs['loss_cls'] == pytest.approx(0.5 * soft_ce.item(),
                                                    rel=1e-5)
        assert outputs['loss_distill'] == pytest.approx(
            0.5 * teacher_ce.item(), rel=1e-5)
        assert outputs['loss'] == pytest.approx(
            outputs['loss_cls'] + outputs['loss_distill'], rel=1e-6)
        checked += 1
    assert checked == EPOCHS * TRAIN_IMAGES // BATCH
    assert mixed_targets == checked


def test_teacher_is_frozen_and_never_saved(distilled, teacher_path):
    runner = distilled['runner']
    model = runner.model
    teacher = model.teacher
    assert teacher is not None and not teacher.training
    assert all(not p.requires_grad for p in teacher.parameters())
    saved = torch.load(teacher_path, weights_only=True)['state_dict']
    for key, value in teacher.state_dict().items():
        assert torch.equal(value, saved[key]), key
    # Not in the student's parameters, optimizer, EMA model or checkpoint.
    teacher_ids = {id(p) for p in teacher.parameters()}
    assert not teacher_ids & {id(p) for p in model.parameters()}
    optimizer_ids = {id(p) for g in runner.optim_wrapper.param_groups
                     for p in g['params'] if p.requires_grad}
    assert optimizer_ids == {id(p) for p in model.parameters()}
    assert not teacher_ids & {id(p) for g in runner.optim_wrapper.param_groups
                              for p in g['params']}
    checkpoint = torch.load(distilled['work_dir'] / f'epoch_{EPOCHS}.pth',
                            weights_only=True)
    assert set(checkpoint['state_dict']) == set(model.state_dict())
    assert not any('teacher' in k for k in checkpoint['state_dict'])
    assert len(checkpoint['optimizer']['state']) == len(
        list(model.parameters()))


def test_ema_follows_its_momentum(distilled):
    """ema_t = (1 - m) ema_{t-1} + m w_t after every step (m = 0.02), the
    first step copying the weights; buffers averaged too."""
    momentum = 0.02
    steps = distilled['steps']
    assert [s['ema_steps'] for s in steps] == list(range(1, len(steps) + 1))
    first = steps[0]
    for key, value in first['live_after'].items():
        assert torch.equal(first['ema_after'][key], value), key
    for step in steps[1:]:
        differs = 0
        for key, ema in step['ema_after'].items():
            if not ema.is_floating_point():
                continue
            expected = torch.lerp(step['ema_before'][key],
                                  step['live_after'][key], momentum)
            torch.testing.assert_close(ema, expected, rtol=1e-6, atol=1e-7)
            differs += not torch.equal(ema, step['live_after'][key])
        assert differs > 0
    # The checkpoint's state_dict is the EMA (the release weights).
    checkpoint = torch.load(distilled['work_dir'] / f'epoch_{EPOCHS}.pth',
                            weights_only=True)
    last = steps[-1]
    for key, value in last['ema_after'].items():
        assert torch.equal(checkpoint['state_dict'][key], value), key
        assert torch.equal(checkpoint['ema_state_dict']['module.' + key],
                           last['live_after'][key]), key


def test_lr_is_the_closed_form_warmup_and_cosine(distilled):
    """Linear warm-up from base/1000 over the first epoch's iterations, then
    one cosine to 1e-5 over the rest, per iteration.

    mmengine's LinearLR reaches the peak on the warm-up's last iteration
    (slope 1 / (W - 1)); timm's official scheduler one iteration later
    (slope 1 / W): at ImageNet's W = 25,020 iterations, a 4e-5 relative
    difference of the warm-up LRs, documented in docs/official_vs_paper.md.
    """
    base, eta_min = 2e-3, 1e-5
    per_epoch = TRAIN_IMAGES // BATCH
    warmup, total = per_epoch, EPOCHS * per_epoch
    for t, step in enumerate(distilled['steps']):
        if t < warmup:
            expected = base * (1e-3 + (1 - 1e-3) * t / (warmup - 1))
        else:
            expected = eta_min + (base - eta_min) * 0.5 * (
                1 + math.cos(math.pi * (t - warmup) / (total - warmup)))
        assert step['lr'] == pytest.approx(expected, rel=1e-6), t


def test_evaluation_averages_the_heads(distilled, in1k_data):
    """runner.test(): top-1/top-3 of (head + dist_head) / 2."""
    runner = distilled['runner']
    metrics = runner.test()
    assert set(metrics) >= {'accuracy/top1', 'accuracy/top3'}
    model = runner.model.eval()
    batch = next(iter(runner.test_dataloader))
    data = model.data_preprocessor(batch, training=False)
    with torch.no_grad():
        pooled = model.extract_feat(data['inputs'])
        logits = model(data['inputs'], mode='tensor')
        head, dist = model.head.both_logits(pooled)
    torch.testing.assert_close(logits, (head + dist) / 2)


def test_without_a_teacher_both_heads_learn_the_ground_truth(
        in1k_data, tmp_path):
    cfg = smoke_cfg(in1k_data, 'unused', tmp_path, epochs=2)
    cfg.model.teacher = cfg.model.teacher_checkpoint = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.model.teacher is None
    assert (tmp_path / 'epoch_2.pth').is_file()


# ------------------------------------------------------------- distributed
def test_two_cpu_processes_train_as_one_with_the_same_global_batch(
        in1k_data, teacher_path, tmp_path):
    """torchrun, 2 gloo processes x 8 images == 1 process x 16 images.

    The run is made deterministic where the two differ by design: drop path,
    Mixup/CutMix and the random crops draw per process, and BatchNorm (the
    stem's) normalises per process, so these are off (norm_eval keeps the
    stem's statistics). What remains, DDP's gradient averaging, the
    distributed sampler, clipping, AdamW, the EMA, the distillation loss,
    must then agree up to float32 summation order:

    * the gradient norm of every step (DDP-averaged) within 1e-5 relative;
    * the saved EMA weights (``state_dict``) within 1e-5 (measured 3.5e-6);
    * the live weights: AdamW moves an element by about +-lr on its first
      steps whatever its gradient's size, so the few elements whose
      gradient sums to ~0 may step differently under another summation
      order. Asserted: 99.9% of elements within 1e-5 and all within 2.5e-4
      (measured 88 of 789,540 above 1e-5, the largest 9.9e-5, all in the
      stem's convolutions; lr is 2e-3).
    """
    config = tmp_path / 'deterministic_smoke.py'
    config.write_text(
        f"_base_ = '{SMOKE_CONFIG}'\n"
        'model = dict(\n'
        '    backbone=dict(drop_path_rate=0.0, norm_eval=True),\n'
        f"    teacher_checkpoint='{teacher_path}',\n"
        '    train_cfg=None)\n'
        'train_dataloader = dict(dataset=dict(\n'
        f"    data_root='{in1k_data}/', pipeline={{{{_base_.test_pipeline}}}}))\n"
        f"val_dataloader = dict(dataset=dict(data_root='{in1k_data}/'))\n"
        'test_dataloader = val_dataloader\n'
        'train_cfg = dict(max_epochs=2, val_interval=2)\n'
        'default_hooks = dict(logger=dict(interval=1))\n'
        'param_scheduler = [\n'
        "    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=1,\n"
        '         convert_to_iter_based=True),\n'
        "    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True,\n"
        '         begin=1, end=2, convert_to_iter_based=True)]\n')
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    one = subprocess.run(
        [sys.executable, 'tools/train.py', str(config), '--work-dir',
         str(tmp_path / 'one')], cwd=REPO, env=env, capture_output=True,
        text=True)
    assert one.returncode == 0, one.stderr[-3000:]
    torchrun = Path(sys.executable).with_name('torchrun')
    two = subprocess.run(
        [str(torchrun), '--nproc_per_node', '2', '--master_port', '29617',
         'tools/dist_train_cpu.py', str(config), '--work-dir',
         str(tmp_path / 'two'), '--cfg-options',
         'train_dataloader.batch_size=8'], cwd=REPO, env=env,
        capture_output=True, text=True)
    assert two.returncode == 0, two.stderr[-3000:]
    assert 'Distributed training: True' in two.stdout + two.stderr

    def grad_norms(work_dir):
        (log, ) = work_dir.glob('*/vis_data/scalars.json')
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        return [line['grad_norm'] for line in lines if 'grad_norm' in line]

    norms = grad_norms(tmp_path / 'one')
    assert len(norms) == 6
    assert grad_norms(tmp_path / 'two') == pytest.approx(norms, rel=1e-5)

    one_ckpt = torch.load(tmp_path / 'one' / 'epoch_2.pth', weights_only=True)
    two_ckpt = torch.load(tmp_path / 'two' / 'epoch_2.pth', weights_only=True)
    assert one_ckpt['meta']['iter'] == two_ckpt['meta']['iter'] == 6
    total = close = 0
    for part in ('state_dict', 'ema_state_dict'):
        assert set(one_ckpt[part]) == set(two_ckpt[part])
        for key, value in one_ckpt[part].items():
            other = two_ckpt[part][key]
            if not value.is_floating_point():
                assert torch.equal(other, value), key
            elif part == 'state_dict':  # the EMA, saved as the weights
                torch.testing.assert_close(other, value, rtol=0, atol=1e-5,
                                           msg=key)
            else:  # the live weights
                torch.testing.assert_close(other, value, rtol=0,
                                           atol=2.5e-4, msg=key)
                total += value.numel()
                close += int(((other - value).abs() <= 1e-5).sum())
    assert close >= 0.999 * total, (close, total)


def test_mim_test_evaluates_a_converted_official_checkpoint(
        converted_tiny_path, in1k_data, tmp_path):
    """``mim test mmpretrain configs/groupmamba_t_in1k.py --checkpoint``
    with the official weights converted: the real T config, no teacher file
    needed, top-1/top-5 of the averaged heads (labels 0-5 of the made set
    are ImageNet class ids here; the seeded weights make the values
    meaningless, the run is what is tested)."""
    mim = Path(sys.executable).with_name('mim')
    result = subprocess.run(
        [str(mim), 'test', 'mmpretrain',
         str(REPO / 'configs' / 'groupmamba_t_in1k.py'), '--checkpoint',
         str(converted_tiny_path), '--work-dir', str(tmp_path),
         '--cfg-options', *as_cfg_options(data_root_options(in1k_data)),
         'test_dataloader.batch_size=8', 'test_dataloader.num_workers=0',
         'test_dataloader.persistent_workers=False'],
        cwd=tmp_path,  # no checkpoints/ folder here: the teacher is not read
        capture_output=True, text=True,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert 'accuracy/top1' in result.stdout and 'accuracy/top5' in result.stdout


def test_tools_test_evaluates_the_runner_checkpoint(distilled, in1k_data,
                                                    tmp_path):
    """``tools/test.py CONFIG CKPT`` on the distilled run's checkpoint gives
    the metrics the Runner computes on the same weights."""
    checkpoint = distilled['work_dir'] / f'epoch_{EPOCHS}.pth'
    result = subprocess.run(
        [sys.executable, 'tools/test.py', str(SMOKE_CONFIG), str(checkpoint),
         '--work-dir', str(tmp_path), '--cfg-options',
         *as_cfg_options(data_root_options(in1k_data))],
        cwd=REPO, capture_output=True, text=True,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stderr[-3000:]
    expected = distilled['runner'].test()  # the EMA weights, as saved
    line = [l for l in result.stdout.splitlines() if 'accuracy/top1' in l][-1]
    assert f"accuracy/top1: {expected['accuracy/top1']:.4f}" in line
