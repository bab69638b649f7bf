"""The Simplified Chinese edition: notebooks/zh/ built from the executed English notebooks plus translations.

One translation file per notebook (``notebooks/zh/translations/<stem>.md``; the student and solution copies
of an exercise share ``translations/exercises/<stem>.md``) holds, for each English markdown cell, a marker
line ``<!-- cell <id> en:<hash> -->`` followed by the Chinese text. The hash is that of the English text the
entry translates, so an English edit makes the entry stale instead of silently outdated. Code cells and their
outputs are copied from the English notebook untouched.

    python -m tools.zh build             # write notebooks/zh/ (make zh)
    python -m tools.zh check             # is notebooks/zh/ current and every cell translated?
    python -m tools.zh todo              # the English text of the cells to translate or update
    python -m tools.zh stub              # todo, and append those cells as stubs marked TODO
    python -m tools.zh link-english      # add the pointer to the Chinese edition to the English notebooks
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent  # tools/ sits at the root of a clone

__all__ = ["Translation", "english_notebooks", "chinese_path", "translation_path", "english_digest",
           "read_translations", "build_notebook", "build", "check", "todo", "link_english"]

MARKER = re.compile(r"^<!-- cell (\S+) en:([0-9a-f]{12})( TODO)? -->[ \t]*$", re.M)
# The one line each English notebook carries about the Chinese edition; it is not part of what is translated.
ENGLISH_POINTER = "> 简体中文版 (Simplified Chinese edition): [{name}]({link})"
ENGLISH_POINTER_LINE = re.compile(r"^> 简体中文版 \(Simplified Chinese edition\):.*(\n\n?|$)", re.M)
CHINESE_POINTER = "> 英文原版 (English edition): [{name}]({link})"
# Markdown links and images, and src/href attributes: group "target" is what gets rewritten.
LINK = re.compile(r"(?P<head>\]\(|(?:src|href)=\")(?P<target>[^)\"\s]+)")
# The one code cell the Chinese edition adds: exercise handouts switch the checks' messages to Chinese.
LANGUAGE_CELL = 'from inception_nb.exercises import set_language\n\nset_language("zh")  # 检查信息和提示使用中文'
LANGUAGE_MARK = {"inception_nb": {"zh": "language"}}
FILE_HEADER = ("简体中文版译文。每个条目以一行 cell 标记开头：单元格 id，以及所译英文文本的摘要 (en:...)。\n"
               "英文改动后运行 `python -m tools.zh todo` 查看需要更新的条目；标记 TODO 的条目尚未完成。\n")


@dataclass
class Translation:
    """One entry of a translation file: the English cell it translates, that text's digest, the Chinese."""

    cell_id: str
    digest: str
    text: str
    todo: bool = False


def english_notebooks(root: Path = REPO_ROOT) -> list[Path]:
    """Return the English notebooks the Chinese edition covers: 00-05 and the exercise handouts and solutions."""
    notebooks = root / "notebooks"
    return (sorted(notebooks.glob("[0-9][0-9]_*.ipynb")) + sorted(notebooks.glob("exercises/student/*.ipynb"))
            + sorted(notebooks.glob("exercises/solutions/*.ipynb")))


def chinese_path(english: Path, root: Path = REPO_ROOT) -> Path:
    """Return where the Chinese copy of an English notebook lives (notebooks/zh/ mirrors notebooks/)."""
    return root / "notebooks" / "zh" / english.relative_to(root / "notebooks")


def translation_path(english: Path, root: Path = REPO_ROOT) -> Path:
    """Return the translation file of an English notebook; an exercise's two copies share one."""
    folder = root / "notebooks" / "zh" / "translations"
    if english.parent.parent.name == "exercises":
        return folder / "exercises" / f"{english.stem}.md"
    return folder / f"{english.stem}.md"


def english_text(cell: dict) -> str:
    """Return an English markdown cell's text without the pointer to the Chinese edition."""
    return ENGLISH_POINTER_LINE.sub("", "".join(cell["source"])).strip()


def english_digest(text: str) -> str:
    """Return the 12-hex-digit digest of an English markdown text, the key a translation is checked by."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:12]


def read_translations(path: Path) -> list[Translation]:
    """Parse a translation file into its entries, in file order (an absent file has none)."""
    if not path.is_file():
        return []
    content = path.read_text(encoding="utf-8")
    marks = list(MARKER.finditer(content))
    entries = []
    for mark, following in zip(marks, marks[1:] + [None]):
        text = content[mark.end():following.start() if following else len(content)].strip()
        entries.append(Translation(mark.group(1), mark.group(2), text, bool(mark.group(3))))
    return entries


def write_translations(path: Path, entries: list[Translation]) -> None:
    """Write a translation file atomically, the header first, one entry after another."""
    blocks = [f"<!-- cell {e.cell_id} en:{e.digest}{' TODO' if e.todo else ''} -->\n{e.text}\n" for e in entries]
    _write_atomic(path, FILE_HEADER + "\n" + "\n".join(blocks))


def _write_atomic(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(content, encoding="utf-8")
    os.replace(temporary, path)


def _rel(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def rewrite_links(text: str, english: Path, root: Path = REPO_ROOT) -> str:
    """Point the relative links of a translated cell, written as in the English one, at the Chinese neighbours."""
    covered = {path.resolve() for path in english_notebooks(root)}
    here = chinese_path(english, root).parent

    def rewrite(match: re.Match) -> str:
        target = match.group("target")
        if re.match(r"^[a-z][a-z0-9+.-]*:|^[#/]", target):  # a URL, an anchor or an absolute path stays
            return match.group(0)
        path_part, hash_mark, anchor = target.partition("#")
        resolved = Path(os.path.normpath(english.parent / path_part)).resolve()
        if resolved in covered:
            resolved = chinese_path(resolved, root.resolve())
        elif resolved == (root / "README.md").resolve():
            resolved = root.resolve() / "README.zh-CN.md"
        return match.group("head") + _rel(resolved, here.resolve()) + hash_mark + anchor

    return LINK.sub(rewrite, text)


def _with_pointer(text: str, pointer: str) -> str:
    """Put the pointer line right under the cell's title (or first, when the cell has no title)."""
    title, _, rest = text.partition("\n") if text.startswith("#") else ("", "", text)
    return "\n\n".join(part for part in (title, pointer, rest.strip("\n")) if part)


def _source(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def build_notebook(english: Path, entries: list[Translation], root: Path = REPO_ROOT) -> tuple[dict, list[str]]:
    """Return the Chinese notebook of an English one, and the problems met (stale or missing translations)."""
    notebook = json.loads(english.read_text(encoding="utf-8"))
    by_key = {(e.cell_id, e.digest): e for e in entries}
    by_id = {e.cell_id: e for e in entries}
    name = english.relative_to(root / "notebooks").as_posix()
    problems, first_markdown = [], True
    for cell in notebook["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        text, cell_id = english_text(cell), cell.get("id")
        digest = english_digest(text)
        entry = by_key.get((cell_id, digest))
        if cell_id is None:
            problems.append(f"{name}: a markdown cell has no id (nbformat >= 4.5 gives every cell one)")
        elif entry is None and cell_id in by_id:
            problems.append(f"{name} cell {cell_id}: the English text changed (now en:{digest}); "
                            "update its translation")
            entry = by_id[cell_id]
        elif entry is None:
            problems.append(f"{name} cell {cell_id}: no translation (en:{digest})")
        elif entry.todo:
            problems.append(f"{name} cell {cell_id}: translation marked TODO")
        chinese = rewrite_links(entry.text, english, root) if entry else text
        if first_markdown:
            link = _rel(english, chinese_path(english, root).parent)
            chinese = _with_pointer(chinese, CHINESE_POINTER.format(name=english.name, link=link))
            first_markdown = False
        cell["source"] = _source(chinese)
    if english.parent.parent.name == "exercises":
        _add_language_cell(notebook["cells"])
    return notebook, problems


def _add_language_cell(cells: list[dict]) -> None:
    """Insert the set_language("zh") cell after the first code cell that imports the checks."""
    at = next((i for i, c in enumerate(cells) if c["cell_type"] == "code"
               and "from inception_nb.exercises import" in "".join(c["source"])), None)
    if at is not None:
        cells.insert(at + 1, {"cell_type": "code", "execution_count": None, "id": f"{cells[at]['id']}-zh",
                              "metadata": copy.deepcopy(LANGUAGE_MARK), "outputs": [],
                              "source": _source(LANGUAGE_CELL)})


def is_language_cell(cell: dict) -> bool:
    """Whether a cell of a Chinese notebook is the one the edition adds (set_language("zh"))."""
    return cell.get("metadata") == LANGUAGE_MARK and "".join(cell["source"]) == LANGUAGE_CELL


def notebook_json(notebook: dict) -> str:
    """Serialise a notebook as nbformat writes it (one-space indent, sorted keys, real UTF-8)."""
    return json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def _unused(root: Path, used: dict[Path, set[tuple[str, str]]]) -> list[str]:
    problems = []
    for path, keys in used.items():
        for entry in read_translations(path):
            if (entry.cell_id, entry.digest) not in keys and not entry.todo:
                problems.append(f"{path.relative_to(root)}: entry {entry.cell_id} en:{entry.digest} "
                                "matches no English cell; delete it")
    return problems


def _used_keys(english: Path) -> set[tuple[str, str]]:
    cells = json.loads(english.read_text(encoding="utf-8"))["cells"]
    return {(c.get("id"), english_digest(english_text(c))) for c in cells if c["cell_type"] == "markdown"}


def _build_all(root: Path) -> tuple[dict[Path, dict], list[str]]:
    built, problems, used = {}, [], {}
    for english in english_notebooks(root):
        source = translation_path(english, root)
        built[chinese_path(english, root)], found = build_notebook(english, read_translations(source), root)
        problems += found
        used.setdefault(source, set()).update(_used_keys(english))
    return built, problems + _unused(root, used)


def build(root: Path = REPO_ROOT) -> list[str]:
    """Write every Chinese notebook; return the translation problems (the notebooks are written regardless)."""
    built, problems = _build_all(root)
    for path, notebook in built.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != notebook_json(notebook):
            _write_atomic(path, notebook_json(notebook))
    return problems


def _compare(english: Path, chinese: Path, expected: dict, root: Path) -> list[str]:
    name = chinese.relative_to(root).as_posix()
    if not chinese.is_file():
        return [f"{name}: missing; run `make zh`"]
    actual = json.loads(chinese.read_text(encoding="utf-8"))
    cells = [c for c in actual["cells"] if not is_language_cell(c)]
    original = json.loads(english.read_text(encoding="utf-8"))["cells"]
    if [c.get("id") for c in cells] != [c.get("id") for c in original]:
        return [f"{name}: its cells are not the English notebook's cells; run `make zh`"]
    problems = []
    for ours, theirs in zip(cells, original):
        if theirs["cell_type"] == "code" and ours != theirs:
            problems.append(f"{name} cell {theirs.get('id')}: code or outputs differ from the English notebook")
    if not problems and actual != expected:
        problems.append(f"{name}: out of date with its translations; run `make zh`")
    return problems


def check(root: Path = REPO_ROOT) -> list[str]:
    """Return every reason the Chinese edition is not current: stale, missing or unused translations, code that
    differs from the English notebooks, notebooks not rebuilt, English notebooks without the pointer."""
    built, problems = _build_all(root)
    for english in english_notebooks(root):
        chinese = chinese_path(english, root)
        problems += _compare(english, chinese, built[chinese], root)
        cells = json.loads(english.read_text(encoding="utf-8"))["cells"]
        if not any(ENGLISH_POINTER_LINE.search("".join(c["source"])) for c in cells if c["cell_type"] == "markdown"):
            problems.append(f"{english.relative_to(root).as_posix()}: no pointer to the Chinese edition; "
                            "run `python -m tools.zh link-english`")
    return problems


def todo(root: Path = REPO_ROOT, write: bool = False) -> str:
    """Return the English text of every cell lacking a current translation; with write, add TODO stubs for them."""
    report, used = [], {}
    for english in english_notebooks(root):
        used.setdefault(translation_path(english, root), set()).update(_used_keys(english))
    for english in english_notebooks(root):
        source = translation_path(english, root)
        entries = read_translations(source)
        by_id = {e.cell_id: e for e in entries}
        keys = {(e.cell_id, e.digest) for e in entries if not e.todo}
        changed = False
        for cell in json.loads(english.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "markdown" or cell.get("id") is None:
                continue
            text, cell_id = english_text(cell), cell["id"]
            digest = english_digest(text)
            if (cell_id, digest) in keys:
                continue
            old = by_id.get(cell_id)
            state = "stale" if old and old.digest != digest else "todo" if old else "missing"
            report.append(f"=== {english.relative_to(root).as_posix()} cell {cell_id} ({state}) "
                          f"-> {source.relative_to(root).as_posix()}\n{text}\n")
            if write and state != "todo":
                if old and (cell_id, old.digest) not in used[source]:
                    old.digest, old.todo = digest, True  # keep the old Chinese to edit, under the new digest
                else:  # the other copy of an exercise may still use the old entry: start a new one beside it
                    entries.append(Translation(cell_id, digest, old.text if old else text, todo=True))
                    by_id[cell_id] = entries[-1]
                changed = True
        if changed:
            write_translations(source, entries)
    return "\n".join(report)


def english_pointer(english: Path, root: Path = REPO_ROOT) -> str:
    """Return the line an English notebook carries about its Chinese copy.

    Both copies of an exercise (student/, solutions/) get the same line, built from one source notebook in
    exercises/: it points to the Chinese handout, which lies at the same relative path from either copy.
    """
    if english.parent == root / "exercises" or english.parent.parent.name == "exercises":
        chinese = root / "notebooks" / "zh" / "exercises" / "student" / english.name
        start = root / "notebooks" / "exercises" / "student"
    else:
        chinese, start = chinese_path(english, root), english.parent
    return ENGLISH_POINTER.format(name=chinese.name, link=_rel(chinese, start))


def link_english(root: Path = REPO_ROOT) -> list[Path]:
    """Add the pointer to the Chinese edition under the title of each English notebook lacking it, and of the
    exercises' source notebooks in exercises/ (so `python -m inception_nb.exercises make` keeps it); return those."""
    sources = [root / "exercises" / f"{e.stem}.ipynb" for e in english_notebooks(root) if e.parent.name == "student"]
    changed = []
    for english in english_notebooks(root) + [s for s in sources if s.is_file()]:
        notebook = json.loads(english.read_text(encoding="utf-8"))
        markdown = [c for c in notebook["cells"] if c["cell_type"] == "markdown"]
        if not markdown or any(ENGLISH_POINTER_LINE.search("".join(c["source"])) for c in markdown):
            continue
        markdown[0]["source"] = _source(_with_pointer("".join(markdown[0]["source"]), english_pointer(english, root)))
        _write_atomic(english, notebook_json(notebook))
        changed.append(english)
    return changed


def main(argv: list[str] | None = None) -> int:
    """Run one command (build, check, todo, stub, link-english); return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "check"
    if command == "build":
        problems = build()
        print(f"wrote notebooks/zh/ ({len(english_notebooks())} notebooks)")
    elif command == "check":
        problems = check()
    elif command in ("todo", "stub"):
        print(todo(write=command == "stub") or "every markdown cell has a current translation")
        return 0
    elif command == "link-english":
        for path in link_english():
            print(f"added the pointer to {path.relative_to(REPO_ROOT)}")
        return 0
    else:
        print(f"unknown command {command!r}; use build, check, todo, stub or link-english", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s); `python -m tools.zh todo` shows the English text to translate")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
