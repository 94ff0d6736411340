from .backbone import Block, Downsample, GroupMamba, Stage, Stem
from .class_block import ClassBlock, ClassBlockNeck
from .directional_ssm import DirectionalSSM
from .group_mamba_layer import ChannelAffinity, GroupMambaLayer
from .heads import DualLinearClsHead

__all__ = [
    'GroupMamba', 'Stem', 'Downsample', 'Block', 'Stage', 'GroupMambaLayer',
    'ChannelAffinity', 'DirectionalSSM', 'ClassBlock', 'ClassBlockNeck',
    'DualLinearClsHead'
]
