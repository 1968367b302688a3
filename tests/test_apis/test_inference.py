"""init_model / load_weights: the model of a config built in its scope with a checkpoint's weights, the one builder of
the tools and tests; init_inferencer / infer_image behind tools/demo.py."""
import warnings

import cv2
import pytest
import torch
from mmengine.config import Config
from torch import nn

from mmvision_mamba.apis import infer_image, init_inferencer, init_model, load_weights
from mmvision_mamba.models import MambaVision
from mmvision_mamba.models.utils import convert_to_mm_checkpoint, dataset_meta
from tests.test_models.test_pretrained import SMALL, backbone_only, source, write_cls  # noqa: F401 (fixture)

TINY = dict(dim=16, in_dim=8, depths=(1, 1, 2, 2), num_heads=(1, 1, 2, 2))


def test_builds_in_the_scope_of_the_config(tiny_configs) -> None:
    model = init_model(tiny_configs['seg'], cfg_options={'model.backbone.drop_path_rate': 0.1})
    assert type(model).__name__ == 'EncoderDecoder' and not model.training
    assert model.cfg.model.backbone.drop_path_rate == 0.1
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in model.modules())  # UperNet's SyncBN, reverted
    detector = init_model(Config.fromfile(tiny_configs['det']))
    assert type(detector).__name__ == 'MaskRCNN' and isinstance(detector.backbone, MambaVision)


def test_bare_backbone_config_and_unknown_library() -> None:
    model = init_model(Config(dict(model=dict(type='MambaVision', arch=TINY))))
    assert isinstance(model, MambaVision)
    with pytest.raises(ValueError, match="cannot tell the model's library of 'ResNet'"):
        init_model(Config(dict(model=dict(type='ResNet', depth=18))))
    with pytest.raises(ValueError, match='no `model` entry'):
        init_model(Config(dict(optimizer=dict(type='SGD'))))
    with pytest.raises(ValueError, match="default_scope='no_such_lib'"):
        init_model(Config(dict(default_scope='no_such_lib', model=dict(type='X'))))


def test_checkpoints_of_every_layout(tiny_configs, source: MambaVision, tmp_path) -> None:
    small = {'model.backbone.arch': dict(SMALL), 'model.backbone.layer_scale': 'arch'}  # the config says None
    official = write_cls(source, str(tmp_path / 'official.pth.tar'))  # backbone only: through load_pretrained
    converted = str(tmp_path / 'converted.pth')  # mmengine layout with dataset_meta: by name
    torch.save(convert_to_mm_checkpoint(official, 'coco'), converted)
    for checkpoint in (official, converted):
        model = init_model(tiny_configs['det'], checkpoint, cfg_options=small)
        own = model.backbone.state_dict()
        assert all(torch.equal(own[k], v) for k, v in backbone_only(source).items()), checkpoint
    assert model.dataset_meta['classes'] == dataset_meta('coco')['classes']
    backbone = init_model(Config(dict(model=dict(type='MambaVision', arch=SMALL))))
    load_weights(backbone, converted)  # a `backbone.`-prefixed file into the bare backbone
    assert all(torch.equal(backbone.state_dict()[k], v) for k, v in backbone_only(source).items())


def test_inferencer_of_another_scope(image_file: str, tmp_path) -> None:
    config = tmp_path / 'cls.py'
    config.write_text("default_scope = 'mmpretrain'\nmodel = dict(type='ImageClassifier')\n")
    with pytest.raises(ValueError, match="run 'mmdet' and 'mmseg' configs"):
        init_inferencer(str(config), image_file)


@pytest.mark.e2e  # builds DetInferencer / MMSegInferencer: about 5-15 s each on a 2-core CPU
@pytest.mark.parametrize('kind,dataset', [('det', 'coco'), ('seg', 'ade20k')])
def test_inferencer_names_the_classes(tiny_configs, image_file: str, tmp_path, kind: str, dataset: str) -> None:
    model = init_model(tiny_configs[kind])
    model.init_weights()
    src = str(tmp_path / 'official.pth')  # an official-style det/seg checkpoint: mmengine keys, no dataset_meta
    torch.save({'meta': {'epoch': 36}, 'state_dict': model.state_dict()}, src)
    dst = str(tmp_path / 'converted.pth')
    torch.save(convert_to_mm_checkpoint(src), dst)  # the head's class count tells COCO (80) / ADE20K (150)
    expected = dataset_meta(dataset)['classes']
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        inferencer = init_inferencer(tiny_configs[kind], dst)
        result = infer_image(inferencer, image_file, score_thr=0.)
    assert tuple(inferencer.model.dataset_meta['classes']) == expected
    assert tuple(inferencer.visualizer.dataset_meta['classes']) == expected
    assert not [w for w in caught if 'dataset_meta' in str(w.message) or 'classes' in str(w.message)]
    picture, image = result['visualization'][0], cv2.cvtColor(cv2.imread(image_file), cv2.COLOR_BGR2RGB)
    assert picture.shape == image.shape and (picture != image).any()  # the predictions are painted
