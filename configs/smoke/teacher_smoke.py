# The smoke run's teacher: timm's resnet10t through mmpretrain's TIMMBackbone
# (as the real teacher, RegNetY-16GF, is built), trained with plain cross
# entropy on tools/make_imagenet_data.py's shapes. Its checkpoint is what
# configs/smoke/groupmamba_in1k_smoke.py distils from.
#   python tools/train.py configs/smoke/teacher_smoke.py
_base_ = './groupmamba_in1k_smoke.py'

model = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone=dict(type='TIMMBackbone', model_name='resnet10t'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=6,
        in_channels=512,
        topk=(1, 3)))
# A teacher only needs to be right: crop and flip, no RandAugment, erasing
# or Mixup/CutMix, which a 360-image set cannot afford in a few epochs.
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(
            type='RandomResizedCrop',
            scale=64,
            crop_ratio_range=(0.25, 1.0),
            backend='pillow',
            interpolation='bicubic'),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='PackInputs'),
    ]))
# An ordinary classifier: no EMA. Same 8 epochs and schedule as the student.
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
work_dir = 'work_dirs/teacher_smoke'
