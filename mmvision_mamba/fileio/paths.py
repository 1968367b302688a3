"""Paths that name remote files."""
import re
from typing import Optional

_SCHEME = re.compile(r'^([A-Za-z][A-Za-z0-9+.-]*)://')


def url_scheme(path: str) -> Optional[str]:
    """The lower-case scheme of a URL-like path (`'https'`, `'s3'`, `'file'`, ...), None for a plain path."""
    match = _SCHEME.match(path)
    return match.group(1).lower() if match else None


def is_local_path(path: str) -> bool:
    """Whether `path` is a plain local path (no `scheme://`)."""
    return url_scheme(path) is None
