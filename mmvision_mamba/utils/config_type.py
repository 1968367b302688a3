"""The type a config dict names."""


def type_name(cfg: object) -> str:
    """The class name that a config dict builds: `'mmdet.FPN'` -> `'FPN'`, a class -> its name, '' for none."""
    t = cfg.get('type') if isinstance(cfg, dict) else None
    return t.rsplit('.', 1)[-1] if isinstance(t, str) else getattr(t, '__name__', '')
