#!/usr/bin/env python
"""Evaluate a checkpoint with any of the project's configs.

    python tools/test.py configs/groupmamba_t_in1k.py CKPT [--work-dir DIR]
        [--tta] [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]

The same as ``mim test <package> CONFIG --checkpoint CKPT``. CKPT may be a
checkpoint the runner saved or a converted official one
(``tools/convert_official.py``); it is read with ``weights_only=True``.
``--tta`` uses the config's ``tta_model`` / ``tta_pipeline`` (segmentation).
"""
from mmengine.config import ConfigDict
from mmengine.runner import Runner

import mmgroupmamba  # noqa: F401  (registers models, hooks, backends)
from train import base_parser, load_launched_config


def parse_args():
    parser = base_parser('Evaluate a checkpoint')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--tta', action='store_true', help='test-time augmentation')
    return parser.parse_args()


def build_config(args):
    """The config with the command line's overrides applied."""
    cfg = load_launched_config(args)
    cfg.load_from = args.checkpoint
    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise ValueError(f'{args.config} defines no tta_model and '
                             'tta_pipeline: --tta is not available for it')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = ConfigDict(cfg.tta_model)
    return cfg


def main():
    args = parse_args()
    runner = Runner.from_cfg(build_config(args))
    runner.test()


if __name__ == '__main__':
    main()
