"""The official initialisation rules, one function per layer kind."""
import math

from torch import nn


def init_linear(layer):
    """nn.Linear: trunc_normal(std=.02), bias 0 (timm's rule in the official code)."""
    nn.init.trunc_normal_(layer.weight, std=.02)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


def init_conv(layer):
    """nn.Conv2d: normal(0, sqrt(2 / fan_out)), fan_out = k*k*out/groups; bias 0."""
    kh, kw = layer.kernel_size
    fan_out = kh * kw * layer.out_channels // layer.groups
    nn.init.normal_(layer.weight, std=math.sqrt(2.0 / fan_out))
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
