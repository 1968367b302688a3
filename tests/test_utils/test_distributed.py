"""close_process_group: the ranks leave together and no group is left open; without a group it does nothing."""
import multiprocessing
import os
import os.path as osp
import socket
import time

import torch.distributed as dist

from mmvision_mamba.utils.distributed import close_process_group


def _rank(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    if rank == 1:
        time.sleep(2.0)  # the late rank
    reached = time.monotonic()
    close_process_group()
    with open(osp.join(out, f'rank{rank}'), 'w') as f:
        f.write(f'{reached} {time.monotonic()} {dist.is_initialized()}')


def test_ranks_leave_together_with_the_group_destroyed(tmp_path) -> None:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    ctx = multiprocessing.get_context('spawn')
    ranks = [ctx.Process(target=_rank, args=(r, port, str(tmp_path))) for r in range(2)]
    for p in ranks:
        p.start()
    for p in ranks:
        p.join(120)
    assert [p.exitcode for p in ranks] == [0, 0]
    (reached0, left0, open0), (reached1, _, open1) = (open(tmp_path / f'rank{r}').read().split() for r in range(2))
    assert open0 == open1 == 'False'
    assert float(left0) >= float(reached1)  # rank 0 waited for the late rank before it left


def test_without_a_group_it_does_nothing() -> None:
    assert not dist.is_initialized()
    close_process_group()
    assert not dist.is_initialized()
