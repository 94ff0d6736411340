"""A classifier as a plain ``images -> logits`` module, for tools that trace,
export or time models (they call ``module(images)``)."""
import torch


class ClassifierLogits(torch.nn.Module):
    """An mmpretrain classifier as images (B, 3, H, W) -> logits (B, classes).

    Eval mode gives the official averaged heads; in training mode, where the
    dual head returns both, their average too (for timing a training step).
    """

    def __init__(self, classifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, images):
        logits = self.classifier(images, mode='tensor')
        return sum(logits) / 2 if isinstance(logits, tuple) else logits
