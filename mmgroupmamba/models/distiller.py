"""The distillation classifier: student with two heads + a frozen teacher.

The official training (DeiT-style hard distillation): the student's ``head``
learns the mixed, label-smoothed ground truth, its ``dist_head`` the
teacher's arg-max class on the SAME augmented batch, and

    loss = (1 - alpha) * CE(head, soft targets) + alpha * CE(dist_head, argmax(teacher))

with alpha = 0.5. The teacher (RegNetY-16GF in the official recipe) is
frozen: in eval mode, under no_grad and in float32 (outside autocast), and it
is not part of the student's module tree, so it is in no state_dict, no
optimizer, no EMA average and no DDP bucket. mmpretrain's ``DeiT`` head only
evaluates; this trains.
"""
from collections import OrderedDict

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.registry import MODELS
from mmpretrain.models import ImageClassifier
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from ..checkpoint import check_state_dict, read_checkpoint
from .heads import DualLinearClsHead

DISTILLATION_TYPES = ('hard', 'soft')


def timm_to_timm_backbone_classifier(state_dict):
    """timm classifier keys -> an mmpretrain ``ImageClassifier`` around
    ``TIMMBackbone`` (its classifier removed) with a ``LinearClsHead``.

    timm models keep their last linear layer as ``head.fc`` (RegNet, the
    DeiT teacher) or ``fc`` (ResNet); it becomes the head's ``fc``; every
    other tensor moves under ``backbone.timm_model.``.
    """
    mapped = OrderedDict()
    for key, value in state_dict.items():
        for classifier in ('head.fc.', 'fc.'):
            if key.startswith(classifier):
                mapped['head.fc.' + key[len(classifier):]] = value
                break
        else:
            mapped['backbone.timm_model.' + key] = value
    return mapped


def load_teacher(teacher, path):
    """Load a distillation teacher's weights, strictly.

    The file may be the teacher model's own (mmpretrain) state_dict, or, for
    a teacher built as ``ImageClassifier(TIMMBackbone, ..., LinearClsHead)``,
    a timm checkpoint such as DeiT's ``regnety_160-a5fe301d.pth`` (keys under
    ``model``). Every tensor of the teacher must be present: a half-loaded
    teacher would teach noise.

    Args:
        teacher (nn.Module): The built teacher model.
        path (str): Checkpoint file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: Unreadable file or keys/shapes that do not match.
    """
    state_dict = read_checkpoint(path)
    expected = teacher.state_dict()
    timm_backbone = hasattr(getattr(teacher, 'backbone', None), 'timm_model')
    if set(state_dict) != set(expected) and timm_backbone:
        state_dict = timm_to_timm_backbone_classifier(state_dict)
    check_state_dict({k: v.shape
                      for k, v in expected.items()}, state_dict,
                     f'distillation teacher from {path}')
    teacher.load_state_dict(state_dict, strict=True)
    print_log(f'loaded {len(state_dict)} teacher tensors from {path}',
              logger='current')


class FrozenTeacher:
    """Holds the teacher outside the student's ``nn.Module`` tree.

    A copy of the student (mmengine's EMA model is a ``deepcopy``) shares the
    teacher instead of duplicating it: it never changes, so sharing is exact.
    """

    def __init__(self, model):
        self.model = model

    def __deepcopy__(self, memo):
        return self


@MODELS.register_module()
class DistillationClassifier(ImageClassifier):
    """An ``ImageClassifier`` trained with a frozen teacher (DeiT-style).

    Evaluation and prediction are the plain classifier's: the dual head
    averages its two logits in eval mode.

    Args:
        backbone (dict): Student backbone config.
        neck (dict | None): Student neck config.
        head (dict): Student head config; must be a ``DualLinearClsHead``.
        teacher (dict | None): Config of any mmpretrain classifier (its
            ``forward(x, mode='tensor')`` gives logits). None trains without
            distillation: both heads then learn the ground truth.
        teacher_checkpoint (str | None): The teacher's weights (its own
            state_dict, or a timm checkpoint for a ``TIMMBackbone`` teacher);
            required with a teacher. Read by :meth:`init_weights`, which the
            Runner calls before the first iteration: a missing file stops
            the run at start, and evaluation never needs it.
        distillation (str): 'hard' (cross entropy with the teacher's arg-max
            class, the official default) or 'soft' (KL divergence at
            temperature ``tau``). Defaults to 'hard'.
        alpha (float): Weight of the distillation term. Defaults to 0.5.
        tau (float): Soft distillation temperature. Defaults to 1.0.
        train_cfg (dict | None): mmpretrain's batch augments (Mixup/CutMix).
        data_preprocessor (dict | None): Data preprocessor config.
        init_cfg (dict | None): Student init config.
    """

    def __init__(self,
                 backbone,
                 neck,
                 head,
                 teacher=None,
                 teacher_checkpoint=None,
                 distillation='hard',
                 alpha=0.5,
                 tau=1.0,
                 train_cfg=None,
                 data_preprocessor=None,
                 init_cfg=None):
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            train_cfg=train_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if not isinstance(self.head, DualLinearClsHead):
            raise TypeError('DistillationClassifier needs a DualLinearClsHead '
                            f'(head + dist_head), got {type(self.head)}')
        if distillation not in DISTILLATION_TYPES:
            raise ValueError(f'distillation must be one of '
                             f'{DISTILLATION_TYPES}, got {distillation!r}')
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f'alpha must be in [0, 1], got {alpha}')
        if tau <= 0:
            raise ValueError(f'tau must be positive, got {tau}')
        if teacher is None and teacher_checkpoint is not None:
            raise ValueError(
                f'teacher_checkpoint={teacher_checkpoint!r} was given without '
                'a teacher config; set both, or neither to train without '
                'distillation')
        if teacher is not None and teacher_checkpoint is None:
            raise ValueError(
                'a teacher needs teacher_checkpoint: a randomly initialised '
                'teacher would teach noise. Give the path of its weights, or '
                'set teacher=None to train without distillation')
        self.distillation = distillation
        self.alpha = alpha
        self.tau = tau
        self.teacher_cfg = teacher
        self.teacher_checkpoint = teacher_checkpoint
        self._teacher = None

    def init_weights(self):
        """Initialise the student, then build and load the frozen teacher.

        The Runner calls this at the start of training (also when resuming),
        so a missing or mismatched teacher file stops the run before the
        first iteration, while evaluation and inference, which never call
        it, need neither the teacher nor its file.
        """
        super().init_weights()
        if self.teacher_cfg is None or self._teacher is not None:
            return
        teacher = MMPRETRAIN_MODELS.build(self.teacher_cfg)
        load_teacher(teacher, self.teacher_checkpoint)
        teacher.requires_grad_(False)
        teacher.eval()
        student_param = next(self.parameters())
        teacher.to(student_param.device)
        self._teacher = FrozenTeacher(teacher)

    @property
    def teacher(self):
        """The frozen teacher model (None before :meth:`init_weights`)."""
        return None if self._teacher is None else self._teacher.model

    def _apply(self, fn, recurse=True):
        # Device moves (.to / .cuda) follow the student; the teacher's dtype
        # stays float32, as the official teacher runs outside autocast.
        super()._apply(fn, recurse)
        if self._teacher is not None:
            self._teacher.model._apply(fn, recurse)
            self._teacher.model.float()
        return self

    @torch.no_grad()
    def teacher_logits(self, inputs):
        """The teacher's float32 logits (B, num_classes) for ``inputs``."""
        # In eval mode every mmpretrain head, the dual one included, returns
        # one logits tensor.
        with torch.autocast(device_type=inputs.device.type, enabled=False):
            return self.teacher(inputs.float(), mode='tensor')

    def distillation_loss(self, dist_logits, teacher_logits):
        """The dist_head's loss against the teacher (scalar tensor)."""
        dist_logits = dist_logits.float()
        if self.distillation == 'hard':
            return F.cross_entropy(dist_logits, teacher_logits.argmax(dim=1))
        # DeiT's soft form: KL summed over the batch and classes, divided by
        # the number of logits, times tau^2.
        tau = self.tau
        return F.kl_div(
            F.log_softmax(dist_logits / tau, dim=1),
            F.log_softmax(teacher_logits / tau, dim=1),
            reduction='sum',
            log_target=True) * tau * tau / dist_logits.numel()

    def loss(self, inputs, data_samples):
        """Losses for a batch: ``loss_cls`` and ``loss_distill``.

        Args:
            inputs (Tensor): Augmented, normalised images (B, 3, H, W).
            data_samples (list[DataSample]): With ``gt_score`` after
                Mixup/CutMix, else ``gt_label``.

        Returns:
            dict[str, Tensor]: ``loss_cls`` = (1 - alpha) * head loss,
            ``loss_distill`` = alpha * dist_head loss; without a teacher,
            the plain dual-head ``loss``.
        """
        feats = self.extract_feat(inputs)
        if self.teacher_cfg is None:
            return self.head.loss(feats, data_samples)
        if self._teacher is None:
            raise RuntimeError(
                'the teacher is not loaded: call init_weights() first (the '
                'Runner does at the start of training)')
        head_logits, dist_logits = self.head.both_logits(feats)
        base = self.head.ground_truth_loss(head_logits, data_samples)
        distill = self.distillation_loss(dist_logits,
                                         self.teacher_logits(inputs))
        return dict(
            loss_cls=(1 - self.alpha) * base, loss_distill=self.alpha * distill)
