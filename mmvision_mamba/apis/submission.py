"""Result files for the benchmarks' evaluation servers (tools/test.py --test-data / --format-only / --out-dir):
COCO results JSONs (boxes, masks) and ADE20K label PNGs."""
import os
import os.path as osp
import shutil
from typing import List, Optional

from mmengine.config import Config
from mmengine.dist import is_main_process

from ..utils.config_type import type_name
from .config_checks import test_dataset

# CocoMetric writes {prefix}.bbox.json / {prefix}.segm.json; finish_submission renames them
_COCO_PREFIX = 'results'
_OVERLAY_KEYS = {'test_dataloader', 'test_evaluator'}


def _evaluators(cfg: Config) -> list:
    ev = cfg.get('test_evaluator') or []
    return list(ev) if isinstance(ev, (list, tuple)) else [ev]


def apply_test_data(cfg: Config, path: str) -> None:
    """Merges a test-split data config (e.g. configs/_base_/coco_test_dev.py) into `cfg`.

    Args:
        cfg: changed in place.
        path: a config holding only `test_dataloader` and `test_evaluator` settings, merged like a
            child config's (`_delete_=True` replaces a dict).
    """
    if not osp.isfile(path):
        raise ValueError(f'--test-data: no such file: {path} (e.g. configs/_base_/coco_test_dev.py).')
    overlay = Config.fromfile(path).to_dict()
    extra = sorted(set(overlay) - _OVERLAY_KEYS)
    if extra:
        raise ValueError(f'--test-data {path}: a test-data config sets only {sorted(_OVERLAY_KEYS)}; '
                         f'it also sets {extra}.')
    cfg.merge_from_dict(overlay)


def _drop_annotations(pipeline: Optional[list]) -> None:
    """Removes LoadAnnotations from a pipeline, also inside TestTimeAug's transform lists."""
    if not pipeline:
        return
    pipeline[:] = [t for t in pipeline if type_name(t) != 'LoadAnnotations']
    for t in pipeline:
        if type_name(t) == 'TestTimeAug':
            t['transforms'] = [[x for x in step if type_name(x) != 'LoadAnnotations'] for step in t['transforms']]
            t['transforms'] = [step for step in t['transforms'] if step]


def prepare_submission(cfg: Config, out_dir: Optional[str], format_only: bool = False) -> None:
    """Sets the test evaluator up to write the evaluation server's files to `out_dir`.

    COCO (mmdet's CocoMetric): the results JSONs; ADE20K and other mmseg sets (IoUMetric): one label PNG
    per image, named after it, with the dataset's labels (ADE20K 1..150: mmseg adds back the 1 that
    `reduce_zero_label` took off). Nothing is written here.

    Args:
        cfg: changed in place.
        out_dir: the folder to write to (new or empty); None: write nothing.
        format_only: only write the files, do not evaluate (for a test split without labels; a
            test-data config can also ask for it with `test_evaluator.format_only=True`). The test
            pipelines then load no annotations, and a COCO evaluator takes the image and category ids
            from the dataset's `ann_file`.

    Raises:
        ValueError: naming the problem (no --out-dir, a folder that is not empty, an evaluator that
            writes no server files).
    """
    evaluators = _evaluators(cfg)
    format_only = format_only or any(ev.get('format_only') for ev in evaluators)
    if not out_dir:
        if format_only:
            raise ValueError('--format-only (or a test-data config with test_evaluator.format_only=True) writes '
                             'the evaluation server\'s files and evaluates nothing: add --out-dir DIR.')
        return
    if osp.isdir(out_dir) and os.listdir(out_dir):
        raise ValueError(f'--out-dir {out_dir} is not empty: give a new or empty folder, so that the server files '
                         'of one run are not mixed with others.')
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise ValueError(f'--out-dir {out_dir} is a file: give a new or empty folder.')
    known = [ev for ev in evaluators if type_name(ev) in ('CocoMetric', 'IoUMetric')]
    if not known:
        raise ValueError('--out-dir / --format-only write COCO results (CocoMetric) or label PNGs (IoUMetric), '
                         f'but the test evaluator is {[type_name(ev) for ev in evaluators]}.')
    for ev in known:
        ev['format_only'] = format_only
        if type_name(ev) == 'CocoMetric':
            ev['outfile_prefix'] = osp.join(out_dir, _COCO_PREFIX)
        else:
            ev['output_dir'] = out_dir
    if format_only:
        ds = test_dataset(cfg)
        _drop_annotations(ds.pipeline)
        _drop_annotations(cfg.get('tta_pipeline'))
        for ev in known:
            if type_name(ev) == 'CocoMetric' and ds.get('ann_file'):
                ev['ann_file'] = osp.join(ds.get('data_root') or '', ds.ann_file)


def finish_submission(cfg: Config, out_dir: str) -> List[str]:
    """Renames CocoMetric's results JSONs to the COCO server's names (on the main process).

    `{out_dir}/results.bbox.json` becomes `{out_dir}/bbox/detections_{split}_{alg}_results.json`, likewise
    `segm`: one file per folder, to be zipped and uploaded to that task. {split} is the annotation file's
    name without `image_info_` / `instances_` (test-dev2017), {alg} the config's name.

    Returns:
        The paths of the server files in `out_dir`, sorted.
    """
    if is_main_process():
        coco = [ev for ev in _evaluators(cfg) if type_name(ev) == 'CocoMetric']
        if coco:
            split = osp.splitext(osp.basename(coco[0].get('ann_file') or 'unknown'))[0]
            for prefix in ('image_info_', 'instances_'):
                split = split[len(prefix):] if split.startswith(prefix) else split
            alg = osp.splitext(osp.basename(cfg.filename or 'model'))[0].replace('_', '-')
            for task in ('bbox', 'segm'):
                src = osp.join(out_dir, f'{_COCO_PREFIX}.{task}.json')
                if osp.isfile(src):
                    os.makedirs(osp.join(out_dir, task), exist_ok=True)
                    shutil.move(src, osp.join(out_dir, task, f'detections_{split}_{alg}_results.json'))
    return sorted(osp.join(root, f) for root, _, files in os.walk(out_dir) for f in files)
