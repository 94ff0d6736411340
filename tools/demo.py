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

The steps are :mod:`mmgroupmamba.apis.demo`.
"""
import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--task', choices=['detection', 'classification'],
                        default='detection',
                        help='which demo (default: detection)')
    parser.add_argument('--work-dir',
                        help='where its files go (default: '
                        'work_dirs/demo_TASK in the clone)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the data, weights and run (default: 0)')
    parser.add_argument('--threads', type=int,
                        help="CPU threads (default: torch's default)")
    detection = parser.add_argument_group('detection')
    detection.add_argument('--iters', type=int, default=150,
                           help='training iterations (default: 150)')
    detection.add_argument('--num-train', type=int, default=192,
                           help='drawn training images (default: 192)')
    detection.add_argument('--num-val', type=int, default=16,
                           help='drawn validation images (default: 16)')
    detection.add_argument('--score-thr', type=float, default=0.2,
                           help='draw predictions scoring at least this '
                           '(default: 0.2)')
    classification = parser.add_argument_group('classification')
    classification.add_argument(
        '--official',
        help='an official GroupMamba-T checkpoint to use (default: seeded '
        'random weights in the official layout)')
    args = parser.parse_args()
    import torch

    from mmgroupmamba.apis.demo import classification_demo, detection_demo
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    work_dir = args.work_dir or REPO / 'work_dirs' / f'demo_{args.task}'
    if args.task == 'detection':
        detection_demo(work_dir, args.seed, args.iters, args.num_train,
                       args.num_val, args.score_thr)
    else:
        classification_demo(work_dir, args.seed, args.official)


if __name__ == '__main__':
    main()
