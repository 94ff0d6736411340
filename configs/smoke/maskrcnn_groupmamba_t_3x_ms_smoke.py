# A few CPU iterations of configs/maskrcnn_groupmamba_t_3x_ms_coco.py on the
# drawn shapes of tools/make_coco_data.py, with the recipe's multi-scale +
# crop pipeline at 1/4 of its sizes (the drawn images are 256x192, COCO's
# about 640x480): proves that training through both random branches,
# checkpointing and COCO bbox/segm evaluation run end to end. Says nothing
# about accuracy. Everything not set here is the real config's. Run:
#   python tools/make_coco_data.py data/groupmamba_smoke
#   mim train mmdet configs/smoke/maskrcnn_groupmamba_t_3x_ms_smoke.py
_base_ = '../maskrcnn_groupmamba_t_3x_ms_coco.py'

# Written by tools/make_coco_data.py; the tests aim the two data roots and
# the val ann_file at a set they make in a temporary folder.
data_root = 'data/groupmamba_smoke/'
metainfo = dict(
    classes=('circle', 'rectangle', 'triangle'),  # tools/make_coco_data.py
    palette=[(220, 20, 60), (0, 128, 0), (0, 0, 230)])
max_iters = 6

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
    # Fewer proposals and sampled RoIs than COCO's 1000 / 512 (CPU time).
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=128))),
    # After 6 iterations the class scores sit under the usual 0.05: keep
    # every box, so that COCO AP is computed on real detections.
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=200), rcnn=dict(score_thr=0.0)))

# The recipe's pipeline at 1/4: short sides 120-200 (480-800), long side
# <= 333 (1333); crop branch: 100/125/150 (400/500/600), crops of 96-150
# (384-600), then the first branch's sizes.
scales = [(333, short) for short in range(120, 201, 8)]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomChoice',
        transforms=[
            [dict(type='RandomChoiceResize', scales=scales, keep_ratio=True)],
            [
                dict(
                    type='RandomChoiceResize',
                    scales=[(333, 100), (333, 125), (333, 150)],
                    keep_ratio=True),
                dict(
                    type='RandomCrop',
                    crop_type='absolute_range',
                    crop_size=(96, 150),
                    allow_negative_crop=True),
                dict(type='RandomChoiceResize', scales=scales,
                     keep_ratio=True)
            ]
        ]),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(333, 200), keep_ratio=True),  # 1333x800 / 4
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=2,  # as on each GPU of the real run
    num_workers=0,  # CPU smoke run: no loader processes
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
# The real 1000-iteration warm-up would keep the LR near zero throughout.
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=3)
]
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(by_epoch=False, interval=max_iters))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
env_cfg = dict(dist_cfg=dict(backend='gloo'))  # CPU has no NCCL
