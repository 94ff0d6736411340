"""Reading checkpoint files: always ``weights_only=True``, every failure named.

The readers of the code we own: the backbone's ``init_cfg``, the
distillation teacher, ``apis``, our tools and :class:`GroupMambaRunner`
(``runner_type`` in our configs). mmengine's own reader is left as it is for
everything else in the process.
"""
import os
import pickle
import re
from collections import OrderedDict

import torch
from .errors import CheckpointError, short_list

# The first bytes of the two formats torch.save writes: a zip archive
# (torch >= 1.6) or the legacy pickle stream (protocol 2 marker).
_ZIP_MAGIC = b'PK\x03\x04'
_LEGACY_MAGIC = b'\x80'


def load_file(path, map_location='cpu'):
    """Read a whole checkpoint file (any content: model, optimizer, meta...).

    Args:
        path (str | os.PathLike): The file.
        map_location (str | torch.device | Callable | None): As
            :func:`torch.load`. Defaults to 'cpu'.

    Returns:
        object: What the file holds, read with ``weights_only=True``.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        CheckpointError: Not a PyTorch checkpoint at all; truncated or
            corrupt; or it holds pickled Python objects that
            ``weights_only=True`` refuses.
    """
    path = os.path.expanduser(str(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    with open(path, 'rb') as f:
        head = f.read(len(_ZIP_MAGIC))
    # Tell "this is no checkpoint" apart before unpickling: torch reports a
    # text file as an unsupported pickle operand, which reads like a file
    # of pickled objects and would earn the wrong advice.
    if not (head.startswith(_ZIP_MAGIC) or head.startswith(_LEGACY_MAGIC)):
        what = 'an empty file' if not head else f'starts with {head!r}'
        raise CheckpointError(
            f'{path} is not a PyTorch checkpoint ({what}; files written by '
            'torch.save are zip archives or start with a pickle header)')
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
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


def read_checkpoint(path):
    """Read a checkpoint file and return its flat state_dict.

    Accepts a bare state_dict (the official release format) or one stored
    under ``'state_dict'`` (mmengine) or ``'model'`` (official training
    checkpoints).

    Args:
        path (str | os.PathLike): The file.

    Returns:
        dict[str, Tensor]: Key -> tensor.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        CheckpointError: As :func:`load_file`, or the file holds no
            state_dict (another object, or values that are not tensors).
    """
    return state_dict_of(load_file(path), path)


def state_dict_of(checkpoint, path):
    """The flat state_dict inside a loaded checkpoint (see
    :func:`read_checkpoint`), for loaders that keep the rest of the file.

    Args:
        checkpoint (object): What :func:`load_file` returned.
        path (str | os.PathLike): The file, for messages.

    Returns:
        dict[str, Tensor]: Key -> tensor.

    Raises:
        CheckpointError: No state_dict, or values that are not tensors.
    """
    obj = checkpoint
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
                              f'{short_list(not_tensors)}')
    return obj


def rename_keys(state_dict, rules):
    """Apply ``(pattern, replacement)`` regex rules to every key, as
    mmengine's ``revise_keys`` does (e.g. stripping DDP's ``module.``).

    Args:
        state_dict (Mapping[str, Tensor]): Any state_dict.
        rules (Iterable[tuple[str, str]]): Applied in order to each key.

    Returns:
        OrderedDict[str, Tensor]: The renamed state_dict, keeping torch's
        ``_metadata`` (module versions) when the input has it.
    """
    renamed = OrderedDict()
    for key, value in state_dict.items():
        for pattern, replacement in rules:
            key = re.sub(pattern, replacement, key)
        renamed[key] = value
    metadata = getattr(state_dict, '_metadata', None)
    if metadata is not None:
        renamed._metadata = metadata
    return renamed
