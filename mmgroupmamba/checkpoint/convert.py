"""Converting an official checkpoint file into an mmpretrain one.

This is the top layer of the package: it builds our model parts to check
the converted keys against, so it imports :mod:`mmgroupmamba.models` (and
mmpretrain, for the heads and the ImageNet class names), which themselves
import only the lower modules of this package. Import it as
``mmgroupmamba.checkpoint.convert``.
"""
import os

import torch
from mmpretrain.datasets.categories import IMAGENET_CATEGORIES

from ..models import ClassBlockNeck, DualLinearClsHead, GroupMamba
from ..version import __version__
from .errors import CheckpointError
from .mapping import is_official_layout, official_to_mm
from .reading import read_checkpoint
from .strict import check_state_dict, describe_arch, infer_arch


def classifier_shapes(arch, num_classes):
    """Keys and shapes of the mmpretrain classifier of ``configs/``.

    Args:
        arch (str): 'tiny', 'small' or 'base'.
        num_classes (int): Classes of the two heads.

    Returns:
        dict[str, torch.Size]: ``backbone.* / neck.* / head.*`` keys.
    """
    backbone = GroupMamba(arch)
    width = backbone.embed_dims[-1]
    parts = dict(
        backbone=backbone,
        neck=ClassBlockNeck(width),
        head=DualLinearClsHead(num_classes, width))
    return {
        f'{name}.{key}': value.shape
        for name, module in parts.items()
        for key, value in module.state_dict().items()
    }


def convert_official_checkpoint(src, dst):
    """Convert an official checkpoint file into an mmpretrain checkpoint file.

    The converted tensors are checked against a freshly built classifier of
    the detected arch before anything is written. For 1000 classes the
    ImageNet class names go into ``meta['dataset_meta']`` so mmpretrain's
    inferencers print names.

    Args:
        src (str | os.PathLike): Official checkpoint (bare state_dict, or
            under ``model`` / ``state_dict``).
        dst (str | os.PathLike): Where to write ``dict(state_dict, meta)``.

    Returns:
        dict: The ``meta`` written (arch, num_classes, source, converter,
        and for ImageNet-1k dataset_meta).

    Raises:
        CheckpointError: ``src`` is unreadable, not the official layout, not
            a released arch, or not a classifier checkpoint.
    """
    archs = GroupMamba.arch_settings
    state_dict = read_checkpoint(src)
    if not is_official_layout(state_dict):
        raise CheckpointError(
            f'{src} is not in the official GroupMamba layout (no '
            f'patch_embed1.* / block1.* keys; it holds '
            f'{describe_arch(state_dict, archs)}). Converted checkpoints '
            'load directly with pretrained=PATH.')
    arch, _, _ = infer_arch(state_dict, archs)
    if arch is None:
        raise CheckpointError(
            f'{src}: {describe_arch(state_dict, archs)} is not one of the '
            'released archs tiny/small/base')
    if 'head.weight' not in state_dict:
        raise CheckpointError(f'{src} has no head.weight: not a classifier '
                              'checkpoint of the official code')
    converted = official_to_mm(state_dict)
    num_classes = state_dict['head.weight'].shape[0]
    check_state_dict(
        classifier_shapes(arch, num_classes), converted,
        f'converted {src} (GroupMamba-{arch})', arch_settings=archs)
    meta = dict(
        arch=arch,
        num_classes=num_classes,
        source=os.path.basename(str(src)),
        converter=f'mmgroupmamba {__version__}')
    if num_classes == 1000:
        meta['dataset_meta'] = dict(classes=list(IMAGENET_CATEGORIES))
    torch.save(dict(state_dict=converted, meta=meta), dst)
    return meta
