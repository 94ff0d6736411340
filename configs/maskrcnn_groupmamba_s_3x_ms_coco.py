# Mask R-CNN 3x multi-scale on COCO with a GroupMamba-S backbone: the
# GroupMamba-T 3x config (mmdet's Swin-T 3x recipe, 16 images in all) with the
# S weights and stage widths. drop_path_rate stays 0.2, as mmdet's Swin-S and
# VMamba-S 3x configs keep their T value; untuned for GroupMamba-S.
_base_ = './maskrcnn_groupmamba_t_3x_ms_coco.py'

# Official (groupmamba_small_ema.pth) or converted: both load.
checkpoint = 'checkpoints/groupmamba_s_in1k.pth'

model = dict(
    backbone=dict(
        arch='small',
        # The base's init_cfg holds the T path, resolved when it was parsed.
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[64, 128, 348, 512]))  # GroupMamba-S stage widths
