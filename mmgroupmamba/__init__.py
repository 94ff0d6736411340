"""GroupMamba visual state-space backbones for OpenMMLab.

Importing this package registers the models (``GroupMamba``, the class-block
neck and, with mmpretrain installed, the dual linear head) in mmengine's root
``MODELS`` registry, so ``type='GroupMamba'`` resolves from mmpretrain, mmdet
and mmseg configs alike. Only mmengine, timm and torch are needed to import it.
Configs import it with ``custom_imports = dict(imports=['mmgroupmamba'])``.
It also registers ``WeightsOnlyCheckpointHook`` and the ``'atomic_local'``
checkpoint file backend (see :mod:`mmgroupmamba.engine`).
"""
from . import engine  # noqa: F401  (registers the hook and file backend)
from .models import ClassBlockNeck, GroupMamba, GroupMambaLayer
from .ops import selective_scan_fn
from .version import __version__

__all__ = [
    'GroupMamba', 'GroupMambaLayer', 'ClassBlockNeck', 'selective_scan_fn',
    '__version__'
]
