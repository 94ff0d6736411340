"""The public API that tools, tests and users call.

* :func:`init_model`: build a config's model (optionally with a chosen scan
  backend) and load a checkpoint that must cover the whole model;
* :func:`set_scan_backend`: switch a built model's selective-scan backend;
* :func:`load_config`, :func:`training_config`, :func:`testing_config`: a
  config with the overrides of ``tools/train.py``/``test.py`` applied, and
  :func:`build_runner`, its runner (``runner_type``, else ours);
* :func:`data_root_options` (:func:`coco_data_options`): the overrides that
  aim a config's loaders (and COCO evaluators) at a data root, as a dict or,
  through :func:`as_cfg_options`, as ``--cfg-options`` arguments.
"""
from .inference import init_model, set_scan_backend
from .run_config import (as_cfg_options, build_runner, coco_data_options,
                         data_root_options, load_config, testing_config,
                         training_config)

__all__ = [
    'init_model', 'set_scan_backend', 'load_config', 'training_config',
    'testing_config', 'data_root_options', 'coco_data_options',
    'as_cfg_options', 'build_runner'
]
