# Cascade Mask R-CNN 3x multi-scale on COCO with a GroupMamba-B backbone: the
# GroupMamba-T cascade config (mmdet's ConvNeXt-T recipe, 16 images in all)
# with the B weights and stage widths, and drop path 0.7 as ConvNeXt-B's
# cascade 3x (mmdet ships none for B); untuned for GroupMamba-B.
_base_ = './cascade_maskrcnn_groupmamba_t_3x_ms_coco.py'

# Official (groupmamba_base_ema.pth) or converted: both load.
checkpoint = 'checkpoints/groupmamba_b_in1k.pth'

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.7,
        # The base's init_cfg holds the T path, resolved when it was parsed.
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[96, 192, 424, 512]))  # GroupMamba-B stage widths
