#!/usr/bin/env python
"""Parameters and FLOPs of a GroupMamba classifier, detector or segmentor.

    python tools/get_flops.py configs/groupmamba_t_in1k.py
    python tools/get_flops.py configs/groupmamba_b_in1k.py --shape 384 384
    python tools/get_flops.py configs/maskrcnn_groupmamba_t_1x_coco.py
    python tools/get_flops.py configs/upernet_groupmamba_t_ade20k.py

``--shape H W`` is the input size; the defaults are the papers' sizes:
224x224 (classifiers), 800x1280 (detectors, "1280x800"), 512x2048
(segmentors). What is counted and how: :mod:`mmgroupmamba.apis.complexity`.
Prints a per-part table (stem, each backbone stage, the whole backbone, then
every other part of the model) with the scan's share, the FLOPs per operator,
and the official or paper figures beside ours when the model and the input
size are the ones they were measured at.
"""
import argparse


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='a config of this project')
    parser.add_argument(
        '--shape', type=int, nargs=2, metavar=('H', 'W'),
        help='input size (default: 224 224 for classifiers, 800 1280 for '
        'detectors, 512 2048 for segmentors)')
    args = parser.parse_args()
    from mmgroupmamba.apis.complexity import report
    report(args.config, args.shape)


if __name__ == '__main__':
    main()
