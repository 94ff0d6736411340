#!/usr/bin/env python
"""Evaluate a checkpoint with any of the project's configs.

    python tools/test.py configs/groupmamba_t_in1k.py CKPT [--work-dir DIR]
        [--tta] [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]

The same as ``mim test <package> CONFIG --checkpoint CKPT``. CKPT may be a
checkpoint the runner saved or a converted official one
(``tools/convert_official.py``); it is read with ``weights_only=True``.
``--tta`` uses the config's ``tta_model`` / ``tta_pipeline`` (segmentation).
The config is made by :func:`mmgroupmamba.apis.testing_config`.
"""
import argparse

from mmengine.config import DictAction


def parse_args():
    # Only argparse and mmengine's DictAction before parsing: --help answers
    # without importing torch or the package.
    parser = argparse.ArgumentParser(description='Evaluate a checkpoint')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help="where to save logs and metrics (default: the config's "
        'work_dir, else ./work_dirs/<config name>)')
    parser.add_argument(
        '--tta',
        action='store_true',
        help="the config's test-time augmentation (default: off)")
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, key.path=value (default: none)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher (default: none)')
    parser.add_argument(
        '--local_rank',
        '--local-rank',
        type=int,
        default=0,
        help='rank on this node, set by the launcher (default: 0)')
    return parser.parse_args()


def main():
    args = parse_args()
    from mmgroupmamba.apis import build_runner, testing_config
    cfg = testing_config(
        args.config, args.checkpoint, work_dir=args.work_dir,
        cfg_options=args.cfg_options, launcher=args.launcher,
        local_rank=args.local_rank, tta=args.tta)
    build_runner(cfg).test()


if __name__ == '__main__':
    main()
