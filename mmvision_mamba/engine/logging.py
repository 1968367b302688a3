"""The log records of `mmvision_mamba.ops` (which imports torch alone) in mmengine's current log."""
import logging

from mmengine.logging import print_log

OPS_LOGGER = 'mmvision_mamba.ops'


class CurrentLoggerHandler(logging.Handler):
    """Hands each record to mmengine's current logger (the run's log file and console)."""

    def emit(self, record: logging.LogRecord) -> None:
        print_log(record.getMessage(), logger='current', level=record.levelno)


def forward_ops_logs(level: int = logging.INFO) -> None:
    """Sends the ops' records of `level` and above to mmengine's current logger (once per process)."""
    logger = logging.getLogger(OPS_LOGGER)
    if not any(isinstance(h, CurrentLoggerHandler) for h in logger.handlers):
        logger.addHandler(CurrentLoggerHandler())
    logger.setLevel(min(logger.level or level, level))
    logger.propagate = False
