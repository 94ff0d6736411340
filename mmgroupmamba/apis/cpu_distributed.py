"""Training in several CPU processes (torchrun, gloo) through mmengine.

mmengine 0.10.7 cannot launch a multi-process run on a machine without CUDA:
its 'pytorch' launcher calls ``torch.cuda.set_device(LOCAL_RANK)`` and its
DistributedDataParallel wrapper passes ``device_ids=[LOCAL_RANK]``, which a
CPU module refuses. :func:`train_in_cpu_processes` joins the process group
itself (the Runner then uses it), builds the wrapper without device ids, and
first refuses a config that cannot run on CPUs (:func:`cpu_dist_problems`),
naming every key to change. ``tools/dist_train_cpu.py`` is its command line.
"""
import os

import torch
import torch.distributed as dist

from .run_config import build_runner

#: What torchrun sets in every worker; without them this is no torchrun run.
TORCHRUN_VARIABLES = ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR',
                      'MASTER_PORT')


def find_sync_bn(node, path='model'):
    """Config paths of every ``norm_cfg`` that builds a SyncBatchNorm.

    Args:
        node: A config node (dict, list or value).
        path (str): Its path in the config, for the result.

    Returns:
        list[str]: Paths such as 'model.decode_head.norm_cfg'.
    """
    found = []
    if isinstance(node, dict):
        norm = node.get('norm_cfg')
        if isinstance(norm, dict):
            kind = norm.get('type')
            name = kind if isinstance(kind, str) else getattr(
                kind, '__name__', '')
            if 'sync' in name.lower():  # SyncBN, MMSyncBN, SyncBatchNorm
                found.append(f'{path}.norm_cfg')
        for key, value in node.items():
            if key != 'norm_cfg':
                found += find_sync_bn(value, f'{path}.{key}')
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            found += find_sync_bn(value, f'{path}[{index}]')
    return found


def cpu_dist_problems(cfg):
    """What keeps ``cfg`` from training in several CPU processes.

    Args:
        cfg (Config): The training config.

    Returns:
        list[str]: One sentence per problem, naming the key to change; empty
        when the config can run.
    """
    problems = []
    backend = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('backend')
    if backend != 'gloo':
        problems.append(
            f"env_cfg.dist_cfg.backend is {backend!r}: CPU processes need "
            "'gloo' (--cfg-options env_cfg.dist_cfg.backend=gloo).")
    wrapper = cfg.get('model_wrapper_cfg') or {}
    if wrapper.get('device_ids') is not None:
        problems.append(
            f'model_wrapper_cfg.device_ids is {wrapper["device_ids"]!r}: a '
            'CPU module takes no device ids; remove the key.')
    sync_bn = find_sync_bn(cfg.model)
    if sync_bn:
        keys = ', '.join(
            f"{key}=dict(type='BN', requires_grad=True)" for key in sync_bn)
        problems.append(
            'SyncBatchNorm cannot run in a multi-process CPU run (torch '
            'synchronises batch statistics on GPUs only and fails at the '
            f'first training step): set {keys}, as '
            'configs/smoke/upernet_groupmamba_t_smoke.py does.')
    if cfg.get('sync_bn') is not None:
        problems.append(
            f'sync_bn={cfg.sync_bn!r} turns every BatchNorm into '
            'SyncBatchNorm, which cannot run on CPUs: remove the key.')
    return problems


def check_environment(cfg):
    """Fail before anything is built unless a CPU-only torchrun worker can
    train ``cfg``.

    Args:
        cfg (Config): The training config.

    Raises:
        RuntimeError: Not started by torchrun, CUDA is available, or the
            config cannot run on CPUs (every reason listed, see
            :func:`cpu_dist_problems`).
    """
    missing = [name for name in TORCHRUN_VARIABLES if name not in os.environ]
    if missing:
        raise RuntimeError(
            f'{", ".join(missing)} not set: start this script with torchrun, '
            'e.g. torchrun --nproc_per_node 2 tools/dist_train_cpu.py CONFIG')
    if torch.cuda.is_available():
        raise RuntimeError(
            'CUDA is available: this launcher is for CPU-only machines. On '
            'GPUs use `mim train mmseg CONFIG --launcher pytorch --gpus N` '
            '(or mmdet/mmpretrain); set CUDA_VISIBLE_DEVICES= to train on '
            'the CPU anyway.')
    problems = cpu_dist_problems(cfg)
    if problems:
        raise RuntimeError('This config cannot train in CPU processes:\n  ' +
                           '\n  '.join(problems))


def train_in_cpu_processes(cfg):
    """Train ``cfg`` in this torchrun worker, one of several CPU processes.

    Args:
        cfg (Config): The training config (e.g. from
            :func:`mmgroupmamba.apis.load_config`), with
            ``env_cfg.dist_cfg.backend='gloo'``.

    Raises:
        RuntimeError: See :func:`check_environment`; raised before anything
            is built.
    """
    check_environment(cfg)
    cfg.launcher = 'pytorch'
    # mmengine's default wrapper (no buffer broadcast, the config's
    # find_unused_parameters) without device ids, unless the config has one.
    cfg.model_wrapper_cfg = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg.device_ids = None

    # torchrun's variables (env://) give rank, world size and rendezvous.
    dist.init_process_group(backend='gloo')
    try:
        build_runner(cfg).train()
    finally:
        dist.destroy_process_group()
