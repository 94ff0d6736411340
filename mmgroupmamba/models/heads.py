"""The dual linear classification head (DeiT-style head + distillation head)."""
from mmengine.registry import MODELS
from mmpretrain.models.heads import ClsHead
from torch import nn

from .init import init_linear


@MODELS.register_module()
class DualLinearClsHead(ClsHead):
    """Two linear classifiers on the same pooled feature.

    In training mode ``forward`` returns ``(head_logits, dist_logits)``; in
    eval mode their average, which is what the official model reports.
    Without a teacher, :meth:`loss` trains both heads on the ground truth with
    equal weight; the distillation classifier replaces the second target by
    the teacher's.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Feature channels.
        loss (dict): Classification loss config. Defaults to cross entropy.
        topk (int | Sequence[int]): Accuracy top-k. Defaults to (1, ).
        cal_acc (bool): Report training accuracy. Defaults to False.
        init_cfg (dict | None): mmengine init config. Defaults to None (the
            official trunc_normal(.02) init is applied at construction).

    Shapes:
        input: tuple whose last item is (B, C); output (B, num_classes) in
        eval mode, a pair of them in training mode.

    Loading: a file of another class count is the fine-tuning case and
    follows the host (mmengine's loaders and our runner keep the new
    layers and say so); whole-model loads (``apis.init_model``, ``resume``)
    refuse it.
    """

    def __init__(self,
                 num_classes,
                 in_channels,
                 loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
                 topk=(1, ),
                 cal_acc=False,
                 init_cfg=None):
        super().__init__(
            loss=loss, topk=topk, cal_acc=cal_acc, init_cfg=init_cfg)
        if num_classes <= 0:
            raise ValueError(f'num_classes must be positive, got {num_classes}')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.fc = nn.Linear(in_channels, num_classes)
        self.dist_fc = nn.Linear(in_channels, num_classes)
        init_linear(self.fc)
        init_linear(self.dist_fc)

    def both_logits(self, feats):
        """(head_logits, dist_logits), each (B, num_classes), in any mode."""
        pre_logits = self.pre_logits(feats)
        return self.fc(pre_logits), self.dist_fc(pre_logits)

    def forward(self, feats):
        head_logits, dist_logits = self.both_logits(feats)
        if self.training:
            return head_logits, dist_logits
        return (head_logits + dist_logits) / 2

    def ground_truth_loss(self, logits, data_samples):
        """The configured loss of ``logits`` (B, num_classes) against the
        samples' targets: ``gt_score`` (mixed, soft) when batch augments made
        one, else ``gt_label``. Returns a scalar tensor."""
        return self._get_loss(logits, data_samples)['loss']

    def loss(self, feats, data_samples):
        """Average of the two heads' losses against the ground truth (plus the
        head's accuracy with ``cal_acc``)."""
        head_logits, dist_logits = self.both_logits(feats)
        losses = self._get_loss(head_logits, data_samples)
        losses['loss'] = (losses['loss'] +
                          self.ground_truth_loss(dist_logits, data_samples)) / 2
        return losses
