"""The docs cannot rot: every relative link resolves and every runnable
example runs.

* Links: every ``[text](target)`` and ``![alt](target)`` outside code in
  ``README.md`` and ``docs/**/*.md`` whose target is a relative path must
  name an existing file or folder, and its ``#anchor``, when the target is a
  Markdown file, one of that file's headings (GitHub's slugs, which MyST's
  ``myst_heading_anchors`` also uses). ``sphinx-build -W`` checks the links
  between docs pages again; this test also covers the README and links
  to files outside docs/.
* Examples: a fenced ``python`` block right after the line
  ``<!-- runnable -->`` runs from the repository root, in a fresh namespace,
  in one child process shared by all blocks (one import of the libraries);
  after ``<!-- runnable: config -->`` the block is an mm config that lives in
  ``configs/``: it is loaded beside the project's configs and its model built
  with :func:`mmgroupmamba.apis.init_model`. docs/get_started.md ("How these
  docs are tested") documents the markers for authors.
"""
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MARKER = re.compile(r'^<!--\s*runnable(?::\s*(?P<kind>config))?\s*-->\s*$')
FENCE = re.compile(r'^(?P<fence>`{3,}|~{3,})\s*(?P<info>[\w+-]*)')
# [text](target) or ![alt](target); text may hold one level of brackets.
LINK = re.compile(r'!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?(?P<target>[^)\s>]+)>?'
                  r'(?:\s+"[^"]*")?\s*\)')
SCHEME = re.compile(r'^[a-zA-Z][a-zA-Z0-9+.-]*:')
INLINE_CODE = re.compile(r'(`+).+?\1')


def doc_files(repo=REPO):
    """README.md and every Markdown page under docs/ (not the build)."""
    docs = repo / 'docs'
    pages = sorted(p for p in docs.rglob('*.md')
                   if '_build' not in p.relative_to(docs).parts)
    return [repo / 'README.md'] + pages


def prose_lines(text):
    """(line number, line) of the lines outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line.lstrip())
        if fence is None and match:
            fence = match['fence']
        elif fence is not None and line.strip().startswith(fence) and \
                line.strip().strip(fence[0]) == '':
            fence = None
        elif fence is None:
            yield number, line


def slug(heading):
    """GitHub's anchor of a heading (what MyST's default slug also gives):
    Markdown markup dropped, lower case, punctuation but ``-`` and ``_``
    removed, spaces to hyphens."""
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)  # links
    text = text.replace('`', '').strip().lower()
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(path):
    """Every anchor a link may name in a Markdown file: heading slugs (the
    second of a duplicate gets ``-1`` as on GitHub) and MyST targets."""
    found, seen = set(), {}
    for _, line in prose_lines(path.read_text()):
        heading = re.match(r'^#{1,6}\s+(.*?)\s*#*\s*$', line)
        if heading:
            base = slug(heading[1])
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f'{base}-{count}')
        target = re.match(r'^\((?P<name>[\w-]+)\)=\s*$', line)
        if target:
            found.add(target['name'])
    return found


def links(path):
    """(line number, target) of every link in the prose of ``path``."""
    for number, line in prose_lines(path.read_text()):
        for match in LINK.finditer(INLINE_CODE.sub('', line)):
            yield number, match['target']


def broken_links(path, repo=REPO):
    """Messages for the relative links of ``path`` that do not resolve."""
    problems = []
    for number, target in links(path):
        if SCHEME.match(target) or target.startswith('//'):
            continue  # a URL: not checked here (no network)
        where = f'{path.relative_to(repo)}:{number}: {target}'
        file_part, _, anchor = target.partition('#')
        resolved = (path.parent / file_part).resolve() if file_part else path
        if target.startswith('/'):
            problems.append(f'{where}: absolute path (use a relative one)')
        elif not resolved.exists():
            problems.append(f'{where}: {file_part} does not exist')
        elif repo.resolve() not in (resolved, *resolved.parents):
            problems.append(f'{where}: points outside the repository')
        elif anchor and resolved.suffix == '.md' and \
                anchor not in anchors(resolved):
            problems.append(f'{where}: no heading #{anchor} in '
                            f'{resolved.relative_to(repo.resolve())}')
    return problems


def runnable_blocks(path):
    """(line number, kind, code) of the blocks marked runnable in ``path``;
    kind is 'python' or 'config'. A marker not followed by a python block
    is an error."""
    lines = path.read_text().splitlines()
    blocks = []
    for index, line in enumerate(lines):
        marker = MARKER.match(line.strip())
        if not marker:
            continue
        opening = lines[index + 1] if index + 1 < len(lines) else ''
        fence = FENCE.match(opening.strip())
        if not fence or fence['info'] != 'python':
            raise ValueError(f'{path}:{index + 1}: a runnable marker must be '
                             'followed at once by a ```python block')
        body = []
        for inner in lines[index + 2:]:
            if inner.strip() == fence['fence']:
                break
            body.append(inner)
        else:
            raise ValueError(f'{path}:{index + 2}: unclosed code block')
        blocks.append((index + 2, marker['kind'] or 'python', '\n'.join(body)))
    return blocks


# Runs in the child: executes each block, reports one JSON record per block.
RUNNER = textwrap.dedent('''
    import json, os, sys, tempfile, time, traceback
    from pathlib import Path

    def run_config(code, repo):
        from mmengine.config import Config
        from mmgroupmamba.apis import init_model
        with tempfile.TemporaryDirectory() as folder:
            for entry in (Path(repo) / 'configs').iterdir():
                os.symlink(entry, Path(folder) / entry.name)
            path = Path(folder) / 'docs_example_config.py'
            path.write_text(code)
            init_model(Config.fromfile(str(path)))

    blocks, repo = json.load(sys.stdin), os.getcwd()
    for block in blocks:
        start, error = time.perf_counter(), None
        try:
            if block['kind'] == 'config':
                run_config(block['code'], repo)
            else:
                exec(compile(block['code'], block['name'], 'exec'),
                     {'__name__': '__main__'})
        except BaseException:
            error = traceback.format_exc()
        finally:
            os.chdir(repo)
        print('DOCS-RESULT ' + json.dumps(dict(
            name=block['name'], error=error,
            seconds=time.perf_counter() - start)), flush=True)
''')


def run_blocks(blocks, timeout=900):
    """Run ``[{'name', 'kind', 'code'}]`` in one child process from the
    repository root; returns {name: record} with 'error' (a traceback or
    None) and 'seconds', and the child's whole output."""
    result = subprocess.run(
        [sys.executable, '-c', RUNNER], input=json.dumps(blocks), cwd=REPO,
        capture_output=True, text=True, timeout=timeout)
    records = {}
    for line in result.stdout.splitlines():
        if line.startswith('DOCS-RESULT '):
            record = json.loads(line[len('DOCS-RESULT '):])
            records[record['name']] = record
    return records, result.stdout + result.stderr


def all_runnable_blocks():
    return [dict(name=f'{path.relative_to(REPO)}:{line}', kind=kind,
                 code=code)
            for path in doc_files() for line, kind, code in
            runnable_blocks(path)]


BLOCKS = all_runnable_blocks()


@pytest.fixture(scope='module')
def block_results():
    return run_blocks(BLOCKS)


@pytest.mark.parametrize('path', doc_files(),
                         ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(path):
    assert broken_links(path) == []


@pytest.mark.parametrize('block', BLOCKS, ids=lambda b: b['name'])
def test_runnable_block_runs(block, block_results):
    records, output = block_results
    assert block['name'] in records, f'the child never ran it:\n{output}'
    error = records[block['name']]['error']
    assert error is None, f'{block["name"]} failed:\n{error}'


def test_docs_have_runnable_blocks():
    """The markers are found (a typo in the marker would silently run
    nothing): the pages that teach the API carry examples that run."""
    pages = {name.split(':')[0] for name in (b['name'] for b in BLOCKS)}
    assert {'docs/get_started.md', 'docs/user_guides/configs.md',
            'docs/user_guides/finetune.md',
            'docs/user_guides/inference.md'} <= pages
    assert any(b['kind'] == 'config' for b in BLOCKS)


def test_link_check_catches_broken_links(tmp_path):
    (tmp_path / 'docs').mkdir()
    (tmp_path / 'docs' / 'other.md').write_text(
        '# Other page\n\n## A `code_name` section\n\n## Twice\n\n## Twice\n')
    (tmp_path / 'image.png').write_bytes(b'')
    page = tmp_path / 'README.md'
    page.write_text('\n'.join([
        '# Title',
        '[fine](docs/other.md) [fine](docs/other.md#a-code_name-section)',
        '![fine](image.png) [fine](#title) [fine](docs/other.md#twice-1)',
        '[url](https://example.org/missing) `[code](missing.md)`',
        '[gone](docs/missing.md)',
        '[bad anchor](docs/other.md#no-such-section)',
        '[bad local anchor](#nowhere)',
        '[absolute](/etc/passwd)',
        '```',
        '[in a code block](missing_too.md)',
        '```',
    ]))
    problems = broken_links(page, repo=tmp_path)
    assert len(problems) == 4, problems
    assert 'README.md:5: docs/missing.md: docs/missing.md does not exist' \
        in problems
    assert any('#no-such-section' in p for p in problems)
    assert any('#nowhere' in p for p in problems)
    assert any('absolute path' in p for p in problems)


def test_runnable_marker_and_failing_block_reported(tmp_path):
    page = tmp_path / 'page.md'
    page.write_text('\n'.join([
        'text', '<!-- runnable -->', '```python', 'x = 1', 'assert x == 1',
        '```', '```python', 'not run = !', '```', '<!-- runnable -->',
        '```python', 'assert False, "docs example broke"', '```',
        '<!-- runnable: config -->', '```python', 'model = dict()', '```']))
    blocks = runnable_blocks(page)
    assert [(line, kind) for line, kind, _ in blocks] == \
        [(3, 'python'), (11, 'python'), (15, 'config')]
    records, output = run_blocks([
        dict(name=f'page.md:{line}', kind=kind, code=code)
        for line, kind, code in blocks[:2]], timeout=120)
    assert records['page.md:3']['error'] is None, output
    assert 'docs example broke' in records['page.md:11']['error']

    bad = tmp_path / 'bad.md'
    bad.write_text('<!-- runnable -->\n```bash\nls\n```\n')
    with pytest.raises(ValueError, match='python block'):
        runnable_blocks(bad)


def test_readme_is_short():
    """A README read in minutes (issue 25): what it is, install, quick
    start, the model zoo and links; everything else lives in docs/."""
    lines = (REPO / 'README.md').read_text().splitlines()
    assert len(lines) <= 300, f'README.md has {len(lines)} lines'
