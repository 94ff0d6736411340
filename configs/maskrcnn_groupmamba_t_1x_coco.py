# Mask R-CNN 1x on COCO with a GroupMamba-T backbone: mmdet's Swin-T recipe
# (the one the paper follows) with only the backbone, the FPN input widths and
# the weight-decay split changed. Schedule: 12 epochs at 16 images in all
# (8 GPUs x 2 images each, the Swin base's batch_size=2), AdamW lr 1e-4,
# betas (0.9, 0.999), wd 0.05, linear warm-up over 1000 iterations, LR x0.1
# after epochs 8 and 11; pipeline 1333x800 + flip. All of these come unchanged
# from the base. On fewer GPUs, keep 16 images in all or pass --auto-scale-lr.
_base_ = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
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

# ImageNet weights: the official release file (groupmamba_tiny_ema.pth) loads
# as is, and so does its converted form
# (`python tools/convert_official.py groupmamba_tiny_ema.pth OUT.pth`);
# a missing file or another arch's weights stop the run before training.
checkpoint = 'checkpoints/groupmamba_t_in1k.pth'

model = dict(
    backbone=dict(
        _delete_=True,  # none of the Swin backbone's keys apply
        type='GroupMamba',  # registered by the custom_imports above
        arch='tiny',  # GroupMamba-T, the paper's detection backbone
        out_indices=(0, 1, 2, 3),  # all four stages feed the FPN
        out_norms=True,  # a new LayerNorm per returned map, as Swin's
        drop_path_rate=0.2,  # Swin-T and VMamba-T use 0.2 for Mask R-CNN 1x
        frozen_stages=-1,  # fine-tune every stage, as the Swin recipe does
        # The stem's three BatchNorm2d keep their ImageNet running statistics:
        # 2 images per GPU (no SyncBN) would give noisy batch statistics, as
        # mmdet's ResNet configs reason; their affine weights still train.
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[64, 128, 348, 448]))  # GroupMamba-T stage widths

# No weight decay where the official ImageNet training had none: every 1-D
# tensor (norms, biases, skip_scale; the necks' and heads' too, as mmdet's
# ConvNeXt configs do) plus what the model declares in no_weight_decay() (the
# scan's per-group vectors, stacked here), applied by our constructor. None
# drops the Swin base's name-based keys ('norm', position tables), which miss
# the stem's BatchNorms and every bias.
optim_wrapper = dict(
    constructor='GroupMambaOptimWrapperConstructor', paramwise_cfg=None)
