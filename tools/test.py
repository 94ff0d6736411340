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
from mmgroupmamba.apis.command_line import config_parser


def parse_args():
    parser = config_parser('Evaluate a checkpoint')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--tta', action='store_true', help='test-time augmentation')
    return parser.parse_args()


def main():
    args = parse_args()
    from mmengine.runner import Runner

    from mmgroupmamba.apis import testing_config
    cfg = testing_config(
        args.config, args.checkpoint, work_dir=args.work_dir,
        cfg_options=args.cfg_options, launcher=args.launcher,
        local_rank=args.local_rank, tta=args.tta)
    Runner.from_cfg(cfg).test()


if __name__ == '__main__':
    main()
