"""ResumableBatchSampler: a pass after skip_batches(n) is the rest of a whole pass, with nothing loaded."""
import pytest
from mmengine.dataset import DefaultSampler, InfiniteSampler
from mmengine.registry import DATA_SAMPLERS
from torch.utils.data import BatchSampler

from mmvision_mamba.engine import ResumableBatchSampler


class Untouchable(list):
    """A data set whose samples must not be loaded."""

    def __getitem__(self, i):
        raise AssertionError('a sample was loaded')


@DATA_SAMPLERS.register_module(force=True)
class PairsFirstBatchSampler(BatchSampler):
    """Holds odd indices back until two are ready, like mmdet's AspectRatioBatchSampler buckets."""

    def __init__(self, sampler, batch_size) -> None:
        self.sampler, self.batch_size = sampler, batch_size

    def __iter__(self):
        held = []
        for i in self.sampler:
            if i % 2:
                held.append(i)
                if len(held) == self.batch_size:
                    yield held
                    held = []
            else:
                yield [i] * self.batch_size

    def __len__(self) -> int:
        return len(self.sampler)


def test_skip_then_whole_passes() -> None:
    sampler = DefaultSampler(Untouchable(range(10)), shuffle=True, seed=1)
    resumable = ResumableBatchSampler(sampler, batch_size=3, drop_last=True)
    whole = list(resumable)
    assert len(whole) == len(resumable) == 3
    resumable.skip_batches(2)
    assert list(resumable) == whole[2:]
    assert list(resumable) == whole  # the skip applies to one pass
    sampler.set_epoch(1)
    assert list(resumable) != whole and resumable.sampler is sampler


def test_wraps_a_configured_batch_sampler() -> None:
    sampler = DefaultSampler(Untouchable(range(9)), shuffle=True, seed=2)
    resumable = ResumableBatchSampler(sampler, 2, batch_sampler=dict(type='PairsFirstBatchSampler'))
    whole = list(resumable)
    for n in range(len(whole) + 1):
        resumable.skip_batches(n)
        assert list(resumable) == whole[n:]


def test_infinite_sampler() -> None:
    stream = iter(ResumableBatchSampler(InfiniteSampler(Untouchable(range(5)), seed=3), 2))
    first = [next(stream) for _ in range(7)]
    resumable = ResumableBatchSampler(InfiniteSampler(Untouchable(range(5)), seed=3), 2)
    resumable.skip_batches(4)
    stream = iter(resumable)
    assert [next(stream) for _ in range(3)] == first[4:]
    with pytest.raises(ValueError, match='cannot skip -1'):
        resumable.skip_batches(-1)
