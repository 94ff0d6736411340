"""The arguments every config entry point takes, for the tools' parsers.

Only argparse and mmengine's ``DictAction`` are imported, so a tool's
``--help`` stays fast: it parses before importing the heavy libraries.
"""
import argparse

from mmengine.config import DictAction

from .run_config import LAUNCHERS


def config_parser(description, launcher=True):
    """A parser with a config path, ``--work-dir`` and ``--cfg-options``.

    Args:
        description (str): The tool's one-line description.
        launcher (bool): Add ``--launcher`` and ``--local-rank`` (what
            torchrun/slurm pass). Defaults to True.

    Returns:
        argparse.ArgumentParser: Add the tool's own arguments to it.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--work-dir',
        help='where to save logs and models (default: the config\'s '
        'work_dir, else ./work_dirs/<config name>)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, key.path=value (default: none)')
    if launcher:
        parser.add_argument(
            '--launcher',
            choices=LAUNCHERS,
            default='none',
            help='job launcher (default: none)')
        # torchrun passes --local-rank (older launchers --local_rank).
        parser.add_argument(
            '--local_rank',
            '--local-rank',
            type=int,
            default=0,
            help='rank on this node, set by the launcher (default: 0)')
    return parser
