"""Loading the three official checkpoint layouts through init_cfg, and the errors on bad files."""
import argparse
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from safetensors.torch import save_file

from mmvision_mamba.models import MambaVision
from mmvision_mamba.models.utils import as_tensor
from mmvision_mamba.fileio import load_checkpoint_file
from tests.naive_mambavision import make_state_dict, randomize_state_dict

SMALL = dict(dim=16, in_dim=8, depths=(1, 1, 3, 2), num_heads=(1, 2, 2, 4), window_size=(4, 4, 4, 2), layer_scale=1e-5)
CLS_EXTRA = {'norm.weight': torch.ones(128), 'norm.bias': torch.zeros(128), 'norm.running_mean': torch.zeros(128),
             'norm.running_var': torch.ones(128), 'head.weight': torch.randn(1000, 128), 'head.bias': torch.zeros(1000)}


@pytest.fixture(scope='module')
def source() -> MambaVision:
    model = MambaVision(SMALL).eval()
    model.load_state_dict(randomize_state_dict(model.state_dict(), seed=3))
    return model


def backbone_only(model: MambaVision) -> dict:
    return {k: v for k, v in model.state_dict().items() if not k.startswith('outnorm')}


def write_cls(model: MambaVision, path: str) -> str:
    torch.save({'epoch': 309, 'arch': 'mamba_vision_T', 'state_dict': {**backbone_only(model), **CLS_EXTRA},
                'optimizer': {'state': {}, 'param_groups': [{'lr': 1e-3, 'params': [0, 1]}]}, 'version': 2,
                'args': argparse.Namespace(model='mamba_vision_T', lr=1e-3, mesa=False, input_size=[3, 224, 224]),
                'metric': 82.3}, path)
    return path


def write_hf(model: MambaVision, path: str) -> str:
    save_file({f'model.{k}': v.contiguous() for k, v in {**backbone_only(model), **CLS_EXTRA}.items()}, path)
    return path


def write_mm(model: MambaVision, path: str) -> str:
    state = {f'backbone.{k}': v for k, v in model.state_dict().items()}
    state.update({'neck.lateral_convs.0.conv.weight': torch.randn(256, 16, 1, 1),
                  'roi_head.bbox_head.0.fc_cls.weight': torch.randn(81, 1024)})
    buf = HistoryBuffer()
    buf.update(np.float64(0.5))
    torch.save({'meta': {'epoch': 36, 'iter': 100, 'mmengine_version': '0.10.7', 'seed': np.int64(0),
                         'dataset_meta': {'classes': ('person', 'car')}},
                'state_dict': state, 'message_hub': {'log_scalars': {'train/loss': buf},
                                                     'runtime_info': {'epoch': 36, 'lr': np.array([1e-4])}}}, path)
    return path


def load(path: str, **kwargs) -> MambaVision:
    model = MambaVision(SMALL, init_cfg=dict(type='Pretrained', checkpoint=path), **kwargs).eval()
    model.init_weights()
    return model


def test_three_layouts_load_identically(source: MambaVision, tmp_path) -> None:
    x = torch.randn(1, 3, 48, 40)
    cls = load(write_cls(source, str(tmp_path / 'mambavision_tiny_1k.pth.tar')))
    hf = load(write_hf(source, str(tmp_path / 'model.safetensors')))
    mm = load(write_mm(source, str(tmp_path / 'cascade_mask_rcnn.pth')))
    for k, v in backbone_only(source).items():
        assert torch.equal(cls.state_dict()[k], v) and torch.equal(hf.state_dict()[k], v), k
    with torch.no_grad():
        for a, b in zip(cls(x), hf(x)):
            assert torch.equal(a, b)
        for a, b in zip(mm(x), source(x)):
            assert torch.equal(a, b)
    assert torch.equal(mm.outnorm1.weight, source.outnorm1.weight)
    assert not torch.equal(cls.outnorm1.weight, source.outnorm1.weight)


def test_wrong_variant_names_key_and_shapes(tmp_path) -> None:
    small = make_state_dict(96, 64, (3, 3, 7, 5), (2, 4, 8, 16), layer_scale=False)
    path = str(tmp_path / 'mambavision_small_1k.pth.tar')
    torch.save({'state_dict': small}, path)
    with pytest.raises(ValueError, match=r"patch_embed\.conv_down\.0\.weight.*\(64, 3, 3, 3\).*\(32, 3, 3, 3\)"):
        model = MambaVision('tiny', init_cfg=dict(type='Pretrained', checkpoint=path))
        model.init_weights()


def test_not_a_mambavision_checkpoint(tmp_path) -> None:
    path = str(tmp_path / 'resnet.pth')
    torch.save({'state_dict': {'conv1.weight': torch.zeros(1)}}, path)
    with pytest.raises(ValueError, match='holds no MambaVision backbone weights'):
        load(path)


@pytest.mark.parametrize('writer', [write_cls, write_hf])
def test_truncated_file(source: MambaVision, tmp_path, writer) -> None:
    path = writer(source, str(tmp_path / 'ckpt'))
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(ValueError, match='corrupt or truncated'):
        load(path)


def test_missing_file() -> None:
    with pytest.raises(FileNotFoundError, match='Checkpoint not found'):
        load_checkpoint_file(os.path.join('no', 'such', 'file.pth'))


class Evil:
    def __reduce__(self):
        return (os.system, ('echo pwned',))


def test_unsafe_pickle_is_refused(tmp_path) -> None:
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'payload': Evil()}, path)
    with pytest.raises(ValueError, match='outside the allow-list'):
        load_checkpoint_file(path)
    with open(str(tmp_path / 'legacy.pth'), 'wb') as f:
        pickle.dump({'x': Evil()}, f)
    with pytest.raises(ValueError):
        load_checkpoint_file(str(tmp_path / 'legacy.pth'))


def test_non_finite_weights_are_named(source: MambaVision, tmp_path) -> None:
    state = {**backbone_only(source)}
    state['levels.2.blocks.0.mixer.A_log'] = state['levels.2.blocks.0.mixer.A_log'].clone()
    state['levels.2.blocks.0.mixer.A_log'][0, 0] = float('nan')
    state['patch_embed.conv_down.0.weight'] = torch.full_like(state['patch_embed.conv_down.0.weight'], float('inf'))
    path = str(tmp_path / 'diverged.pth')
    torch.save({'state_dict': state}, path)
    with pytest.warns(UserWarning, match=r'NaN/Inf values in 2 MambaVision tensors') as record:
        load(path)
    message = next(str(w.message) for w in record if 'NaN/Inf' in str(w.message))
    assert 'levels.2.blocks.0.mixer.A_log (1 of ' in message
    assert f"patch_embed.conv_down.0.weight ({state['patch_embed.conv_down.0.weight'].numel()} of " in message


def test_pathlike_and_bad_checkpoint_types(source: MambaVision, tmp_path) -> None:
    path = tmp_path / 'mambavision_tiny_1k.pth.tar'
    write_cls(source, str(path))
    model = load(path)  # a pathlib.Path in init_cfg
    assert torch.equal(model.state_dict()['levels.3.blocks.1.mlp.fc1.weight'],
                       source.state_dict()['levels.3.blocks.1.mlp.fc1.weight'])
    with pytest.raises(TypeError, match=r'checkpoint must be a path .* got NoneType: None'):
        load(None)


def test_numpy_valued_checkpoint(source: MambaVision, tmp_path) -> None:
    state = {k: v.numpy() for k, v in backbone_only(source).items()}
    path = str(tmp_path / 'converted.pth')
    torch.save({'state_dict': state}, path)
    model = load(path)
    for k, v in backbone_only(source).items():
        assert torch.equal(model.state_dict()[k], v), k
    state['levels.2.blocks.0.mixer.A_log'] = state['levels.2.blocks.0.mixer.A_log'].copy()
    state['levels.2.blocks.0.mixer.A_log'][0, 0] = np.nan
    torch.save({'state_dict': state}, path)
    with pytest.warns(UserWarning, match=r'NaN/Inf values in 1 MambaVision tensors.*: levels.2.blocks.0.mixer.A_log'):
        load(path)


def test_values_that_are_no_numbers_are_refused(source: MambaVision, tmp_path) -> None:
    state = dict(backbone_only(source))
    state['patch_embed.conv_down.0.weight'] = [0.5, 1.0]
    path = str(tmp_path / 'strange.pth')
    torch.save({'state_dict': state}, path)
    with pytest.raises(ValueError, match=r"strange.pth: 'patch_embed.conv_down.0.weight' is a list, where a state dict "
                                         r'holds tensors'):
        load(path)
    with pytest.raises(ValueError, match=r"'w' is a numpy array of dtype <U7, not numbers"):
        as_tensor(np.array(['not', 'weights']), "'w'")
    assert as_tensor(np.float32(2.5), 'w').item() == 2.5 and as_tensor(np.zeros((2, 3), np.int8), 'w').shape == (2, 3)
