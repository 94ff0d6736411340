#!/usr/bin/env python
"""Main-job demo: Mask R-CNN + GroupMamba trained briefly on CPU, or a classifier.

    python tools/demo.py [--iters 150] [--threads N] [--work-dir DIR]
    python tools/demo.py --task classification [--official PATH]

Detection (the default), on CPU and offline, through mmdet's own machinery:
1. a small drawn COCO-format set (tools/make_coco_data.py: circles,
   rectangles and triangles, 192 training and 16 validation images);
2. ``--iters`` iterations of Mask R-CNN with a small GroupMamba backbone from
   seeded random weights (configs/smoke/maskrcnn_groupmamba_t_learning.py,
   its schedule rescaled; tools/learning_check_det.py runs it in full)
   through mmengine's Runner;
3. COCO bbox and segm AP of the result on the validation images (mmdet's
   CocoMetric, pycocotools);
4. the saved checkpoint reloaded by mmdet's ``DetInferencer``, which draws
   its boxes and masks on four validation images: one PNG, whose path is
   printed with the APs and the wall time.

Measured here with the defaults (one thread, a shared machine): bbox AP
0.086, segm AP 0.089 after 150 iterations (6 CPU minutes); the drawn model is
a few minutes old, so its boxes find the shapes better than they name them.

Classification (``--task classification``): the path a user's downloaded
official checkpoint takes: seeded GroupMamba-T weights saved in the OFFICIAL
layout, the conversion of ``tools/convert_official.py``, then mmpretrain's
``ImageClassificationInferencer`` on ``configs/groupmamba_t_in1k.py`` with
four drawn pictures; top-5 classes per image and the wall time. The weights
are random, so the classes are meaningless; swap in a real official
checkpoint with ``--official PATH``.
"""
import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from mmgroupmamba.apis.learning import learning_config, train_and_evaluate
from mmgroupmamba.datasets import make_coco_data

REPO = Path(__file__).resolve().parents[1]
LEARNING_CONFIG_NAME = 'maskrcnn_groupmamba_t_learning.py'  # its dump
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

    from mmgroupmamba.checkpoint import mm_to_official
    torch.manual_seed(seed)
    model = MODELS.build(Config.fromfile(config).model)
    torch.save(mm_to_official(model.state_dict()), path)


def classification_demo(args):
    """Steps of the classification demo (see the module doc); prints."""
    import mmgroupmamba  # noqa: F401  (registers the models)
    from mmpretrain import ImageClassificationInferencer

    from mmgroupmamba.checkpoint.convert import convert_official_checkpoint
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


def draw_predictions(work_dir, config_name, iters, images, out_path,
                     score_thr):
    """Reload the trained checkpoint in DetInferencer; save one PNG.

    Args:
        work_dir (Path): The training run's folder (config dump, checkpoint).
        config_name (str): The config file's name in ``work_dir``.
        iters (int): The checkpoint's iteration (``iter_{iters}.pth``).
        images (list[Path]): Images to draw on, four for a 2x2 grid.
        out_path (Path): The PNG to write.
        score_thr (float): Predictions scoring less are not drawn.

    Returns:
        int: Predictions drawn in all.
    """
    from mmdet.apis import DetInferencer
    inferencer = DetInferencer(
        model=str(work_dir / config_name),
        weights=str(work_dir / f'iter_{iters}.pth'),
        device='cpu',
        show_progress=False)
    result = inferencer([str(p) for p in images], return_vis=True,
                        no_save_vis=True, pred_score_thr=score_thr)
    drawings = result['visualization']  # RGB arrays, boxes, masks, labels
    columns = 2
    rows = [np.concatenate(drawings[i:i + columns], axis=1)
            for i in range(0, len(drawings), columns)]
    if len(rows) > 1 and rows[-1].shape != rows[0].shape:
        pad = np.zeros_like(rows[0])
        pad[:, :rows[-1].shape[1]] = rows[-1]
        rows[-1] = pad
    Image.fromarray(np.concatenate(rows, axis=0)).save(out_path)
    return sum(
        sum(score >= score_thr for score in prediction['scores'])
        for prediction in result['predictions'])


def detection_demo(args):
    """Steps of the detection demo (see the module doc); prints."""
    from mmengine.registry import DefaultScope
    work_dir = Path(args.work_dir)
    data_root = work_dir / 'data'
    start = time.perf_counter()
    make_coco_data(data_root, seed=args.seed, num_train=args.num_train,
                   num_val=args.num_val)
    cfg = learning_config(data_root, work_dir / 'train', args.iters,
                          args.seed)
    print(f'training Mask R-CNN + GroupMamba (small arch) for {args.iters} '
          f'iterations on {args.num_train} drawn images, '
          f'{torch.get_num_threads()} thread(s); log: {work_dir / "train"}')
    metrics, seconds = train_and_evaluate(cfg)
    val_images = sorted((data_root / 'val').glob('*.png'))[:4]
    picture = work_dir / 'predictions.png'
    with DefaultScope.overwrite_default_scope('mmdet'):
        drawn = draw_predictions(
            work_dir / 'train', LEARNING_CONFIG_NAME, args.iters, val_images,
            picture, args.score_thr)
    print(f'\nCOCO AP on the {args.num_val} validation images: '
          f'bbox {metrics["coco/bbox_mAP"]:.3f} '
          f'(AP50 {metrics["coco/bbox_mAP_50"]:.3f}), '
          f'segm {metrics["coco/segm_mAP"]:.3f} '
          f'(AP50 {metrics["coco/segm_mAP_50"]:.3f})')
    print(f'predictions (score >= {args.score_thr}: {drawn} on '
          f'{len(val_images)} images): {picture}')
    print(f'wall time {time.perf_counter() - start:.0f} s (training '
          f'{seconds["train"]:.0f} s, evaluation {seconds["test"]:.0f} s)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--task', choices=['detection', 'classification'],
                        default='detection')
    parser.add_argument('--work-dir', help='default: work_dirs/demo_TASK')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int,
                        help="CPU threads (default: torch's default)")
    detection = parser.add_argument_group('detection')
    detection.add_argument('--iters', type=int, default=150)
    detection.add_argument('--num-train', type=int, default=192)
    detection.add_argument('--num-val', type=int, default=16)
    detection.add_argument('--score-thr', type=float, default=0.2,
                           help='draw predictions scoring at least this')
    classification = parser.add_argument_group('classification')
    classification.add_argument('--official', help='an official GroupMamba-T '
                                'checkpoint to use instead of seeded weights')
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.work_dir is None:
        args.work_dir = str(REPO / 'work_dirs' / f'demo_{args.task}')
    if args.task == 'detection':
        detection_demo(args)
    else:
        classification_demo(args)


if __name__ == '__main__':
    main()
