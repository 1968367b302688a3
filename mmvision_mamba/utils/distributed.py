"""The end of a distributed run: every rank leaves together, with its process group destroyed."""
import torch.distributed as dist


def close_process_group() -> None:
    """Waits for every rank, then destroys the default process group (and every other); a no-op when none is open.

    Call it once per process where communication ends, as torch asks (`destroy_process_group` near the end of
    main): a rank that exits with its group still open can abort in the interpreter's teardown ("terminate called
    without an active exception" from gloo's worker threads, pytorch/pytorch#190489), and a rank that leaves first
    can stall a peer that is still talking to it. Never call it on the way out of an error: the other ranks would
    wait at the barrier for a rank that is gone.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
