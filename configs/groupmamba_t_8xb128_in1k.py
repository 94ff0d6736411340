# GroupMamba-T on ImageNet-1k with hard distillation: the official recipe
# (../shared/reference/official-recipe.md) on 8 GPUs x 128 images = 1024.
#   mim train mmpretrain configs/groupmamba_t_8xb128_in1k.py --launcher slurm
#   bash tools/dist_train.sh configs/groupmamba_t_8xb128_in1k.py 8
# Comments say where a value differs from the mmpretrain bases below; the
# official code's values that the bases already hold are noted as such.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmgroupmamba'], allow_failed_imports=False)
# load_from fine-tunes (every tensor that fits, one warning naming what did
# not and why); resume and testing load the whole model or stop: see
# mmgroupmamba/engine/runner.py.
runner_type = 'GroupMambaRunner'

# The DeiT teacher, RegNetY-16GF, as released by DeiT (timm layout, keys
# under 'model'); users download it themselves: nothing is fetched at run
# time, and a missing file stops the run before training.
teacher_checkpoint = 'checkpoints/regnety_160-a5fe301d.pth'

model = dict(
    type='DistillationClassifier',  # mmpretrain has no training DeiT head
    backbone=dict(
        type='GroupMamba',
        arch='tiny',
        drop_path_rate=0.05),  # hard-coded officially for T, S and B alike
    neck=dict(type='ClassBlockNeck', in_channels=448),  # mean token+class block
    head=dict(
        type='DualLinearClsHead',  # head + dist_head, eval averages them
        num_classes=1000,
        in_channels=448,
        # timm's Mixup smooths the mixed targets by 0.1 (SoftTargetCE after);
        # smoothing is linear, so smoothing after mixing here is the same.
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        topk=(1, 5)),
    teacher=dict(
        type='ImageClassifier',
        backbone=dict(type='TIMMBackbone', model_name='regnety_160'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=3024)),
    teacher_checkpoint=teacher_checkpoint,
    distillation='hard',  # official default; 'soft' = KL at temperature tau
    alpha=0.5,
    tau=1.0,
    # Mixup 0.8 or CutMix 1.0, one of the two per batch (switch prob 0.5).
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0),
    ]))

# Data: the Swin base's pipelines are the official ones (RandomResizedCrop
# 224 bicubic, flip, RandAugment m9 mstd0.5 increasing, RandomErasing 0.25
# per-pixel; eval: shorter side 256 bicubic, centre crop 224).
train_dataloader = dict(batch_size=128)  # per GPU (base: 64)
val_dataloader = dict(batch_size=128)  # as the official eval (base: 64)
test_dataloader = val_dataloader

optim_wrapper = dict(
    type='AmpOptimWrapper',  # official AMP: float16 autocast + GradScaler
    # AdamW lr 5e-4 per 512 images = 1e-3 at 1024, betas (0.9, 0.999), eps
    # 1e-8, wd 0.05: all as the base.
    clip_grad=dict(max_norm=5.0),  # official clip_grad_norm_ 5 (base: none)
    # No decay exactly where the official rule (ndim <= 1 or *.bias) has
    # none: every 1-D tensor plus what the model declares in
    # no_weight_decay() (the scan's stacked per-group vectors), applied by
    # our constructor. None drops the base's norm/bias keys and Swin's.
    constructor='GroupMambaOptimWrapperConstructor',
    paramwise_cfg=None)

# Official: linear warm-up from 1e-6 over 20 epochs, then one cosine to 1e-5
# over the other 280, both stepped every iteration (timm CosineLRScheduler,
# t_in_epochs=False, warmup_prefix). The base's warm-up already is; its
# cosine steps per epoch.
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        end=20,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=20,
        end=300,
        convert_to_iter_based=True)  # per iteration (base: per epoch)
]
val_cfg = dict(fp16=True)  # the official validation runs under autocast

custom_hooks = [
    # timm ModelEma: decay 0.9999 after every optimizer step, buffers too,
    # no warm-up. The EMA is validated and saved as 'state_dict' (the release
    # weights); the live weights are validated too, as officially.
    dict(
        type='EMAHook',
        momentum=1e-4,
        update_buffers=True,
        evaluate_on_origin=True,
        priority='ABOVE_NORMAL'),
    # Checkpoints torch.load(weights_only=True) can read: see mmgroupmamba/engine.
    dict(type='WeightsOnlyCheckpointHook'),
]
default_hooks = dict(
    # Written atomically: a kill mid-write never leaves a truncated .pth.
    checkpoint=dict(backend_args=dict(backend='atomic_local')))
env_cfg = dict(cudnn_benchmark=True)  # as the official train.py
# Official seed 0 + rank (base: no seed).
randomness = dict(seed=0, diff_rank_seed=True)
