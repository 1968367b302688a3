"""Helpers every layer may import (torch only): tensor errors, timers, config type names, the Slurm job, the end of
a distributed run."""
