"""Fine-tuning loads: every tensor that fits, and one readable account.

Starting a model from a file of a related one is the point of fine-tuning
(mmdet's, mmseg's and mmpretrain's guides: the same config with another
``num_classes`` and ``load_from``). The tensors whose name and shape match
are copied; the rest keep the initialisation the config gave them. Instead
of mmengine's list of every key, :func:`describe_fit` says per module what
was left and why ("roi_head.bbox_head.fc_cls: 4 classes in the file, 6 in
the model"). Our own parts stay exact (:func:`.strict.check_strict_parts`):
another backbone arch is never a fine-tuning.
"""
from collections import OrderedDict
from typing import NamedTuple

from .errors import CheckpointError, short_list
from .strict import check_strict_parts

# BatchNorm's step counter: absent from old files and harmless to keep at 0
# (mmengine's loader leaves it out of its reports for the same reason).
_IGNORED_MISSING = 'num_batches_tracked'


class Fit(NamedTuple):
    """How a state_dict meets a model (keys relative to the model).

    Attributes:
        fitting (OrderedDict[str, Tensor]): Same name, same shape: loaded.
        mismatched (dict[str, tuple[tuple, tuple]]): Same name, other shape:
            key -> (shape in the file, shape in the model).
        missing (list[str]): The model's keys the file lacks.
        unexpected (list[str]): The file's keys the model lacks.
    """
    fitting: OrderedDict
    mismatched: dict
    missing: list
    unexpected: list


def match_state_dict(model, state_dict):
    """Sort ``state_dict``'s tensors by how they meet ``model`` (a :class:`Fit`)."""
    own = model.state_dict()
    fitting, mismatched = OrderedDict(), {}
    for key, value in state_dict.items():
        if key in own:
            if tuple(value.shape) == tuple(own[key].shape):
                fitting[key] = value
            else:
                mismatched[key] = (tuple(value.shape), tuple(own[key].shape))
    missing = [k for k in own if k not in state_dict
               and not k.endswith(_IGNORED_MISSING)]
    unexpected = [k for k in state_dict if k not in own]
    return Fit(fitting, mismatched, missing, unexpected)


def _module_of(key):
    return key.rpartition('.')[0]


def _num_classes_above(model, module_name):
    """``num_classes`` of ``module_name`` or its nearest ancestor, or None."""
    # Every prefix of a model key names one of the model's modules.
    parts = module_name.split('.') if module_name else []
    for depth in range(len(parts), -1, -1):
        module = model.get_submodule('.'.join(parts[:depth]))
        value = getattr(module, 'num_classes', None)
        if isinstance(value, int):
            return value
    return None


def _classes_in_file(file_shape, model_shape, num_classes):
    """The class count a classifier layer's shape implies in the file.

    A layer sized by the class count has ``a * num_classes + b`` outputs
    along its first axis (a classifier: a=1; with a background class:
    b=1; per-class boxes: a=4); the file's count follows from the same a
    and b. None when only the first axis differs in no such way.
    """
    if num_classes is None or file_shape[1:] != model_shape[1:] \
            or not file_shape:
        return None
    for per_class in range(1, 9):
        for extra in (0, 1):
            if per_class * num_classes + extra != model_shape[0]:
                continue
            count, rest = divmod(file_shape[0] - extra, per_class)
            if rest == 0 and count > 0:
                return count
    return None


def _mismatch_reason(model, module_name, shapes):
    """'4 classes in the file, 6 in the model', else the shapes."""
    num_classes = _num_classes_above(model, module_name)
    counts = {_classes_in_file(file, own, num_classes)
              for file, own in shapes.values()}
    if len(counts) == 1 and None not in counts:
        return (f'{counts.pop()} classes in the file, {num_classes} in the '
                'model')
    return '; '.join(f'{name} {file} in the file, {own} in the model'
                     for name, (file, own) in shapes.items())


def _by_module(keys, most=6):
    """'decode_head (32), auxiliary_head (6)': keys counted by module, at
    the deepest module level that gives at most ``most`` groups."""
    depth = max(1, max(key.count('.') for key in keys))  # tensors' modules
    while True:
        counts = OrderedDict()
        for key in keys:
            group = '.'.join(key.split('.')[:depth])
            counts[group] = counts.get(group, 0) + 1
        if len(counts) <= most or depth == 1:
            break
        depth -= 1
    return short_list([f'{group} ({n})' for group, n in counts.items()])


def describe_fit(model, fit, source):
    """The one message of a partial load (str), grouped by module.

    Args:
        model (nn.Module): The model loaded into.
        fit (Fit): As :func:`match_state_dict` returned.
        source (str): Where the weights came from, e.g. the file name.
    """
    total = len(model.state_dict())
    kept = len(fit.mismatched) + len(fit.missing)
    lines = [f'{source}: loaded {len(fit.fitting)} of the model\'s {total} '
             f'tensors; {kept} keep their initialisation.']
    mismatched_modules = OrderedDict()
    for key, shapes in fit.mismatched.items():
        name = key.rpartition('.')[2]
        mismatched_modules.setdefault(_module_of(key), {})[name] = shapes
    for module_name, shapes in mismatched_modules.items():
        lines.append(f'  {module_name} ({", ".join(shapes)}): '
                     f'{_mismatch_reason(model, module_name, shapes)}')
    if fit.missing:
        lines.append(f'  not in the file: {_by_module(fit.missing)}')
    if fit.unexpected:
        lines.append('  in the file, not in the model (ignored): '
                     f'{_by_module(fit.unexpected)}')
    return '\n'.join(lines)


def load_what_fits(model, state_dict, source):
    """Load every tensor of ``state_dict`` that fits ``model``.

    Our strict parts are checked first, so another backbone arch stops the
    load before anything is copied; the file must also fill something.

    Args:
        model (nn.Module): The (unwrapped) model.
        state_dict (Mapping[str, Tensor]): Keys relative to ``model``.
        source (str): Where the weights came from, for messages.

    Returns:
        tuple[Fit, str | None]: The fit, and :func:`describe_fit`'s message
        when anything was left out (None when the file fitted whole).

    Raises:
        CheckpointError: A strict part does not fit, or nothing fits.
    """
    check_strict_parts(model, state_dict)
    fit = match_state_dict(model, state_dict)
    if not fit.fitting:
        raise CheckpointError(
            f'{source}: no tensor of the file fits {type(model).__name__} '
            f'(file keys: {short_list(list(state_dict), limit=4)}; model '
            f'keys: {short_list(list(model.state_dict()), limit=4)})')
    model.load_state_dict(fit.fitting, strict=False)
    whole = not (fit.mismatched or fit.missing or fit.unexpected)
    return fit, None if whole else describe_fit(model, fit, source)
