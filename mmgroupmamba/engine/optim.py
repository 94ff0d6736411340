"""The optimizer-wrapper constructor that applies the models' no-decay rule.

The rule of the official ImageNet training: no weight decay on parameters
with ``ndim <= 1`` (norms, biases, ``skip_scale``) and on the tensors the
model itself declares in a ``no_weight_decay()`` method (as timm's and
VMamba's models do; GroupMamba declares its stacked per-group scan vectors).
Configs state only the constructor::

    optim_wrapper = dict(
        constructor='GroupMambaOptimWrapperConstructor',
        paramwise_cfg=None)  # drops a base config's name-based rules
"""
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS


def no_weight_decay_names(model):
    """Full names of the parameters ``model``'s parts declare decay-free.

    Every submodule with a ``no_weight_decay()`` method contributes its
    names, prefixed with its own path in ``model``.

    Args:
        model (nn.Module): Any model (a wrapper's ``.module`` is used).

    Returns:
        set[str]: Names as in ``model.named_parameters()``.
    """
    model = getattr(model, 'module', model)
    names = set()
    for path, module in model.named_modules():
        declare = getattr(module, 'no_weight_decay', None)
        if callable(declare):
            prefix = f'{path}.' if path else ''
            names.update(prefix + name for name in declare())
    return names


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class GroupMambaOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's default constructor plus the models' no-decay rule.

    Weight decay 0 on every parameter with ``ndim <= 1`` (mmengine's
    ``flat_decay_mult=0.``, unless ``paramwise_cfg`` sets it) and on every
    parameter named by a submodule's ``no_weight_decay()``. Everything else
    (learning rates, ``custom_keys``, the other multipliers) is the default
    constructor's.

    Args:
        optim_wrapper_cfg (dict): The ``optim_wrapper`` config.
        paramwise_cfg (dict | None): As for the default constructor.
            Defaults to None.
    """

    def __init__(self, optim_wrapper_cfg, paramwise_cfg=None):
        paramwise_cfg = dict(paramwise_cfg or {})
        paramwise_cfg.setdefault('flat_decay_mult', 0.)
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        self._no_decay_ids = frozenset()

    def __call__(self, model):
        """Build the optimizer wrapper for ``model`` (nn.Module)."""
        named = dict(getattr(model, 'module', model).named_parameters())
        self._no_decay_ids = frozenset(
            id(named[name]) for name in no_weight_decay_names(model))
        return super().__call__(model)

    def add_params(self, params, module, prefix='', is_dcn_module=None):
        """The default parameter groups, then decay 0 for declared ones.

        The default ``add_params`` recurses through this override, so each
        level sees its own new groups; setting 0 twice is harmless.
        """
        start = len(params)
        super().add_params(params, module, prefix, is_dcn_module)
        if self.base_wd is None:
            return
        for group in params[start:]:
            if any(id(p) in self._no_decay_ids for p in group['params']):
                group['weight_decay'] = 0.
