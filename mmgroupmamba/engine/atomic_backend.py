"""A local file backend whose writes are atomic: temporary file, then rename.

mmengine's ``LocalBackend`` opens the destination itself and writes into it,
so a process killed mid-write leaves a truncated ``iter_N.pth`` beside the
good ones. Here the bytes go to a temporary file in the same folder, are
flushed to disk, and only then renamed over the destination (``os.replace``
is atomic on POSIX and Windows): a checkpoint path either holds a complete
file or does not exist. Config use::

    default_hooks = dict(
        checkpoint=dict(backend_args=dict(backend='atomic_local')))
"""
import os
import os.path as osp
import tempfile

from mmengine.fileio import LocalBackend, register_backend


def _write_atomically(data, filepath):
    """Write ``data`` (bytes) to ``filepath`` through a renamed temporary."""
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    # Same folder: a rename across file systems would not be atomic.
    handle, tmp_path = tempfile.mkstemp(
        dir=folder, prefix=f'.{osp.basename(filepath)}.', suffix='.tmp')
    try:
        with os.fdopen(handle, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, filepath)
    except BaseException:
        # Remove the partial temporary, then let the error propagate.
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise


class AtomicLocalBackend(LocalBackend):
    """``LocalBackend`` whose ``put`` and ``put_text`` never leave a partial
    file at the destination path."""

    def put(self, obj, filepath):
        """Write bytes ``obj`` to ``filepath`` atomically.

        Args:
            obj (bytes): Data to write.
            filepath (str | Path): Destination; its folder is created.
        """
        _write_atomically(obj, filepath)

    def put_text(self, obj, filepath, encoding='utf-8'):
        """Write text ``obj`` to ``filepath`` atomically.

        Args:
            obj (str): Text to write.
            filepath (str | Path): Destination; its folder is created.
            encoding (str): Text encoding. Defaults to 'utf-8'.
        """
        _write_atomically(obj.encode(encoding), filepath)


register_backend('atomic_local', AtomicLocalBackend, force=True)
