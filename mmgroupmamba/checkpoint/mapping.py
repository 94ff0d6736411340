"""The official <-> mm key mapping: one rule table, read in both directions.

Official keys are those of the released GroupMamba classifier
(``patch_embed1.*``, ``block{i}.{j}.*``, ``post_network.0.*``, ``head``,
``dist_head``); mm keys those of the mmpretrain ``ImageClassifier`` built from
``configs/groupmamba_*_in1k.py`` (``backbone.*``, ``neck.*``, ``head.*``).
The official code keeps four SS2D modules per layer (``mamba_g1..4``); here
each of their parameters is one tensor stacked over the four groups, group k
being official ``mamba_g{k+1}``.

A rule is a pair of key templates (official, ours) plus how the tensor
moves. Template fields: ``{rest}`` any tail; ``{s1}`` an official 1-based
stage number and ``{s0}`` the same stage counted from 0 on our side; ``{n}``
and ``{j}`` numbers that are equal on both sides; ``{g}`` the official scan
group 1-4, which our side stacks. A field may restrict its digits, as in
``{s1:2-4}``. The first rule whose template matches a key wins, in either
direction, so a more specific rule precedes a more general one.
"""
import re
from collections import OrderedDict
from typing import NamedTuple

import torch

from .errors import CheckpointError

NUM_GROUPS = 4


class Rule(NamedTuple):
    """One official <-> mm key correspondence.

    Attributes:
        official (str): Official key template.
        ours (str): mm key template.
        stacked (bool): The official side is one tensor per scan group
            (field ``{g}``); ours stacks the four along a new axis 0.
        squeeze (bool): Each official group tensor has a leading axis of
            size 1 that the stack drops (shape (1, *S) -> ours (4, *S)).
    """
    official: str
    ours: str
    stacked: bool = False
    squeeze: bool = False


# The selective-scan tensors: (official name in mamba_g{g}, ours in ssm.,
# official tensor has a leading axis of size 1).
_SSM_PARAMS = (
    ('in_proj.weight', 'in_proj_weight', False),
    ('conv2d.weight', 'conv_weight', False),
    ('conv2d.bias', 'conv_bias', False),
    ('x_proj_weight', 'x_proj_weight', True),
    ('dt_projs_weight', 'dt_proj_weight', True),
    ('dt_projs_bias', 'dt_bias', True),
    ('A_logs', 'A_log', False),
    ('Ds', 'D', False),
    ('out_norm.weight', 'out_norm_weight', False),
    ('out_norm.bias', 'out_norm_bias', False),
    ('out_proj.weight', 'out_proj_weight', False),
)
# Below a block's or the class block's mixer (official ``attn``).
_LAYER_RULES = tuple(
    Rule(f'attn.mamba_g{{g}}.{official}', f'mixer.ssm.{ours}', True, squeeze)
    for official, ours, squeeze in _SSM_PARAMS) + (
        Rule('attn.fc1.{rest}', 'mixer.cam.fc1.{rest}'),
        Rule('attn.fc2.{rest}', 'mixer.cam.fc2.{rest}'),
        Rule('attn.norm.{rest}', 'mixer.norm.{rest}'),
        Rule('attn.proj.{rest}', 'mixer.proj.{rest}'),
        Rule('attn.skip_scale', 'mixer.skip_scale'),
    )
_BLOCK_RULES = _LAYER_RULES + (
    Rule('norm2.{rest}', 'norm.{rest}'),
    Rule('mlp.dwconv.dwconv.{rest}', 'ffn.dwconv.{rest}'),
    Rule('mlp.{rest}', 'ffn.{rest}'),
)
_CLASS_BLOCK_RULES = _LAYER_RULES + (
    Rule('norm1.{rest}', 'mixer_norm.{rest}'),
    Rule('norm2.{rest}', 'ffn_norm.{rest}'),
    Rule('mlp.{rest}', 'ffn.{rest}'),
)


def _under(official_prefix, our_prefix, rules):
    return tuple(
        Rule(official_prefix + r.official, our_prefix + r.ours, r.stacked,
             r.squeeze) for r in rules)


#: The whole mapping. ``norm{n}`` (n = 1-3) closes official stage n; here it
#: is the ``in_norm`` of the next stage's downsample, so it precedes the
#: general downsample rule.
RULES = (
    Rule('patch_embed1.{rest}', 'backbone.stem.{rest}'),
    Rule('norm{n:1-3}.{rest}',
         'backbone.stages.{n:1-3}.downsample.in_norm.{rest}'),
    Rule('patch_embed{s1:2-4}.{rest}',
         'backbone.stages.{s0:1-3}.downsample.{rest}'),
    Rule('norm4.{rest}', 'neck.norm.{rest}'),
    Rule('head.{rest}', 'head.fc.{rest}'),
    Rule('dist_head.{rest}', 'head.dist_fc.{rest}'),
) + _under('block{s1:1-4}.{j}.', 'backbone.stages.{s0:0-3}.blocks.{j}.',
           _BLOCK_RULES) + _under('post_network.0.', 'neck.class_block.',
                                  _CLASS_BLOCK_RULES)

_FIELD = re.compile(r'\{(\w+)(?::(\d)-(\d))?\}')


def _compile(template):
    """Template -> anchored regex with one named group per field."""
    parts, end = [], 0
    for m in _FIELD.finditer(template):
        parts.append(re.escape(template[end:m.start()]))
        name, low, high = m.groups()
        if name == 'rest':
            parts.append(r'(?P<rest>.+)')
        elif name == 'g':
            parts.append(f'(?P<g>[1-{NUM_GROUPS}])')
        elif low is not None:
            parts.append(f'(?P<{name}>[{low}-{high}])')
        else:
            parts.append(rf'(?P<{name}>\d+)')
        end = m.end()
    parts.append(re.escape(template[end:]))
    return re.compile(''.join(parts) + r'\Z')


def _fill(template, fields):
    """Template + field values (both stage counts present) -> key."""
    return _FIELD.sub(lambda m: str(fields[m.group(1)]), template)


_COMPILED = [(rule, _compile(rule.official), _compile(rule.ours))
             for rule in RULES]


def _match(key, official_side):
    """(rule, field values with both stage counts) for ``key``, or None."""
    for rule, official, ours in _COMPILED:
        m = (official if official_side else ours).match(key)
        if m:
            fields = m.groupdict()
            if 's1' in fields:
                fields['s0'] = int(fields['s1']) - 1
            elif 's0' in fields:
                fields['s1'] = int(fields['s0']) + 1
            return rule, fields
    return None


def official_to_mm(state_dict):
    """Convert an official GroupMamba state_dict to mmpretrain classifier keys.

    Args:
        state_dict (Mapping[str, Tensor]): Official keys. The four group
            tensors of a scan parameter, each ``(*S)`` or ``(1, *S)``, must
            all be present.

    Returns:
        OrderedDict[str, Tensor]: ``backbone.* / neck.* / head.*`` keys in the
        official order; scan parameters stacked to ``(4, *S)``.

    Raises:
        CheckpointError: A key no rule knows, or a scan group missing.
    """
    out = OrderedDict()
    groups = {}
    for key, value in state_dict.items():
        found = _match(key, official_side=True)
        if found is None:
            raise CheckpointError(f'unknown key {key!r} in an official-layout '
                                  'GroupMamba checkpoint')
        rule, fields = found
        mm_key = _fill(rule.ours, fields)
        if not rule.stacked:
            out[mm_key] = value
            continue
        out.setdefault(mm_key, None)  # keep the first-seen order
        groups.setdefault(mm_key, {})[int(fields['g']) - 1] = (
            value.squeeze(0) if rule.squeeze else value)
    for mm_key, parts in groups.items():
        if sorted(parts) != list(range(NUM_GROUPS)):
            missing = sorted(set(range(NUM_GROUPS)) - set(parts))
            raise CheckpointError(
                f'official checkpoint lacks scan group(s) '
                f'{[f"mamba_g{k + 1}" for k in missing]} for {mm_key!r}')
        out[mm_key] = torch.stack([parts[k] for k in range(NUM_GROUPS)])
    return out


def mm_to_official(state_dict):
    """Inverse of :func:`official_to_mm`: classifier keys -> official keys.

    Args:
        state_dict (Mapping[str, Tensor]): mm classifier keys; stacked scan
            parameters ``(4, *S)``.

    Returns:
        OrderedDict[str, Tensor]: Official keys, one tensor per scan group
        (``(*S)``, or ``(1, *S)`` where the official tensor has that axis).

    Raises:
        CheckpointError: A key with no official counterpart (the dense
            out norms and other new layers).
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        found = _match(key, official_side=False)
        if found is None:
            raise CheckpointError(
                f'key {key!r} has no counterpart in the official GroupMamba '
                'layout (dense-prediction out norms and other new layers '
                'do not)')
        rule, fields = found
        if not rule.stacked:
            out[_fill(rule.official, fields)] = value
            continue
        for k in range(NUM_GROUPS):
            part = value[k]
            out[_fill(rule.official, dict(fields, g=k + 1))] = (
                part.unsqueeze(0) if rule.squeeze else part)
    return out


def is_official_layout(state_dict):
    """True for the official release's key layout (``patch_embed1.*`` ...).

    Args:
        state_dict (Mapping[str, Tensor]): Any flat state_dict.
    """
    return any(k.startswith(('patch_embed1.', 'block1.')) for k in state_dict)
