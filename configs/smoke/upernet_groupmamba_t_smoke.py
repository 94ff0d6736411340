# CPU iterations of configs/upernet_groupmamba_t_ade20k.py on the drawn
# scenes of tools/make_ade_data.py (ADE20K layout and 150-class convention):
# proves that training, checkpointing, mIoU evaluation, test-time
# augmentation and inference run end to end; with --cfg-options
# train_cfg.max_iters=N it is also the learning check
# (docs/user_guides/train_test.md). Everything not set here is the real
# config's, scaled to 1/4 of its sizes. Run:
#   python tools/make_ade_data.py data/groupmamba_ade_smoke
#   mim train mmseg configs/smoke/upernet_groupmamba_t_smoke.py
_base_ = '../upernet_groupmamba_t_ade20k.py'

# Written by tools/make_ade_data.py; the tests aim the three loaders at a set
# they make in a temporary folder.
data_root = 'data/groupmamba_ade_smoke'
crop_size = (128, 128)  # the real 512x512 crop at 1/4
max_iters = 20  # ~0.3 s an iteration on one core
# SyncBN cannot run on a CPU in a distributed run (torch syncs statistics on
# GPUs only): plain BatchNorm in the heads.
norm_cfg = dict(type='BN', requires_grad=True)

model = dict(
    data_preprocessor=dict(size=crop_size),  # pad training crops to 128
    backbone=dict(
        # A GroupMamba of the same structure, narrower and shallower, for CPU
        # speed; every layer type of GroupMamba-T is still exercised.
        arch=dict(
            _delete_=True,  # replaces the base's arch name 'tiny'
            stem_channels=16,
            embed_dims=[32, 64, 96, 128],
            depths=[1, 1, 2, 1],
            mlp_ratios=[4, 4, 4, 4]),
        drop_path_rate=0.1,  # a 5-block model: less regularisation
        norm_eval=False,  # random init: no ImageNet BN statistics to keep
        init_cfg=None),  # random init: no checkpoint needed
    decode_head=dict(
        in_channels=[32, 64, 96, 128],  # the smoke arch's widths
        channels=64,  # UPerHead's 512 scaled with the backbone
        norm_cfg=norm_cfg),
    auxiliary_head=dict(
        in_channels=96,  # stage index 2 of the smoke arch
        channels=32,  # FCNHead's 256 scaled with the backbone
        norm_cfg=norm_cfg),
    test_cfg=dict(crop_size=crop_size, stride=(85, 85)))  # 512/341 at 1/4

# The real pipelines at 1/4 scale: 2048x512 -> 512x128 (the drawn images are
# 192x128, so the test resize keeps them as they are).
scale = (512, 128)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(
        type='RandomResize', scale=scale, ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
# The base's multi-scale + flip TTA, with the reduce_zero_label that its
# LoadAnnotations leaves to the dataset default (True for ADE20K) spelt out;
# three of its six ratios keep the CPU run short.
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale_factor=r, keep_ratio=True)
                for r in (0.75, 1.0, 1.25)
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ],
            [dict(type='LoadAnnotations', reduce_zero_label=True)],
            [dict(type='PackSegInputs')],
        ])
]
train_dataloader = dict(
    num_workers=0,  # CPU smoke run: no loader processes to start or fork
    persistent_workers=False,  # DataLoader refuses it with num_workers=0
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

# Random init, not ImageNet weights: the real fine-tuning LR (6e-5) would
# barely move a model trained from scratch in a CPU-sized run.
optim_wrapper = dict(optimizer=dict(lr=1e-3))
# The real warm-up is 1500 iterations; here 1/10 of the run, then the same
# poly decay to the end.
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
        end=max_iters // 10),
    dict(
        type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False,
        begin=max_iters // 10, end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=1),  # every iteration: the run is short
    checkpoint=dict(interval=max_iters))
randomness = dict(seed=0)  # repeatable losses
# CPU processes have no NCCL: torchrun --nproc_per_node 2
# tools/dist_train_cpu.py THIS (mmengine's own launcher needs CUDA).
env_cfg = dict(dist_cfg=dict(backend='gloo'))
