"""Sphinx configuration: the English docs, MyST Markdown, API from docstrings.

Build (CI runs this with -W, so any warning, e.g. a broken cross-reference or
an autodoc import error, fails)::

    .venv/bin/sphinx-build -W -b html docs docs/_build/html

Nothing is mocked: the API pages import mmgroupmamba and the OpenMMLab
libraries of the ``[all]`` extra, which the docs build environment has.
"""
import os
import sys

# An editable install makes this unnecessary; it lets a plain clone build too.
sys.path.insert(0, os.path.abspath('..'))

import mmgroupmamba  # noqa: E402

project = 'mmgroupmamba'
author = 'mmgroupmamba contributors'
copyright = '2026, mmgroupmamba contributors'  # noqa: A001
version = release = mmgroupmamba.__version__
language = 'en'

extensions = [
    'myst_parser',
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
]
source_suffix = {'.md': 'markdown'}
root_doc = 'index'
exclude_patterns = ['_build']

# MyST: heading anchors (h1-h4) so that `page.md#section` links resolve (and a
# wrong anchor is a warning, hence an error under -W).
myst_heading_anchors = 4
myst_enable_extensions = ['colon_fence']

# The code's docstrings are Google style.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'

html_theme = 'furo'
html_title = f'mmgroupmamba {release}'
