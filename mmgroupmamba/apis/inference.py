"""Building a model from a config and loading its weights whole.

:func:`init_model` is for inference and evaluation, where weights that do
not cover the model (random heads) are never intended: it checks the file
against the whole model before copying anything and loads with
``strict=True``. Fine-tuning loads go through ``load_from`` (see
:class:`mmgroupmamba.engine.GroupMambaRunner`).
"""
import copy

from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope

from ..checkpoint import load_file, load_whole_model, state_dict_of
from ..models.directional_ssm import check_scan_backend, set_scan_backend


def _set_scan_backend_in_cfg(cfg, backend):
    """Replace every ``scan_backend`` value in a model config, in place."""
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            if key == 'scan_backend':
                cfg[key] = backend
            else:
                _set_scan_backend_in_cfg(value, backend)
    elif isinstance(cfg, (list, tuple)):
        for item in cfg:
            _set_scan_backend_in_cfg(item, backend)


def init_model(config, checkpoint=None, scan_backend=None, device='cpu'):
    """Build the model of an mmpretrain/mmdet/mmseg config and load weights
    strictly.

    Args:
        config (str | Path | Config): A config file or a loaded config.
        checkpoint (str | Path | None): Weights covering the whole model
            (``state_dict`` of a Runner checkpoint, or a bare state_dict).
            None keeps the config's initialisation (``init_weights`` is
            called, so a backbone ``init_cfg`` Pretrained loads). Defaults
            to None.
        scan_backend (str | None): Backend of every selective scan; None
            keeps the config's. Defaults to None.
        device (str | torch.device): Where the model goes. Defaults to 'cpu'.

    Returns:
        nn.Module: The model in eval mode, with ``dataset_meta`` from the
        checkpoint's ``meta`` when it has one.

    Raises:
        FileNotFoundError: ``checkpoint`` does not exist.
        CheckpointError: Unreadable file, or one that does not cover the
            whole model exactly (missing, unexpected or mis-shaped keys);
            the model is not loaded.
        ValueError: Unknown or unavailable ``scan_backend``.
    """
    cfg = (copy.deepcopy(config) if isinstance(config, Config) else
           Config.fromfile(str(config)))
    if scan_backend is not None:
        check_scan_backend(scan_backend)
        _set_scan_backend_in_cfg(cfg.model, scan_backend)
    # The config's library scope resolves its model types (mmdet's MaskRCNN
    # ...); restored on exit so later builds are unaffected.
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        model = MODELS.build(cfg.model)
    if scan_backend is not None:
        set_scan_backend(model, scan_backend)
    if checkpoint is None:
        model.init_weights()
    else:
        loaded = load_file(checkpoint)
        load_whole_model(model, state_dict_of(loaded, checkpoint),
                         str(checkpoint))
        meta = loaded.get('meta') if isinstance(loaded, dict) else None
        if isinstance(meta, dict) and 'dataset_meta' in meta:
            model.dataset_meta = meta['dataset_meta']
    return model.to(device).eval()

