"""weights_only loading of mmengine's own checkpoints once the plugin is imported."""
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

import mmvision_mamba  # noqa: F401  (registers the allow-list)


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
