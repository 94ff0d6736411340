"""The model index: GroupMamba models by name through mmpretrain's API."""
import torch

import mmgroupmamba  # noqa: F401  (registers the model index)


def test_list_models_finds_the_three_sizes():
    from mmpretrain import list_models
    assert list_models('*groupmamba*') == [
        'groupmamba-base_3rdparty_in1k', 'groupmamba-small_3rdparty_in1k',
        'groupmamba-tiny_3rdparty_in1k'
    ]


def test_get_model_by_name_loads_converted_weights(converted_tiny_path,
                                                   golden):
    from mmpretrain import get_model
    model = get_model('groupmamba-tiny_3rdparty_in1k',
                      pretrained=str(converted_tiny_path))
    with torch.no_grad():
        logits = model(golden['input'], mode='tensor')
    reference = golden['logits_eval']
    assert (logits - reference).abs().max() < 1e-4 * (
        1 + reference.abs().max())


def test_index_never_points_at_a_download():
    from mmpretrain.apis import ModelHub
    for name in ('tiny', 'small', 'base'):
        metainfo = ModelHub.get(f'groupmamba-{name}_3rdparty_in1k')
        assert metainfo.weights is None  # pretrained=True must not download
        assert metainfo.data['Converted From']['Weights'].startswith(
            'https://drive.google.com/')
