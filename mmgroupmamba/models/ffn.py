"""The feed-forward network of a GroupMamba block (PVTv2-style, with a depthwise conv)."""
import torch
from torch import nn

from .init import init_conv, init_linear
from mmgroupmamba.ops.tracing import is_traced
from .pointwise import channel_linear, depthwise_conv_act

#: On a CPU, the most bytes of hidden map one pass of the FFN makes: larger
#: batches run a few images at a time. Why: glibc serves a request above its
#: largest mmap threshold (32 MiB on 64-bit hosts) with fresh pages every
#: time, and touching them costs about as much as the layer (GroupMamba-T's
#: stage-1 hidden map is 51 MB at batch 8: 12.5k page faults per fc1 call).
#: Maps at or below it are reused from the heap.
CPU_HIDDEN_BYTES = 32 * 2**20


class ConvFFN(nn.Module):
    """fc1 -> depthwise 3x3 conv -> GELU (exact) -> fc2, on channel-last tokens.

    Args:
        dim (int): Channels C in and out.
        hidden_dim (int): Hidden channels (``mlp_ratio * dim``).
    """

    def __init__(self, dim, hidden_dim):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.dwconv = nn.Conv2d(
            hidden_dim, hidden_dim, 3, padding=1, groups=hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)
        init_linear(self.fc1)
        init_conv(self.dwconv)
        init_linear(self.fc2)

    def forward(self, x):
        """``x`` (B, H, W, C) -> (B, H, W, C)."""
        # The permuted tokens are a channels_last NCHW map: the three layers
        # read it in place, and the hidden map stays in that layout, which
        # torch.compile keeps too (going back to tokens between the layers
        # made it copy the hidden map twice per block at batch 1).
        x = x.permute(0, 3, 1, 2)
        # Traced graphs (compile, export) take the batch whole: the split
        # would fix their batch size, and inductor plans its own buffers.
        if not is_traced() and x.device.type == 'cpu':
            parts = x.split(self.images_per_pass(x))
            if len(parts) > 1:
                x = torch.cat([self.mlp(part) for part in parts])
                return x.permute(0, 2, 3, 1)
        return self.mlp(x).permute(0, 2, 3, 1)

    def mlp(self, x):
        """The three layers on a map ``x`` (B, C, H, W) -> (B, C, H, W)."""
        hidden = depthwise_conv_act(
            channel_linear(self.fc1, x), self.dwconv.weight, self.dwconv.bias,
            self.dwconv.padding[0], 'gelu')
        return channel_linear(self.fc2, hidden)

    def images_per_pass(self, x):
        """How many images of a map ``x`` (B, C, H, W) one pass takes on a
        CPU: as many as keep the hidden map within
        :data:`CPU_HIDDEN_BYTES`, at least one."""
        per_image = self.fc1.out_features * x.shape[2] * x.shape[3]
        return max(1, CPU_HIDDEN_BYTES // (per_image * x.element_size()))
