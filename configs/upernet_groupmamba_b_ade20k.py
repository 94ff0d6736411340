# UperNet on ADE20K with a GroupMamba-B backbone: the GroupMamba-T config
# (mmseg's Swin UperNet 160k recipe, 16 images in all as 8 GPUs x 2) with the
# B weights, stage widths and drop path; untuned for GroupMamba-B (the paper
# reports T only).
_base_ = './upernet_groupmamba_t_ade20k.py'

# Official (groupmamba_base_ema.pth) or converted
# (`python tools/convert_official.py IN.pth OUT.pth`): both load.
checkpoint = 'checkpoints/groupmamba_b_in1k.pth'

model = dict(
    backbone=dict(
        arch='base',
        # VMamba-B uses 0.6 here (Swin-B 0.3); the T and S configs follow
        # VMamba too.
        drop_path_rate=0.6,
        # The base's init_cfg holds the T path, resolved when it was parsed.
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    decode_head=dict(in_channels=[96, 192, 424, 512]),  # GroupMamba-B widths
    auxiliary_head=dict(in_channels=424))  # stage index 2
