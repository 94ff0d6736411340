#!/usr/bin/env python
"""Learning check of the distillation recipe on CPU (a benchmark, not a test).

    python tools/learning_check_cls.py [--work-dir work_dirs/learning_check_cls]
        [--teacher-epochs 30] [--epochs 30] [--threads 1]

Makes the drawn-shapes ImageNet-format set (tools/make_imagenet_data.py),
trains the smoke teacher (configs/smoke/teacher_smoke.py), then distils the
smoke GroupMamba (configs/smoke/groupmamba_in1k_smoke.py) from it, both from
seeded random weights, and prints the validation top-1 of the teacher, of the
student's EMA (what the checkpoint holds) and of its live weights, with wall
times. The epochs replace the smoke configs' 8; the LR schedule (1 warm-up
epoch, cosine to the end) follows them. The loop is
:func:`mmgroupmamba.apis.learning.train_classifier`.
"""
import argparse
from pathlib import Path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/learning_check_cls',
                        help='default: work_dirs/learning_check_cls')
    parser.add_argument('--teacher-epochs', type=int, default=12,
                        help="the teacher's epochs (default: 12)")
    parser.add_argument('--epochs', type=int, default=20,
                        help="the student's epochs (default: 20)")
    parser.add_argument('--threads', type=int, default=1,
                        help='CPU threads (default: 1)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the drawn data (default: 0)')
    parser.add_argument('--train-per-class', type=int, default=150,
                        help='training images per class (default: 150)')
    args = parser.parse_args()
    import torch

    from mmgroupmamba.apis.learning import (CLS_STUDENT_CONFIG,
                                            CLS_TEACHER_CONFIG,
                                            train_classifier)
    from mmgroupmamba.datasets import make_imagenet_data
    torch.set_num_threads(args.threads)
    work_dir = Path(args.work_dir)
    data_root = work_dir / 'data'
    make_imagenet_data(data_root, seed=args.seed,
                       train_per_class=args.train_per_class)

    teacher_metrics, teacher_time = train_classifier(
        CLS_TEACHER_CONFIG, work_dir / 'teacher', data_root,
        args.teacher_epochs)
    teacher_ckpt = work_dir / 'teacher' / f'epoch_{args.teacher_epochs}.pth'
    student_metrics, student_time = train_classifier(
        CLS_STUDENT_CONFIG, work_dir / 'student', data_root,
        args.epochs, teacher_checkpoint=teacher_ckpt)

    def top1(metrics, key):
        return float(metrics.get(key, float('nan')))

    print(f'\nthreads {args.threads}; {6 * args.train_per_class} training '
          'and 120 validation images, 6 classes (chance 16.7%)')
    print(f'{"model":<34}{"epochs":>7}{"top-1 %":>9}{"wall s":>8}')
    rows = [
        ('teacher (resnet10t, CE)', args.teacher_epochs,
         top1(teacher_metrics, 'accuracy/top1'), teacher_time),
        ('student EMA (saved weights)', args.epochs,
         top1(student_metrics, 'accuracy/top1'), student_time),
        ('student live weights', args.epochs,
         top1(student_metrics, 'accuracy/top1_origin'), float('nan')),
    ]
    for name, epochs, acc, seconds in rows:
        print(f'{name:<34}{epochs:>7}{acc:>9.1f}{seconds:>8.0f}')


if __name__ == '__main__':
    main()
