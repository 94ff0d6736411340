#!/usr/bin/env python
"""Train a config with several CPU processes (torchrun, gloo) through
mmengine's Runner.

    torchrun --nproc_per_node 2 tools/dist_train_cpu.py CONFIG \
        [--work-dir DIR] [--cfg-options KEY=VALUE ...]

Any of the project's configs (mmpretrain, mmdet, mmseg) runs as it would
under ``mim train ... --launcher pytorch`` on GPUs, except for three things
that mmengine 0.10.7 cannot do on a machine without CUDA and this script
does instead:

* it joins the process group itself, with the config's
  ``env_cfg.dist_cfg.backend`` (which must be 'gloo'), because mmengine's
  'pytorch' launcher calls ``torch.cuda.set_device(LOCAL_RANK)`` first and
  fails with "Found no NVIDIA driver"; the Runner then finds the group
  initialised and uses it;
* it builds ``MMDistributedDataParallel`` without device ids (mmengine
  passes ``[LOCAL_RANK]``, which DistributedDataParallel refuses for a CPU
  module);
* it stops before anything is built, naming every config key to change,
  when the config cannot run on CPUs: a backend other than gloo, or
  SyncBatchNorm layers (for instance the real UperNet configs' heads), which
  torch synchronises on GPUs only and which would fail at the first
  training step.

The logic is :func:`mmgroupmamba.apis.cpu_distributed.train_in_cpu_processes`.
"""
import argparse

from mmengine.config import DictAction


def parse_args():
    # Only argparse and mmengine's DictAction before parsing: --help answers
    # without importing torch or the package.
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--work-dir',
        help="where to save logs and models (default: the config's "
        'work_dir, else ./work_dirs/<config name>)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, key.path=value (default: none)')
    return parser.parse_args()


def main():
    args = parse_args()
    from mmgroupmamba.apis import load_config
    from mmgroupmamba.apis.cpu_distributed import train_in_cpu_processes
    train_in_cpu_processes(
        load_config(args.config, args.work_dir, args.cfg_options))


if __name__ == '__main__':
    main()
