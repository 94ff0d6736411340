# UperNet on ADE20K with a GroupMamba-S backbone: the GroupMamba-T config
# (mmseg's Swin UperNet 160k recipe, 16 images in all as 8 GPUs x 2) with the
# S weights, stage widths and drop path; untuned for GroupMamba-S (the paper
# reports T only).
_base_ = './upernet_groupmamba_t_ade20k.py'

# Official (groupmamba_small_ema.pth) or converted
# (`python tools/convert_official.py IN.pth OUT.pth`): both load.
checkpoint = 'checkpoints/groupmamba_s_in1k.pth'

model = dict(
    backbone=dict(
        arch='small',
        drop_path_rate=0.3,  # VMamba-S and Swin-S both use 0.3 here
        # The base's init_cfg holds the T path, resolved when it was parsed.
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    decode_head=dict(in_channels=[64, 128, 348, 512]),  # GroupMamba-S widths
    auxiliary_head=dict(in_channels=348))  # stage index 2
