"""The benchmark's rows as text tables and bar charts."""
from typing import List

SUITES = ('scan', 'backbone', 'windows', 'onnx')


def format_table(rows: List[dict]) -> str:
    """One right-aligned table per suite (its rows' keys as columns, the first row's first), blank-line separated."""
    tables = []
    for suite in SUITES:
        sel = [r for r in rows if r['suite'] == suite]
        if not sel:
            continue
        cols = [c for c in sel[0] if c not in ('suite', 'device_name')]
        cols += sorted({c for r in sel for c in r} - set(sel[0]))
        widths = {c: max(len(c), *(len(format_value(r.get(c))) for r in sel)) for c in cols}
        lines = ['  '.join(c.rjust(widths[c]) for c in cols)]
        lines += ['  '.join(format_value(r.get(c)).rjust(widths[c]) for c in cols) for r in sel]
        tables.append('\n'.join(lines))
    return '\n\n'.join(tables)


def format_value(v: object) -> str:
    """A table cell: floats with 3 significant digits, None empty."""
    return f'{v:.3g}' if isinstance(v, float) else ('' if v is None else str(v))


def plot_rows(rows: List[dict], suite: str, value: str, path: str, log: bool = False) -> bool:
    """Grouped bars of `value` per model and case; False if there is nothing to plot."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    sel = [r for r in rows if r['suite'] == suite and value in r]
    if not sel:
        return False

    def label(r: dict) -> str:
        return f"{r['hw']} {r['mode']} {r['dtype']}{' compiled' if r['compiled'] else ''}"

    labels = list(dict.fromkeys(label(r) for r in sel))
    models = list(dict.fromkeys(r['model'] for r in sel))
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(labels)), 4))
    width = 0.8 / len(models)
    for i, m in enumerate(models):
        vals = [next((r[value] for r in sel if r['model'] == m and label(r) == lab), 0) for lab in labels]
        ax.bar([j + i * width for j in range(len(labels))], vals, width, label=m)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(labels))], labels, rotation=20, ha='right')
    ax.set_ylabel(value)
    if log:
        ax.set_yscale('log')
    ax.set_title(f'{suite} on {rows[0].get("device_name", "")} (interleaved medians)')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


