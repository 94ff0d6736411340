# Cascade Mask R-CNN 3x multi-scale on COCO with a GroupMamba-S backbone: the
# GroupMamba-T cascade config (mmdet's ConvNeXt-T recipe, 16 images in all)
# with the S weights and stage widths, and drop path 0.6 as mmdet's ConvNeXt-S
# cascade config; untuned for GroupMamba-S.
_base_ = './cascade_maskrcnn_groupmamba_t_3x_ms_coco.py'

# Official (groupmamba_small_ema.pth) or converted: both load.
checkpoint = 'checkpoints/groupmamba_s_in1k.pth'

model = dict(
    backbone=dict(
        arch='small',
        drop_path_rate=0.6,
        # The base's init_cfg holds the T path, resolved when it was parsed.
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[64, 128, 348, 512]))  # GroupMamba-S stage widths
