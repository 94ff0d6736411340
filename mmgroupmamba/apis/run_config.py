"""Configs ready for mmengine's Runner: the overrides every entry point takes.

``tools/train.py``, ``tools/test.py`` and ``tools/dist_train_cpu.py`` are
command lines over these functions; tests and users call them directly::

    cfg = training_config('configs/groupmamba_t_8xb128_in1k.py',
                          work_dir='work_dirs/t', resume='auto')
    build_runner(cfg).train()
"""
import os
import os.path as osp

from mmengine.config import Config, ConfigDict
from mmengine.registry import RUNNERS

from ..engine import GroupMambaRunner

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def build_runner(cfg):
    """The runner of ``cfg``: its ``runner_type`` when it names one, as the
    OpenMMLab tools do, else :class:`GroupMambaRunner` (our tools load
    checkpoints by the project's rules whatever the config).

    Args:
        cfg (Config): A complete config (e.g. from :func:`training_config`).

    Returns:
        mmengine.runner.Runner: Ready for ``train()`` or ``test()``.
    """
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return GroupMambaRunner.from_cfg(cfg)


def load_config(config, work_dir=None, cfg_options=None):
    """Read ``config`` and apply the command-line style overrides.

    Args:
        config (str): Config file path.
        work_dir (str | None): Where to save logs and models. Defaults to
            the config's ``work_dir``, else ``./work_dirs/<config name>``.
        cfg_options (dict | None): ``key.path -> value`` overrides
            (``--cfg-options``). Defaults to None.

    Returns:
        Config: The config.
    """
    cfg = Config.fromfile(config)
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    return cfg


def _launched(cfg, launcher, local_rank):
    if launcher not in LAUNCHERS:
        raise ValueError(f'launcher must be one of {LAUNCHERS}, got '
                         f'{launcher!r}')
    # torchrun sets LOCAL_RANK itself; older launchers pass --local_rank.
    os.environ.setdefault('LOCAL_RANK', str(local_rank))
    cfg.launcher = launcher
    return cfg


def training_config(config, work_dir=None, cfg_options=None, launcher='none',
                    local_rank=0, resume=None, amp=False,
                    auto_scale_lr=False):
    """The config of a training run (``tools/train.py``, ``mim train``).

    Args:
        config, work_dir, cfg_options: As :func:`load_config`.
        launcher (str): 'none', 'pytorch', 'slurm' or 'mpi'.
            Defaults to 'none'.
        local_rank (int): This process's rank on its node, for launchers
            that do not set ``LOCAL_RANK``. Defaults to 0.
        resume (str | None): A checkpoint to resume from, 'auto' for the
            work dir's latest (``last_checkpoint``: model, optimizer, LR
            schedule, EMA and counters), or None. Defaults to None.
        amp (bool): Use ``AmpOptimWrapper`` (CUDA). Defaults to False.
        auto_scale_lr (bool): Scale the LR by the real batch over the
            config's ``auto_scale_lr.base_batch_size``. Defaults to False.

    Returns:
        Config: The config for :func:`build_runner`.
    """
    cfg = _launched(load_config(config, work_dir, cfg_options), launcher,
                    local_rank)
    if amp and cfg.optim_wrapper.get('type', 'OptimWrapper') != \
            'AmpOptimWrapper':
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        cfg.resume = True
        cfg.load_from = resume
    return cfg


def testing_config(config, checkpoint, work_dir=None, cfg_options=None,
                   launcher='none', local_rank=0, tta=False):
    """The config of an evaluation (``tools/test.py``, ``mim test``).

    Args:
        config, work_dir, cfg_options, launcher, local_rank: As
            :func:`training_config`.
        checkpoint (str): The checkpoint to evaluate (a Runner checkpoint or
            a converted official one; read with ``weights_only=True``).
        tta (bool): Use the config's ``tta_model`` and ``tta_pipeline``.
            Defaults to False.

    Returns:
        Config: The config for :func:`build_runner`.
    """
    cfg = _launched(load_config(config, work_dir, cfg_options), launcher,
                    local_rank)
    cfg.load_from = checkpoint
    if tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise ValueError(f'{config} defines no tta_model and '
                             'tta_pipeline: --tta is not available for it')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = ConfigDict(cfg.tta_model)
    return cfg


#: Where a set written by :func:`mmgroupmamba.datasets.make_coco_data` keeps
#: the validation annotations that COCO evaluators read.
COCO_VAL_ANNOTATIONS = 'annotations/instances_val.json'


def data_root_options(data_root, evaluator_ann_file=None):
    """Overrides that aim a config's train/val/test data at ``data_root``.

    One rule for every task: the three loaders read ``data_root``; for a
    detection config the val/test evaluators also read their annotations
    from it. Pass the dict to ``Config.merge_from_dict`` or, as
    ``key=value`` strings (:func:`as_cfg_options`), to ``--cfg-options``.

    Args:
        data_root (str | Path): The data set's root folder (an ImageNet,
            COCO or ADE20K layout, e.g. one of :mod:`mmgroupmamba.datasets`).
        evaluator_ann_file (str | None): The evaluators' annotation file,
            relative to ``data_root`` (COCO: :data:`COCO_VAL_ANNOTATIONS`);
            None leaves the evaluators alone. Defaults to None.

    Returns:
        dict[str, str]: ``key.path -> value``.
    """
    root = f'{data_root}/'
    options = {f'{split}_dataloader.dataset.data_root': root
               for split in ('train', 'val', 'test')}
    if evaluator_ann_file is not None:
        options.update({f'{split}_evaluator.ann_file':
                        root + evaluator_ann_file
                        for split in ('val', 'test')})
    return options


def coco_data_options(data_root):
    """:func:`data_root_options` for a COCO-format set made by
    :func:`mmgroupmamba.datasets.make_coco_data` (its evaluators read
    ``annotations/instances_val.json``)."""
    return data_root_options(data_root, COCO_VAL_ANNOTATIONS)


def as_cfg_options(options):
    """``key.path -> value`` overrides as ``--cfg-options`` arguments.

    Args:
        options (dict): Overrides, e.g. from :func:`data_root_options`.

    Returns:
        list[str]: ``['key.path=value', ...]``.
    """
    return [f'{key}={value}' for key, value in options.items()]
