"""The checkpoint a run resumes or loads from: a cheap check that a file is whole, and auto-resume
that steps back past damaged files to the newest readable one."""
import logging
import os
import os.path as osp
import re
import zipfile
from typing import List, Optional, Tuple

from mmengine.config import Config
from mmengine.logging import print_log

from ..fileio import is_local_path, sniff_format
from .hooks.atomic_checkpoint_hook import LAST_CHECKPOINT

#: `s3://`, `open-mmlab://`, `http://` ...: paths that mmengine reads through other backends.
_STEP = re.compile(r'(\d+)\.pth$')


class UnreadableCheckpointError(ValueError):
    """A checkpoint that a run should start from is damaged, incomplete or missing."""


def checkpoint_problem(path: str) -> Optional[str]:
    """Why `path` is no readable torch checkpoint, or None when it looks whole.

    Reads only the zip directory and the small pickle of a torch file, never the tensors: a file
    cut short (disk full, copy interrupted, process killed while writing) has lost its zip
    central directory, which sits at the end.
    """
    if not osp.exists(path):
        return 'it does not exist'
    if osp.isdir(path):
        return 'it is a folder, not a checkpoint file'
    kind = sniff_format(path)
    if kind == 'pickle':  # torch's legacy format has no directory to check
        return None
    if kind == 'safetensors':
        return 'it is a safetensors file; a run loads torch checkpoints (.pth)'
    if kind != 'torch-zip':
        return f'it is {kind}' + ('' if 'torch checkpoint' in kind else ', not a torch checkpoint')
    size = osp.getsize(path)
    try:
        with zipfile.ZipFile(path) as z:
            members = z.infolist()
            if any(m.header_offset + m.compress_size > size for m in members):
                return f'it is cut short: its zip directory lists data beyond its {size} bytes'
            z.read(next(m for m in members if m.filename.endswith('data.pkl')))  # checks its CRC
    except zipfile.BadZipFile as e:
        return f'it is cut short or overwritten ({size} bytes, no readable zip directory: {e})'
    except (OSError, EOFError, zipfile.LargeZipFile) as e:
        return f'it cannot be read ({e})'
    return None


def _step(path: str) -> int:
    match = _STEP.search(osp.basename(path))
    return int(match.group(1)) if match else -1


def checkpoints_in(folder: str, resumable: bool = False) -> List[str]:
    """The `.pth` files of `folder`, newest first (by the step in their name, then by time).

    Args:
        folder: a work dir (or a CheckpointHook's out_dir).
        resumable: leave out `best_*` checkpoints, which hold no optimizer state.
    """
    if not osp.isdir(folder):
        return []
    paths = [osp.join(folder, n) for n in os.listdir(folder)
             if n.endswith('.pth') and not (resumable and n.startswith('best_'))]
    paths = [p for p in paths if osp.isfile(p)]
    return sorted(paths, key=lambda p: (_step(p), osp.getmtime(p)), reverse=True)


def _readable_beside(path: str) -> str:
    folder = osp.dirname(osp.abspath(path))
    readable = [osp.basename(p) for p in checkpoints_in(folder)
                if osp.abspath(p) != osp.abspath(path) and checkpoint_problem(p) is None]
    if not readable:
        return f'No readable checkpoint is beside it in {folder}.'
    return f'Readable checkpoints beside it in {folder} (newest first): {", ".join(readable)}.'


def require_readable(path: str, action: str = 'load') -> None:
    """Raises :class:`UnreadableCheckpointError` naming `path`, what is wrong with it and the
    readable checkpoints in its folder, unless it looks whole (URLs and remote paths pass)."""
    if not is_local_path(path):
        return
    path = osp.expanduser(path)
    problem = checkpoint_problem(path)
    if problem is None:
        return
    damaged = '' if problem == 'it does not exist' else 'it is damaged or incomplete: '
    raise UnreadableCheckpointError(f'Cannot {action} {path}: {damaged}{problem}. {_readable_beside(path)}')


def _latest_readable(work_dir: str) -> Tuple[Optional[str], List[str]]:
    """(the newest readable checkpoint of a run or None, notes on the newer ones passed over);
    no notes when the run has no checkpoint at all."""
    pointer = osp.join(work_dir, LAST_CHECKPOINT)
    named = None
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named and not is_local_path(named):
            return named, []
    notes = [f'{pointer} is empty'] if named == '' else []
    folder = osp.dirname(named) if named else work_dir
    candidates = ([named] if named else []) + [p for p in checkpoints_in(folder, resumable=True) if p != named]
    for path in candidates:
        problem = checkpoint_problem(path)
        if problem is None:
            return path, notes
        notes.append(f'{path}: {problem}')
    return None, notes if candidates else []


def resolve_load_from(cfg: Config) -> None:
    """Checks, before a run is built, the checkpoint it starts from; with auto-resume
    (`cfg.resume` and no `cfg.load_from`), sets `cfg.load_from` to the newest readable checkpoint.

    A damaged newest checkpoint is named in a warning and passed over. With neither
    `last_checkpoint` nor `.pth` files in the work dir, nothing is set (the run starts afresh).

    Raises:
        UnreadableCheckpointError: `cfg.load_from` (or, with auto-resume, every checkpoint of
            the work dir) is damaged, incomplete or missing; the message names the files.
    """
    load_from = cfg.get('load_from')
    if load_from:
        require_readable(load_from, 'resume from' if cfg.get('resume') else 'load')
        return
    if not cfg.get('resume'):
        return
    chosen, passed_over = _latest_readable(cfg.work_dir)
    if chosen is None:
        if not passed_over:
            return
        raise UnreadableCheckpointError(
            f'Cannot resume in {cfg.work_dir}: no checkpoint there is readable: {"; ".join(passed_over)}. '
            'They are damaged or incomplete. Move them away to start afresh, or resume from a checkpoint '
            'elsewhere.')
    if passed_over:
        print_log(f'Auto-resume passes over damaged or incomplete checkpoints: {"; ".join(passed_over)}. '
                  f'Resuming from {chosen}, the newest readable one.', logger='current', level=logging.WARNING)
    cfg.load_from = chosen
