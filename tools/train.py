#!/usr/bin/env python
"""Train any of the project's configs (mmpretrain, mmdet or mmseg) with mmengine.

    python tools/train.py configs/groupmamba_t_8xb128_in1k.py [--work-dir DIR]
        [--resume [CKPT]] [--amp] [--auto-scale-lr] [--cfg-options k=v ...]
        [--launcher {none,pytorch,slurm,mpi}]

The same as ``mim train <package> CONFIG``; the config's ``default_scope``
picks the library. Multi-GPU: ``tools/dist_train.sh`` (torchrun) or
``tools/slurm_train.sh``. ``--resume`` without a path continues from the
work dir's latest checkpoint (``last_checkpoint``), restoring the model, the
optimizer, the LR schedule, the EMA and the iteration counters.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import mmgroupmamba  # noqa: F401  (registers models, hooks, backends)


def config_parser(description):
    """A config path, ``--work-dir`` and ``--cfg-options``: what every entry
    point takes (tools/test.py and tools/dist_train_cpu.py too)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='where to save logs and models')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, xxx=yyy')
    return parser


def base_parser(description):
    """:func:`config_parser` plus the job launcher's arguments."""
    parser = config_parser(description)
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torchrun passes --local-rank (older launchers --local_rank).
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def load_config(args):
    """The config with ``--cfg-options`` and ``--work-dir`` applied."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def load_launched_config(args):
    """:func:`load_config` for :func:`base_parser` arguments."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = load_config(args)
    cfg.launcher = args.launcher
    return cfg


def parse_args():
    parser = base_parser('Train a model')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or without a path from the work '
        "dir's latest one")
    parser.add_argument(
        '--amp', action='store_true', help='mixed precision (CUDA only)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help="scale the LR by the real batch over the config's "
        'auto_scale_lr.base_batch_size')
    return parser.parse_args()


def build_config(args):
    """The config with the command line's overrides applied."""
    cfg = load_launched_config(args)
    if args.amp:
        if cfg.optim_wrapper.get('type', 'OptimWrapper') != 'AmpOptimWrapper':
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main():
    args = parse_args()
    runner = Runner.from_cfg(build_config(args))
    runner.train()


if __name__ == '__main__':
    main()
