# Mask R-CNN 3x multi-scale on COCO with a GroupMamba-B backbone: the
# GroupMamba-T 3x config (mmdet's Swin-T 3x recipe, 16 images in all) with the
# B weights and stage widths. drop_path_rate stays 0.2, as in the B 1x config;
# untuned for GroupMamba-B (no peer ships a B-sized 3x Mask R-CNN in mmdet).
_base_ = './maskrcnn_groupmamba_t_3x_ms_coco.py'

# Official (groupmamba_base_ema.pth) or converted: both load.
checkpoint = 'checkpoints/groupmamba_b_in1k.pth'

model = dict(
    backbone=dict(
        arch='base',
        # The base's init_cfg holds the T path, resolved when it was parsed.
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[96, 192, 424, 512]))  # GroupMamba-B stage widths
