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

from tools import zh, zh_outputs
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
    # The committed Chinese solution shows the check line the builder rendered from the English run: a rerun of
    # the Chinese notebook prints exactly that line.
    committed = json.loads(chinese.read_text(encoding="utf-8"))["cells"]
    shown = "".join("".join(o.get("text", "")) for c in committed if c["cell_type"] == "code" for o in c["outputs"])
    checks = [line for line in shown.splitlines() if line.startswith("✓")]
    assert checks and all(line in printed.splitlines() for line in checks), (checks, printed)


# Other common translations of the glossary's terms; the edition keeps to one word per term.
VARIANTS = {"批归一化": "批量归一化", "批标准化": "批量归一化", "全局均值池化": "全局平均池化", "感受域": "感受野",
            "特征映射": "特征图", "学习速率": "学习率", "权值衰减": "权重衰减", "标签平滑化": "标签平滑",
            "过度拟合": "过拟合", "辅助分支": "辅助分类器", "主干": "初始卷积层"}


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


# ---------------------------------------------------------------- code cells: Chinese words, the English run's numbers
def pairs_of_code_cells():
    """Yield (name, English code cell, Chinese code cell) for every code cell of the edition."""
    for english in zh.english_notebooks(ROOT):
        chinese = zh.chinese_path(english, ROOT)
        theirs = [c for c in json.loads(english.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
        ours = [c for c in json.loads(chinese.read_text(encoding="utf-8"))["cells"]
                if c["cell_type"] == "code" and not zh.is_language_cell(c)]
        assert [c["id"] for c in ours] == [c["id"] for c in theirs], chinese
        yield from ((chinese.relative_to(ROOT).as_posix(), e, c) for e, c in zip(theirs, ours))


def output_texts(cell: dict) -> list[str]:
    """The text of each text output of a code cell (streams, Markdown, plain text), in order."""
    texts = []
    for output in cell.get("outputs", []):
        if "text" in output:
            texts.append("".join(output["text"]))
        texts += ["".join(output.get("data", {})[kind]) for kind in ("text/markdown", "text/plain")
                  if kind in output.get("data", {})]
    return texts


def test_chinese_code_cells_run_the_english_code_comments_aside():
    for name, english, chinese in pairs_of_code_cells():
        assert zh_outputs.code_without_comments("".join(chinese["source"])) == \
            zh_outputs.code_without_comments("".join(english["source"])), f"{name} cell {english['id']}"
        assert [o["output_type"] for o in chinese["outputs"]] == [o["output_type"] for o in english["outputs"]]


def test_every_number_in_a_chinese_output_is_the_english_runs():
    rendered = 0
    for name, english, chinese in pairs_of_code_cells():
        for ours, theirs in zip(output_texts(chinese), output_texts(english), strict=True):
            assert zh_outputs.numbers(ours) == zh_outputs.numbers(theirs), \
                f"{name} cell {english['id']}: numbers differ\nEnglish:\n{theirs}\nChinese:\n{ours}"
            rendered += ours != theirs
    assert rendered >= 30, "the output catalogue renders the printed prose of the notebooks in Chinese"


def test_numbers_sees_a_changed_digit():
    assert zh_outputs.numbers("7,012,472 个参数，14.6%") == zh_outputs.numbers("7,012,472 parameters (14.6%)")
    assert zh_outputs.numbers("7,012,473 个参数") != zh_outputs.numbers("7,012,472 parameters")


def markdown_outputs(path: Path, cell_id: str) -> str:
    cell = next(c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c.get("id") == cell_id)
    return "".join("".join(o["data"]["text/markdown"]) for o in cell["outputs"] if "text/markdown" in o.get("data", {}))


@pytest.mark.parametrize("notebook, cell_id, words", [
    ("02_training.ipynb", "c19", ["| 设置项 | 博客 |", "| 优化器 | SGD | AdamW |", "1.3 节：learn_rate = 1e-4"]),
    ("00_setup.ipynb", "c16", ["| 配置 | 用途 |", "笔记本电脑 CPU", "全部 60,000 张"]),
    ("01_model_structure.ipynb", "c30", ["| 模型 | 参数量 | 相对 AlexNet |"]),
])
def test_prose_tables_printed_by_code_are_chinese(notebook, cell_id, words):
    table = markdown_outputs(ROOT / "notebooks" / "zh" / notebook, cell_id)
    for word in words:
        assert word in table, table


def test_exercise_check_lines_are_chinese_with_the_english_verdicts():
    solutions = [e for e in zh.english_notebooks(ROOT) if e.parent.name == "solutions"]
    for name, english, chinese in pairs_of_code_cells():
        if not any(name.endswith(s.relative_to(ROOT / "notebooks").as_posix()) for s in solutions):
            continue
        for ours, theirs in zip(output_texts(chinese), output_texts(english)):
            marks = [line.startswith("✓") for line in theirs.splitlines()]
            assert [line.startswith("✓") for line in ours.splitlines()] == marks, name
            for line, was_check in zip(ours.splitlines(), marks):
                assert not was_check or re.search(f"[{zh_outputs.CJK}]", line), f"{name}: {line} is not Chinese"


def sample_fields(template: str) -> dict | None:
    """Values that format every field of a message template, or None."""
    names = {field.split("!")[0].split(".")[0].split("[")[0] for _, field, _, _ in
             __import__("string").Formatter().parse(template) if field}
    for value in (12345, 0.4567, "Foo"):
        try:
            template.format(**dict.fromkeys(names, value))
            return dict.fromkeys(names, value)
        except (ValueError, TypeError):
            continue
    return None


def test_every_check_line_renders_as_the_chinese_check_prints_it():
    from inception_nb.exercises.messages import MESSAGES

    for key, entry in MESSAGES.items():
        if key.endswith(".ok"):
            fields = sample_fields(entry["en"])
            assert fields is not None, key
            rendered = zh_outputs.check_line_zh("✓ " + entry["en"].format(**fields))
            assert rendered == "✓ " + entry["zh"].format(**fields), key
    assert zh_outputs.check_line_zh("✓ a line no check prints") is None


def test_output_entry_or_comment_that_matches_nothing_is_reported(tmp_path):
    root = copy_of_edition(tmp_path)
    catalogue = zh.catalogue_path(root)
    catalogue.write_text(catalogue.read_text(encoding="utf-8") + '\n[outputs."02_training".c17]\n'
                         '"a line 02 never prints" = "从未打印的一行"\n', encoding="utf-8")
    text = catalogue.read_text(encoding="utf-8").replace('"parameters of the whole block"', '"of the block"')
    catalogue.write_text(text, encoding="utf-8")
    problems = zh.check(root)
    assert any("c17: output entry 'a line 02 never prints' matches nothing" in p for p in problems), problems
    assert any("comment entry 'of the block' matches no comment" in p for p in problems), problems


def test_chinese_output_that_differs_from_the_rendered_english_is_reported(tmp_path):
    root = copy_of_edition(tmp_path)
    chinese = root / "notebooks" / "zh" / "02_training.ipynb"
    notebook = json.loads(chinese.read_text(encoding="utf-8"))
    cell = next(c for c in notebook["cells"] if c.get("id") == "c19")
    cell["outputs"][0]["data"]["text/markdown"] = ["| 设置项 |\n", "| 轮数 | 21 | 2 |\n"]
    chinese.write_text(json.dumps(notebook, indent=1, ensure_ascii=False), encoding="utf-8")
    assert "notebooks/zh/02_training.ipynb cell c19: code or outputs differ from the English notebook" \
        in zh.check(root)


# ---------------------------------------------------------------- no stray spaces between Chinese characters
CJK_BREAK = re.compile(f"[{zh_outputs.CJK}]\n[ \t]*[{zh_outputs.CJK}]")


def chinese_prose_files() -> list[Path]:
    """The Chinese files a reader opens as they are: the READMEs."""
    return [ROOT / "README.zh-CN.md", *sorted((ROOT / "notebooks" / "zh").rglob("README.md"))]


def test_no_line_break_between_two_chinese_characters():
    for english in zh.english_notebooks(ROOT):
        chinese = zh.chinese_path(english, ROOT)
        for cell in json.loads(chinese.read_text(encoding="utf-8"))["cells"]:
            text = "".join(cell["source"])
            assert cell["cell_type"] != "markdown" or not CJK_BREAK.search(text), \
                f"{chinese.relative_to(ROOT)} cell {cell['id']}: {CJK_BREAK.search(text).group(0)!r}"
            assert cell["cell_type"] != "markdown" or zh_outputs.join_cjk_lines(text) == text, \
                f"{chinese.relative_to(ROOT)} cell {cell['id']} breaks a line after Chinese punctuation"
    for path in chinese_prose_files():
        text = path.read_text(encoding="utf-8")
        found = CJK_BREAK.findall(text)
        assert not found, f"{path.relative_to(ROOT)} breaks lines between Chinese characters: {found[:5]}"
        assert zh_outputs.join_cjk_lines(text) == text, f"{path.relative_to(ROOT)} breaks a line after punctuation"


def test_translations_wrapped_between_chinese_characters_are_joined_at_build():
    wrapped = "第一行的末尾\n  接着写；\n\n新段落：\n- 列表\n- 第二项 word\n中文，\nCVPR 2015。\n1. 一\n2. 二"
    assert zh_outputs.join_cjk_lines(wrapped) == \
        "第一行的末尾接着写；\n\n新段落：\n- 列表\n- 第二项 word\n中文，CVPR 2015。\n1. 一\n2. 二"
    sources = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "notebooks/zh/translations").rglob("*.md"))
    assert CJK_BREAK.search(sources), "the translation files are wrapped; the build is what joins them"


def test_a_malformed_output_catalogue_is_named_with_the_fix(tmp_path):
    broken = tmp_path / "outputs.toml"
    broken.write_text('[outputs."02_training".c19]\n"setting" = "设置项\n', encoding="utf-8")
    with pytest.raises(zh_outputs.CatalogueError, match=r"outputs.toml is not valid TOML .*Fix:"):
        zh_outputs.load_catalogue(broken)


def test_links_to_a_translated_readme_lead_to_the_chinese_one():
    for english in zh.english_notebooks(ROOT):
        chinese = zh.chinese_path(english, ROOT)
        for link in relative_links(chinese):
            target = (chinese.parent / link).resolve()
            assert zh.chinese_readme(target, ROOT) is None, \
                f"{chinese.relative_to(ROOT)} links to the English {link}; its Chinese translation exists"


def test_chinese_teachers_readme_translates_the_current_english_one():
    english = (ROOT / "notebooks" / "exercises" / "README.md").read_text(encoding="utf-8")
    first_line = (ROOT / "notebooks" / "zh" / "exercises" / "README.md").read_text(encoding="utf-8").splitlines()[0]
    assert f"en:{zh.english_digest(english)}" in first_line, \
        "notebooks/exercises/README.md changed: update notebooks/zh/exercises/README.md and its first line's digest"


# ---------------------------------------------------------------- README.zh-CN.md has every route README.md has
# Each section of README.md and its counterpart in README.zh-CN.md; a section added to one README fails the test
# until the other has it too and it is listed here.
README_SECTIONS = {
    "## Install: what `make setup` does, and which versions": "## 安装：`make setup` 做了什么，装的是哪些版本",
    "## Run it elsewhere": "## 不用 make 的运行方式",
    "## The repository URL in the links": "## 链接里的仓库地址",
    "## Read it as a website (the book)": "## 网页版（book）",
    "## Where this series comes from": "## 本系列的来历",
    "## What each notebook teaches": "## 各笔记本讲什么",
    "## Your own dataset (ImageFolder)": "## 使用自己的数据集（ImageFolder 格式）",
    "## Run profiles": "## 运行配置（profile）",
    "## Command line for long runs": "## 长时间训练用命令行",
    "## GPU notes": "## GPU 说明",
    "## For teachers": "## 给老师",
    "## The Chinese edition": "## 中文版",
    "## Troubleshooting": "## 常见问题",
    "## Project layout": "## 项目结构",
    "## Licence and credits": "## 许可证与致谢",
}


def headings(text: str) -> list[str]:
    """The section headings of a Markdown file, outside code blocks."""
    outside = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return [line.strip() for line in outside.splitlines() if re.match(r"#{2,4} ", line)]


def commands(text: str) -> list[str]:
    """The lines of a Markdown file's code blocks, without trailing comments, sorted."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
    lines = [re.sub(r"\s+#.*$", "", line).strip() for block in blocks for line in block.splitlines()]
    return sorted(line for line in lines if line)


def test_chinese_readme_has_every_section_of_the_english_one_in_the_same_order():
    english = headings((ROOT / "README.md").read_text(encoding="utf-8"))
    chinese = headings((ROOT / "README.zh-CN.md").read_text(encoding="utf-8"))
    unknown = [h for h in english if h not in README_SECTIONS] + \
        [h for h in chinese if h not in README_SECTIONS.values()]
    assert not unknown, f"sections without a counterpart (add it to the other README and to README_SECTIONS): {unknown}"
    assert [README_SECTIONS[h] for h in english] == chinese


def test_chinese_readme_gives_the_same_commands_as_the_english_one():
    english = commands((ROOT / "README.md").read_text(encoding="utf-8"))
    chinese = commands((ROOT / "README.zh-CN.md").read_text(encoding="utf-8"))
    assert english and chinese == english, (sorted(set(english) - set(chinese)), sorted(set(chinese) - set(english)))


def test_readme_troubleshooting_quotes_only_messages_the_code_prints():
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "inception_nb").rglob("*.py"))
    for readme, title in (("README.md", "## Troubleshooting"), ("README.zh-CN.md", "## 常见问题")):
        section = (ROOT / readme).read_text(encoding="utf-8").split(title, 1)[1].split("\n## ", 1)[0]
        quoted = [q for q in re.findall(r"`([^`]+)`", section) if q.startswith("error:") or "..." in q]
        assert quoted, readme
        for message in quoted:
            for fragment in filter(None, (part.strip() for part in message.split("..."))):
                assert fragment in source, f"{readme} quotes {message!r}; the code never prints {fragment!r}"
