"""The feed-forward network of a GroupMamba block (PVTv2-style, with a depthwise conv)."""
import torch
from torch import nn

from .init import init_conv, init_linear
from .pointwise import is_traced, channel_linear, depthwise_conv_gelu

#: On a CPU, the most bytes of hidden map one pass of the FFN makes: larger
#: batches run a few images a pass, and an image larger still runs in bands
#: of rows. Why: glibc serves a request above its largest mmap threshold
#: (32 MiB on 64-bit hosts) with fresh pages every time, and touching them
#: costs about as much as the layer (GroupMamba-T's stage-1 hidden map is
#: 51 MB at batch 8: 12.5k page faults per fc1 call). A pass keeps two
#: hidden maps alive (fc1's output and the activated map), so 16 MiB each;
#: measured against 32 MiB, 619 against 686 ms for a batch-8 GroupMamba-T
#: forward (docs/benchmarks.md).
CPU_HIDDEN_BYTES = 16 * 2**20

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
        # Traced graphs (compile, export) take the batch whole: a split
        # would fix their input size, and Inductor plans its own buffers.
        if is_traced() or x.device.type != 'cpu':
            return self.mlp(x).permute(0, 2, 3, 1)
        rows = self.rows_per_pass(x)
        height = x.shape[2]
        # The pieces join as tokens (B, H, W, C): a concatenation of NCHW
        # maps of one image would not keep the channels-last layout.
        if rows < height:
            return torch.cat([self.mlp_in_bands(image, rows)
                              for image in x.split(1)])
        if rows // height < len(x):
            return torch.cat([self.mlp(part).permute(0, 2, 3, 1)
                              for part in x.split(rows // height)])
        return self.mlp(x).permute(0, 2, 3, 1)

    def mlp(self, x):
        """The three layers on a map ``x`` (B, C, H, W) -> (B, C, H, W)."""
        return channel_linear(self.fc2,
                              depthwise_conv_gelu(self.dwconv,
                                                  channel_linear(self.fc1, x)))

    def mlp_in_bands(self, x, rows):
        """:meth:`mlp` of one image ``x`` (1, C, H, W) in bands of ``rows``
        output rows, as tokens (1, H, W, C). Each band's fc1 and 3x3 conv
        also make the row above and below it that the conv reads (the
        image's zero padding at its edges), so the bands join to the
        one-pass result to the bit."""
        height = x.shape[2]
        bands = []
        for top in range(0, height, rows):
            bottom = min(top + rows, height)
            first, last = max(top - 1, 0), min(bottom + 1, height)
            hidden = depthwise_conv_gelu(
                self.dwconv, channel_linear(self.fc1, x[:, :, first:last]))
            band = channel_linear(
                self.fc2, hidden[:, :, top - first:bottom - first])
            bands.append(band.permute(0, 2, 3, 1))
        return torch.cat(bands, dim=1)

    def rows_per_pass(self, x):
        """Rows of hidden map one CPU pass makes for a map ``x`` (B, C, H,
        W): whole images (a multiple of H) where one fits
        :data:`CPU_HIDDEN_BYTES`, else H split evenly into bands that fit
        with their two extra rows."""
        height = x.shape[2]
        row_bytes = self.fc1.out_features * x.shape[3] * x.element_size()
        rows = CPU_HIDDEN_BYTES // row_bytes
        if rows >= height:
            return rows - rows % height
        bands = -(-height // max(1, rows - 2))
        return -(-height // bands)
