"""GroupMamba visual state-space backbones for OpenMMLab.

Importing this package registers the models (``GroupMamba``, the class-block
neck, the dual linear head) in mmengine's root ``MODELS`` registry, so
``type='GroupMamba'`` resolves from mmpretrain, mmdet and mmseg configs alike.
Configs import it with ``custom_imports = dict(imports=['mmgroupmamba'])``.
"""
from .ops import selective_scan_fn
from .models import (ClassBlockNeck, DualLinearClsHead, GroupMamba,
                     GroupMambaLayer)
from .version import __version__

__all__ = [
    'GroupMamba', 'GroupMambaLayer', 'ClassBlockNeck', 'DualLinearClsHead',
    'selective_scan_fn', '__version__'
]
