"""Safe reading of checkpoint files: mmengine's own checkpoints load weights_only, anything else is
refused by name (wrong types, files that are no checkpoint, malicious pickles)."""
import os
import pickle
import re
import zipfile

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

import mmvision_mamba  # noqa: F401  (registers the allow-list)
from mmvision_mamba.fileio import load_checkpoint_file


def test_mmengine_message_hub_loads_with_weights_only(tmp_path, monkeypatch) -> None:
    buf = HistoryBuffer()
    buf.update(np.float64(2.0))
    buf.update(4.0)
    path = str(tmp_path / 'epoch_1.pth')
    torch.save({'meta': {'seed': np.int64(7), 'lr': np.array([1e-4], dtype=np.float32)},
                'message_hub': {'log_scalars': {'loss': buf}}, 'state_dict': {'w': torch.ones(2)}}, path)
    monkeypatch.setattr(HistoryBuffer, '_statistics_methods', {})  # as in a fresh process
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')  # torch.load's default weights_only
    assert ckpt['message_hub']['log_scalars']['loss'].mean() == 3.0
    assert ckpt['meta']['seed'] == 7


class _GetattrGadget:
    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


class _GlobalGadget:
    def __reduce__(self):
        return (eval, ('1',))


@pytest.mark.parametrize('gadget', [_GetattrGadget, _GlobalGadget])
def test_other_objects_stay_refused(tmp_path, gadget) -> None:
    path = str(tmp_path / 'evil.pth')
    torch.save({'x': gadget()}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)


# --- what load_checkpoint_file accepts and how it names what it refuses ---------------------------

def test_path_types(tmp_path) -> None:
    path = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': {'w': torch.ones(1)}}, str(path))
    assert torch.equal(load_checkpoint_file(path)['state_dict']['w'], torch.ones(1))  # os.PathLike
    for bad in (None, 3, {'checkpoint': str(path)}, b'ckpt.pth'):
        with pytest.raises(TypeError, match=r'checkpoint must be a path \(str or os.PathLike\)'):
            load_checkpoint_file(bad)


def _write(path, data: bytes) -> str:
    with open(path, 'wb') as f:
        f.write(data)
    return str(path)


def _zip(path) -> str:
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr('weights.npy', b'\x93NUMPY')
    return str(path)


@pytest.mark.parametrize('make, what', [
    (lambda p: _write(p, b'<!DOCTYPE html>\n<html><body>404</body></html>'), 'an HTML/XML page'),
    (lambda p: _write(p, b'\n  <html>Access denied</html>'), 'an HTML/XML page'),
    (lambda p: _write(p, 'version https://git-lfs.github.com/spec/v1\noid sha256:ab\n'.encode()), 'a text file'),
    (lambda p: _write(p, b''), 'an empty file'),
    (_zip, 'a zip archive that is not a torch checkpoint'),
    (lambda p: torch.save([torch.ones(1)], str(p)) or str(p), 'a torch file holding a list'),
    (lambda p: _write(p, pickle.dumps({'w': 1}, protocol=4)), 'a plain pickle'),
])
def test_not_a_checkpoint(tmp_path, make, what) -> None:
    path = make(tmp_path / 'mambavision_tiny_1k.pth.tar')
    with pytest.raises(ValueError, match='is not a checkpoint: it is ' + re.escape(what)):
        load_checkpoint_file(path)


def test_model_zoo_names_say_what_to_do() -> None:
    with pytest.raises(ValueError, match=r'not MambaVision weights.*model\.pretrained=None'):
        load_checkpoint_file('open-mmlab://resnet50_v1c')
    with pytest.raises(ValueError, match='s3:// scheme is not supported'):
        load_checkpoint_file('s3://bucket/ckpt.pth')


class _CreatesFile:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


@pytest.mark.parametrize('writer', ['zip', 'legacy', 'pickle'])
def test_malicious_pickle_has_no_side_effect(tmp_path, writer) -> None:
    marker = str(tmp_path / 'pwned')
    path = str(tmp_path / 'evil.pth')
    payload = {'state_dict': {'w': torch.ones(1)}, 'x': _CreatesFile(marker)}
    if writer == 'pickle':
        _write(path, pickle.dumps(payload, protocol=2))
    else:
        torch.save(payload, path, _use_new_zipfile_serialization=writer == 'zip')
    assert not os.path.exists(marker)
    match = 'a plain pickle, not a file written by torch.save' if writer == 'pickle' else \
        'outside the allow-list of safe types'
    with pytest.raises(ValueError, match=match):
        load_checkpoint_file(path)
    assert not os.path.exists(marker)
