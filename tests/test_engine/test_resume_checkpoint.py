"""checkpoint_problem and resolve_load_from: damaged checkpoints are named, auto-resume steps back
past them to the newest readable one."""
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from mmvision_mamba.engine import UnreadableCheckpointError, checkpoint_problem, resolve_load_from


def save(path: str, step: int) -> str:
    torch.save({'meta': {'iter': step}, 'state_dict': {'w': torch.full((64, 64), float(step))}}, path)
    return path


def truncate(path: str, keep: float = 0.5) -> str:
    with open(path, 'r+b') as f:
        f.truncate(int(os.path.getsize(path) * keep))
    return path


@pytest.fixture
def work_dir(tmp_path) -> str:
    """iter_1.pth and iter_2.pth whole, iter_3.pth cut short, last_checkpoint naming iter_3.pth."""
    for step in (1, 2, 3):
        save(str(tmp_path / f'iter_{step}.pth'), step)
    truncate(str(tmp_path / 'iter_3.pth'))
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_3.pth'))
    return str(tmp_path)


@pytest.fixture
def warnings_log(tmp_path):
    """The text that print_log(logger='current') writes while the test runs."""
    log_file = tmp_path / 'run.log'
    MMLogger.get_instance(f'resume-{tmp_path.name}', log_file=str(log_file))
    return lambda: log_file.read_text()


def cfg_of(work_dir: str, resume: bool, load_from=None) -> Config:
    return Config(dict(work_dir=work_dir, resume=resume, load_from=load_from))


def test_checkpoint_problem(tmp_path) -> None:
    good = save(str(tmp_path / 'good.pth'), 1)
    assert checkpoint_problem(good) is None
    assert 'cut short' in checkpoint_problem(truncate(save(str(tmp_path / 'half.pth'), 1)))
    assert 'cut short' in checkpoint_problem(truncate(save(str(tmp_path / 'tail.pth'), 1), keep=0.99))
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    assert 'empty' in checkpoint_problem(str(empty))
    page = tmp_path / 'page.pth'
    page.write_text('<html>Not found</html>')
    assert 'HTML' in checkpoint_problem(str(page))
    assert checkpoint_problem(str(tmp_path / 'absent.pth')) == 'it does not exist'
    assert 'folder' in checkpoint_problem(str(tmp_path))


def test_checkpoint_problem_catches_a_flipped_byte_in_the_pickle(tmp_path) -> None:
    path = save(str(tmp_path / 'flipped.pth'), 1)
    data = bytearray(open(path, 'rb').read())
    at = data.index(b'\x80\x02', data.index(b'data.pkl')) + 8  # inside the pickle (protocol 2)
    data[at] ^= 0xFF
    open(path, 'wb').write(bytes(data))
    assert checkpoint_problem(path) is not None


def test_auto_resume_passes_over_a_damaged_newest_checkpoint(work_dir: str, warnings_log) -> None:
    cfg = cfg_of(work_dir, resume=True)
    resolve_load_from(cfg)
    assert cfg.load_from == osp.join(work_dir, 'iter_2.pth')
    log = warnings_log()
    assert 'WARNING' in log and osp.join(work_dir, 'iter_3.pth') in log and 'cut short' in log


def test_auto_resume_steps_back_past_several_and_ignores_best(work_dir: str) -> None:
    truncate(osp.join(work_dir, 'iter_2.pth'))
    save(osp.join(work_dir, 'best_mIoU_iter_2.pth'), 2)
    cfg = cfg_of(work_dir, resume=True)
    resolve_load_from(cfg)
    assert cfg.load_from == osp.join(work_dir, 'iter_1.pth')


@pytest.mark.parametrize('pointer', ['', 'missing'])
def test_auto_resume_without_a_usable_pointer(work_dir: str, pointer: str) -> None:
    if pointer == 'missing':
        os.remove(osp.join(work_dir, 'last_checkpoint'))
    else:
        open(osp.join(work_dir, 'last_checkpoint'), 'w').close()  # a pointer write cut short
    cfg = cfg_of(work_dir, resume=True)
    resolve_load_from(cfg)
    assert cfg.load_from == osp.join(work_dir, 'iter_2.pth')


def test_auto_resume_in_a_fresh_work_dir_starts_afresh(tmp_path) -> None:
    cfg = cfg_of(str(tmp_path / 'new'), resume=True)
    resolve_load_from(cfg)
    assert cfg.load_from is None


def test_auto_resume_with_every_checkpoint_damaged(work_dir: str) -> None:
    for step in (1, 2):
        truncate(osp.join(work_dir, f'iter_{step}.pth'))
    with pytest.raises(UnreadableCheckpointError, match='no checkpoint there is readable') as e:
        resolve_load_from(cfg_of(work_dir, resume=True))
    assert all(f'iter_{step}.pth' in str(e.value) for step in (1, 2, 3))


def test_explicit_resume_from_a_damaged_file(work_dir: str) -> None:
    damaged = osp.join(work_dir, 'iter_3.pth')
    with pytest.raises(UnreadableCheckpointError) as e:
        resolve_load_from(cfg_of(work_dir, resume=True, load_from=damaged))
    message = str(e.value)
    assert message.startswith(f'Cannot resume from {damaged}: it is damaged or incomplete')
    assert 'iter_2.pth, iter_1.pth' in message


def test_load_from_damaged_or_missing(work_dir: str, tmp_path) -> None:
    with pytest.raises(UnreadableCheckpointError, match=r'Cannot load .*iter_3\.pth: it is damaged'):
        resolve_load_from(cfg_of(work_dir, resume=False, load_from=osp.join(work_dir, 'iter_3.pth')))
    lonely = str(tmp_path / 'elsewhere' / 'epoch_9.pth')
    with pytest.raises(UnreadableCheckpointError, match='it does not exist. No readable checkpoint'):
        resolve_load_from(cfg_of(work_dir, resume=False, load_from=lonely))


def test_readable_and_remote_paths_pass(work_dir: str) -> None:
    for load_from in (osp.join(work_dir, 'iter_1.pth'), 's3://bucket/iter_9.pth', 'https://host/x.pth'):
        cfg = cfg_of(work_dir, resume=False, load_from=load_from)
        resolve_load_from(cfg)
        assert cfg.load_from == load_from


def test_auto_resume_with_an_empty_pointer_and_no_checkpoint_starts_afresh(tmp_path) -> None:
    (tmp_path / 'last_checkpoint').write_text('')
    cfg = cfg_of(str(tmp_path), resume=True)
    resolve_load_from(cfg)
    assert cfg.load_from is None
