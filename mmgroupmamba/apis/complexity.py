"""Parameters and FLOPs of a GroupMamba classifier, detector or segmentor.

Used by ``tools/get_flops.py``; :func:`report` prints the tables and
returns every figure.

Any config of this project whose model is an mmpretrain ``ImageClassifier``,
an mmdet single- or two-stage detector or an mmseg ``EncoderDecoder`` with a
``GroupMamba`` backbone. The input size defaults to the papers' sizes: 224x224 (classifiers), 800x1280 (detectors, "1280x800"),
512x2048 (segmentors).

Counted with mmengine's FlopAnalyzer (the fvcore counter: a multiply-add of a
conv / linear / einsum / matmul is one FLOP; norms by fvcore's norm rule;
elementwise ops are not counted) plus the selective scan's handle,
``9*B*L*D*N + B*D*L`` per call, the official GroupMamba/VMamba formula,
which importing ``mmgroupmamba.ops`` registers with every FlopAnalyzer
(``mmgroupmamba.ops.flops``). This is the method of the official figures, so
the numbers are comparable with them.

What runs, per kind (the inference path, as mmdet's and mmseg's own
tools/analysis_tools/get_flops.py count it):

* classifier: the backbone, neck and head on a (1, 3, H, W) input;
* detector: the model's data preprocessor (normalise, pad to its size
  divisor) on a random image, then the detector's ``_forward``: backbone,
  neck, RPN head with its proposal step, and the RoI heads on the RPN's
  proposals (mmdet's StandardRoIHead: the box head on all of them, the mask
  head on the first 100; its CascadeRoIHead: each stage's box head on all
  of them, then each stage's mask head on all of them too); the tool prints
  how many RoIs each head saw and the FLOPs of each part of the RoI head;
* segmentor: the data preprocessor, then ``_forward``: backbone and decode
  head on the whole image. The auxiliary head is training-only and left out
  (its parameters are printed apart), as mmseg's tool does.

Prints a per-part table (stem, each backbone stage, the whole backbone, then
every other part of the model) with the scan's share, the FLOPs per operator,
and the official or paper figures beside ours when the model and the input
size are the ones they were measured at.
"""
import importlib.util
import re
import warnings
from collections import Counter

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmengine.registry import DefaultScope

# Importing the ops registers the scan's FLOP handles with mmengine.
from ..ops import TRACED_SCAN_OPS
from ..wrappers import ClassifierLogits

# mmengine 0.10.7 imports pkg_resources; its deprecation notice is not ours.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

# The papers' input size per model kind (H, W).
DEFAULT_SHAPES = {
    'classifier': (224, 224),
    'detector': (800, 1280),
    'segmentor': (512, 2048),
}
# Official code (fvcore + the scan handle) and paper figures at 224 px.
REFERENCE = {
    'tiny': dict(params=23_361_917, gflops=4.706, paper='23M / 4.5G'),
    'small': dict(params=34_781_555, gflops=7.281, paper='34M / 7.0G'),
    'base': dict(params=57_150_838, gflops=14.186, paper='57M / 14G'),
}
# The paper's dense-prediction claims (arXiv 2407.13772, Tables 2 and 3),
# by (model type, arch), at the paper's input size (DEFAULT_SHAPES). The
# paper reports no Cascade Mask R-CNN.
PAPER_DENSE = {
    ('MaskRCNN', 'tiny'): dict(
        model='Mask R-CNN GroupMamba-T', params_m=40, gflops=279),
    ('EncoderDecoder', 'tiny'): dict(
        model='UperNet GroupMamba-T', params_m=49, gflops=955),
}
SUPPORTED = ('mmpretrain ImageClassifier, mmdet SingleStageDetector / '
             'TwoStageDetector, mmseg EncoderDecoder')


def _type_name(node):
    """The short registry name of a config node's ``type``."""
    kind = node.get('type') if node else None
    name = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
    return name.rsplit('.', 1)[-1]


def model_kind(model_class):
    """'classifier', 'detector' or 'segmentor' for a model class.

    Args:
        model_class (type): The class a config's ``model.type`` names.

    Returns:
        str | None: The kind, or None when the tool does not count it.
    """
    from mmpretrain.models import ImageClassifier
    if issubclass(model_class, ImageClassifier):
        return 'classifier'
    # mmdet and mmseg are optional: look only where they are installed, and
    # let a broken install raise instead of passing for "unsupported".
    if importlib.util.find_spec('mmdet') is not None:
        from mmdet.models.detectors import (SingleStageDetector,
                                            TwoStageDetector)
        if issubclass(model_class, (SingleStageDetector, TwoStageDetector)):
            return 'detector'
    if importlib.util.find_spec('mmseg') is not None:
        from mmseg.models.segmentors import EncoderDecoder
        if issubclass(model_class, EncoderDecoder):
            return 'segmentor'
    return None


def build_model(config):
    """Build a config's model for counting, in eval mode.

    SyncBN layers become BatchNorm (the count runs in one process); a
    segmentor loses its auxiliary head. The scan backend is the config's:
    under the trace every backend's scan is one node the handle counts.

    Args:
        config (str): Path of a config of this project.

    Returns:
        tuple[nn.Module, str, str, int]: The model, its kind, the config's
        default scope and the auxiliary head's parameter count (0 if none).

    Raises:
        ValueError: The config has no ``default_scope``, its backbone is not
            GroupMamba or its model type is not one the tool counts.
    """
    import mmgroupmamba  # noqa: F401  (registers the models)
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS
    cfg = Config.fromfile(config)
    scope = cfg.get('default_scope')
    if scope not in ('mmpretrain', 'mmdet', 'mmseg'):
        raise ValueError(
            f'{config}: default_scope is {scope!r}; get_flops.py counts '
            'configs that inherit an mmpretrain, mmdet or mmseg base '
            "(default_scope 'mmpretrain', 'mmdet' or 'mmseg')")
    backbone = cfg.model.get('backbone')
    if _type_name(backbone) != 'GroupMamba':
        raise ValueError(
            f'{config}: the backbone is {_type_name(backbone) or None!r}, '
            'not GroupMamba; get_flops.py counts GroupMamba models only')
    with DefaultScope.overwrite_default_scope(scope):
        # The library's own registry (imports it): mmengine's root MODELS
        # finds a library's models only through it.
        with MODELS.switch_scope_and_registry(scope) as registry:
            model_class = registry.get(cfg.model.type)
        kind = model_kind(model_class) if model_class else None
        if kind is None:
            raise ValueError(
                f'{config}: model type {_type_name(cfg.model)!r} is not '
                f'supported; get_flops.py counts {SUPPORTED}')
        torch.manual_seed(0)  # the RPN's proposals depend on the weights
        model = MODELS.build(cfg.model)
    aux_params = 0
    if kind == 'segmentor' and getattr(model, 'auxiliary_head', None):
        aux_params = sum(p.numel() for p in model.auxiliary_head.parameters())
        model.auxiliary_head = None
    return revert_sync_batchnorm(model).eval(), kind, scope, aux_params


class DenseForward(torch.nn.Module):
    """A detector or segmentor as ``images -> head outputs``, for tracing.

    Runs what the model's ``_forward`` runs (mmdet's and mmseg's tensor
    mode: no post-processing).

    Args:
        model (nn.Module): An mmdet detector or mmseg segmentor.
        data_samples (list | None): For a detector, the samples its data
            preprocessor returned; None for a segmentor, which needs none.
    """

    def __init__(self, model, data_samples):
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, images):
        if self.data_samples is None:
            # A segmentor's ``_forward`` (backbone, then the decode head),
            # with the head called as a module: its own ops (the resizes of
            # UPerHead) then count as the head's, not as the model's.
            return self.model.decode_head(self.model.extract_feat(images))
        return self.model._forward(images, self.data_samples)


def made_input(model, kind, shape):
    """A seeded random (H, W) image made ready as the model's input.

    Args:
        model (nn.Module): The built model.
        kind (str): Its kind (see :func:`model_kind`).
        shape (tuple[int, int]): H, W.

    Returns:
        tuple[Tensor, list | None]: The (1, 3, H', W') input (padded by the
        data preprocessor where it pads) and the data samples for
        ``_forward`` (None for a classifier).
    """
    generator = torch.Generator().manual_seed(0)
    if kind == 'classifier':
        return torch.randn(1, 3, *shape, generator=generator), None
    if kind == 'detector':
        from mmdet.structures import DetDataSample as Sample
    else:
        from mmseg.structures import SegDataSample as Sample
    image = torch.randint(0, 256, (3, *shape), dtype=torch.uint8,
                          generator=generator)
    sample = Sample(metainfo=dict(
        img_shape=shape, ori_shape=shape, pad_shape=shape,
        scale_factor=(1.0, 1.0)))
    data = model.data_preprocessor(
        dict(inputs=[image], data_samples=[sample]), False)
    return data['inputs'], data['data_samples']


class RoICounter:
    """Counts the RoIs each RoI feature extractor of a detector receives.

    Args:
        model (nn.Module): A detector (any model; only modules named
            ``*roi_extractor``, or ``*roi_extractor.<stage>`` in a cascade's
            module lists, are watched).
    """

    def __init__(self, model):
        self.rois = {}
        self._handles = [
            module.register_forward_pre_hook(self._hook(name))
            for name, module in model.named_modules()
            if re.search(r'roi_extractor(\.\d+)?$', name)
            and not isinstance(module, torch.nn.ModuleList)
        ]

    def _hook(self, name):

        def record(module, args):
            self.rois[name] = int(args[1].shape[0])  # (feats, rois, ...)

        return record

    def remove(self):
        for handle in self._handles:
            handle.remove()


def count(model, kind, scope, shape):
    """Run the analysis on a (1, 3, H, W) input.

    Args:
        model (nn.Module): From :func:`build_model`.
        kind (str): Its kind.
        scope (str): The config's default scope (mmdet builds helpers at
            run time in it).
        shape (tuple[int, int]): H, W.

    Returns:
        tuple[FlopAnalyzer, str, tuple[int, ...], dict]: The analyzer (already
        run), the module-name prefix of the model inside the traced wrapper,
        the input's shape after preprocessing and the RoIs per RoI extractor
        (empty unless a detector).

    Raises:
        RuntimeError: No selective-scan call was traced.
    """
    with DefaultScope.overwrite_default_scope(scope):
        images, data_samples = made_input(model, kind, shape)
        if kind == 'classifier':
            wrapper, prefix = ClassifierLogits(model), 'classifier.'
        else:
            samples = data_samples if kind == 'detector' else None
            wrapper, prefix = DenseForward(model, samples), 'model.'
        analyzer = FlopAnalyzer(wrapper, (images, ))
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        roi_counter = RoICounter(model)
        with warnings.catch_warnings():
            # Tracing mmdet's proposal step warns about Python values taken
            # from tensors; the count is of this one input, which is fine.
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            total = analyzer.total()
        roi_counter.remove()
    if total == 0 or not scan_flops(analyzer):
        raise RuntimeError('no selective-scan call was traced, so the count '
                           'would silently miss it')
    return analyzer, prefix, tuple(images.shape), roi_counter.rois


def scan_flops(analyzer, module_name=''):
    """The scan's FLOPs in a module (the whole model by default)."""
    return sum(value for op, value in
               analyzer.by_operator(module_name).items()
               if f'prim::{op}' in TRACED_SCAN_OPS or op in TRACED_SCAN_OPS)


def parts_table(model, analyzer, prefix):
    """Rows of (part, params, GFLOPs, scan GFLOPs).

    The backbone's stem and stages one by one, the whole backbone (which adds
    the dense models' output norms), then every other child of the model
    (neck, heads) in its order, and a last row for FLOPs run outside all of
    them, if any.

    Args:
        model (nn.Module): The counted model.
        analyzer (FlopAnalyzer): Its analysis.
        prefix (str): The model's module-name prefix in the analysis.

    Returns:
        list[tuple[str, int, float, float]]: One row per part.
    """
    by_module = analyzer.by_module()
    names = ['backbone.stem'] + [
        f'backbone.stages.{i}' for i in range(len(model.backbone.stages))
    ] + ['backbone'] + [
        name for name, _ in model.named_children()
        if name not in ('backbone', 'data_preprocessor')
    ]
    rows = []
    for name in names:
        module = model.get_submodule(name)
        rows.append((name, sum(p.numel() for p in module.parameters()),
                     by_module[prefix + name] / 1e9,
                     scan_flops(analyzer, prefix + name) / 1e9))
    # Ops that a model runs in its own forward rather than in a child's.
    outside = analyzer.total() - sum(by_module[prefix + name]
                                     for name in names if '.' not in name)
    if outside:
        rows.append(('(outside the parts)', 0, outside / 1e9, 0.0))
    return rows


def arch_name(backbone):
    """'tiny', 'small' or 'base' when the backbone is one of them, else None."""
    for name, settings in backbone.arch_settings.items():
        if settings == backbone.arch:
            return name
    return None


def report(config, shape):
    """Count a config's model and print the tables; return the numbers.

    Args:
        config (str): Path of a config of this project.
        shape (tuple[int, int] | None): H, W; None for the kind's default.

    Returns:
        dict: ``kind``, ``params``, ``gflops``, ``rows`` (see
        :func:`parts_table`), ``operators`` (GFLOPs by operator), ``input``
        (the traced input's shape) and ``rois`` (RoIs per extractor).
    """
    model, kind, scope, aux_params = build_model(config)
    shape = tuple(shape) if shape else DEFAULT_SHAPES[kind]
    analyzer, prefix, input_shape, rois = count(model, kind, scope, shape)
    params = sum(p.numel() for p in model.parameters())
    gflops = analyzer.total() / 1e9
    operators = Counter({k: v / 1e9 for k, v in analyzer.by_operator().items()})
    rows = parts_table(model, analyzer, prefix)

    print(f'{config} ({kind}) at {shape[0]}x{shape[1]} (H x W), batch 1; '
          f'traced input {"x".join(map(str, input_shape))}\n')
    print('| part | params | GFLOPs | of which scan |\n|---|---|---|---|')
    for name, part_params, part_gflops, part_scan in rows:
        print(f'| {name} | {part_params:,} | {part_gflops:.3f} | '
              f'{part_scan:.4f} |')
    print(f'| **total** | **{params:,}** | **{gflops:.3f}** | '
          f'{scan_flops(analyzer) / 1e9:.4f} |\n')
    print('by operator (GFLOPs): ' + ', '.join(
        f'{op} {value:.4f}' for op, value in operators.most_common()))
    if rois:
        print('RoIs per RoI feature extractor: ' + ', '.join(
            f'{name} {number}' for name, number in rois.items()))
        by_module = analyzer.by_module()
        print('roi_head by part (GFLOPs): ' + ', '.join(
            f'{name} {by_module[prefix + "roi_head." + name] / 1e9:.3f}'
            for name, _ in model.roi_head.named_children()))
    if aux_params:
        print(f'auxiliary_head (training only, not counted above): '
              f'{aux_params:,} params')

    arch = arch_name(model.backbone)
    if kind == 'classifier' and arch and shape == (224, 224):
        ref = REFERENCE[arch]
        print(f'\nofficial GroupMamba-{arch} (fvcore + scan handle): '
              f'{ref["params"]:,} params, {ref["gflops"]:.3f} GFLOPs; '
              f'ours {gflops / ref["gflops"] - 1:+.2%}; '
              f'paper claims {ref["paper"]}')
    paper = PAPER_DENSE.get((type(model).__name__, arch))
    if paper and shape == DEFAULT_SHAPES[kind]:
        print(f'\npaper, {paper["model"]} at {shape[1]}x{shape[0]} (W x H): '
              f'{paper["params_m"]}M params, {paper["gflops"]} GFLOPs; '
              f'ours {params / 1e6:.1f}M, {gflops:.0f} GFLOPs '
              f'({gflops / paper["gflops"] - 1:+.1%})')
    return dict(kind=kind, params=params, gflops=gflops, rows=rows,
                operators=dict(operators), input=input_shape, rois=rois)
