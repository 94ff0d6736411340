"""Reading checkpoint files: always ``weights_only=True``, every failure named.

Importing this module also makes it mmengine's reader of local files
(``CheckpointLoader``'s scheme for plain paths), so ``load_from``, ``resume``,
``mim test --checkpoint``, ``get_model(pretrained=)`` and the inferencers
read through it too: they get the same weights-only reading and the same
:class:`CheckpointError` messages as our own loaders, instead of torch's raw
errors.
"""
import os
import pickle

import torch
from mmengine.runner import CheckpointLoader

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
    obj = load_file(path)
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


def load_from_local(filename, map_location=None):
    """mmengine's local-file scheme, read by :func:`load_file`.

    Named as mmengine's own reader: its log line derives the scheme's name
    ("local") from the function name.
    """
    return load_file(filename, map_location=map_location)


# Plain paths have the empty prefix in mmengine; force replaces its reader.
CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local)
