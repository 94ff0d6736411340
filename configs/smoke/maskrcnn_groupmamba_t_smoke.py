# A few CPU iterations of configs/maskrcnn_groupmamba_t_1x_coco.py on the drawn
# shapes of tools/make_coco_data.py: proves that training, checkpointing,
# COCO bbox/segm evaluation and inference run end to end. Says nothing about
# accuracy. Everything not set here is the real config's. Run:
#   python tools/make_coco_data.py data/groupmamba_smoke
#   mim train mmdet configs/smoke/maskrcnn_groupmamba_t_smoke.py
_base_ = '../maskrcnn_groupmamba_t_1x_coco.py'

# Written by tools/make_coco_data.py; the tests aim the three uses below (two
# data roots and the val ann_file) at a set they make in a temporary folder.
data_root = 'data/groupmamba_smoke/'
metainfo = dict(
    classes=('circle', 'rectangle', 'triangle'),  # tools/make_coco_data.py
    palette=[(220, 20, 60), (0, 128, 0), (0, 0, 230)])  # fixed, for the vis
max_iters = 8  # the losses visibly fall; ~1.5 s an iteration on one core

model = dict(
    backbone=dict(
        # A GroupMamba of the same structure, narrower and shallower, for CPU
        # speed; every layer type of GroupMamba-T is still exercised.
        arch=dict(
            _delete_=True,  # replaces the base's arch name 'tiny'
            stem_channels=16,
            embed_dims=[32, 64, 96, 128],
            depths=[1, 1, 2, 1],
            mlp_ratios=[4, 4, 4, 4]),
        norm_eval=False,  # random init: no ImageNet BN statistics to keep
        init_cfg=None),  # random init: no checkpoint needed
    neck=dict(in_channels=[32, 64, 96, 128]),  # the smoke arch's widths
    roi_head=dict(
        bbox_head=dict(num_classes=3),  # circle, rectangle, triangle
        mask_head=dict(num_classes=3)),
    # Fewer proposals and sampled RoIs than COCO's 1000 / 512: on a CPU the
    # RoI head's FCs and RoIAlign cost most of an iteration, and a 256x192
    # image holds at most 5 objects.
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=200)))

# The drawn images are 256x192 already: keep them at that scale.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(256, 192), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 192), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=2,  # as on each GPU of the real run
    num_workers=0,  # CPU smoke run: no loader processes to start or fork
    persistent_workers=False,  # DataLoader refuses it with num_workers=0
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

# Iterations, not epochs: a fixed small amount of work whatever the set size.
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
# The real 1000-iteration warm-up would keep the LR near zero for the whole
# smoke run; a short one then a constant LR lets the losses move.
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=4)
]
default_hooks = dict(
    logger=dict(interval=1),  # every iteration: the run is short
    checkpoint=dict(by_epoch=False, interval=max_iters))
log_processor = dict(by_epoch=False)  # iteration-based loop
randomness = dict(seed=0)  # repeatable losses
env_cfg = dict(dist_cfg=dict(backend='gloo'))  # CPU has no NCCL
