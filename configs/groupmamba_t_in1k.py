# GroupMamba-T on ImageNet-1k: the official architecture and evaluation.
# The schedule is mmpretrain's Swin recipe (AdamW 1e-3 at 1024 images, wd 0.05,
# 20 warm-up epochs, cosine over 300), which the official recipe refines with
# EMA, hard distillation and a per-iteration schedule (not yet built here).
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

# mmpretrain's Swin data base already evaluates exactly as the official code
# does (shorter side 256 bicubic, centre crop 224, ImageNet mean/std), and its
# training pipeline (RandomResizedCrop bicubic, flip, RandAugment m9 mstd0.5,
# RandomErasing 0.25) is the official augmentation.
