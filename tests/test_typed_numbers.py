"""No typed number a rerun could change: each one in the prose is printed by code beside it, or is a cited fact.

The test reads every markdown cell of notebooks 00-05 and of the exercise sources and finds the numbers a rerun
could change: decimals, percentages, ratios (1.5x, 55 times), timings (39 s, 2.8 minutes, "about five minutes")
and counts of 1,000 and more ("a few hundred steps" included). Each must appear, at the precision typed, in an
output of the same notebook (an exercise's outputs are those of its executed solution) or in the registry of
cited facts, `tests/cited_facts.py`, where every entry names its source. Code (code cells, inline code, fenced
blocks), links, years, versions and section numbers are out of scope. The Chinese translations pass through
their English cells: every number in a translation must be one its English cell states.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from inception_nb.paths import REPO_ROOT as ROOT
from tests.cited_facts import FACTS

LESSONS = sorted((ROOT / "notebooks").glob("0[0-5]_*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))
SOLUTIONS = ROOT / "notebooks" / "exercises" / "solutions"

NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:e-?\d+)?"
WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
         "nine": 9, "ten": 10, "fifteen": 15, "twenty": 20, "thirty": 30, "few": None, "several": None}
TIME_UNITS = {"毫秒": "ms", "秒": "s", "分钟": "min", "小时": "h", "天": "day", "ms": "ms", "s": "s", "sec": "s",
              "second": "s", "seconds": "s", "min": "min", "minute": "min", "minutes": "min", "h": "h", "hour": "h",
              "hours": "h", "day": "day", "days": "day"}
_TIME = "|".join(sorted(TIME_UNITS, key=len, reverse=True))
_WORD = "|".join(WORDS)
# (kind, pattern); group "n" is the number, group "unit" the unit where the kind has one.
PATTERNS = [
    ("percentage", rf"(?P<n>{NUMBER})\s?%"),
    ("points", rf"(?P<n>{NUMBER})\s+(?P<unit>(?:percentage\s+)?points?)\b"),
    ("ratio", rf"(?P<n>{NUMBER})\s?(?P<unit>[x×]|times\b|-?fold\b|倍)(?!\s*\d)"),
    ("timing", rf"(?P<n>{NUMBER})(?:\s|-)?(?P<unit>{_TIME})(?![A-Za-z])"),
    ("timing", rf"\b(?P<n>{_WORD})(?:\s+|-)(?P<unit>seconds?|minutes?|hours?|days?)(?![A-Za-z])"),
    ("count", rf"\b(?P<n>{_WORD}|hundreds|thousands)\s+(?P<unit>hundred|thousand|million)\b"),
    ("decimal", rf"(?P<n>{NUMBER})\s+(?P<unit>thousand|million|billion)\b"),
    ("count", r"(?<![\d.,])(?P<n>\d{1,3}(?:,\d{3})+|\d{4,})(?![\d.,]*\d)"),
    ("decimal", r"(?<![\d.])(?P<n>\d+\.\d+|\d+(?:\.\d+)?e-?\d+)(?![\d.]*\d)"),
]
# Text that holds numbers but no result: code, link targets, HTML comments, version strings, identifiers.
NOT_PROSE = [r"```.*?```", r"`[^`]*`", r"\]\([^)]*\)", r"<!--.*?-->", r"https?://\S+", r"arXiv:\d+\.\d+",
             r"\b\d+\.\d+\.\d+\b", r"(?i:section|§|python|torch|torchvision)\s+\d+(?:\.\d+)*",
             r"第?\s*\d+(?:\.\d+)+\s*节"]


@dataclass(frozen=True)
class Typed:
    """One number found in the prose: what was typed, its kind, its value and decimals (None when spelled vaguely)."""

    text: str
    kind: str
    value: Decimal | None
    places: int
    unit: str = ""


def prose(markdown: str) -> str:
    """Return a markdown text with everything that is not prose (code, links, versions) blanked out."""
    for pattern in NOT_PROSE:
        markdown = re.sub(pattern, " ", markdown, flags=re.S)
    return markdown


def _value(number: str) -> tuple[Decimal | None, int]:
    """Return a typed number's value and its decimal places; a vague word ("few") has no value."""
    if number.lower() in WORDS:
        word = WORDS[number.lower()]
        return (None if word is None else Decimal(word)), 0
    if number.lower() in ("hundreds", "thousands"):
        return None, 0
    plain = number.replace(",", "")
    places = len(plain.split(".")[1]) if "." in plain and "e" not in plain else 0
    return Decimal(plain), places


def typed_numbers(markdown: str) -> list[Typed]:
    """Return the numbers a rerun could change in a markdown text, each once, in the order found."""
    text, found = prose(markdown), []  # (position, number)
    taken: list[tuple[int, int]] = []
    for kind, pattern in PATTERNS:
        for match in re.finditer(pattern, text, flags=re.I):
            span = match.span("n")
            if any(start <= span[0] < end for start, end in taken):
                continue
            number = match.group("n")
            if number.isdigit() and len(number) == 4 and 1900 <= int(number) <= 2099 and kind == "count":
                continue  # a year
            value, places = _value(number)
            unit = match.groupdict().get("unit") or ""
            unit = TIME_UNITS.get(unit.lower(), unit.lower()) if kind == "timing" else unit
            found.append((match.start(), Typed(match.group(0).strip(), kind, value, places, unit)))
            taken.append(match.span())
    return [typed for _, typed in sorted(found, key=lambda item: item[0])]


def printed_numbers(outputs_text: str) -> list[tuple[Decimal, str]]:
    """Return every number in output text with the unit that follows it ('%', 'x', 'ms', ... or '')."""
    numbers = []
    unit_after = rf"\s?(%|[x×](?!\s*\d)|times\b|(?:{_TIME})(?![A-Za-z]))?"
    for match in re.finditer(rf"(?<![\w.])-?({NUMBER}){unit_after}", outputs_text):
        unit = (match.group(2) or "").lower()
        numbers.append((Decimal(match.group(1).replace(",", "")), TIME_UNITS.get(unit, unit)))
    return numbers


def _rounded(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def is_printed(number: Typed, printed: list[tuple[Decimal, str]]) -> bool:
    """True when an output shows the number at the precision it was typed, with a matching unit."""
    if number.value is None:
        return False
    for value, unit in printed:
        if number.kind == "percentage" and unit != "%":
            continue
        if number.kind == "ratio" and unit not in ("x", "×", "times"):
            continue
        if number.kind == "timing" and unit != number.unit:
            continue
        if number.kind == "count" or "e" in number.text.lower():
            if value == number.value:
                return True
        elif _rounded(value, number.places) == _rounded(number.value, number.places):
            return True
    return False


def registered(number: Typed, notebook: str) -> bool:
    """True when the number, as typed, is an entry of the registry of cited facts that covers the notebook."""
    return any(fact.matches(number.text, notebook) for fact in FACTS)


def outputs_text(notebook: dict) -> str:
    """Return the text of every output of a notebook: streams, plain text and markdown displays."""
    parts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            if "text" in output:
                parts.append("".join(output["text"]))
            for mime in ("text/plain", "text/markdown"):
                parts.append("".join(output.get("data", {}).get(mime, "")))
    return "\n".join(parts)


def unbacked_numbers(notebook_path: Path, outputs_from: Path | None = None) -> list[str]:
    """Return one message per typed number in a notebook's markdown that no output and no cited fact backs."""
    notebook = json.loads(notebook_path.read_text(encoding="utf-8"))
    printed = printed_numbers(outputs_text(json.loads((outputs_from or notebook_path).read_text(encoding="utf-8"))))
    problems = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for number in dict.fromkeys(typed_numbers("".join(cell["source"]))):
            if not is_printed(number, printed) and not registered(number, notebook_path.name):
                where = notebook_path.relative_to(ROOT) if notebook_path.is_relative_to(ROOT) else notebook_path
                problems.append(f"{where} cell {index} (id {cell.get('id')}): "
                                f"typed {number.kind} '{number.text}' is in no output of the notebook and not in "
                                f"tests/cited_facts.py; print it with code, cite it there, or drop it")
    return problems


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda p: p.name)
def test_lesson_numbers_are_printed_or_cited(notebook):
    problems = unbacked_numbers(notebook)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("source", EXERCISES, ids=lambda p: p.name)
def test_exercise_numbers_are_printed_or_cited(source):
    problems = unbacked_numbers(source, outputs_from=SOLUTIONS / source.name)
    assert not problems, "\n".join(problems)


SCALES = {"thousand": 3, "million": 6, "billion": 9, "万": 4, "亿": 8}


def stated_values(text: str) -> list[tuple[Decimal, Decimal]]:
    """Return (number as written, value with its scale word applied) for every number in a text."""
    scale = "|".join(SCALES)
    return [(Decimal(m.group(1).replace(",", "")),
             Decimal(m.group(1).replace(",", "")).scaleb(SCALES.get(m.group(2) or "", 0)))
            for m in re.finditer(rf"({NUMBER})\s*({scale})?", text)]


def test_translations_state_only_the_numbers_of_their_english_cells():
    from tools import zh

    problems = []
    for english in zh.english_notebooks(ROOT):
        texts = [zh.english_text(cell) for cell in json.loads(english.read_text(encoding="utf-8"))["cells"]
                 if cell["cell_type"] == "markdown"]
        by_digest = {zh.english_digest(text): text for text in texts}
        for entry in zh.read_translations(zh.translation_path(english, ROOT)):
            if entry.digest not in by_digest or entry.todo:
                continue  # another copy of the exercise, or stale: test_zh reports those
            stated = {value for _, value in stated_values(prose(by_digest[entry.digest]))}
            typed = {number.value for number in typed_numbers(entry.text)}
            for raw, value in stated_values(prose(entry.text)):
                if raw in typed and value not in stated:
                    problems.append(f"{zh.translation_path(english, ROOT).relative_to(ROOT)} cell {entry.cell_id}: "
                                    f"'{raw}' is not a number of the English cell it translates")
    assert not problems, "\n".join(sorted(set(problems)))


# The scanner itself, on made-up text: what it must find and what it must leave alone.
@pytest.mark.parametrize("text, expected", [
    ("about a minute (200 steps at 0.3 s per step)", ["a minute", "0.3 s"]),
    ("in about five minutes on two CPU cores", ["five minutes"]),
    ("the few hundred steps there is time for", ["few hundred"]),
    ("records 90.3 % and 90.5 % for this recipe", ["90.3 %", "90.5 %"]),
    ("ended 0.4 points higher", ["0.4 points"]),
    ("1.5 times faster, 55 times less work, a 1.5x speed-up", ["1.5 times", "55 times", "1.5x"]),
    ("it makes 1,875 steps per epoch, 37500 in all", ["1,875", "37500"]),
    ("a 5-minute budget; 39 s; 183 ms", ["5-minute", "39 s", "183 ms"]),
])
def test_scanner_finds_rerunnable_numbers(text, expected):
    assert [n.text for n in typed_numbers(text)] == expected


@pytest.mark.parametrize("text", [
    "a 3x3 convolution on 28 x 28 maps, 5x5 on 7 x 7",
    "Szegedy et al. 2015, [arXiv:1409.4842](https://arxiv.org/abs/1409.4842)",
    "torch 2.14.1 and Python 3.11; section 1.3 of the post",
    "`TrainConfig(lr=0.003)` and ```\npython -m inception_nb train --time-budget 300\n```",
    "ten classes, 64 filters, two epochs, stage 4e",
])
def test_scanner_leaves_structure_and_code_alone(text):
    assert typed_numbers(text) == []


def test_number_must_match_the_output_at_its_precision():
    printed = printed_numbers("best test accuracy 90.10% after 119,808 images in 2.8 minutes; 183 ms per step\n"
                              "speed-up 1.50x")
    assert is_printed(typed_numbers("reached 90.1 %")[0], printed)
    assert is_printed(typed_numbers("reached 90 %")[0], printed)
    assert not is_printed(typed_numbers("reached 90.3 %")[0], printed)
    assert is_printed(typed_numbers("after 119,808 images")[0], printed)
    assert not is_printed(typed_numbers("after 120,000 images")[0], printed)
    assert is_printed(typed_numbers("in 2.8 minutes")[0], printed)
    assert not is_printed(typed_numbers("about five minutes")[0], printed)
    assert not is_printed(typed_numbers("2.8 s")[0], printed), "the unit must match"
    assert is_printed(typed_numbers("1.5x faster")[0], printed)
    assert not is_printed(typed_numbers("the few hundred steps")[0], printed)


def test_an_edited_copy_with_a_typed_number_fails(tmp_path):
    notebook = json.loads((ROOT / "notebooks" / "03_visualization.ipynb").read_text(encoding="utf-8"))
    index = next(i for i, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "markdown" and i > 2)
    notebook["cells"][index]["source"].append("\n\nTraining this model took 42.7 s and reached 93.4 %.")
    copy = tmp_path / "03_visualization.ipynb"
    copy.write_text(json.dumps(notebook), encoding="utf-8")
    problems = unbacked_numbers(copy)
    print("\n".join(problems))
    for number in ("42.7 s", "93.4 %"):
        assert any(f"03_visualization.ipynb cell {index} " in p and f"'{number}'" in p for p in problems), problems


def test_every_cited_fact_names_its_source_and_holds():
    for fact in FACTS:
        assert fact.source.strip() and fact.meaning.strip(), fact
        if fact.check is not None:
            assert fact.check(), f"cited fact '{fact.number}' ({fact.meaning}) no longer holds: {fact.source}"
