# Mask R-CNN 3x with multi-scale training on COCO, GroupMamba-T backbone:
# mmdet's Swin-T 3x recipe with only the backbone, the FPN input widths and
# the weight-decay split changed, as in maskrcnn_groupmamba_t_1x_coco.py.
# From the base, unchanged: 36 epochs at 16 images in all (8 GPUs x 2), AdamW
# lr 1e-4, betas (0.9, 0.999), wd 0.05, linear warm-up over 1000 iterations,
# LR x0.1 after epochs 27 and 33; training images flipped, then either
# resized to a short side drawn from 480-800 (long side <= 1333), or resized
# to 400/500/600, cropped to 384-600 and resized as in the first branch;
# testing at 1333x800. On fewer GPUs keep 16 images in all or pass
# --auto-scale-lr. Memory: model.backbone.with_cp=True
# (docs/user_guides/configs.md).
_base_ = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py'
custom_imports = dict(imports=['mmgroupmamba'], allow_failed_imports=False)
# load_from fine-tunes (every tensor that fits, one warning naming what did
# not and why); resume and testing load the whole model or stop: see
# mmgroupmamba/engine/runner.py.
runner_type = 'GroupMambaRunner'
# Checkpoints that torch.load(weights_only=True) reads (resume, load_from,
# mim test, DetInferencer), written atomically: see mmgroupmamba/engine/.
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
default_hooks = dict(
    checkpoint=dict(backend_args=dict(backend='atomic_local')))

# ImageNet weights, official (groupmamba_tiny_ema.pth) or converted
# (`python tools/convert_official.py IN.pth OUT.pth`): both load; a missing
# file or another arch's weights stop the run before training.
checkpoint = 'checkpoints/groupmamba_t_in1k.pth'

model = dict(
    backbone=dict(
        _delete_=True,  # none of the Swin backbone's keys apply
        type='GroupMamba',  # registered by the custom_imports above
        arch='tiny',
        out_indices=(0, 1, 2, 3),  # all four stages feed the FPN
        out_norms=True,  # a new LayerNorm per returned map, as Swin's
        # mmdet's Swin-T and Swin-S 3x and VMamba's T and S 3x all use 0.2.
        drop_path_rate=0.2,
        frozen_stages=-1,  # fine-tune every stage, as the Swin recipe does
        # The stem's BatchNorms keep their ImageNet statistics (2 images per
        # GPU, no SyncBN); their affine weights still train.
        norm_eval=True,
        with_cp=False,  # True: less memory, about one more backbone forward
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[64, 128, 348, 448]))  # GroupMamba-T stage widths

# No weight decay on 1-D tensors and the scan vectors the model declares
# (no_weight_decay()), as the official ImageNet training; None drops the Swin
# base's name-based keys, which miss the stem's BatchNorms and every bias.
optim_wrapper = dict(
    constructor='GroupMambaOptimWrapperConstructor', paramwise_cfg=None)
