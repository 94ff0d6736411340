# UperNet on ADE20K with a GroupMamba-T backbone: mmseg's Swin-T UperNet 160k
# recipe (the one the paper follows) with only the backbone, the head input
# widths, the weight-decay split and the inference mode changed. Schedule,
# all unchanged from the base: 160k iterations at 16 images in all (8 GPUs x
# 2 images each), AdamW lr 6e-5, betas (0.9, 0.999), wd 0.01, linear warm-up
# from 1e-6 x lr over 1500 iterations then poly decay (power 1.0) to 0; crop
# 512x512 from images resized to 2048x512 x [0.5, 2.0], flip, photometric
# distortion; UPerHead (512 channels) + FCN auxiliary head (loss weight 0.4)
# with SyncBN; 150 classes with reduce_zero_label. Multi-scale + flip
# testing: `mim test mmseg THIS --checkpoint CKPT --tta` (the base's 0.5-1.75
# ratios). SyncBN needs GPUs in a distributed run: in one process mmengine
# reverts it to BatchNorm (and logs so); a multi-process CPU run
# (tools/dist_train_cpu.py) stops with a message naming the keys to change.
_base_ = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'  # noqa
custom_imports = dict(imports=['mmgroupmamba'], allow_failed_imports=False)
# load_from fine-tunes (every tensor that fits, one warning naming what did
# not and why); resume and testing load the whole model or stop: see
# mmgroupmamba/engine/runner.py.
runner_type = 'GroupMambaRunner'
# Checkpoints that torch.load(weights_only=True) reads (resume, load_from,
# mim test, MMSegInferencer), written atomically: see mmgroupmamba/engine/.
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
        arch='tiny',  # GroupMamba-T, the paper's segmentation backbone
        out_indices=(0, 1, 2, 3),  # all four stages feed UPerHead
        out_norms=True,  # a new LayerNorm per returned map, as Swin's
        # The paper gives none; Swin-T uses 0.3 here, VMamba-T 0.2 (and
        # GroupMamba's detection config 0.2): the closer peer's value.
        drop_path_rate=0.2,
        frozen_stages=-1,  # fine-tune every stage, as the Swin recipe does
        # The stem's three BatchNorm2d keep their ImageNet running statistics:
        # the backbone is not converted to SyncBN (only the heads' norm_cfg
        # is), so at 2 images per GPU its batch statistics would be noisy.
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    decode_head=dict(in_channels=[64, 128, 348, 448]),  # GroupMamba-T widths
    auxiliary_head=dict(in_channels=348),  # stage index 2 (in_index=2)
    # The issue asks for sliding-window inference: 512x512 windows at stride
    # 341, as mmseg's ConvNeXt/BEiT ADE20K configs. (mmseg's Swin and
    # VMamba's configs keep the base's mode='whole'; set
    # model.test_cfg.mode=whole to compare with them that way.)
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))

# No weight decay where the official ImageNet training had none: every 1-D
# tensor (norms, biases, skip_scale; the necks' and heads' too, as mmdet's
# ConvNeXt configs do) plus what the model declares in no_weight_decay() (the
# scan's per-group vectors, stacked here), applied by our constructor. None
# drops the Swin base's name-based keys ('norm', position tables), which miss
# the stem's BatchNorms and every bias.
optim_wrapper = dict(
    constructor='GroupMambaOptimWrapperConstructor', paramwise_cfg=None)
