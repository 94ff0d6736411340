#!/usr/bin/env python
"""Train any of the project's configs (mmpretrain, mmdet or mmseg) with mmengine.

    python tools/train.py configs/groupmamba_t_8xb128_in1k.py [--work-dir DIR]
        [--resume [CKPT]] [--amp] [--auto-scale-lr] [--cfg-options k=v ...]
        [--launcher {none,pytorch,slurm,mpi}]

The same as ``mim train <package> CONFIG``; the config's ``default_scope``
picks the library. Multi-GPU: ``tools/dist_train.sh`` (torchrun) or
``tools/slurm_train.sh``. ``--resume`` without a path continues from the
work dir's latest checkpoint (``last_checkpoint``), restoring the model, the
optimizer, the LR schedule, the EMA and the iteration counters. The config is
made by :func:`mmgroupmamba.apis.training_config`.
"""
import argparse

from mmengine.config import DictAction


def parse_args():
    # Only argparse and mmengine's DictAction before parsing: --help answers
    # without importing torch or the package.
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--work-dir',
        help="where to save logs and models (default: the config's "
        'work_dir, else ./work_dirs/<config name>)')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or without a path from the work '
        "dir's latest one (default: start afresh)")
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision (CUDA only; default: off)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help="scale the LR by the real batch over the config's "
        'auto_scale_lr.base_batch_size (default: off)')
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
    # torchrun passes --local-rank (older launchers --local_rank).
    parser.add_argument(
        '--local_rank',
        '--local-rank',
        type=int,
        default=0,
        help='rank on this node, set by the launcher (default: 0)')
    return parser.parse_args()


def main():
    args = parse_args()
    from mmgroupmamba.apis import build_runner, training_config
    cfg = training_config(
        args.config, work_dir=args.work_dir, cfg_options=args.cfg_options,
        launcher=args.launcher, local_rank=args.local_rank,
        resume=args.resume, amp=args.amp, auto_scale_lr=args.auto_scale_lr)
    build_runner(cfg).train()


if __name__ == '__main__':
    main()
