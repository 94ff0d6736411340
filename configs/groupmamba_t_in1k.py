# GroupMamba-T on ImageNet-1k: model, evaluation pipeline and data settings.
# The architecture and the eval protocol (resize 256 bicubic, centre crop 224)
# are the official ones; the training schedule inherited from mmpretrain's
# Swin recipe (AdamW, 1e-3 at 1024 images, warm-up 20 epochs, cosine over 300)
# is the starting point the official recipe refines (see docs/training.md).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmgroupmamba'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='GroupMamba', arch='tiny', drop_path_rate=0.05),
    neck=dict(type='ClassBlockNeck', in_channels=448),
    head=dict(
        type='DualLinearClsHead',
        num_classes=1000,
        in_channels=448,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        topk=(1, 5)),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0),
    ]))

# The official evaluation: shorter side 256 (bicubic), centre crop 224.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow',
         interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
