"""tools/model_converters/mambavision2mm.py: the three official layouts, dataset_meta, and the inferencers."""
import os.path as osp
import runpy
import warnings

import cv2
import pytest
import torch
from mmengine.runner import load_checkpoint
from torch import nn

from mmvision_mamba.models import MambaVision
from tests.test_models.test_pretrained import SMALL, backbone_only, write_cls, write_hf, write_mm

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
converter = runpy.run_path(osp.join(ROOT, 'tools/model_converters/mambavision2mm.py'))
demo = runpy.run_path(osp.join(ROOT, 'tools/demo.py'))


@pytest.fixture(scope='module')
def source() -> MambaVision:
    model = MambaVision(SMALL).eval()
    for p in model.parameters():
        nn.init.normal_(p)
    return model


@pytest.mark.parametrize('writer,layout', [(write_cls, 'backbone'), (write_hf, 'backbone'),
                                           (write_mm, 'detection/segmentation')])
def test_round_trip(source: MambaVision, tmp_path, writer, layout: str) -> None:
    src = writer(source, str(tmp_path / 'official'))
    dst = str(tmp_path / 'converted.pth')
    converter['main']([src, dst] + (['--dataset', 'coco'] if writer is write_cls else []))
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)  # offline and safe
    assert ckpt['meta']['layout'] == layout
    state = ckpt['state_dict']
    expected = {f'backbone.{k}': v for k, v in (source.state_dict() if writer is write_mm
                                                 else backbone_only(source)).items()}
    assert set(expected) <= set(state)
    assert all(torch.equal(state[k], v) for k, v in expected.items())
    if writer is write_mm:  # det/seg checkpoints keep every key, and their own dataset_meta
        assert 'neck.lateral_convs.0.conv.weight' in state
        assert ckpt['meta']['dataset_meta']['classes'] == ('person', 'car')
    else:
        assert all(k.startswith('backbone.') for k in state) and not any('head.' in k for k in state)
        assert ('dataset_meta' in ckpt['meta']) == (writer is write_cls)
    # load_from= goes through mmengine's load_checkpoint
    holder = nn.Module()
    holder.backbone = MambaVision(SMALL)
    load_checkpoint(holder, dst, map_location='cpu', strict=False)
    for k, v in backbone_only(source).items():
        assert torch.equal(holder.backbone.state_dict()[k], v), k


def test_not_mambavision_and_wrong_dataset(tmp_path, source: MambaVision) -> None:
    other = str(tmp_path / 'resnet.pth')
    torch.save({'state_dict': {'conv1.weight': torch.zeros(1)}}, other)
    with pytest.raises(SystemExit, match='holds no MambaVision backbone weights'):
        converter['main']([other, str(tmp_path / 'out.pth')])
    seg = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    seg['decode_head.conv_seg.weight'] = torch.zeros(150, 512, 1, 1)
    src = str(tmp_path / 'upernet.pth')
    torch.save({'state_dict': seg}, src)
    with pytest.raises(SystemExit, match='head for 150 classes, but --dataset coco has 80'):
        converter['main']([src, str(tmp_path / 'out.pth'), '--dataset', 'coco'])
    with pytest.raises(SystemExit, match='must differ'):
        converter['main']([src, src])


def official_dense_checkpoint(config: str, path: str) -> str:
    """An official-style det/seg checkpoint of the config's (random) model: mmengine keys, no dataset_meta."""
    import importlib

    from mmengine.config import Config
    cfg = Config.fromfile(config)
    importlib.import_module(f'{cfg.default_scope}.utils').register_all_modules(init_default_scope=True)
    model = importlib.import_module(f'{cfg.default_scope}.registry').MODELS.build(cfg.model)
    model.init_weights()
    torch.save({'meta': {'epoch': 36}, 'state_dict': model.state_dict()}, path)
    return path


@pytest.mark.e2e  # builds DetInferencer / MMSegInferencer: about 5-15 s each on a 2-core CPU
@pytest.mark.parametrize('kind,dataset', [('det', 'coco'), ('seg', 'ade20k')])
def test_inferencer_names_the_classes(tiny_configs, image_file: str, tmp_path, kind: str, dataset: str) -> None:
    src = official_dense_checkpoint(tiny_configs[kind], str(tmp_path / 'official.pth'))
    dst = str(tmp_path / 'converted.pth')
    converter['main']([src, dst])  # the head's class count tells COCO (80) / ADE20K (150)
    expected = converter['dataset_meta'](dataset)['classes']
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        inferencer = demo['build_inferencer'](tiny_configs[kind], dst, 'cpu')
        result = demo['run'](inferencer, image_file, score_thr=0.)
    assert tuple(inferencer.model.dataset_meta['classes']) == expected
    assert tuple(inferencer.visualizer.dataset_meta['classes']) == expected
    assert not [w for w in caught if 'dataset_meta' in str(w.message) or 'classes' in str(w.message)]

    out = str(tmp_path / 'demo' / f'{kind}.png')
    demo['save_picture'](result, out)
    picture, image = cv2.imread(out), cv2.imread(image_file)
    assert picture.shape == image.shape and (picture != image).any()  # the predictions are painted
