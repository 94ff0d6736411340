"""Every rule for reading GroupMamba weights, in one place.

* the official <-> mm key mapping (``official_to_mm`` / ``mm_to_official``),
  where the four per-group SS2D tensors of the official code are stacked into
  one tensor per parameter (group k = official ``mamba_g{k+1}``);
* strict coverage checks that name the missing, unexpected and mis-shaped keys
  and the arch the checkpoint looks like (``check_state_dict``), installed on
  each model part as a load-state-dict pre-hook (``register_strict_loading``),
  so mmengine's non-strict loaders fail loudly too;
* safe file reading (``read_checkpoint``: always ``weights_only=True``) and the
  backbone's pretrained loader (``load_pretrained_backbone``).

mm keys are those of an mmpretrain ``ImageClassifier`` built from
``configs/groupmamba_*_in1k.py``: ``backbone.*``, ``neck.*``, ``head.*``.
"""
import os
import pickle
import re
from collections import OrderedDict

import torch
from mmengine.logging import print_log


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model."""


NUM_GROUPS = 4
# (our stacked name, official per-group name, official tensor has a leading
# axis of size 1 that the stack drops)
SSM_PARAMS = (
    ('in_proj_weight', 'in_proj.weight', False),
    ('conv_weight', 'conv2d.weight', False),
    ('conv_bias', 'conv2d.bias', False),
    ('x_proj_weight', 'x_proj_weight', True),
    ('dt_proj_weight', 'dt_projs_weight', True),
    ('dt_bias', 'dt_projs_bias', True),
    ('A_log', 'A_logs', False),
    ('D', 'Ds', False),
    ('out_norm_weight', 'out_norm.weight', False),
    ('out_norm_bias', 'out_norm.bias', False),
    ('out_proj_weight', 'out_proj.weight', False),
)
# Renames below a block / the class block / a GroupMambaLayer (official, ours).
BLOCK_RENAMES = (('norm2.', 'norm.'), ('mlp.dwconv.dwconv.', 'ffn.dwconv.'),
                 ('mlp.', 'ffn.'))
CLASS_BLOCK_RENAMES = (('norm1.', 'mixer_norm.'), ('norm2.', 'ffn_norm.'),
                       ('mlp.', 'ffn.'))
LAYER_RENAMES = (('fc1.', 'cam.fc1.'), ('fc2.', 'cam.fc2.'), ('norm.', 'norm.'),
                 ('proj.', 'proj.'), ('skip_scale', 'skip_scale'))


def _rename(rest, table, inverse=False):
    pairs = [(b, a) if inverse else (a, b) for a, b in table]
    for old, new in sorted(pairs, key=lambda p: -len(p[0])):
        if rest.startswith(old):
            return new + rest[len(old):]
    return None


# ---------------------------------------------------------------- official -> mm
def _official_inner_to_mm(rest, renames):
    """Key below a block / class block -> (ours, group, squeeze) or None."""
    if rest.startswith('attn.'):
        layer_rest = rest[len('attn.'):]
        m = re.fullmatch(r'mamba_g([1-4])\.(.+)', layer_rest)
        if m:
            for ours, official, squeeze in SSM_PARAMS:
                if m.group(2) == official:
                    return f'mixer.ssm.{ours}', int(m.group(1)) - 1, squeeze
            return None
        renamed = _rename(layer_rest, LAYER_RENAMES)
        return None if renamed is None else ('mixer.' + renamed, None, False)
    renamed = _rename(rest, renames)
    return None if renamed is None else (renamed, None, False)


def _official_key_to_mm(key):
    """One official key -> (mm key, group index or None, squeeze flag)."""
    rules = (
        (r'patch_embed1\.(.+)', lambda m: f'backbone.stem.{m[1]}'),
        (r'patch_embed([2-4])\.(.+)',
         lambda m: f'backbone.stages.{int(m[1]) - 1}.downsample.{m[2]}'),
        (r'norm([1-3])\.(.+)',
         lambda m: f'backbone.stages.{m[1]}.downsample.in_norm.{m[2]}'),
        (r'norm4\.(.+)', lambda m: f'neck.norm.{m[1]}'),
        (r'head\.(.+)', lambda m: f'head.fc.{m[1]}'),
        (r'dist_head\.(.+)', lambda m: f'head.dist_fc.{m[1]}'),
    )
    for pattern, target in rules:
        m = re.fullmatch(pattern, key)
        if m:
            return target(m), None, False
    nested = (
        (r'block([1-4])\.(\d+)\.(.+)', BLOCK_RENAMES,
         lambda m: f'backbone.stages.{int(m[1]) - 1}.blocks.{m[2]}.'),
        (r'post_network\.0\.(.+)', CLASS_BLOCK_RENAMES,
         lambda m: 'neck.class_block.'),
    )
    for pattern, renames, prefix in nested:
        m = re.fullmatch(pattern, key)
        if m:
            inner = _official_inner_to_mm(m.groups()[-1], renames)
            if inner is not None:
                return (prefix(m) + inner[0], ) + inner[1:]
    raise CheckpointError(f'unknown key {key!r} in an official-layout '
                          'GroupMamba checkpoint')


def official_to_mm(state_dict):
    """Convert an official GroupMamba state_dict to mmpretrain classifier keys.

    Args:
        state_dict (Mapping[str, Tensor]): official keys (``patch_embed1...``,
            ``block{i}.{j}...``, ``post_network.0...``, ``head``, ``dist_head``).

    Returns:
        OrderedDict[str, Tensor]: ``backbone.* / neck.* / head.*`` keys.
    """
    out = OrderedDict()
    groups = {}
    for key, value in state_dict.items():
        mm_key, group, squeeze = _official_key_to_mm(key)
        if group is None:
            out[mm_key] = value
            continue
        out.setdefault(mm_key, None)  # keep first-seen order
        groups.setdefault(mm_key, {})[group] = (
            value.squeeze(0) if squeeze else value)
    for mm_key, parts in groups.items():
        if sorted(parts) != list(range(NUM_GROUPS)):
            missing = sorted(set(range(NUM_GROUPS)) - set(parts))
            raise CheckpointError(
                f'official checkpoint lacks scan group(s) '
                f'{[f"mamba_g{k + 1}" for k in missing]} for {mm_key!r}')
        out[mm_key] = torch.stack([parts[k] for k in range(NUM_GROUPS)])
    return out


# ---------------------------------------------------------------- mm -> official
def _mm_inner_to_official(rest, renames):
    """Key below a block / class block -> list of (official key, group, squeeze)."""
    if rest.startswith('mixer.'):
        layer_rest = rest[len('mixer.'):]
        if layer_rest.startswith('ssm.'):
            for ours, official, squeeze in SSM_PARAMS:
                if layer_rest == f'ssm.{ours}':
                    return [(f'attn.mamba_g{k + 1}.{official}', k, squeeze)
                            for k in range(NUM_GROUPS)]
            return None
        renamed = _rename(layer_rest, LAYER_RENAMES, inverse=True)
        return None if renamed is None else [('attn.' + renamed, None, False)]
    renamed = _rename(rest, renames, inverse=True)
    return None if renamed is None else [(renamed, None, False)]


def _mm_key_to_official(key):
    rules = (
        (r'backbone\.stem\.(.+)', lambda m: f'patch_embed1.{m[1]}'),
        (r'backbone\.stages\.([1-3])\.downsample\.in_norm\.(.+)',
         lambda m: f'norm{m[1]}.{m[2]}'),
        (r'backbone\.stages\.([1-3])\.downsample\.(proj|norm)\.(.+)',
         lambda m: f'patch_embed{int(m[1]) + 1}.{m[2]}.{m[3]}'),
        (r'neck\.norm\.(.+)', lambda m: f'norm4.{m[1]}'),
        (r'head\.fc\.(.+)', lambda m: f'head.{m[1]}'),
        (r'head\.dist_fc\.(.+)', lambda m: f'dist_head.{m[1]}'),
    )
    for pattern, target in rules:
        m = re.fullmatch(pattern, key)
        if m:
            return [(target(m), None, False)]
    nested = (
        (r'backbone\.stages\.([0-3])\.blocks\.(\d+)\.(.+)', BLOCK_RENAMES,
         lambda m: f'block{int(m[1]) + 1}.{m[2]}.'),
        (r'neck\.class_block\.(.+)', CLASS_BLOCK_RENAMES,
         lambda m: 'post_network.0.'),
    )
    for pattern, renames, prefix in nested:
        m = re.fullmatch(pattern, key)
        if m:
            inner = _mm_inner_to_official(m.groups()[-1], renames)
            if inner is not None:
                return [(prefix(m) + k, g, s) for k, g, s in inner]
    raise CheckpointError(
        f'key {key!r} has no counterpart in the official GroupMamba layout '
        '(dense-prediction out norms and other new layers do not)')


def mm_to_official(state_dict):
    """Inverse of :func:`official_to_mm` (classifier keys -> official keys)."""
    out = OrderedDict()
    for key, value in state_dict.items():
        for official, group, squeeze in _mm_key_to_official(key):
            if group is None:
                out[official] = value
            else:
                part = value[group]
                out[official] = part.unsqueeze(0) if squeeze else part
    return out


def is_official_layout(state_dict):
    """True for the official release's key layout (``patch_embed1.*`` ...)."""
    return any(k.startswith(('patch_embed1.', 'block1.')) for k in state_dict)


# ------------------------------------------------------------- describing archs
def infer_arch(state_dict):
    """Read the stage depths and widths a state_dict (any layout/prefix) holds.

    Returns:
        tuple[str | None, list[int], list[int]]: the arch name from
        ``GroupMamba.arch_settings`` (None if custom or not GroupMamba),
        depths and widths per stage (zeros where no block was found).
    """
    from .backbone import GroupMamba  # the arch table lives with the model
    depths, dims = [0] * 4, [0] * 4
    pattern = re.compile(r'(?:^|\.)(?:stages\.(\d)\.blocks|block([1-4]))\.'
                         r'(\d+)\.(?:norm|norm2)\.weight$')
    for key, value in state_dict.items():
        m = pattern.search(key)
        if m:
            stage = int(m[1]) if m[1] is not None else int(m[2]) - 1
            depths[stage] = max(depths[stage], int(m[3]) + 1)
            dims[stage] = tuple(value.shape)[0]
    for name, arch in GroupMamba.arch_settings.items():
        if arch['depths'] == depths and arch['embed_dims'] == dims:
            return name, depths, dims
    return None, depths, dims


def describe_arch(state_dict):
    """A readable guess of the GroupMamba arch a state_dict holds."""
    name, depths, dims = infer_arch(state_dict)
    if not any(depths):
        return 'no GroupMamba blocks'
    shape = f'(depths {depths}, dims {dims})'
    return f'GroupMamba-{name} {shape}' if name else f'a custom GroupMamba {shape}'


def _short_list(items, limit=8):
    items = list(items)
    text = ', '.join(items[:limit])
    return text + (f', ... ({len(items) - limit} more)'
                   if len(items) > limit else '')


def check_state_dict(expected, state_dict, what, allowed_missing=()):
    """Raise CheckpointError unless ``state_dict`` covers ``expected`` exactly.

    Args:
        expected (Mapping[str, torch.Size]): the model's keys and shapes.
        state_dict (Mapping[str, Tensor]): what is about to be loaded.
        what (str): the model part, for the message.
        allowed_missing (Iterable[str]): keys that may be absent (new layers).
    """
    allowed = set(allowed_missing)
    missing = [k for k in expected if k not in state_dict and k not in allowed]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        f'{k} {tuple(state_dict[k].shape)} vs model {tuple(expected[k])}'
        for k in expected
        if k in state_dict and tuple(state_dict[k].shape) != tuple(expected[k])
    ]
    if not (missing or unexpected or mismatched):
        return
    lines = [
        f'{what}: the checkpoint does not match the model, nothing was '
        f'loaded (model: {describe_arch(expected_as_tensors(expected))}; '
        f'checkpoint: {describe_arch(state_dict)}).'
    ]
    if missing:
        lines.append(f'  missing keys ({len(missing)}): {_short_list(missing)}')
    if unexpected:
        lines.append(f'  unexpected keys ({len(unexpected)}): '
                     f'{_short_list(unexpected)}')
    if mismatched:
        lines.append(f'  shape mismatches ({len(mismatched)}): '
                     f'{_short_list(mismatched, limit=4)}')
    if is_official_layout(state_dict):
        lines.append('  This is the official layout: convert it with '
                     '`python tools/convert_official.py IN.pth OUT.pth`.')
    raise CheckpointError('\n'.join(lines))


def expected_as_tensors(shapes):
    """Shape mapping -> meta tensors, so :func:`describe_arch` can read it."""
    return {k: torch.empty(tuple(v), device='meta') for k, v in shapes.items()}


def register_strict_loading(module, what):
    """Make every ``load_state_dict`` of ``module`` strict and explanatory.

    mmengine's loaders (``load_checkpoint``, ``init_cfg`` Pretrained, resume)
    call ``load_state_dict`` with ``strict=False`` and only warn on mismatch;
    this pre-hook raises :class:`CheckpointError` before anything is copied.
    """

    def hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
             unexpected_keys, error_msgs):
        own = {k: v.shape for k, v in module.state_dict().items()}
        incoming = {
            k[len(prefix):]: v
            for k, v in state_dict.items() if k.startswith(prefix)
        }
        where = f" (keys under '{prefix}')" if prefix else ''
        check_state_dict(own, incoming, what + where)

    if hasattr(module, 'register_load_state_dict_pre_hook'):
        module.register_load_state_dict_pre_hook(hook)
    else:  # torch < 2.2: the same hook, under its earlier private name
        module._register_load_state_dict_pre_hook(hook, with_module=True)


# ------------------------------------------------------------------ file access
def read_checkpoint(path):
    """Read a checkpoint file safely and return its flat state_dict.

    Accepts a bare state_dict (the official release format) or one stored
    under ``'state_dict'`` (mmengine) or ``'model'`` (official training
    checkpoints). Always ``weights_only=True``.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f'{path} holds pickled Python objects, which weights_only=True '
            'refuses. If you trust its source, save its tensors alone once, '
            "e.g. torch.save(ckpt['state_dict'], 'clean.pth') after loading "
            'it yourself with weights_only disabled, and use that file. '
            f'Refused: {err}') from err
    except (RuntimeError, EOFError) as err:
        raise CheckpointError(
            f'{path} is not a readable PyTorch checkpoint (truncated or '
            f'corrupt?): {err}') from err
    for wrapper in ('state_dict', 'model'):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict):
        raise CheckpointError(f'{path} holds a {type(obj).__name__}, not a '
                              'state_dict')
    not_tensors = [k for k, v in obj.items() if not torch.is_tensor(v)]
    if not_tensors:
        raise CheckpointError(f'{path}: entries that are not tensors: '
                              f'{_short_list(not_tensors)}')
    return obj


def load_pretrained_backbone(backbone, path, prefix=None):
    """Load ImageNet (or any GroupMamba) weights into a backbone, strictly.

    The file may be official (converted on the fly), a converted/mmpretrain
    classifier, an mmdet/mmseg model (keys under ``backbone.``) or a bare
    backbone state_dict. Every backbone tensor must be present except the
    dense-prediction out norms, which are new; anything else is an error.

    Args:
        backbone (GroupMamba): the model to fill.
        path (str): checkpoint file.
        prefix (str | None): take the keys under this prefix. Defaults to
            ``'backbone.'`` when the file has such keys, else the whole dict.
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
    new_layers = [
        k for k in own if re.fullmatch(r'norm\d\.(weight|bias)', k)
    ]
    check_state_dict({k: v.shape
                      for k, v in own.items()},
                     selected,
                     f'pretrained GroupMamba backbone from {path}',
                     allowed_missing=new_layers)
    full = OrderedDict(own)
    full.update(selected)
    backbone.load_state_dict(full, strict=True)
    kept = [k for k in new_layers if k not in selected]
    print_log(
        f'loaded {len(selected)} backbone tensors from {path}' +
        (f'; new layers kept at their init: {kept}' if kept else ''),
        logger='current')


def timm_to_timm_backbone_classifier(state_dict):
    """timm classifier keys -> an mmpretrain ``ImageClassifier`` around
    ``TIMMBackbone`` (its classifier removed) with a ``LinearClsHead``.

    timm models keep their last linear layer as ``head.fc`` (RegNet, the
    DeiT teacher) or ``fc`` (ResNet); it becomes the head's ``fc``; every
    other tensor moves under ``backbone.timm_model.``.
    """
    mapped = OrderedDict()
    for key, value in state_dict.items():
        for classifier in ('head.fc.', 'fc.'):
            if key.startswith(classifier):
                mapped['head.fc.' + key[len(classifier):]] = value
                break
        else:
            mapped['backbone.timm_model.' + key] = value
    return mapped


def load_teacher(teacher, path):
    """Load a distillation teacher's weights, strictly.

    The file may be the teacher model's own (mmpretrain) state_dict, or, for
    a teacher built as ``ImageClassifier(TIMMBackbone, ..., LinearClsHead)``,
    a timm checkpoint such as DeiT's ``regnety_160-a5fe301d.pth`` (keys under
    ``model``). Every tensor of the teacher must be present: a half-loaded
    teacher would teach noise.

    Args:
        teacher (nn.Module): The built teacher model.
        path (str): Checkpoint file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: Unreadable file or keys/shapes that do not match.
    """
    state_dict = read_checkpoint(path)
    expected = teacher.state_dict()
    timm_backbone = hasattr(getattr(teacher, 'backbone', None), 'timm_model')
    if set(state_dict) != set(expected) and timm_backbone:
        state_dict = timm_to_timm_backbone_classifier(state_dict)
    check_state_dict({k: v.shape
                      for k, v in expected.items()}, state_dict,
                     f'distillation teacher from {path}')
    teacher.load_state_dict(state_dict, strict=True)
    print_log(f'loaded {len(state_dict)} teacher tensors from {path}',
              logger='current')


def classifier_shapes(arch, num_classes):
    """Keys and shapes of the mmpretrain classifier of ``configs/`` for ``arch``."""
    from .backbone import GroupMamba
    from .class_block import ClassBlockNeck
    from .heads import DualLinearClsHead
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

    Returns:
        dict: the ``meta`` written (arch, num_classes, source, ...).
    """
    from mmgroupmamba.version import __version__
    state_dict = read_checkpoint(src)
    if not is_official_layout(state_dict):
        raise CheckpointError(
            f'{src} is not in the official GroupMamba layout (no '
            f'patch_embed1.* / block1.* keys; it holds '
            f'{describe_arch(state_dict)}). Converted checkpoints load '
            'directly with pretrained=PATH.')
    arch, depths, dims = infer_arch(state_dict)
    if arch is None:
        raise CheckpointError(
            f'{src}: {describe_arch(state_dict)} is not one of the released '
            'archs tiny/small/base')
    if 'head.weight' not in state_dict:
        raise CheckpointError(f'{src} has no head.weight: not a classifier '
                              'checkpoint of the official code')
    converted = official_to_mm(state_dict)
    num_classes = state_dict['head.weight'].shape[0]
    check_state_dict(
        classifier_shapes(arch, num_classes), converted,
        f'converted {src} (GroupMamba-{arch})')
    meta = dict(
        arch=arch,
        num_classes=num_classes,
        source=os.path.basename(str(src)),
        converter=f'mmgroupmamba {__version__}')
    if num_classes == 1000:
        from mmpretrain.datasets.categories import IMAGENET_CATEGORIES
        meta['dataset_meta'] = dict(classes=list(IMAGENET_CATEGORIES))
    torch.save(dict(state_dict=converted, meta=meta), dst)
    return meta
