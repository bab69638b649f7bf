"""The Chinese edition's code cells: the English run's outputs with their prose in Chinese, numbers untouched.

A code cell of a Chinese notebook keeps the English cell's code and the English run's outputs, with three
kinds of words rendered in Chinese, never a digit changed:

- prose that code prints (tables, labels), from the output catalogue ``notebooks/zh/translations/outputs.toml``:
  ``[outputs."<stem>".<cell id>]`` maps a whole printed line, or a whole cell of a printed Markdown table, to its
  Chinese. A key with ``{name}`` fields is a template (tried in file order; the fields carry the numbers across
  as printed); a line or table cell that no entry matches stays English;
- code comments listed under ``[comments."<stem>"]`` (the comment's English text -> Chinese);
- the "✓ ..." lines of the exercise checks, re-rendered from the checks' message catalogue (the Chinese
  handouts switch the checks to Chinese, so a rerun prints the same line).

``<stem>`` names a translation file as ``translation_path`` does (``02_training``, ``exercises/02_block_arithmetic``).
tests/test_zh.py checks that code (comments aside) and every number are the English run's.
"""

from __future__ import annotations

import copy
import io
import re
import string
import tokenize
import tomllib
from collections import Counter
from pathlib import Path

__all__ = ["CJK", "CatalogueError", "join_cjk_lines", "load_catalogue", "numbers", "code_without_comments",
           "check_line_zh", "Localiser"]

# Chinese characters and the punctuation that sits among them: a line break between two of these renders as a
# stray space in browsers, so the build joins such lines.
CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef\u2018-\u201f\u2014\u2026"
_CJK_BREAK = re.compile(f"(?<=[{CJK}])\n[ \t]*(?=[{CJK}])")
# After Chinese punctuation a line break is a stray space too, unless the next line starts a Markdown block.
_PUNCTUATION_BREAK = re.compile(r"(?<=[\u3000-\u303f\uff00-\uffef])\n[ \t]*(?![-*+>|]\s|#|\d+[.)]\s|```|\n|$)")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_TEXT_KINDS = ("text/markdown", "text/plain")
CHECK_MARK = "✓ "


def join_cjk_lines(text: str) -> str:
    """Remove the line breaks (and a continuation's indent) between two Chinese characters or after Chinese
    punctuation, where a browser would show a space; a break before a new Markdown block stays."""
    return _PUNCTUATION_BREAK.sub("", _CJK_BREAK.sub("", text))


def numbers(text: str) -> Counter:
    """Return the numbers written in a text (digits with their separators), counted."""
    return Counter(_NUMBER.findall(text))


def _comment_tokens(source: str) -> list[tuple[int, int, str]]:
    """Return (row, column, text) of each comment in Python source; none when the source does not tokenise."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return []
    return [(t.start[0], t.start[1], t.string) for t in tokens if t.type == tokenize.COMMENT]


def code_without_comments(source: str) -> str:
    """Return Python source with its comments (and the spaces before them) removed."""
    lines = source.splitlines(keepends=True)
    for row, col, _ in reversed(_comment_tokens(source)):
        line = lines[row - 1]
        lines[row - 1] = line[:col].rstrip() + ("\n" if line.endswith("\n") else "")
    return "".join(lines)


class CatalogueError(ValueError):
    """The output catalogue cannot be read: the message names the file, the place and the fix."""


def load_catalogue(path: Path) -> dict:
    """Read the output catalogue (an absent file is an empty one)."""
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise CatalogueError(f"{path} is not valid TOML ({err}). Fix: quote each English key and its Chinese "
                             "text with \"...\" (or '...' when the text holds a double quote), one entry a line, "
                             "and declare each [outputs.\"<stem>\".<cell id>] table once.") from None


def _fields(template: str) -> list[tuple[str, str | None]]:
    return [(literal, field) for literal, field, _, _ in string.Formatter().parse(template)]


def _is_template(key: str) -> bool:
    try:
        return any(field for _, field in _fields(key))
    except ValueError:  # a lone brace: plain text
        return False


def _template_regex(template: str) -> re.Pattern:
    parts = []
    for literal, field in _fields(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(f"(?P<{field}>.+?)" if f"(?P<{field}>" not in "".join(parts) else f"(?P={field})")
    return re.compile("".join(parts), re.S)


def _render(template: str, values: dict[str, str]) -> str:
    return "".join(literal + (values[field] if field is not None else "") for literal, field in _fields(template))


def _ok_messages() -> dict[str, str]:
    from inception_nb.exercises.messages import MESSAGES  # the checks' catalogue; only its ".ok" lines start with ✓

    return {entry["en"]: entry["zh"] for key, entry in MESSAGES.items() if key.endswith(".ok")}


def check_line_zh(line: str, templates: dict[str, str] | None = None) -> str | None:
    """Return a "✓ ..." check line in Chinese, or None when no check message matches it."""
    templates = _ok_messages() if templates is None else templates
    body = line[len(CHECK_MARK):]
    found = {_render(zh, match.groupdict()) for en, zh in templates.items()
             if (match := _template_regex(en).fullmatch(body))}
    return CHECK_MARK + found.pop() if len(found) == 1 else None


class Localiser:
    """Render the code cells of one notebook in Chinese; ``problems`` collects what it could not render."""

    def __init__(self, catalogue: dict, stem: str, name: str, check_lines: bool) -> None:
        self.cells = catalogue.get("outputs", {}).get(stem, {})
        self.comments = catalogue.get("comments", {}).get(stem, {})
        self.stem, self.name, self.check_lines = stem, name, check_lines
        self.used: set[tuple[str, str]] = set()  # (cell id or "comments", key) of every entry applied
        self.problems: list[str] = []
        self._ok = _ok_messages() if check_lines else {}

    def cell(self, cell: dict) -> dict:
        """Return the Chinese copy of an English code cell."""
        ours = copy.deepcopy(cell)
        if self.comments:
            _set_text(ours, "source", self._comments("".join(cell["source"])))
        entries = self.cells.get(cell.get("id"), {})
        for output in ours.get("outputs", []):
            if output.get("output_type") == "stream":
                _set_text(output, "text", self._text("".join(output["text"]), cell.get("id"), entries))
            for kind in _TEXT_KINDS:
                if kind in output.get("data", {}):
                    _set_text(output["data"], kind, self._text("".join(output["data"][kind]), cell.get("id"), entries))
        return ours

    def unused(self) -> list[str]:
        """Return the catalogue entries of this notebook that matched nothing (stale after an English edit)."""
        stale = [f"{self.name} cell {cell_id}: output entry {key!r} matches nothing; update or delete it"
                 for cell_id, entries in self.cells.items() for key in entries if (cell_id, key) not in self.used]
        return stale + [f"{self.name}: comment entry {key!r} matches no comment; update or delete it"
                        for key in self.comments if ("comments", key) not in self.used]

    def _comments(self, source: str) -> str:
        lines = source.splitlines(keepends=True)
        for row, col, comment in _comment_tokens(source):
            key = comment.removeprefix("#").strip()
            if key in self.comments:
                line = lines[row - 1]
                lines[row - 1] = line[:col] + "# " + self.comments[key] + ("\n" if line.endswith("\n") else "")
                self.used.add(("comments", key))
        return "".join(lines)

    def _text(self, text: str, cell_id: str, entries: dict[str, str]) -> str:
        lines = text.split("\n")
        for number, line in enumerate(lines):
            if self.check_lines and line.startswith(CHECK_MARK):
                chinese = check_line_zh(line, self._ok)
                if chinese is None:
                    self.problems.append(f"{self.name} cell {cell_id}: no check message matches {line!r}")
                lines[number] = chinese or line
            elif entries and line.startswith("|") and line.rstrip().endswith("|"):
                cells = line.split("|")
                lines[number] = "|".join([cells[0], *(self._unit(c, cell_id, entries) for c in cells[1:-1]),
                                          cells[-1]])
            elif entries:
                lines[number] = self._unit(line, cell_id, entries)
        return "\n".join(lines)

    def _unit(self, unit: str, cell_id: str, entries: dict[str, str]) -> str:
        """Render one whole line or table cell: an entry equal to it, else the first template matching it."""
        stripped = unit.strip()
        lead, trail = unit[:len(unit) - len(unit.lstrip())], unit[len(unit.rstrip()):]
        if stripped in entries and not _is_template(stripped):
            self.used.add((cell_id, stripped))
            return lead + entries[stripped] + trail
        for key, chinese in entries.items():
            if _is_template(key) and (match := _template_regex(key).fullmatch(stripped)):
                self.used.add((cell_id, key))
                return lead + _render(chinese, match.groupdict()) + trail
        return unit


def _lines(text: str) -> list[str]:
    return re.findall(r"[^\n]*\n|[^\n]+", text)


def _set_text(holder: dict, key: str, text: str) -> None:
    """Store text as notebook lines, leaving an unchanged value exactly as it was."""
    if "".join(holder[key]) != text:
        holder[key] = _lines(text)
