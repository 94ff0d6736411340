# configs/groupmamba_t_8xb128_in1k.py shrunk for a CPU: a narrow GroupMamba
# distilled from a small trained teacher on the drawn shapes of
# tools/make_imagenet_data.py (64 px, 6 classes). Everything not set here is
# the real recipe's: dual head, hard distillation, Mixup/CutMix + label
# smoothing, RandAugment + RandomErasing, AdamW with the official no-decay
# rule, clip 5, warm-up + cosine per iteration, EMA, weights-only atomic
# checkpoints. Run (the teacher first, see configs/smoke/teacher_smoke.py):
#   python tools/make_imagenet_data.py data/groupmamba_in1k_smoke
#   python tools/train.py configs/smoke/teacher_smoke.py
#   python tools/train.py configs/smoke/groupmamba_in1k_smoke.py
_base_ = '../groupmamba_t_8xb128_in1k.py'

data_root = 'data/groupmamba_in1k_smoke/'
metainfo = dict(  # tools/make_imagenet_data.py
    classes=('disc', 'ring', 'square', 'triangle', 'cross', 'stripes'))
num_classes = 6
max_epochs = 8  # 22 iterations an epoch (360 images / 16)
teacher_checkpoint = 'work_dirs/teacher_smoke/epoch_8.pth'

model = dict(
    backbone=dict(
        # The same structure, narrower and shallower: every layer type of
        # GroupMamba-T still runs.
        arch=dict(
            _delete_=True,
            stem_channels=16,
            embed_dims=[32, 64, 96, 128],
            depths=[1, 1, 2, 1],
            mlp_ratios=[4, 4, 4, 4])),
    neck=dict(in_channels=128),
    head=dict(num_classes=num_classes, in_channels=128, topk=(1, 3)),
    teacher=dict(
        backbone=dict(model_name='resnet10t'),  # 5M params, fast on a CPU
        head=dict(num_classes=num_classes, in_channels=512)),
    teacher_checkpoint=teacher_checkpoint)

# The real pipelines at 64 px (224 px -> 64; the eval resize keeps the
# official 256/224 ratio: 73 -> centre crop 64). The crop's area range
# starts at 0.25 instead of 0.08: a 64 px image has no room for smaller crops
# that still show the object.
bgr_mean = [103.53, 116.28, 123.675]
bgr_std = [57.375, 57.12, 58.395]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=64,
        crop_ratio_range=(0.25, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandAugment',
        policies='timm_increasing',
        num_policies=2,
        total_level=10,
        magnitude_level=9,
        magnitude_std=0.5,
        hparams=dict(
            pad_val=[round(x) for x in bgr_mean], interpolation='bicubic')),
    dict(
        type='RandomErasing',
        erase_prob=0.25,
        mode='rand',
        min_area_ratio=0.02,
        max_area_ratio=1 / 3,
        fill_color=bgr_mean,
        fill_std=bgr_std),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=73,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=64),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=0,  # CPU smoke run: no loader processes
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=40,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        split='val',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(topk=(1, 3))  # 6 classes: top-5 would be near 100%
test_evaluator = val_evaluator
data_preprocessor = dict(num_classes=num_classes)

optim_wrapper = dict(
    type='OptimWrapper',  # mmengine's AMP wrapper needs CUDA
    optimizer=dict(lr=2e-3))  # a short run on a tiny set learns faster so
val_cfg = dict(fp16=False)  # CPU: no float16 autocast
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=1,
        end=max_epochs,
        convert_to_iter_based=True)
]
custom_hooks = [
    # 176 iterations: a 0.9999 EMA would still be the initial weights.
    dict(
        type='EMAHook',
        momentum=0.02,
        update_buffers=True,
        evaluate_on_origin=True,
        priority='ABOVE_NORMAL'),
    dict(type='WeightsOnlyCheckpointHook'),
]
default_hooks = dict(logger=dict(interval=10))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
auto_scale_lr = dict(base_batch_size=16)
