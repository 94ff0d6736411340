"""The train and val splits of a drawn set, from one seed."""
import numpy as np


def make_train_val(make_split, seed, num_train, num_val, **split_options):
    """Write both splits with ``make_split``, each from its own stream.

    The two streams are derived from ``seed`` independently, so changing
    ``num_train`` does not change the val images.

    Args:
        make_split (callable): ``make_split(split=, num_images=, seed=,
            **split_options)`` writes one split and returns its summary.
        seed (int): Seed of the whole set.
        num_train (int): Training images.
        num_val (int): Validation images.
        **split_options: The set's own options (folder, image size ...),
            passed to both splits.

    Returns:
        dict: ``make_split``'s result by split name, 'train' and 'val'.
    """
    train_seed, val_seed = np.random.SeedSequence(seed).generate_state(2)
    return dict(
        train=make_split(split='train', num_images=num_train,
                         seed=int(train_seed), **split_options),
        val=make_split(split='val', num_images=num_val, seed=int(val_seed),
                       **split_options))
