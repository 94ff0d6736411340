#!/usr/bin/env python
"""Evaluate a checkpoint with any of the project's configs.

    python tools/test.py configs/groupmamba_t_in1k.py CKPT [--work-dir DIR]
        [--tta] [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]

The same as ``mim test <package> CONFIG --checkpoint CKPT``. CKPT may be a
checkpoint the runner saved or a converted official one
(``tools/convert_official.py``); it is read with ``weights_only=True``.
``--tta`` uses the config's ``tta_model`` / ``tta_pipeline`` (segmentation).
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.runner import Runner

import mmgroupmamba  # noqa: F401  (registers models, hooks, backends)


def parse_args():
    parser = argparse.ArgumentParser(description='Evaluate a checkpoint')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where to save logs and metrics')
    parser.add_argument(
        '--tta', action='store_true', help='test-time augmentation')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, xxx=yyy')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_config(args):
    """The config with the command line's overrides applied."""
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
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
