"""The docs cannot rot: README.md, configs/README.md and docs/ are checked for

(a) relative links and images that resolve (files, and `#anchors` as GitHub's heading slugs),
(b) the `tools/`, `configs/`, `tests/` and `mmvision_mamba/` paths they name in code, which must exist,
(c) their Python code blocks, which must run (pytest-markdown-docs; a block marked `python notest` is shown only).
"""
import re
from pathlib import Path
from typing import Iterator, List, Set

import pytest

pytest_plugins = ['pytester']

ROOT = Path(__file__).resolve().parents[1]
#: named paths of earlier versions are the changelog's subject: (b) leaves it out
NAMES_OLD_PATHS = {'docs/en/changelog.md'}

_FENCE = re.compile(r'^(`{3,}|~{3,})([^\n]*)\n(.*?)^\1[ \t]*$', re.M | re.S)
_INLINE_CODE = re.compile(r'(`+)(.+?)\1', re.S)
_LINK = re.compile(r'!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
_REF_DEF = re.compile(r'^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$', re.M)
_HTML_SRC = re.compile(r'<(?:img|a)\b[^>]*?\b(?:src|href)="([^"]+)"', re.I)
_HEADING = re.compile(r'^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$', re.M)
_NAMED_PATH = re.compile(r'(?<![\w./-])((?:tools|configs|tests|mmvision_mamba)/[\w.*-]+(?:/[\w.*-]+)*/?)')


def doc_files(root: Path = ROOT) -> List[Path]:
    """README.md, configs/README.md and every Markdown page under docs/ (build output excluded)."""
    files = [root / 'README.md', root / 'configs' / 'README.md']
    files += sorted(p for p in (root / 'docs').rglob('*.md') if '_build' not in p.parts)
    return [p for p in files if p.is_file()]


def _blank(match: re.Match) -> str:
    return re.sub(r'[^\n]', ' ', match.group(0))


def prose(text: str) -> str:
    """`text` with its code blocks and inline code blanked out (line numbers kept)."""
    return _INLINE_CODE.sub(_blank, _FENCE.sub(_blank, text))


def code(text: str) -> Iterator[str]:
    """The code of `text`: its code blocks and inline code spans."""
    for match in _FENCE.finditer(text):
        yield match.group(3)
    for match in _INLINE_CODE.finditer(_FENCE.sub(_blank, text)):
        yield match.group(2)


def github_slug(heading: str) -> str:
    """The anchor GitHub (and MyST's `myst_heading_anchors`) gives a heading."""
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)  # a link keeps its text
    return re.sub(r'[^\w\- ]', '', text.strip().lower()).replace(' ', '-')  # markup and punctuation go


def anchors(path: Path) -> Set[str]:
    """Every heading anchor of a Markdown file; repeated headings get -1, -2, ... as on GitHub."""
    seen: dict = {}
    result = set()
    for match in _HEADING.finditer(_FENCE.sub(_blank, path.read_text(encoding='utf-8'))):
        slug = github_slug(match.group(1))
        result.add(f'{slug}-{seen[slug]}' if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return result


def _line(text: str, pos: int) -> int:
    return text.count('\n', 0, pos) + 1


def broken_links(path: Path, root: Path = ROOT) -> List[str]:
    """The relative links and images of `path` that do not resolve, as 'file:line: target (why)'."""
    text = path.read_text(encoding='utf-8')
    body = prose(text)
    targets = [(m.group(1), m.start()) for regex in (_LINK, _REF_DEF, _HTML_SRC) for m in regex.finditer(body)]
    problems = []
    for target, pos in targets:
        if re.match(r'[a-z][a-z0-9+.-]*:', target, re.I) or target.startswith('//'):
            continue  # a URL (http, mailto, ...): not checked offline
        where = f'{path.relative_to(root)}:{_line(text, pos)}: {target}'
        file_part, _, anchor = target.partition('#')
        dest = (path.parent / file_part).resolve() if file_part else path
        if root.resolve() not in (dest, *dest.parents):
            problems.append(f'{where} (outside the repository)')
        elif not dest.exists():
            problems.append(f'{where} (no such file)')
        elif anchor and dest.suffix == '.md' and anchor not in anchors(dest):
            problems.append(f'{where} (no heading with this anchor in {dest.relative_to(root.resolve())})')
    return problems


def missing_named_paths(path: Path, root: Path = ROOT) -> List[str]:
    """The repository paths that `path` names in its code (blocks and inline) and that do not exist."""
    problems = []
    for snippet in code(path.read_text(encoding='utf-8')):
        for name in _NAMED_PATH.findall(snippet):
            name = name.rstrip('.')
            exists = any(root.glob(name.rstrip('/'))) if '*' in name else (root / name).exists()
            if not exists:
                problems.append(f'{path.relative_to(root)}: {name}')
    return problems


def test_doc_files_found():
    names = {str(p.relative_to(ROOT)) for p in doc_files()}
    assert {'README.md', 'configs/README.md', 'docs/en/index.md', 'docs/en/user_guides/backbone.md'} <= names


@pytest.mark.parametrize('path', doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(path: Path):
    assert broken_links(path) == []


@pytest.mark.parametrize('path', [p for p in doc_files() if str(p.relative_to(ROOT)) not in NAMES_OLD_PATHS],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_named_paths_exist(path: Path):
    assert missing_named_paths(path) == []


def test_checkers_report_a_broken_copy(tmp_path: Path):
    (tmp_path / 'tools').mkdir()
    (tmp_path / 'tools' / 'train.py').write_text('')
    (tmp_path / 'other.md').write_text('# Other page\n\n## Fit window mode\n')
    page = tmp_path / 'page.md'
    page.write_text('# Title: `backbone` and more\n\n'
                    '[ok](other.md#fit-window-mode) [ok](#title-backbone-and-more) [web](https://example.com/x)\n'
                    '[gone](missing.md) ![pic](img/missing.png)\n'
                    '[bad anchor](other.md#no-such-heading) [up](../../etc/passwd)\n\n'
                    '```shell\npython tools/train.py configs/det/missing.py  # [not a link](nowhere.md)\n```\n'
                    'Run `tools/gone.py`.\n')
    assert broken_links(page, tmp_path) == [
        'page.md:4: missing.md (no such file)',
        'page.md:4: img/missing.png (no such file)',
        'page.md:5: other.md#no-such-heading (no heading with this anchor in other.md)',
        'page.md:5: ../../etc/passwd (outside the repository)',
    ]
    assert missing_named_paths(page, tmp_path) == ['page.md: configs/det/missing.py', 'page.md: tools/gone.py']


@pytest.mark.parametrize('heading, slug', [
    ("Layer-wise learning-rate decay", 'layer-wise-learning-rate-decay'),
    ("pretrained in mmseg configs", 'pretrained-in-mmseg-configs'),
    ("Window modes: `official` and `fit`", 'window-modes-official-and-fit'),
    ("mmseg's `model.pretrained`", 'mmsegs-modelpretrained'),
    ("The `window_mode='fit'` option", 'the-window_modefit-option'),
])
def test_github_slug(heading: str, slug: str):
    assert github_slug(heading) == slug


def _runnable_blocks(path: Path) -> int:
    """Python code blocks not marked `notest`, as pytest-markdown-docs finds them."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt('commonmark').parse(path.read_text(encoding='utf-8'))
    infos = [t.info.split() for t in tokens if t.type == 'fence']
    return sum(1 for info in infos if info[:1] in (['python'], ['py'], ['python3']) and 'notest' not in info)


def test_python_blocks_run(pytester: pytest.Pytester):
    """Every Python block of the docs runs (pytest-markdown-docs, in a fresh process)."""
    files = doc_files()
    expected = sum(_runnable_blocks(p) for p in files)
    assert expected >= 5, 'the docs should keep their runnable examples'
    result = pytester.runpytest_subprocess('--markdown-docs', '-p', 'no:cacheprovider', '-q',
                                           *(str(p) for p in files))
    assert result.ret == 0, '\n'.join(result.outlines[-60:])
    result.assert_outcomes(passed=expected)


def test_python_blocks_fail_on_a_broken_copy(pytester: pytest.Pytester):
    pytester.makefile('.md', page='# Page\n\n'
                      '```python\nvalue = 1\n```\n\n'
                      '```python continuation\nassert value == 1\n```\n\n'
                      '```python\nraise ValueError("a broken example")\n```\n\n'
                      '```python notest\nraise ValueError("shown, not run")\n```\n')
    result = pytester.runpytest('--markdown-docs', '-p', 'no:cacheprovider')
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(['*ValueError: a broken example*'])
    assert 'shown, not run' not in result.stdout.str()
