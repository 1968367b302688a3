"""Sphinx configuration of the mmvision_mamba documentation: Markdown pages read by MyST."""
import os.path as osp
import posixpath
import re

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(HERE))
_version: dict = {}
with open(osp.join(ROOT, 'mmvision_mamba', 'version.py'), encoding='utf-8') as f:
    exec(f.read(), _version)  # the version without importing the package (and torch)

project = 'mmvision_mamba'
author = 'The mmvision_mamba authors'
copyright = '2026, The mmvision_mamba authors'
version = release = _version['__version__']

extensions = ['myst_parser']
source_suffix = {'.md': 'markdown'}
root_doc = 'index'
exclude_patterns = ['_build']
myst_heading_anchors = 3  # `page.md#a-heading` links, with GitHub's heading slugs

html_theme = 'furo'
html_title = f'mmvision_mamba {version}'
html_static_path = ['_static']

#: the page whose source is configs/README.md (in git it is a stub that links there)
MODEL_ZOO = ('model_zoo', 'configs/README.md')
_LINK = re.compile(r'\[([^\]]*)\]\((?![a-z]+:|#)([^)\s#]+)(#[^)\s]*)?\)')


def rebase_links(text: str, src_dir: str, dst_dir: str) -> str:
    """Rewrites the relative Markdown links of a file in `src_dir` (repo-relative) as seen from `dst_dir`.

    A link to a Markdown file outside `dst_dir` (no page of these docs) keeps its text and names the file.
    """

    def rebase(m: re.Match) -> str:
        label, target, anchor = m.group(1), posixpath.normpath(posixpath.join(src_dir, m.group(2))), m.group(3)
        if target.endswith('.md') and not target.startswith(dst_dir + '/'):
            return f'{label} (`{target}`)'
        return f'[{label}]({posixpath.relpath(target, dst_dir)}{anchor or ""})'

    return _LINK.sub(rebase, text)


def model_zoo_source(app, docname: str, source: list) -> None:
    """Serves configs/README.md as the model zoo page, its links rebased to docs/en/."""
    if docname == MODEL_ZOO[0]:
        app.env.note_dependency(osp.join(ROOT, MODEL_ZOO[1]))
        with open(osp.join(ROOT, MODEL_ZOO[1]), encoding='utf-8') as f:
            source[0] = rebase_links(f.read(), posixpath.dirname(MODEL_ZOO[1]), 'docs/en')


def setup(app) -> None:
    app.connect('source-read', model_zoo_source)
