"""Every message of the exercise checks exists in English and in Chinese, and the checks speak the chosen one."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from torch import nn

from inception_nb import exercises
from inception_nb.exercises import messages
from inception_nb.exercises.messages import MESSAGES, say, set_language

CHECK_MODULES = ["checks.py", "checks_block.py", "checks_training.py", "checks_ablation.py", "verdict.py"]
KEY_SHAPE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$|^hint_label$")
CJK = re.compile(r"[\u4e00-\u9fff]")


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def string_literals(path: Path) -> set[str]:
    return {node.value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


@pytest.fixture
def chinese():
    set_language("zh")
    yield
    set_language("en")


def test_every_message_has_both_languages_with_the_same_placeholders():
    assert len(MESSAGES) > 100
    for key, entry in MESSAGES.items():
        assert set(entry) == {"en", "zh"}, f"{key}: languages {sorted(entry)}"
        assert entry["en"].strip() and entry["zh"].strip(), f"{key} has an empty entry"
        assert placeholders(entry["en"]) == placeholders(entry["zh"]), f"{key}: the two languages fill different fields"
        assert CJK.search(entry["zh"]) or key == "join.colon", f"{key}: the Chinese entry has no Chinese in it"


def test_every_message_renders_in_both_languages(chinese):
    for language in messages.LANGUAGES:
        set_language(language)
        for key, entry in MESSAGES.items():
            text = say(key, **{name: 0.5 for name in placeholders(entry["en"])})
            assert "{" not in text.replace("{'", "").replace("{0", ""), f"{key} ({language}) left a placeholder: {text}"


def test_the_checks_use_only_catalogue_keys_and_every_key_is_used():
    folder = Path(exercises.__file__).parent
    literals = set().union(*(string_literals(folder / name) for name in CHECK_MODULES))
    keys_in_code = {text for text in literals if KEY_SHAPE.match(text)}
    unknown = keys_in_code - set(MESSAGES) - {"inception_nb.", "nn.modules"}
    assert not unknown, f"the checks use message keys the catalogue lacks: {sorted(unknown)}"
    unused = set(MESSAGES) - keys_in_code
    assert not unused, f"catalogue entries no check uses (delete them or use them): {sorted(unused)}"


def test_no_check_builds_an_english_sentence_outside_the_catalogue():
    folder = Path(exercises.__file__).parent
    for name in CHECK_MODULES:
        calls = re.findall(r"_(?:fail|ok)\((f?\"[^\"]*\")", (folder / name).read_text(encoding="utf-8"))
        assert not calls, f"{name} passes text to _fail/_ok directly instead of say(...): {calls}"


class _Unwritten(nn.Module):
    def __init__(self, *args):
        raise NotImplementedError("write the block")


def test_checks_speak_chinese_after_set_language(chinese, capsys):
    with pytest.raises(exercises.ExerciseError, match="还没有写") as failure:
        exercises.check_inception_block(_Unwritten)
    assert "\n提示：" in str(failure.value)
    with pytest.raises(exercises.ExerciseError, match="answers 中缺少"):
        exercises.check_block_arithmetic({})
    set_language("en")
    with pytest.raises(exercises.ExerciseError, match="is not written yet") as failure:
        exercises.check_inception_block(_Unwritten)
    assert "\nHINT: " in str(failure.value)


def test_an_unknown_language_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="'en' and 'zh'"):
        set_language("fr")
    assert messages.language() == "en"
