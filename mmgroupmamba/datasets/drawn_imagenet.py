"""Make a small ImageNet-format classification set of drawn shapes.

    python tools/make_imagenet_data.py data/groupmamba_in1k_smoke [--seed 0]

Six classes (disc, ring, square, triangle, cross, stripes), one object per
image in a random colour, size and place on a textured background, laid out
as ImageNet is and as mmpretrain's ``ImageNet`` dataset reads it::

    OUT/train/n00000000/n00000000_0000.JPEG ...   (one folder per class)
    OUT/val/val_00000000.JPEG ...                 (flat, as ImageNet's val)
    OUT/meta/train.txt, OUT/meta/val.txt          ("relative/path label")
    OUT/meta/classes.txt                          (one class name per line)

The output is a function of the arguments alone (same seed, same bytes). It
exists to run the classification and distillation pipeline end to end
without downloading anything; it says nothing about ImageNet accuracy.
"""
from pathlib import Path

import cv2
import numpy as np

CLASSES = ('disc', 'ring', 'square', 'triangle', 'cross', 'stripes')
WNIDS = tuple(f'n{index:08d}' for index in range(len(CLASSES)))


def _background(rng, size):
    """Low-contrast low-frequency noise with pixel grain, (size, size, 3):
    texture the model must ignore, quieter than the object."""
    coarse = rng.random((size // 8 + 2, size // 8 + 2)).astype(np.float32)
    mix = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    low = rng.integers(0, 256, size=3)
    high = np.clip(low + rng.integers(-60, 61, size=3), 0, 255)
    image = low * (1 - mix[..., None]) + high * mix[..., None]
    return image + rng.normal(0, 8, size=image.shape)


def _draw(rng, label, size):
    """One image (size, size, 3) uint8 BGR showing an object of ``label``."""
    image = _background(rng, size)
    mask = np.zeros((size, size), np.uint8)
    radius = rng.uniform(0.18, 0.4) * size
    cx, cy = rng.uniform(radius, size - radius, size=2)
    centre = (int(cx), int(cy))
    thickness = max(2, int(radius / 3))
    name = CLASSES[label]
    if name == 'disc':
        cv2.circle(mask, centre, int(radius), 1, -1)
    elif name == 'ring':
        cv2.circle(mask, centre, int(radius), 1, thickness)
    elif name in ('square', 'triangle'):
        corners = 4 if name == 'square' else 3
        angle = rng.uniform(0, 2 * np.pi)
        angles = angle + 2 * np.pi * np.arange(corners) / corners
        points = np.stack([cx + radius * np.cos(angles),
                           cy + radius * np.sin(angles)], axis=1)
        cv2.fillPoly(mask, [points.round().astype(np.int32)], 1)
    elif name == 'cross':
        r = int(radius)
        cv2.line(mask, (centre[0] - r, centre[1]), (centre[0] + r, centre[1]),
                 1, thickness)
        cv2.line(mask, (centre[0], centre[1] - r), (centre[0], centre[1] + r),
                 1, thickness)
    else:  # stripes: a square patch of parallel bars at a random angle
        rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(5, 9)
        bars = np.sin(2 * np.pi * (cols * np.cos(angle) + rows * np.sin(angle))
                      / period) > 0
        inside = (np.abs(cols - cx) < radius) & (np.abs(rows - cy) < radius)
        mask[bars & inside] = 1
    colour = rng.integers(0, 256, size=3)
    # Keep the object visible: push its colour away from the background's.
    if np.abs(colour - image[mask > 0].mean(axis=0)).max() < 80:
        colour = (colour + 128) % 256
    image[mask > 0] = colour
    return np.clip(image, 0, 255).astype(np.uint8)


def make_imagenet_data(out_dir, seed=0, train_per_class=60, val_per_class=20,
                       size=64):
    """Write the set under ``out_dir`` (see the module docstring).

    Args:
        out_dir (str | Path): Output folder (created).
        seed (int): Random seed. Defaults to 0.
        train_per_class (int): Training images per class. Defaults to 60.
        val_per_class (int): Validation images per class. Defaults to 20.
        size (int): Image side in pixels. Defaults to 64.
    """
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    (out / 'meta').mkdir(parents=True, exist_ok=True)
    train_lines = []
    for label, wnid in enumerate(WNIDS):
        (out / 'train' / wnid).mkdir(parents=True, exist_ok=True)
        for index in range(train_per_class):
            path = f'{wnid}/{wnid}_{index:04d}.JPEG'
            cv2.imwrite(str(out / 'train' / path), _draw(rng, label, size),
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            train_lines.append(f'{path} {label}')
    (out / 'val').mkdir(exist_ok=True)
    labels = rng.permutation(np.repeat(np.arange(len(CLASSES)),
                                       val_per_class))
    val_lines = []
    for index, label in enumerate(labels.tolist()):
        path = f'val_{index:08d}.JPEG'
        cv2.imwrite(str(out / 'val' / path), _draw(rng, label, size),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        val_lines.append(f'{path} {label}')
    (out / 'meta' / 'train.txt').write_text('\n'.join(train_lines) + '\n')
    (out / 'meta' / 'val.txt').write_text('\n'.join(val_lines) + '\n')
    (out / 'meta' / 'classes.txt').write_text('\n'.join(CLASSES) + '\n')
