"""Strict coverage: a checkpoint fills the whole model or nothing is copied.

mmengine's loaders (``load_checkpoint`` behind ``load_from``, ``resume``,
``mim test --checkpoint``, ``get_model(pretrained=)`` and the inferencers,
and ``init_cfg`` Pretrained) call ``_load_from_state_dict`` with
``strict=False`` and only warn about mismatches. Two load-state-dict
pre-hooks close that gap, both raising :class:`CheckpointError` before any
tensor is copied:

* :func:`register_strict_loading` on each of our model parts (backbone, neck,
  head): the keys under the part's prefix must be exactly its own;
* a whole-model hook, installed on whatever module a ``GroupMamba`` is
  assigned to (the classifier, detector or segmentor; see
  :func:`install_whole_model_strictness`): the keys outside our parts must
  be exactly the model's too, so another task's heads, or heads missing from
  the file, fail as loudly as a wrong backbone.
"""
import re
import weakref

import torch
from torch import nn

from .errors import CheckpointError, short_list
from .mapping import is_official_layout

# Model parts that check their own keys; the whole-model hook leaves their
# keys to them, so that their messages name keys relative to the part.
_STRICT_PARTS = weakref.WeakSet()
# Modules that already carry the whole-model hook.
_WHOLE_MODELS = weakref.WeakSet()


def infer_arch(state_dict, arch_settings=None):
    """Read the stage depths and widths a state_dict (any layout/prefix) holds.

    Args:
        state_dict (Mapping[str, Tensor]): Official, mm or bare backbone keys.
        arch_settings (Mapping[str, dict] | None): Named archs (as
            ``GroupMamba.arch_settings``) to recognise. Defaults to None.

    Returns:
        tuple[str | None, list[int], list[int]]: The arch name (None if
        custom, not GroupMamba or no table given), the depths and the widths
        per stage (zeros where no block was found).
    """
    depths, dims = [0] * 4, [0] * 4
    pattern = re.compile(r'(?:^|\.)(?:stages\.(\d)\.blocks|block([1-4]))\.'
                         r'(\d+)\.(?:norm|norm2)\.weight$')
    for key, value in state_dict.items():
        m = pattern.search(key)
        if m:
            stage = int(m[1]) if m[1] is not None else int(m[2]) - 1
            depths[stage] = max(depths[stage], int(m[3]) + 1)
            dims[stage] = tuple(value.shape)[0]
    for name, arch in (arch_settings or {}).items():
        if arch['depths'] == depths and arch['embed_dims'] == dims:
            return name, depths, dims
    return None, depths, dims


def describe_arch(state_dict, arch_settings=None):
    """A readable guess of the GroupMamba arch a state_dict holds (str).

    Args:
        state_dict (Mapping[str, Tensor]): Any layout, any prefix.
        arch_settings (Mapping[str, dict] | None): Named archs to recognise.
    """
    name, depths, dims = infer_arch(state_dict, arch_settings)
    if not any(depths):
        return 'no GroupMamba blocks'
    shape = f'(depths {depths}, dims {dims})'
    return f'GroupMamba-{name} {shape}' if name else f'a custom GroupMamba {shape}'


def expected_as_tensors(shapes):
    """Shape mapping -> meta tensors, so :func:`describe_arch` can read it."""
    return {k: torch.empty(tuple(v), device='meta') for k, v in shapes.items()}


def check_state_dict(expected,
                     state_dict,
                     what,
                     allowed_missing=(),
                     arch_settings=None,
                     whole_file=None,
                     whole_model=None):
    """Raise CheckpointError unless ``state_dict`` covers ``expected`` exactly.

    Args:
        expected (Mapping[str, torch.Size]): The model's keys and shapes.
        state_dict (Mapping[str, Tensor]): What is about to be loaded.
        what (str): The model part, for the message.
        allowed_missing (Iterable[str]): Keys that may be absent (new layers).
        arch_settings (Mapping[str, dict] | None): Named archs, to name the
            model's and the file's arch in the message.
        whole_file (Mapping[str, Tensor] | None): The file's whole
            state_dict when ``state_dict`` is a part of it: its arch and
            layout are what the message describes. Defaults to
            ``state_dict``.
        whole_model (Mapping[str, torch.Size] | None): Likewise for the
            model. Defaults to ``expected``.
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
    whole_file = state_dict if whole_file is None else whole_file
    whole_model = expected if whole_model is None else whole_model
    model_arch = describe_arch(expected_as_tensors(whole_model), arch_settings)
    file_arch = describe_arch(whole_file, arch_settings)
    lines = [
        f'{what}: the checkpoint does not match the model, nothing was '
        f'loaded (model: {model_arch}; checkpoint: {file_arch}).'
    ]
    if missing:
        lines.append(f'  missing keys ({len(missing)}): {short_list(missing)}')
    if unexpected:
        lines.append(f'  unexpected keys ({len(unexpected)}): '
                     f'{short_list(unexpected)}')
    if mismatched:
        lines.append(f'  shape mismatches ({len(mismatched)}): '
                     f'{short_list(mismatched, limit=4)}')
    if is_official_layout(whole_file):
        lines.append('  This is the official layout: convert it with '
                     '`python tools/convert_official.py IN.pth OUT.pth`.')
    raise CheckpointError('\n'.join(lines))


def _add_pre_hook(module, hook):
    if hasattr(module, 'register_load_state_dict_pre_hook'):
        module.register_load_state_dict_pre_hook(hook)
    else:  # torch < 2.2: the same hook, under its earlier private name
        module._register_load_state_dict_pre_hook(hook, with_module=True)


def _arch_settings_in(module):
    """The arch table of the first GroupMamba-like part of ``module``."""
    for sub in module.modules():
        table = getattr(sub, 'arch_settings', None)
        if isinstance(table, dict):
            return table
    return None


def register_strict_loading(module, what):
    """Make every ``load_state_dict`` of ``module`` strict and explanatory.

    Args:
        module (nn.Module): One of our model parts.
        what (str): Its name in messages, e.g. 'GroupMamba backbone'.
    """

    def hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
             unexpected_keys, error_msgs):
        own = {k: v.shape for k, v in module.state_dict().items()}
        incoming = {
            k[len(prefix):]: v
            for k, v in state_dict.items() if k.startswith(prefix)
        }
        where = f" (keys under '{prefix}')" if prefix else ''
        check_state_dict(own, incoming, what + where,
                         arch_settings=_arch_settings_in(module),
                         whole_file=state_dict)

    _add_pre_hook(module, hook)
    _STRICT_PARTS.add(module)


def _whole_model_hook(module, state_dict, prefix, local_metadata, strict,
                      missing_keys, unexpected_keys, error_msgs):
    """Check the keys of ``module`` that none of our strict parts owns."""
    parts = [
        f'{name}.' for name, sub in module.named_modules()
        if name and sub in _STRICT_PARTS
    ]
    own_all = {k: v.shape for k, v in module.state_dict().items()}
    own = {k: v for k, v in own_all.items() if not k.startswith(tuple(parts))}
    incoming_all = {
        k[len(prefix):]: v
        for k, v in state_dict.items() if k.startswith(prefix)
    }
    incoming = {
        k: v
        for k, v in incoming_all.items() if not k.startswith(tuple(parts))
    }
    where = f" (keys under '{prefix}')" if prefix else ''
    check_state_dict(
        own,
        incoming,
        f'{type(module).__name__} (the whole model, outside '
        f'{[p[:-1] for p in parts]}){where}',
        arch_settings=_arch_settings_in(module),
        whole_file=incoming_all,
        whole_model=own_all)


def make_whole_model_strict(model):
    """Install the whole-model check on ``model`` (once).

    Args:
        model (nn.Module): A classifier, detector, segmentor or any module
            holding GroupMamba parts.

    Returns:
        nn.Module: ``model``.
    """
    if model not in _WHOLE_MODELS:
        _add_pre_hook(model, _whole_model_hook)
        _WHOLE_MODELS.add(model)
    return model


def install_whole_model_strictness(part_type):
    """Make every module that receives a ``part_type`` child whole-model
    strict, the moment the child is assigned.

    The classifier, detector or segmentor that holds our backbone is built
    by mmpretrain/mmdet/mmseg, which the plugin cannot change; torch's global
    module-registration hook is the one place that sees the backbone being
    attached to it, whichever library builds it.

    Args:
        part_type (type): The model part (``GroupMamba``).
    """

    def on_register(parent, name, submodule):
        if isinstance(submodule, part_type):
            make_whole_model_strict(parent)
        return None  # keep the submodule as it is

    nn.modules.module.register_module_module_registration_hook(on_register)
