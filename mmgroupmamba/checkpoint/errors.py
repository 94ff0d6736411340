"""The one error type of weight loading, and how its messages list keys."""


class CheckpointError(ValueError, RuntimeError):
    """A checkpoint that cannot be read or does not fit the model.

    Also a ``RuntimeError``: what ``torch.nn.Module.load_state_dict(strict=
    True)`` raises for a mismatch, so code that catches torch's error
    catches ours, which adds the archs and the fix.

    Raised before anything is copied into the model, with a message that
    names the file, the failure (not a checkpoint, truncated, pickled
    objects, another arch, another task's model, the official layout) and,
    for a model mismatch, the missing, unexpected and mis-shaped keys.
    """


def short_list(items, limit=8):
    """``'a, b, ... (n more)'``: at most ``limit`` items of a key list."""
    items = list(items)
    text = ', '.join(items[:limit])
    return text + (f', ... ({len(items) - limit} more)'
                   if len(items) > limit else '')
