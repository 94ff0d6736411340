#!/usr/bin/env bash
# Download the wheels a GPU machine without OpenMMLab packages and without a
# network needs to import mmgroupmamba and run tools/gpu_check.py, into the
# git-ignored .gpu_wheels/ (about 51 MB; carried with the working tree).
#
#   bash tools/gather_gpu_wheels.sh            # once, on a machine with PyPI
#   # on the GPU machine (torch 2.11, Triton 3.6, timm, numpy, einops, pytest):
#   pip install -q --no-index --no-deps .gpu_wheels/*.whl && pip install -q --no-index --no-deps --no-build-isolation -e . && python tools/gpu_check.py --out $OUT/gpu_check.json
#
# The set is what importing the package really imports beyond that stack:
# mmengine (without its install_requires) and the modules it imports on the
# way: addict, yapf, platformdirs, rich, termcolor, and cv2, which
# mmengine.hooks imports at the top (mmgroupmamba registers a hook), so
# OpenCV comes as opencv-python-headless 4.10 (50 MB; the newest is 62 MB,
# opencv-python 74 MB). torch already brings setuptools for the editable
# install; timm brings PyYAML. Checked in a fresh Python 3.12 venv holding
# only torch 2.11.0, Triton 3.6.0, timm, numpy, einops and pytest: these
# wheels, the package, and `TRITON_INTERPRET=1 tools/gpu_check.py --smoke`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.gpu_wheels"
PYTHON="${PYTHON:-python3}"
WHEELS=(
    mmengine==0.10.7
    addict==2.4.0
    yapf==0.43.0
    platformdirs==4.14.8
    rich==15.0.0
    termcolor==3.3.0
    opencv-python-headless==4.10.0.84
)

mkdir -p "$DEST"
"$PYTHON" -m pip download --disable-pip-version-check -q --no-deps \
    --only-binary :all: --python-version 3.12 \
    --platform manylinux2014_x86_64 --platform any \
    -d "$DEST" "${WHEELS[@]}"
ls -l "$DEST"
du -ch "$DEST"/*.whl | tail -1
