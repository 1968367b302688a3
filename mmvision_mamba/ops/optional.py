"""Optional accelerator packages. On CPU machines they may be installed yet fail to import."""
import importlib
from types import ModuleType
from typing import Optional


def try_import(name: str) -> Optional[ModuleType]:
    """Imports `name`, or returns None on any failure (missing, wrong CUDA, broken build)."""
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - a broken optional kernel must never break the model
        return None
