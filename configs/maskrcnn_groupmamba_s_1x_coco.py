# Mask R-CNN 1x on COCO with a GroupMamba-S backbone: the GroupMamba-T config
# (mmdet's Swin-T recipe, 16 images in all as 8 GPUs x 2) with the S weights
# and stage widths. drop_path_rate stays 0.2, as mmdet's Swin-S Mask R-CNN
# keeps Swin-T's; untuned for GroupMamba-S (the paper reports T only).
_base_ = './maskrcnn_groupmamba_t_1x_coco.py'

# Official (groupmamba_small_ema.pth) or converted
# (`python tools/convert_official.py IN.pth OUT.pth`): both load.
checkpoint = 'checkpoints/groupmamba_s_in1k.pth'

model = dict(
    backbone=dict(
        arch='small',
        # The base's init_cfg holds the T path, resolved when it was parsed.
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    neck=dict(in_channels=[64, 128, 348, 512]))  # GroupMamba-S stage widths
