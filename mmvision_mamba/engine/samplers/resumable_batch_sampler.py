"""A batch sampler that can leave out the first batches of its next pass, to continue an epoch where it stopped."""
import itertools
from typing import Iterator, List, Optional, Union

from mmengine.registry import DATA_SAMPLERS
from torch.utils.data import BatchSampler, Sampler


@DATA_SAMPLERS.register_module()
class ResumableBatchSampler(BatchSampler):
    """Wraps a batch sampler (torch's `BatchSampler` by default, or e.g. mmdet's `AspectRatioBatchSampler`).

    After :meth:`skip_batches` (n), its next pass leaves out the first n batches: their indices are drawn, which
    fixes the order of the rest exactly as in an uninterrupted pass, but no sample is loaded. Passes after that
    one are whole. Its length is that of a whole pass.

    Args:
        sampler: The sampler of indices (given by mmengine's `build_dataloader`).
        batch_size: Samples per batch (given by mmengine's `build_dataloader`).
        batch_sampler: Config of the wrapped batch sampler; None: torch's `BatchSampler`.
        drop_last: For torch's `BatchSampler` only.
    """

    def __init__(self, sampler: Sampler, batch_size: int, batch_sampler: Optional[Union[dict, BatchSampler]] = None,
                 drop_last: bool = False) -> None:
        if batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        elif isinstance(batch_sampler, dict):
            batch_sampler = DATA_SAMPLERS.build(batch_sampler, default_args=dict(sampler=sampler,
                                                                                 batch_size=batch_size))
        self.batch_sampler = batch_sampler
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = getattr(batch_sampler, 'drop_last', drop_last)
        self._skip = 0

    def skip_batches(self, n: int) -> None:
        """Makes the next pass leave out its first `n` batches."""
        if n < 0:
            raise ValueError(f'cannot skip {n} batches')
        self._skip = n

    def __iter__(self) -> Iterator[List[int]]:
        skip, self._skip = self._skip, 0
        return itertools.islice(iter(self.batch_sampler), skip, None)

    def __len__(self) -> int:
        return len(self.batch_sampler)
