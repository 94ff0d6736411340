"""The torch features that need a newer torch than the package's oldest (2.1).

The backbone, the scan ops, checkpoint loading and the mmpretrain classifier
run on torch 2.1 and newer (CI tests torch 2.1.2 beside the pinned release).
A feature that needs more calls :func:`require_torch` first, so an older
torch fails at once with the version it needs, not deep inside torch.
"""
import torch

#: ``torch.onnx.export(dynamo=True, dynamic_shapes=...)`` appeared in 2.5.
ONNX_EXPORT = (2, 5)
#: ``torch.library.custom_op`` (operators that ``torch.compile`` and
#: ``torch.export`` see whole) appeared in 2.4.
CUSTOM_OPS = (2, 4)


def installed_torch():
    """The installed torch's (major, minor)."""
    major, minor = torch.__version__.split('+')[0].split('.')[:2]
    return int(major), int(minor)


def require_torch(minimum, feature):
    """Raise ``RuntimeError`` unless torch >= ``minimum``.

    Args:
        minimum (tuple[int, int]): The oldest (major, minor) that works.
        feature (str): What needs it, for the message.
    """
    if installed_torch() < tuple(minimum):
        raise RuntimeError(
            f'{feature} needs torch >= {minimum[0]}.{minimum[1]}; this is '
            f'torch {torch.__version__}. Upgrade torch or use another '
            'environment for it.')


#: Whether this torch registers the scan as custom operators
#: (``mmgroupmamba/ops/custom_op.py``); older torch runs the same kernel
#: through an autograd Function.
CUSTOM_OPS_SUPPORTED = installed_torch() >= CUSTOM_OPS
