#!/usr/bin/env python
"""Pictures of what GroupMamba does, saved as PNG.

    python tools/visualize.py scan-orders out/scan_orders.png
    python tools/visualize.py features out/features.png --image cat.jpg
    python tools/visualize.py erf out/erf.png --checkpoint groupmamba_t_mm.pth

* ``scan-orders``: the four directions of a GroupMambaLayer on a small grid,
  drawn from the model's own ``scan_orders`` (the picture is the code).
* ``features``: per stage, the first three principal components of the
  stage map as RGB (a drawn test image when ``--image`` is not given).
* ``erf``: the effective receptive field of each stage, as in the RepLKNet and
  VMamba papers: |d (centre of the stage map, summed over channels) / d input|
  summed over colour channels, averaged over images, log-scaled.

Without ``--checkpoint`` the weights are the official random initialisation
(seeded): the ERF then shows what the architecture can reach, not what a
trained model uses.
"""
import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402

# mmengine 0.10.7 imports pkg_resources; its deprecation notice is not ours.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

REPO = Path(__file__).resolve().parents[1]
MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
DIRECTIONS = ('group 1: row-major', 'group 2: column-major',
              'group 3: row-major, reversed', 'group 4: column-major, reversed')


def draw_scan_orders(path, height=5, width=6):
    from mmgroupmamba.models.directional_ssm import scan_orders
    order, _ = scan_orders(height, width, torch.device('cpu'))
    fig, axes = plt.subplots(1, 4, figsize=(16, 4))
    for k, ax in enumerate(axes):
        tokens = order[k].tolist()
        rows = [t // width for t in tokens]
        cols = [t % width for t in tokens]
        ax.plot(cols, rows, '-', color='0.6', zorder=1)
        ax.scatter(cols, rows, c=np.arange(len(tokens)), cmap='viridis',
                   s=160, zorder=2)
        for step, (r, c) in enumerate(zip(rows, cols)):
            ax.annotate(str(step), (c, r), ha='center', va='center',
                        fontsize=7, color='white', zorder=3)
        ax.annotate('', xy=(cols[1], rows[1]), xytext=(cols[0], rows[0]),
                    arrowprops=dict(arrowstyle='->', color='red', lw=2))
        ax.set_title(DIRECTIONS[k])
        ax.set_xlim(-0.6, width - 0.4)
        ax.set_ylim(height - 0.4, -0.6)
        ax.set_aspect('equal')
        ax.set_xticks(range(width))
        ax.set_yticks(range(height))
    fig.suptitle(f'scan order of each channel group on a {height}x{width} '
                 'token grid (numbers: step; red arrow: first step)')
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def build_backbone(config, checkpoint):
    import mmgroupmamba  # noqa: F401  (registers the models)
    from mmgroupmamba.models import GroupMamba
    cfg = Config.fromfile(config).model.backbone
    cfg.pop('type')
    cfg.update(out_indices=(0, 1, 2, 3), drop_path_rate=0.0)
    if checkpoint:
        cfg['init_cfg'] = dict(type='Pretrained', checkpoint=checkpoint)
    torch.manual_seed(0)
    backbone = GroupMamba(**cfg)
    backbone.init_weights()
    return backbone.eval()


def demo_images(count, size=224):
    """Simple drawn pictures (no dataset needed): (count, 3, size, size) RGB."""
    gen = torch.Generator().manual_seed(0)
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size),
                            indexing='ij')
    images = []
    for i in range(count):
        cy, cx = torch.randint(40, size - 40, (2, ), generator=gen).tolist()
        radius = 20 + 10 * i
        disc = ((ys - cy)**2 + (xs - cx)**2 < radius**2).float()
        stripes = ((xs + ys * i) // 16 % 2).float()
        colour = torch.rand(3, 1, 1, generator=gen)
        images.append(255 * (0.3 * stripes + 0.7 * disc * colour))
    return torch.stack(images)


def load_image(path, size=224):
    from PIL import Image
    image = Image.open(path).convert('RGB').resize((size, size))
    return torch.from_numpy(np.asarray(image)).permute(2, 0, 1)[None].float()


def draw_features(path, backbone, image):
    with torch.no_grad():
        maps = backbone((image - MEAN) / STD)
    fig, axes = plt.subplots(1, 5, figsize=(20, 4.6))
    axes[0].imshow(image[0].permute(1, 2, 0).byte().numpy())
    axes[0].set_title('input')
    for i, (ax, fmap) in enumerate(zip(axes[1:], maps)):
        c, h, w = fmap.shape[1:]
        flat = fmap[0].reshape(c, h * w).T  # tokens x channels
        flat = flat - flat.mean(0)
        _, _, components = torch.pca_lowrank(flat, q=3, center=False)
        rgb = (flat @ components[:, :3]).reshape(h, w, 3)
        rgb = (rgb - rgb.amin((0, 1))) / (rgb.amax((0, 1)) -
                                         rgb.amin((0, 1)) + 1e-8)
        ax.imshow(rgb.numpy(), interpolation='nearest')
        ax.set_title(f'stage {i + 1}: {c} ch, {h}x{w}')
    for ax in axes:
        ax.axis('off')
    fig.suptitle('stage maps: first 3 principal components as RGB')
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def draw_erf(path, backbone, images):
    inputs = ((images - MEAN) / STD).requires_grad_(True)
    maps = backbone(inputs)
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.6), layout='constrained')
    for i, (ax, fmap) in enumerate(zip(axes, maps)):
        h, w = fmap.shape[-2:]
        centre = fmap[:, :, h // 2, w // 2].sum()
        grad, = torch.autograd.grad(centre, inputs, retain_graph=i < 3)
        erf = grad.abs().sum(1).mean(0)  # over colour, then images
        erf = torch.log10(erf / erf.max() + 1e-6)
        im = ax.imshow(erf.numpy(), cmap='RdYlGn', vmin=-6, vmax=0)
        ax.set_title(f'stage {i + 1} (centre of {h}x{w})')
        ax.axis('off')
    fig.colorbar(im, ax=axes, shrink=0.8, label='log10 |grad| (normalised)')
    fig.suptitle(f'effective receptive field at 224 px, {len(images)} '
                 'images')
    fig.savefig(path, dpi=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('what', choices=['scan-orders', 'features', 'erf'])
    parser.add_argument('output', help='PNG file to write')
    parser.add_argument('--config',
                        default=str(REPO / 'configs' / 'groupmamba_t_in1k.py'))
    parser.add_argument('--checkpoint', help='converted or official weights')
    parser.add_argument('--image', help='an image for `features`')
    parser.add_argument('--num-images', type=int, default=4,
                        help='images averaged for `erf`')
    args = parser.parse_args()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    if args.what == 'scan-orders':
        draw_scan_orders(args.output)
    else:
        backbone = build_backbone(args.config, args.checkpoint)
        if args.what == 'features':
            image = (load_image(args.image)
                     if args.image else demo_images(1))
            draw_features(args.output, backbone, image)
        else:
            draw_erf(args.output, backbone, demo_images(args.num_images))
    print(f'wrote {args.output}')


if __name__ == '__main__':
    main()
