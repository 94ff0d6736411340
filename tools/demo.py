#!/usr/bin/env python
"""Main-job demo: classify a few images with GroupMamba-T through mmpretrain.

Runs the path a user's downloaded official checkpoint takes, on CPU, offline:
1. seeded GroupMamba-T weights, saved in the OFFICIAL layout (a bare
   state_dict with the release's keys);
2. the conversion of ``tools/convert_official.py``;
3. mmpretrain's ``ImageClassificationInferencer`` on
   ``configs/groupmamba_t_in1k.py`` with that checkpoint;
4. top-5 classes per image and the wall time.

The weights are random (seeded, never trained), so the classes it prints are
meaningless; swap in a real official checkpoint with ``--official PATH``.
"""
import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
# mmengine 0.10.7 imports pkg_resources; its deprecation notice is not ours.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')


def make_images(folder, size=(320, 240)):
    """Draw four simple test pictures; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    ramp = np.linspace(0, 255, w, dtype=np.uint8)
    pictures = {
        'gradient': np.stack([np.tile(ramp, (h, 1))] * 3, axis=-1),
        'stripes': np.stack([(np.indices((h, w))[1] // 16 % 2) * 255] * 3,
                            axis=-1).astype(np.uint8),
        'checker': np.stack([((np.indices((h, w)) // 24).sum(0) % 2) * 200] *
                            3, axis=-1).astype(np.uint8),
    }
    paths = []
    for name, array in pictures.items():
        paths.append(folder / f'{name}.png')
        Image.fromarray(array).save(paths[-1])
    circles = Image.new('RGB', size, (30, 90, 160))
    draw = ImageDraw.Draw(circles)
    for i in range(6):
        draw.ellipse([20 + 45 * i, 40 + 20 * (i % 3), 90 + 45 * i,
                      110 + 20 * (i % 3)], fill=(230, 40 * i, 60))
    paths.append(folder / 'circles.png')
    circles.save(paths[-1])
    return paths


def seeded_official_checkpoint(config, path, seed):
    """GroupMamba-T with the official random init under ``seed``, official keys."""
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    from mmgroupmamba.models.checkpoint import mm_to_official
    torch.manual_seed(seed)
    model = MODELS.build(Config.fromfile(config).model)
    torch.save(mm_to_official(model.state_dict()), path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--official', help='an official GroupMamba-T '
                        'checkpoint to use instead of seeded weights')
    parser.add_argument('--work-dir', default=str(REPO / 'work_dirs' / 'demo'))
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()

    import mmgroupmamba  # noqa: F401  (registers the models)
    from mmpretrain import ImageClassificationInferencer

    from mmgroupmamba.models.checkpoint import convert_official_checkpoint
    work_dir = Path(args.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    config = REPO / 'configs' / 'groupmamba_t_in1k.py'
    official = args.official
    if official is None:
        official = work_dir / f'groupmamba_tiny_seed{args.seed}_official.pth'
        seeded_official_checkpoint(config, official, args.seed)
        print(f'seeded official-layout weights: {official}')
    converted = work_dir / 'groupmamba_t_in1k_converted.pth'
    convert_official_checkpoint(official, converted)
    print(f'converted for mmpretrain: {converted}')

    images = make_images(work_dir / 'images')
    start = time.perf_counter()
    inferencer = ImageClassificationInferencer(
        model=str(config), pretrained=str(converted), device='cpu')
    loaded = time.perf_counter()
    results = inferencer([str(p) for p in images], batch_size=len(images))
    done = time.perf_counter()

    classes = inferencer.classes
    for path, result in zip(images, results):
        scores = np.asarray(result['pred_scores'])
        top5 = np.argsort(scores)[::-1][:5]
        ranked = ', '.join(f'{classes[i].split(",")[0]} {scores[i]:.3f}'
                           for i in top5)
        print(f'{path.name:12s} top-5: {ranked}')
    print(f'model load {loaded - start:.2f} s; {len(images)} images in '
          f'{done - loaded:.2f} s ({torch.get_num_threads()} threads, '
          f'scan backend auto)')


if __name__ == '__main__':
    main()
