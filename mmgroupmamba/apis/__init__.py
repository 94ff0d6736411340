"""The public API that tools, tests and users call.

* :func:`init_model`: build a config's model (optionally with a chosen scan
  backend) and load a checkpoint strictly, whatever mmengine does;
* :func:`set_scan_backend`: switch a built model's selective-scan backend.
"""
from .inference import init_model, set_scan_backend

__all__ = ['init_model', 'set_scan_backend']
