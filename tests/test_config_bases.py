"""Every config under configs/det and configs/seg resolves to the recipe recorded in
tests/fixtures/resolved_configs.json, key for key.

The configs share bases (configs/_base_/); moving text between a config and its bases must not change
what `mmengine.Config.fromfile` makes of it. The record holds each config's resolved dict (`to_dict()`:
bases merged, `_base_` and functions dropped by mmengine) as JSON with sorted keys, tuples kept apart
from lists. When a recipe changes on purpose, regenerate the record and review its diff:

    PYTHONPATH=$PWD python -m tests.test_config_bases --write
"""
import argparse
import importlib.util
import json
import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / 'tests' / 'fixtures' / 'resolved_configs.json'
CONFIGS = sorted((ROOT / 'configs' / 'det').glob('*.py')) + sorted((ROOT / 'configs' / 'seg').glob('*.py'))
TUPLE = '__tuple__'


def canonical(value):
    """A config value as JSON data: tuples as {'__tuple__': [...]}, so that a tuple turned list shows."""
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f'non-string key {key!r}: JSON would turn it into a string')
        return {key: canonical(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return {TUPLE: [canonical(item) for item in value]}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    if value is None or isinstance(value, (bool, int, str)) or isinstance(value, float) and math.isfinite(value):
        return value
    raise TypeError(f'{type(value).__name__} value {value!r} has no exact JSON form')


def resolve(path) -> dict:
    """The config at `path` as mmengine resolves it (non-lazy, as tools/train.py reads it), canonical.
    Its `custom_imports` are not imported: they register modules, they do not change the dict."""
    from mmengine.config import Config
    return canonical(Config.fromfile(str(path), import_custom_modules=False, lazy_import=False).to_dict())


def record_key(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def differences(old, new) -> list:
    """The keys (dotted, list items as [i]) whose value differs between two canonical configs, sorted."""
    return sorted(_differences(old, new, ''))


def _differences(old, new, where: str) -> list:
    if isinstance(old, dict) and isinstance(new, dict) and (TUPLE in old) == (TUPLE in new):
        if TUPLE in old:
            return _differences(old[TUPLE], new[TUPLE], where)
        found = [f'{where}{key}: removed' for key in old.keys() - new.keys()]
        found += [f'{where}{key}: added' for key in new.keys() - old.keys()]
        for key in old.keys() & new.keys():
            found += _differences(old[key], new[key], f'{where}{key}.')
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in _differences(a, b, f'{where.rstrip(".")}[{i}].')]
    if type(old) is not type(new) or old != new:
        return [f'{where.rstrip(".")}: {old!r} -> {new!r}']
    return []


def write_record(paths=CONFIGS, record: Path = RECORD) -> None:
    record.parent.mkdir(parents=True, exist_ok=True)
    resolved = {record_key(path): resolve(path) for path in paths}
    record.write_text(json.dumps(resolved, indent=1, sort_keys=True) + '\n')


@pytest.fixture(scope='module')
def recorded() -> dict:
    for package in ('mmdet', 'mmseg'):  # the configs' `mmdet::` / `mmseg::` bases are in the installed packages
        if importlib.util.find_spec(package) is None:
            pytest.skip(f'{package} is not installed')
    return json.loads(RECORD.read_text())


def test_record_covers_every_config(recorded):
    assert sorted(recorded) == sorted(record_key(path) for path in CONFIGS), \
        'configs added or removed: regenerate the record (see the module docstring)'


@pytest.mark.parametrize('path', CONFIGS, ids=[path.stem for path in CONFIGS])
def test_resolved_config_unchanged(path, recorded):
    assert differences(recorded[record_key(path)], resolve(path)) == []


def test_a_changed_recipe_is_reported(recorded, tmp_path):
    """The comparison names what a config changes: a value, a tuple turned list, an added and a removed key."""
    path = ROOT / 'configs' / 'det' / 'mask_rcnn_mambavision_t.py'
    changed = tmp_path / 'changed.py'
    changed.write_text(f'_base_ = {str(path)!r}\n'
                       'model = dict(backbone=dict(drop_path_rate=0.3, window_size=[8, 8, 112, 56]))\n'
                       'auto_scale_lr = dict(_delete_=True, base_batch_size=16)\n'
                       'extra = 1\n')
    assert differences(recorded[record_key(path)], resolve(changed)) == [
        'auto_scale_lr.enable: removed',
        'extra: added',
        'model.backbone.drop_path_rate: 0.2 -> 0.3',
        "model.backbone.window_size: {'__tuple__': [8, 8, 112, 56]} -> [8, 8, 112, 56]",
    ]
    assert differences(recorded[record_key(path)], resolve(path)) == []


def test_differences_in_lists():
    old = {'param_scheduler': [{'end': 1000}, {'milestones': [27, 33]}]}
    assert differences(old, {'param_scheduler': [{'end': 500}, {'milestones': [27, 33]}]}) == \
        ['param_scheduler[0].end: 1000 -> 500']
    assert differences(old, {'param_scheduler': [{'end': 1000}]}) == \
        [f"param_scheduler: {old['param_scheduler']!r} -> [{{'end': 1000}}]"]
    assert differences({'lr': 1}, {'lr': 1.0}) == ['lr: 1 -> 1.0']  # equal in Python, not the same recipe


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--write', action='store_true', help=f'rewrite {RECORD.relative_to(ROOT)} from the configs')
    if parser.parse_args().write:
        write_record()
        print(f'wrote {RECORD.relative_to(ROOT)} ({len(CONFIGS)} configs)')
