# GroupMamba-S on ImageNet-1k: GroupMamba-T's config with the small arch
# (the official code trains every size with the same recipe).
_base_ = './groupmamba_t_8xb128_in1k.py'

model = dict(
    backbone=dict(arch='small'),
    neck=dict(in_channels=512),
    head=dict(in_channels=512))
