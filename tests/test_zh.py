"""The Chinese edition says what the English one says: every markdown cell translated from its current text,
code and outputs identical, links pointing at files that exist, and a Chinese notebook that runs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools import zh
from inception_nb.paths import REPO_ROOT as ROOT


def copy_of_edition(tmp_path: Path) -> Path:
    """Copy what the Chinese edition is built from and the built notebooks into a scratch repository."""
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copy(ROOT / "README.zh-CN.md", tmp_path / "README.zh-CN.md")
    return tmp_path


def edit_cell(path: Path, cell_type: str, change) -> str:
    """Apply change to the first cell of the type in a notebook file; return that cell's id."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cell = next(c for c in notebook["cells"] if c["cell_type"] == cell_type)
    change(cell)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False), encoding="utf-8")
    return cell["id"]


def test_chinese_edition_is_current_and_complete():
    problems = zh.check(ROOT)
    assert not problems, "the Chinese edition is behind the English one:\n" + "\n".join(problems)


def test_english_notebooks_have_stable_cell_ids():
    for english in zh.english_notebooks(ROOT):
        notebook = json.loads(english.read_text(encoding="utf-8"))
        ids = [cell.get("id") for cell in notebook["cells"]]
        assert (notebook["nbformat"], notebook["nbformat_minor"]) >= (4, 5), english
        assert all(ids) and len(set(ids)) == len(ids), f"{english}: cell ids missing or repeated"


def test_changed_english_cell_makes_its_translation_stale(tmp_path):
    root = copy_of_edition(tmp_path)
    english = root / "notebooks" / "00_setup.ipynb"
    cell_id = edit_cell(english, "markdown", lambda cell: cell["source"].append("\n\nA sentence added later."))
    problems = zh.check(root)
    print("\n".join(problems))
    assert any(f"00_setup.ipynb cell {cell_id}: the English text changed" in p for p in problems), problems
    assert f"cell {cell_id} (stale)" in zh.todo(root)


def test_cell_without_translation_is_reported(tmp_path):
    root = copy_of_edition(tmp_path)
    english = root / "notebooks" / "00_setup.ipynb"
    source = zh.translation_path(english, root)
    entries = zh.read_translations(source)
    zh.write_translations(source, entries[1:])
    problems = zh.check(root)
    assert any(f"00_setup.ipynb cell {entries[0].cell_id}: no translation" in p for p in problems), problems


def test_chinese_code_cell_that_differs_from_english_is_reported(tmp_path):
    root = copy_of_edition(tmp_path)
    chinese = root / "notebooks" / "zh" / "00_setup.ipynb"
    cell_id = edit_cell(chinese, "code", lambda cell: cell["source"].append("\nprint('only in Chinese')"))
    problems = zh.check(root)
    assert f"notebooks/zh/00_setup.ipynb cell {cell_id}: code or outputs differ from the English notebook" \
        in problems, problems


def test_todo_write_adds_stubs_that_still_count_as_untranslated(tmp_path):
    root = copy_of_edition(tmp_path)
    english = root / "notebooks" / "00_setup.ipynb"
    source = zh.translation_path(english, root)
    zh.write_translations(source, zh.read_translations(source)[1:])
    zh.todo(root, write=True)
    stub = next(e for e in zh.read_translations(source) if e.todo)
    assert stub.text.startswith("#"), "the stub holds the English text to translate"
    assert any("marked TODO" in p for p in zh.check(root))


def test_build_writes_what_check_expects(tmp_path):
    root = copy_of_edition(tmp_path)
    shutil.rmtree(root / "notebooks" / "zh" / "exercises", ignore_errors=True)
    (root / "notebooks" / "zh" / "01_model_structure.ipynb").unlink()
    assert any("missing; run `make zh`" in p for p in zh.check(root))
    assert zh.build(root) == []
    assert zh.check(root) == []


def relative_links(notebook_path: Path) -> list[str]:
    """Every relative link or image source in a notebook's markdown cells."""
    cells = json.loads(notebook_path.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    targets = [m.group("target") for m in zh.LINK.finditer(text)]
    return [t.partition("#")[0] for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:|^[#/]", t)]


def test_links_in_chinese_notebooks_lead_to_files_that_exist_and_stay_in_the_edition():
    for english in zh.english_notebooks(ROOT):
        chinese = zh.chinese_path(english, ROOT)
        links = relative_links(chinese)
        assert links, f"{chinese} links nowhere"
        for link in links:
            target = (chinese.parent / link).resolve()
            assert target.exists(), f"{chinese.relative_to(ROOT)} links to {link}, which does not exist"
            if target.suffix == ".ipynb" and target != english.resolve():
                assert (ROOT / "notebooks" / "zh").resolve() in target.parents, \
                    f"{chinese.relative_to(ROOT)} sends the reader to the English {link}"


def first_markdown(path: Path) -> str:
    """The text of a notebook's first markdown cell."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return next("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def test_each_edition_points_to_the_other():
    for english in zh.english_notebooks(ROOT):
        chinese = zh.chinese_path(english, ROOT)
        first = first_markdown
        assert zh.CHINESE_POINTER.split(":")[0] in first(chinese)
        assert f"({Path('..', english.name).as_posix()})" in first(chinese) or english.parent.name != "notebooks"
        assert zh.ENGLISH_POINTER_LINE.search(first(english)), f"{english} does not point to its Chinese edition"


def test_nbval_does_not_collect_the_chinese_notebooks():
    listing = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "--nbval",
                              "-p", "no:cacheprovider", "notebooks/zh"],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ".ipynb::" not in listing.stdout, listing.stdout


def test_chinese_setup_notebook_runs_headless(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    chinese = ROOT / "notebooks" / "zh" / "00_setup.ipynb"
    notebook = nbformat.read(chinese, as_version=4)
    started = time.perf_counter()
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(chinese.parent)}}).execute()
    print(f"executed {chinese.name} in {time.perf_counter() - started:.0f} s")
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors


def test_chinese_exercises_switch_the_checks_to_chinese_once():
    exercise_notebooks = [e for e in zh.english_notebooks(ROOT) if e.parent.parent.name == "exercises"]
    assert exercise_notebooks
    for english in exercise_notebooks:
        english_cells = json.loads(english.read_text(encoding="utf-8"))["cells"]
        cells = json.loads(zh.chinese_path(english, ROOT).read_text(encoding="utf-8"))["cells"]
        added = [c for c in cells if zh.is_language_cell(c)]
        assert len(added) == 1 and len(cells) == len(english_cells) + 1, english.name


def test_chinese_exercise_solution_prints_its_check_in_chinese():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    chinese = ROOT / "notebooks" / "zh" / "exercises" / "solutions" / "01_inception_block.ipynb"
    notebook = nbformat.read(chinese, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(chinese.parent)}}).execute()
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert "✓" in printed and "与参考模块一致" in printed, printed


# Other common translations of the glossary's terms; the edition keeps to one word per term.
VARIANTS = {"批归一化": "批量归一化", "批标准化": "批量归一化", "全局均值池化": "全局平均池化", "感受域": "感受野",
            "特征映射": "特征图", "学习速率": "学习率", "权值衰减": "权重衰减", "标签平滑化": "标签平滑",
            "过度拟合": "过拟合", "辅助分支": "辅助分类器"}


def test_translations_use_the_glossary_terms():
    glossary = (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")
    for variant, term in VARIANTS.items():
        assert f"| {term}" in glossary, f"docs/glossary.md has no row for {term}"
    for path in sorted((ROOT / "notebooks" / "zh" / "translations").rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        for variant, term in VARIANTS.items():
            assert variant not in text, f"{path.relative_to(ROOT)} says {variant}; the glossary's term is {term}"


def test_chinese_readme_links_to_files_that_exist_and_is_linked_from_the_english_one():
    readme = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    links = [t.partition("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", readme) if not re.match(r"^[a-z]+:", t)]
    assert links
    for link in links:
        assert (ROOT / link).exists(), f"README.zh-CN.md links to {link}, which does not exist"
    assert "(README.zh-CN.md)" in "\n".join((ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:5])


def test_link_english_adds_the_pointer_without_making_translations_stale(tmp_path):
    root = copy_of_edition(tmp_path)
    shutil.copytree(ROOT / "exercises", root / "exercises")
    english = root / "notebooks" / "00_setup.ipynb"
    edit_cell(english, "markdown", lambda cell: cell.update(
        source=zh.ENGLISH_POINTER_LINE.sub("", "".join(cell["source"])).splitlines(keepends=True)))
    assert any("00_setup.ipynb: no pointer to the Chinese edition" in p for p in zh.check(root))
    assert english in zh.link_english(root)
    assert zh.link_english(root) == [], "a second run changes nothing"
    assert zh.check(root) == []
    assert "(zh/00_setup.ipynb)" in first_markdown(english)
