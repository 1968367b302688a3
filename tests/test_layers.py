"""The package's layers (.importlinter) hold, and a wrong import breaks them."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip('importlinter', reason='import-linter is in the dev extra')


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    """`lint-imports` with the repository's contracts over the mmvision_mamba package in `tree`."""
    code = 'import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())'
    env = dict(os.environ, PYTHONPATH=str(tree))
    return subprocess.run([sys.executable, '-c', code, '--config', str(ROOT / '.importlinter'), '--no-cache'],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=300)


def test_the_package_keeps_its_layers() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Contracts: 2 kept, 0 broken.' in result.stdout


def test_wrong_imports_break_the_contracts(tmp_path: Path) -> None:
    shutil.copytree(ROOT / 'mmvision_mamba', tmp_path / 'mmvision_mamba',
                    ignore=shutil.ignore_patterns('__pycache__', '*.so', 'csrc'))
    models_up = tmp_path / 'mmvision_mamba' / 'models' / 'layers' / 'drop_path.py'
    models_up.write_text(models_up.read_text() + '\nfrom mmvision_mamba.apis import cli  # noqa: E402,F401\n')
    ops_mm = tmp_path / 'mmvision_mamba' / 'ops' / 'optional.py'
    ops_mm.write_text(ops_mm.read_text() + '\nimport mmengine  # noqa: E402,F401\n')

    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    out = ' '.join(result.stdout.split())  # the report wraps long lines
    assert 'Contracts: 0 kept, 2 broken.' in out
    assert 'mmvision_mamba.models.layers.drop_path -> mmvision_mamba.apis.cli' in out
    assert 'mmvision_mamba.ops.optional -> mmengine' in out
