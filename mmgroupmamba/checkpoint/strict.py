"""Exact coverage of our model parts, and of a whole model where we own it.

Our parts (the GroupMamba backbone, the class-block neck) check what a load
brings them through a load-state-dict pre-hook registered on the part itself
(:func:`register_strict_loading`): under torch's ``load_state_dict(strict=
True)`` and mmengine's loaders (``load_from``, ``get_model(pretrained=)``,
the inferencers). torch's ``strict=False`` is left as torch defines it: the
missing and unexpected keys are returned.

A mismatch under a part's prefix cannot be intended (another arch, a missing
stage, a ResNet's ``backbone.*`` keys): :class:`CheckpointError`, naming both
archs, before the part copies anything. What lies outside our parts (another
class count in mmdet's heads, say) follows the host's convention; the
whole-model checks are for the code we own (:func:`check_state_dict` in
``apis.init_model``, ``tools/test.py``, resuming through our runner).
"""
import re
import sys

import torch
from mmengine.runner.checkpoint import load_state_dict as mmengine_load
from torch import nn

from .errors import CheckpointError, short_list
from .mapping import is_official_layout

# The attribute holding a part's StrictPart: on the module itself, so that
# deep copies (mmengine's EMA) carry it as they carry the hook.
_PART_ATTRIBUTE = '_strict_loading'


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


def load_whole_model(model, state_dict, source):
    """Load a state_dict that must cover ``model`` exactly, or nothing.

    The whole model is checked before anything is copied (the official
    layout gets the conversion command), then loaded with ``strict=True``.

    Args:
        model (nn.Module): The (unwrapped) model.
        state_dict (Mapping[str, Tensor]): Keys relative to ``model``.
        source (str): Where the weights came from, for the message.
    """
    check_state_dict({k: v.shape for k, v in model.state_dict().items()},
                     state_dict, f'{type(model).__name__} from {source}',
                     arch_settings=_arch_settings_in(model))
    model.load_state_dict(state_dict, strict=True)


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


class StrictPart:
    """What a part accepts from a strict load (see :func:`check_part`).

    Args:
        what (str): The part's name in messages, e.g. 'GroupMamba backbone'.
        optional (str | None): Regex of the part's keys that may be absent
            from a file (layers new to this use, such as a dense backbone's
            out norms). Defaults to None.
        required (bool): Whether a file must hold keys for the part at all.
            True for the backbone (nothing of it loaded cannot be intended);
            False for a neck that a dense model's file lacks. Defaults to
            True.
    """

    def __init__(self, what, optional=None, required=True):
        self.what = what
        self.optional = re.compile(optional) if optional else None
        self.required = required


def check_part(module, incoming, where=''):
    """Raise CheckpointError unless ``incoming`` fits our part ``module``.

    Args:
        module (nn.Module): A part registered by :func:`register_strict_loading`.
        incoming (Mapping[str, Tensor]): The file's keys for the part, with
            the part's prefix removed.
        where (str): The part's prefix in the file, for the message ('' for
            a part loaded on its own).
    """
    part = getattr(module, _PART_ATTRIBUTE)
    own = {k: v.shape for k, v in module.state_dict().items()}
    location = f" (keys under '{where}')" if where else ''
    if not incoming:
        if not part.required:
            return
        arch = describe_arch(expected_as_tensors(own), _arch_settings_in(module))
        raise CheckpointError(
            f'{part.what}{location}: the checkpoint holds no keys for it, '
            f'nothing was loaded (model: {arch}). A file of the official '
            'GroupMamba release has no mm prefixes: convert it with '
            '`python tools/convert_official.py IN.pth OUT.pth`; a file of '
            "another model's backbone cannot fill this one.")
    optional = ([k for k in own if part.optional.fullmatch(k)]
                if part.optional else [])
    check_state_dict(own, incoming, part.what + location,
                     allowed_missing=optional,
                     arch_settings=_arch_settings_in(module))


def strict_parts(model):
    """``(prefix, part)`` for each of our strict parts inside ``model``."""
    return [(f'{name}.' if name else '', sub)
            for name, sub in model.named_modules()
            if isinstance(getattr(sub, _PART_ATTRIBUTE, None), StrictPart)]


def check_strict_parts(model, state_dict):
    """Check every strict part of ``model`` against a whole-model state_dict
    before anything is copied (what a loader that copies part by part
    cannot promise).

    Args:
        model (nn.Module): A classifier, detector, segmentor or a part.
        state_dict (Mapping[str, Tensor]): Keys relative to ``model``.
    """
    for prefix, part in strict_parts(model):
        incoming = {k[len(prefix):]: v for k, v in state_dict.items()
                    if k.startswith(prefix)}
        check_part(part, incoming, prefix)


def _under_torch_non_strict_load():
    """Whether the running load is torch's ``load_state_dict(strict=False)``.

    Neither torch's ``Module.load_state_dict`` nor mmengine's loader hands
    its flag to the modules: both call every ``_load_from_state_dict`` (and
    so every pre-hook) with ``strict=True`` and apply their own flag once all
    modules ran. The flag is read where it lives, in the frame of the
    nearest of the two loaders on the stack; mmengine's loader, which only
    warns by design, gets our check.
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is mmengine_load.__code__:
            return False
        if frame.f_code is nn.Module.load_state_dict.__code__:
            return frame.f_locals.get('strict', True) is False
        frame = frame.f_back
    return False


def register_strict_loading(module, what, optional=None, required=True):
    """Make every strict ``load_state_dict`` of ``module`` exact and
    explanatory (see the module docstring for which loads are strict).

    Args:
        module (nn.Module): One of our model parts.
        what, optional, required: As :class:`StrictPart`.
    """

    def hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
             unexpected_keys, error_msgs):
        if _under_torch_non_strict_load():  # report, as torch documents
            return
        incoming = {
            k[len(prefix):]: v
            for k, v in state_dict.items() if k.startswith(prefix)
        }
        check_part(module, incoming, prefix)

    setattr(module, _PART_ATTRIBUTE, StrictPart(what, optional, required))
    _add_pre_hook(module, hook)
