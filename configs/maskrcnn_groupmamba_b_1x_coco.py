# Mask R-CNN 1x on COCO with a GroupMamba-B backbone: the GroupMamba-T config
# (mmdet's Swin-T recipe, 16 images in all as 8 GPUs x 2) with the B weights
# and stage widths. drop_path_rate stays 0.2, as mmdet's Swin-S Mask R-CNN
# keeps Swin-T's (mmdet has no Swin-B one); untuned for GroupMamba-B (the
# paper reports T only).
_base_ = './maskrcnn_groupmamba_t_1x_coco.py'

# Official (groupmamba_base_ema.pth) or converted
# (`python tools/convert_official.py IN.pth OUT.pth`): both load.
checkpoint = 'checkpoints/groupmamba_b_in1k.pth'

model = dict(
    backbone=dict(
        arch='base',
        # The base's init_cfg holds the T path, resolved when it was parsed.
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[96, 192, 424, 512]))  # GroupMamba-B stage widths
