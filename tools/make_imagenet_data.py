#!/usr/bin/env python
"""Make a small ImageNet-format classification set of drawn shapes.

The set is drawn by :mod:`mmgroupmamba.datasets.drawn_imagenet` (see its docstring
for the layout); this is its command line.
"""
import argparse


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the drawing (default: %(default)s)')
    parser.add_argument('--train-per-class', type=int, default=60,
                        help='training images per class (default: %(default)s)')
    parser.add_argument('--val-per-class', type=int, default=20,
                        help='validation images per class (default: %(default)s)')
    parser.add_argument('--size', type=int, default=64,
                        help='image side in pixels (default: %(default)s)')
    args = parser.parse_args()
    from mmgroupmamba.datasets.drawn_imagenet import (CLASSES,
                                                     make_imagenet_data)
    make_imagenet_data(args.out_dir, args.seed, args.train_per_class,
                       args.val_per_class, args.size)
    print(f'wrote {len(CLASSES)} classes to {args.out_dir}')


if __name__ == '__main__':
    main()
