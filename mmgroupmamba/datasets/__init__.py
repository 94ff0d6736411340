"""Small drawn data sets in the layouts of ImageNet, COCO and ADE20K.

They let the classification, detection and segmentation pipelines run end to
end (training, evaluation, inference) offline: the demo, the learning checks
and the tests use them. Each is a function of its arguments alone (same seed,
same bytes); none says anything about accuracy on the real data sets. They
need OpenCV (which mmcv brings), so importing ``mmgroupmamba`` does not import
them.
"""
from .drawn_ade import make_ade_data
from .drawn_coco import make_coco_data
from .drawn_imagenet import make_imagenet_data

__all__ = ['make_imagenet_data', 'make_coco_data', 'make_ade_data']
