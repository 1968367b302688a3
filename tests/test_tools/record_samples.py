"""Test-only plugin for a training run (`custom_imports`): the hook `RecordSamplesHook` appends the id of every
sample a rank trains on (COCO `img_id`, else the image file name), in order, to work_dir/samples.rank<r>."""
import os.path as osp

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RecordSamplesHook(Hook):

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        ids = [s.metainfo.get('img_id', osp.basename(s.metainfo.get('img_path', '?')))
               for s in data_batch['data_samples']]
        with open(osp.join(runner.work_dir, f'samples.rank{get_rank()}'), 'a') as f:
            f.write(''.join(f'{i}\n' for i in ids))
