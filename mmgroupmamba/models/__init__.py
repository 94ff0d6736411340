"""GroupMamba models. Importing this registers them in mmengine's root MODELS.

The backbone and the neck need only mmengine and timm, so mmdet-only or
mmseg-only installs work; the dual linear head and the distillation
classifier subclass mmpretrain's and are registered when it is installed.
"""
import importlib.util

from .backbone import Block, Downsample, GroupMamba, Stage, Stem
from .class_block import ClassBlock, ClassBlockNeck
from .directional_ssm import DirectionalSSM, set_scan_backend
from .group_mamba_layer import ChannelAffinity, GroupMambaLayer

__all__ = [
    'GroupMamba', 'Stem', 'Downsample', 'Block', 'Stage', 'GroupMambaLayer',
    'ChannelAffinity', 'DirectionalSSM', 'ClassBlock', 'ClassBlockNeck',
    'set_scan_backend'
]

if importlib.util.find_spec('mmpretrain') is not None:
    from ..model_zoo import register_model_index
    from .distiller import DistillationClassifier  # noqa: F401
    from .heads import DualLinearClsHead  # noqa: F401
    __all__ += ['DualLinearClsHead', 'DistillationClassifier']
    register_model_index()
