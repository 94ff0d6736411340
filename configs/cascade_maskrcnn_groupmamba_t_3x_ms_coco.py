# Cascade Mask R-CNN 3x with multi-scale training on COCO, GroupMamba-T
# backbone: mmdet's ConvNeXt-T recipe (the one ConvNeXt and MambaVision
# report) with only the backbone, the FPN input widths and the optimizer
# constructor changed. From the base, unchanged: three cascade stages whose
# box heads are 4 convs + 1 FC (SyncBN) with GIoU loss; 36 epochs at 16
# images in all (8 GPUs x 2); AdamW lr 2e-4, betas (0.9, 0.999), wd 0.05;
# linear warm-up over 1000 iterations, LR x0.1 after epochs 27 and 33;
# float16 AMP (AmpOptimWrapper: CUDA only; the scan runs in float32 inside);
# the multi-scale + crop pipeline of the Swin 3x recipe. SyncBN needs a
# distributed GPU run: in one process mmengine reverts it to BatchNorm. On
# fewer GPUs keep 16 images in all or pass --auto-scale-lr.
_base_ = 'mmdet::convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py'  # noqa
# Replaces the base's mmpretrain import (its ConvNeXt is not used).
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
        _delete_=True,  # none of the ConvNeXt backbone's keys apply
        type='GroupMamba',  # registered by the custom_imports above
        arch='tiny',
        out_indices=(0, 1, 2, 3),  # all four stages feed the FPN
        out_norms=True,  # a new LayerNorm per returned map
        # The base's ConvNeXt-T value (ConvNeXt: 0.4 / 0.6 / 0.7 for T/S/B);
        # untuned for GroupMamba (the paper reports no Cascade Mask R-CNN).
        drop_path_rate=0.4,
        frozen_stages=-1,  # fine-tune every stage, as the base does
        # The stem's BatchNorms keep their ImageNet statistics (2 images per
        # GPU; the base converts no backbone norm to SyncBN).
        norm_eval=True,
        with_cp=False,  # True: less memory, about one more backbone forward
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[64, 128, 348, 448]))  # GroupMamba-T stage widths

# AdamW and AMP stay the base's. Our constructor instead of the base's
# layer-wise LR decay, which is keyed to ConvNeXt's module names: no weight
# decay on 1-D tensors (norms, biases, skip_scale; the necks' and heads'
# too) and on the scan vectors the model declares, as the official ImageNet
# training; every group at the base LR.
optim_wrapper = dict(
    constructor='GroupMambaOptimWrapperConstructor', paramwise_cfg=None)
