"""The backbone's pretrained loader (``init_cfg=dict(type='Pretrained')``)."""
import re
from collections import OrderedDict

from mmengine.logging import print_log

from .mapping import is_official_layout, official_to_mm
from .reading import read_checkpoint
from .strict import check_state_dict


def load_pretrained_backbone(backbone, path, prefix=None):
    """Load ImageNet (or any GroupMamba) weights into a backbone, strictly.

    The file may be official (converted on the fly), a converted/mmpretrain
    classifier, an mmdet/mmseg model (keys under ``backbone.``) or a bare
    backbone state_dict. Every backbone tensor must be present except the
    dense-prediction out norms (``norm{i}``), which are new; anything else is
    an error.

    Args:
        backbone (GroupMamba): The model to fill.
        path (str): Checkpoint file.
        prefix (str | None): Take the keys under this prefix. Defaults to
            ``'backbone.'`` when the file has such keys, else the whole dict.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: Unreadable file, or keys/shapes that do not match.
    """
    state_dict = read_checkpoint(path)
    if is_official_layout(state_dict):
        state_dict = official_to_mm(state_dict)
    if prefix is None:
        prefix = ('backbone.' if any(
            k.startswith('backbone.') for k in state_dict) else '')
    elif prefix and not prefix.endswith('.'):
        prefix += '.'
    selected = OrderedDict((k[len(prefix):], v)
                           for k, v in state_dict.items()
                           if k.startswith(prefix))
    own = backbone.state_dict()
    new_layers = [k for k in own if re.fullmatch(backbone.OUT_NORM_KEYS, k)]
    check_state_dict({k: v.shape
                      for k, v in own.items()},
                     selected,
                     f'pretrained GroupMamba backbone from {path}',
                     allowed_missing=new_layers,
                     arch_settings=backbone.arch_settings)
    full = OrderedDict(own)
    full.update(selected)
    backbone.load_state_dict(full, strict=True)
    kept = [k for k in new_layers if k not in selected]
    print_log(
        f'loaded {len(selected)} backbone tensors from {path}' +
        (f'; new layers kept at their init: {kept}' if kept else ''),
        logger='current')
