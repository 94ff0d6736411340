"""The learning checks' loops: what tools/learning_check_det.py,
tools/learning_check_cls.py and the demo (tools/demo.py) run.

Detection:

:func:`learning_config` aims the small Mask R-CNN learning config
(``configs/smoke/maskrcnn_groupmamba_t_learning.py``, read from the
package's ``.mim/configs``) at a drawn COCO-format set
(:func:`mmgroupmamba.datasets.make_coco_data`); :func:`train_and_evaluate`
trains it through mmengine's Runner and evaluates it with mmdet's
``CocoMetric``.

Classification: :func:`train_classifier` trains the smoke teacher
(``configs/smoke/teacher_smoke.py``) or distils the smoke GroupMamba from it
(``configs/smoke/groupmamba_in1k_smoke.py``) on a drawn ImageNet-format set
(:func:`mmgroupmamba.datasets.make_imagenet_data`).
"""
import time

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import DefaultScope

from ..model_zoo import MIM_ROOT
from .run_config import build_runner, coco_data_options, data_root_options

SMOKE_CONFIGS = MIM_ROOT / 'configs' / 'smoke'
LEARNING_CONFIG = SMOKE_CONFIGS / 'maskrcnn_groupmamba_t_learning.py'
CLS_TEACHER_CONFIG = SMOKE_CONFIGS / 'teacher_smoke.py'
CLS_STUDENT_CONFIG = SMOKE_CONFIGS / 'groupmamba_in1k_smoke.py'
#: CocoMetric's average precisions the check reports.
AP_KEYS = ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP',
           'coco/segm_mAP_50')


def learning_config(data_root, work_dir, iters, seed):
    """The learning config aimed at ``data_root``, run for ``iters``.

    Args:
        data_root (str | Path): A set written by
            :func:`mmgroupmamba.datasets.make_coco_data`.
        work_dir (str | Path): Folder for logs and the checkpoint.
        iters (int): Training iterations (>= 12); the config's warm-up and
            cosine decay are rescaled to them.
        seed (int): Seed of the weights and the data order.

    Returns:
        Config: Ready for ``Runner.from_cfg``.
    """
    if iters < 12:
        raise ValueError(f'iters must be >= 12 (the warm-up is 1/12), got '
                         f'{iters}')
    cfg = Config.fromfile(LEARNING_CONFIG)
    cfg.merge_from_dict(coco_data_options(data_root))
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = iters
    warmup, cosine = cfg.param_scheduler
    warmup.end = cosine.begin = iters // 12
    cosine.end = iters
    cosine.T_max = iters - iters // 12
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.logger.interval = max(1, min(50, iters // 10))
    cfg.randomness = dict(seed=seed)
    return cfg


def train_and_evaluate(cfg):
    """Train ``cfg`` in mmdet's scope, then evaluate it on the val split.

    Args:
        cfg (Config): A detection config (see :func:`learning_config`).

    Returns:
        tuple[dict, dict]: The test metrics (CocoMetric's ``coco/...`` keys)
        and the seconds spent: ``train`` and ``test`` wall time, and
        ``train_cpu``, this process's CPU time in training (on one thread,
        what the wall time would be on an idle core).
    """
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None  # test once
    with DefaultScope.overwrite_default_scope('mmdet'):
        start, start_cpu = time.perf_counter(), time.process_time()
        runner = build_runner(cfg)
        runner.train()
        trained, trained_cpu = time.perf_counter(), time.process_time()
        metrics = runner.test()
    seconds = dict(train=trained - start, train_cpu=trained_cpu - start_cpu,
                   test=time.perf_counter() - trained)
    return metrics, seconds


def schedule(epochs):
    """The smoke classification configs' LR schedule stretched to
    ``epochs``: one warm-up epoch, then cosine to the end."""
    return [
        dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=1,
             convert_to_iter_based=True),
        dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
             end=epochs, convert_to_iter_based=True),
    ]


class LastMetrics(Hook):
    """Keeps the last validation metrics, plus the live weights' ones that
    mmpretrain's EMA hook logs as ``val/*_origin`` (it runs first)."""

    priority = 'LOWEST'

    def __init__(self):
        self.metrics = {}

    def after_val_epoch(self, runner, metrics=None):
        self.metrics = dict(metrics or {})
        for key, buffer in runner.message_hub.log_scalars.items():
            if key.startswith('val/') and key.endswith('_origin'):
                self.metrics[key[len('val/'):]] = buffer.current()


def train_classifier(config, work_dir, data_root, epochs,
                     teacher_checkpoint=None):
    """Train a smoke classification config in mmpretrain's scope.

    Args:
        config (str | Path): The config (:data:`CLS_TEACHER_CONFIG` or
            :data:`CLS_STUDENT_CONFIG`).
        work_dir (str | Path): Folder for logs and checkpoints.
        data_root (str | Path): A set written by
            :func:`mmgroupmamba.datasets.make_imagenet_data`.
        epochs (int): Epochs; the LR schedule follows (:func:`schedule`).
        teacher_checkpoint (str | Path | None): The distiller's teacher
            weights. Defaults to None (the config's).

    Returns:
        tuple[dict, float]: The last validation metrics (with the live
        weights' ``*_origin`` ones when an EMA is kept) and the seconds.
    """
    cfg = Config.fromfile(config)
    cfg.work_dir = str(work_dir)
    cfg.merge_from_dict(data_root_options(data_root))
    cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = epochs
    cfg.param_scheduler = schedule(epochs)
    cfg.default_hooks.checkpoint.interval = epochs
    if teacher_checkpoint is not None:
        cfg.model.teacher_checkpoint = str(teacher_checkpoint)
    start = time.perf_counter()
    recorder = LastMetrics()
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        runner = build_runner(cfg)
        runner.register_hook(recorder)
        runner.train()
    return recorder.metrics, time.perf_counter() - start
