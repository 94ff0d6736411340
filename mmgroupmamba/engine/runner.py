"""mmengine's Runner with the project's loading rules, asked for by name.

Our configs set ``runner_type = 'GroupMambaRunner'``; the OpenMMLab training
and test scripts (``mim train``/``mim test``, ``tools/train.py``) build
``runner_type`` from the registry, and ours use this class. Nothing changes
for a runner that did not ask for it.

What it changes is how a checkpoint comes in (``load_from``, ``resume``):

* the file is read with ``weights_only=True``, and an empty, truncated or
  non-checkpoint file raises a :class:`CheckpointError` that says so;
* training from ``load_from`` is fine-tuning, as mmdet's, mmseg's and
  mmpretrain's guides use it: every tensor that fits is loaded, the rest keep
  the config's initialisation, and ONE warning says per module what was left
  and why ("roi_head.bbox_head.fc_cls: 4 classes in the file, 6 in the
  model"), in place of mmengine's list of every key. Our backbone must still
  fit exactly: another arch stops the run before anything is copied;
* ``resume``, and ``load_from`` in a test or validation run (random heads
  are never intended there), load the whole model or nothing.

``strict=True`` passed to :meth:`load_checkpoint` keeps its meaning: the
whole model.
"""
import os

from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint

from ..checkpoint import (load_file, load_what_fits, load_whole_model,
                          rename_keys, state_dict_of)


def _unwrapped(model):
    """The model inside DDP-style and test-time-augmentation wrappers."""
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def _read(filename, map_location):
    """A local file through our reader; URLs and mmengine's named schemes
    (``open-mmlab://``...) through mmengine's."""
    if '://' in str(filename) and not os.path.exists(str(filename)):
        return _load_checkpoint(filename, map_location=map_location)
    return load_file(filename, map_location=map_location)


@RUNNERS.register_module()
class GroupMambaRunner(Runner):
    """A :class:`mmengine.runner.Runner` that fine-tunes from ``load_from``
    with a readable account and resumes or evaluates whole-model strictly
    (see the module docstring). Built from a config with
    ``runner_type='GroupMambaRunner'``; every other behaviour is Runner's.
    """

    # True only while train() runs: load_from there is a fine-tuning start.
    _fine_tuning = False

    def train(self):
        """Runner.train, with ``load_from`` loading what fits."""
        self._fine_tuning = True
        try:
            return super().train()
        finally:
            self._fine_tuning = False

    def resume(self,
               filename,
               resume_optimizer=True,
               resume_param_scheduler=True,
               map_location='default'):
        """Runner.resume, loading the whole model or nothing."""
        fine_tuning, self._fine_tuning = self._fine_tuning, False
        try:
            return super().resume(
                filename,
                resume_optimizer=resume_optimizer,
                resume_param_scheduler=resume_param_scheduler,
                map_location=map_location)
        finally:
            self._fine_tuning = fine_tuning

    def load_checkpoint(self,
                        filename,
                        map_location='cpu',
                        strict=False,
                        revise_keys=[(r'^module\.', '')]):
        """Load ``filename`` into the model by the rules above.

        Args:
            filename (str): A local file, a URL or an mmengine scheme.
            map_location (str | Callable): As :func:`torch.load`. Defaults
                to 'cpu'.
            strict (bool): Require the whole model, even when fine-tuning.
                Defaults to False.
            revise_keys (list[tuple[str, str]]): ``(pattern, replacement)``
                regex pairs applied to every key, as mmengine's. Defaults to
                stripping a DDP ``module.`` prefix.

        Returns:
            dict: The checkpoint (meta, optimizer and the rest included).

        Raises:
            FileNotFoundError: No such local file.
            CheckpointError: Unreadable file; our backbone does not fit; a
                whole-model load that does not fit; a fine-tuning file that
                fits nothing.
        """
        checkpoint = _read(filename, map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = _unwrapped(self.model)
        state_dict = rename_keys(state_dict_of(checkpoint, filename),
                                 revise_keys)
        if strict or not self._fine_tuning:
            load_whole_model(model, state_dict, filename)
            self.logger.info(f'Loaded the whole model from {filename}')
        else:
            _, report = load_what_fits(model, state_dict,
                                       f'load_from {filename}')
            if report is None:
                self.logger.info(f'Loaded the whole model from {filename}')
            else:
                self.logger.warning(report)
        self._has_loaded = True
        return checkpoint
