"""The notebooks' first cell: every notebook has the generated one, it is silent where the package is installed,
adds the clone to the path and installs only what is missing where it is not, clones on Colab, and notebooks 00
and 01 run in a Python that has the dependencies but not the package. Every link to the repository (READMEs,
docs, notebooks, the book) names the one URL of pyproject.toml, and one command points them all at a fork."""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import nbformat
import pytest

from tools import first_cell

ROOT = Path(__file__).resolve().parent.parent


def test_every_notebook_has_the_generated_first_cell():
    # Fails after a notebook was added or pyproject's dependencies or URL changed: rerun the tool.
    paths = first_cell.default_notebooks(built=True)
    assert len(paths) >= 6 + 5 + 5 + 5, "the numbered notebooks and the exercises were not all found"
    source = first_cell.cell_source()
    missing = [str(p.relative_to(ROOT)) for p in paths if not first_cell.has_first_cell(nbformat.read(p, 4), source)]
    assert not missing, ("run `python -m tools.first_cell && python -m inception_nb.exercises make`; "
                         f"these lack the current first cell: {missing}")


def test_cell_names_every_dependency_by_an_importable_module():
    import importlib.util

    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    source = first_cell.cell_source()
    for requirement in deps:
        dist = first_cell.requirement_name(requirement)
        module = first_cell.IMPORT_NAMES.get(dist, dist)
        assert f'"{dist}"' in source, f"the first cell does not check {dist}"
        assert module == dist or f'"{dist}": "{module}"' in source, f"the first cell imports {dist} by a wrong name"
        assert importlib.util.find_spec(module), f"{dist} imports as something else: add it to IMPORT_NAMES"
    assert first_cell.repository_url() in source
    assert len(source.splitlines()) <= 15, "the first cell must stay short"


def test_the_first_cell_is_collapsed_in_jupyterlab_and_colab():
    source = first_cell.cell_source()
    assert source.startswith("#@title "), "Colab shows a form title instead of the code"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    cell = first_cell.with_first_cell(nb, source).cells[0]
    assert cell.metadata["jupyter"]["source_hidden"] is True, "JupyterLab shows one collapsed line"
    assert cell.metadata["cellView"] == "form", "Colab hides the code behind the title"
    cell.metadata.pop("cellView")
    assert not first_cell.has_first_cell(nb, source), 'a cell that lost its metadata is not current'


def test_refresh_puts_one_cell_first_among_code_cells_and_keeps_the_rest():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell(first_cell.MARKER + " an old version\nold = True")]
    source = first_cell.cell_source()
    once = first_cell.with_first_cell(nb, source)
    assert [c.source for c in once.cells] == ["# Title", source, "x = 1"]
    assert first_cell.has_first_cell(once, source)
    twice = first_cell.with_first_cell(once, source)
    assert [c.source for c in twice.cells] == ["# Title", source, "x = 1"]
    assert sum(c.get("id") == first_cell.CELL_ID for c in twice.cells) == 1
    nbformat.validate(twice)


def test_check_command_fails_on_a_notebook_without_the_cell_and_the_tool_fixes_it(tmp_path, capsys):
    path = tmp_path / "nb.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import inception_nb")]
    nbformat.write(nb, path)
    assert first_cell.main(["--check", str(path)]) == 1
    assert "no current first cell" in capsys.readouterr().out
    assert first_cell.main([str(path)]) == 0
    assert first_cell.main(["--check", str(path)]) == 0
    assert [c.source for c in nbformat.read(path, 4).cells][1] == "import inception_nb"


def _run_cell(tmp_path: Path, cwd: Path, hide: tuple, path_dirs: list) -> dict:
    """Run the first cell in a fresh Python that pretends the modules in `hide` are missing; return what it did.

    pip and git are replaced by recorders on PYTHONPATH and PATH, so nothing is installed or downloaded.
    """
    recorder = tmp_path / "recorder"
    (recorder / "pip").mkdir(parents=True, exist_ok=True)
    log = tmp_path / "calls.jsonl"
    record = f"import json, sys; open({str(log)!r}, 'a').write(json.dumps(sys.argv) + '\\n')\n"
    (recorder / "pip" / "__init__.py").write_text("")
    (recorder / "pip" / "__main__.py").write_text(record)
    # git clone URL FOLDER: record, then leave behind what a clone has
    (recorder / "git").write_text(f"#!{sys.executable}\n{record}"
                                  "from pathlib import Path; p = Path(sys.argv[-1]) / 'inception_nb'\n"
                                  "p.mkdir(parents=True); (p / '__init__.py').write_text('')\n")
    (recorder / "git").chmod(0o755)
    script = textwrap.dedent(f"""
        import importlib.util, json, os, sys
        real = importlib.util.find_spec
        importlib.util.find_spec = lambda name, *a: None if name in {hide!r} else real(name, *a)
        exec(compile({first_cell.cell_source()!r}, "first cell", "exec"), {{}})
        print(json.dumps({{"path0": sys.path[0], "PYTHONPATH": os.environ.get("PYTHONPATH", "")}}))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, [recorder, *path_dirs])),
           "PATH": f"{recorder}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return {"stdout": done.stdout, "calls": calls, **json.loads(done.stdout.splitlines()[-1])}


@pytest.mark.process
def test_cell_does_nothing_where_the_package_is_importable(tmp_path):
    result = _run_cell(tmp_path, cwd=tmp_path, hide=(), path_dirs=[ROOT])
    assert result["calls"] == [], "no pip, no git where inception_nb imports"
    assert len(result["stdout"].splitlines()) == 1, "the cell prints nothing (nbval compares an empty output)"


@pytest.mark.process
def test_cell_in_a_clone_adds_it_to_the_path_and_installs_only_what_is_missing(tmp_path):
    clone = tmp_path / "clone"
    (clone / "inception_nb").mkdir(parents=True)
    (clone / "inception_nb" / "__init__.py").write_text("")
    (clone / "notebooks").mkdir()
    result = _run_cell(tmp_path, cwd=clone / "notebooks", hide=("inception_nb", "torchsummary"), path_dirs=[])
    assert Path(result["path0"]) == clone.resolve(), "the clone the notebook sits in goes first on sys.path"
    assert result["PYTHONPATH"].split(os.pathsep)[0] == str(clone.resolve()), "subprocesses see it too"
    [pip] = result["calls"]
    import importlib.metadata

    assert pip[1:3] == ["install", "--quiet"] and "torchsummary" in pip
    # everything already there is pinned to its installed version, so pip cannot replace torch
    assert f"torch=={importlib.metadata.version('torch')}" in pip
    assert not any(arg.startswith("torchsummary=") for arg in pip)


@pytest.mark.process
def test_cell_outside_a_clone_clones_the_repository_from_pyproject_url(tmp_path):
    work = tmp_path / "content"  # Colab's working directory
    work.mkdir()
    result = _run_cell(tmp_path, cwd=work, hide=("inception_nb",), path_dirs=[])
    [git] = result["calls"]
    folder = first_cell.repository_url().rsplit("/", 1)[-1]  # inception-nb, or a fork's own name
    assert git[1:] == ["clone", "--depth", "1", first_cell.repository_url(), str(work.resolve() / folder)]
    assert Path(result["path0"]) == work.resolve() / folder


def _python_without_the_package(tmp_path: Path) -> Path:
    """Return a venv's python that sees this environment's packages through a path entry, and not inception_nb."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # A path line in a .pth file adds the folder but runs none of the .pth files inside it, so the editable
    # install's import hook (a .pth file in that folder) stays off: the dependencies import, inception_nb does not.
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.mark.process
@pytest.mark.slow
def test_notebooks_00_and_01_run_where_the_package_is_not_installed(tmp_path):
    python = _python_without_the_package(tmp_path)
    clone = tmp_path / "clone"  # a copy of the repository as a student's download would have it
    shutil.copytree(ROOT / "inception_nb", clone / "inception_nb", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "data", clone / "data")
    (clone / "notebooks").mkdir()
    shutil.copy(ROOT / "pyproject.toml", clone)
    kernels = tmp_path / "jupyter" / "kernels" / "python3"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 without inception_nb", "language": "python"}))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("INCEPTION_NB_")}
    env.update(JUPYTER_PATH=str(tmp_path / "jupyter"), INCEPTION_NB_RUNS=str(tmp_path / "runs"))
    probe = subprocess.run([python, "-c", "import importlib.util; print(importlib.util.find_spec('inception_nb'))"],
                           cwd=clone / "notebooks", env=env, capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "None", "the test's Python must not have inception_nb installed"

    runner = textwrap.dedent("""
        import sys, nbformat
        from nbclient import NotebookClient
        path = sys.argv[1]
        nb = nbformat.read(path, 4)
        nb.cells.append(nbformat.v4.new_code_cell("import inception_nb; print(inception_nb.__file__)"))
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(__import__("pathlib").Path(path).parent)}}).execute()
        print(nb.cells[-1].outputs[0]["text"].strip())
    """)
    for name in ("00_setup.ipynb", "01_model_structure.ipynb"):
        shutil.copy(ROOT / "notebooks" / name, clone / "notebooks")
        done = subprocess.run([python, "-c", runner, str(clone / "notebooks" / name)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{name} failed without an installed package:\n{done.stderr[-3000:]}"
        imported_from = Path(done.stdout.strip().splitlines()[-1])
        assert imported_from == clone / "inception_nb" / "__init__.py", f"{name} imported {imported_from}"


# Every place the project names its own repository, and the placeholder the READMEs use for a fork's.
LINKED_FILES = ("README*.md", "docs/*.md", "book/**/*.md", "notebooks/**/*.md", "notebooks/**/*.ipynb",
                "exercises/*.ipynb")
REPOSITORY_LINK = re.compile(r"https://(?:github\.com|colab\.research\.google\.com/github)/([\w.-]+/[\w.-]+)"
                             r"(?:/blob/main/([\w./-]+))?")
PLACEHOLDER = "OWNER/REPO"


def _repository_links(root: Path) -> list[tuple[Path, str, str | None]]:
    """Return (file, OWNER/REPO, path in the repository or None) for every GitHub or Colab link of the project."""
    files = sorted({p for pattern in LINKED_FILES for p in root.glob(pattern) if ".ipynb_checkpoints" not in p.parts})
    return [(path, match[1].removesuffix(".git"), match[2]) for path in files
            for match in REPOSITORY_LINK.finditer(path.read_text(encoding="utf-8")) if match[1] != PLACEHOLDER]


def test_every_link_to_the_repository_names_the_url_of_pyproject():
    owner_repo = first_cell.github_path(first_cell.repository_url())
    links = _repository_links(ROOT)
    linking = {path.relative_to(ROOT).as_posix() for path, _, _ in links}
    assert "README.md" in linking and "notebooks/00_setup.ipynb" in linking, "the README and the notebooks link it"
    other = sorted({f"{path.relative_to(ROOT)}: {repo}" for path, repo, _ in links if repo != owner_repo})
    assert not other, (f"pyproject.toml names {owner_repo}; run `python -m tools.first_cell --repository "
                       f"https://github.com/{owner_repo}` to rewrite these links: {other}")


def test_links_into_the_repository_name_files_that_exist():
    missing = sorted({f"{path.relative_to(ROOT)}: {target}" for path, _, target in _repository_links(ROOT)
                      if target and not (ROOT / target).exists()})
    assert not missing, f"links to files the repository does not have: {missing}"


def _small_clone(tmp_path: Path) -> Path:
    """Copy what set_repository rewrites (pyproject, READMEs, two notebooks and their Chinese copies) to tmp_path."""
    clone = tmp_path / "clone"
    names = ["pyproject.toml", "README.md", "README.zh-CN.md", "notebooks/00_setup.ipynb",
             "notebooks/zh/00_setup.ipynb", "notebooks/exercises/student/01_inception_block.ipynb",
             "exercises/01_inception_block.ipynb"]
    for name in names:
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, clone / name)
    return clone


def test_set_repository_points_every_link_and_first_cell_at_a_fork_and_back(tmp_path):
    clone = _small_clone(tmp_path)
    before = {p: p.read_bytes() for p in clone.rglob("*") if p.is_file()}
    old_path = first_cell.github_path(first_cell.repository_url()).encode()
    naming = {p for p, text in before.items() if old_path in text}
    assert len(naming) == len(before), "every copied file names the repository"
    url = "https://github.com/a-teacher/googlenet-course"
    changed = first_cell.set_repository(url + ".git", clone)
    assert set(changed) == naming
    assert first_cell.repository_url(clone) == url
    assert {repo for _, repo, _ in _repository_links(clone)} == {"a-teacher/googlenet-course"}
    source = first_cell.cell_source(clone)
    assert f'"{url}"' in source  # the clone command names the fork
    for path in clone.rglob("*.ipynb"):
        nb = nbformat.read(path, 4)
        assert [c.source for c in nb.cells if c.source.startswith(first_cell.MARKER)] == [source], path
    original = first_cell.repository_url()
    first_cell.set_repository(original, clone)
    assert {p: p.read_bytes() for p in clone.rglob("*") if p.is_file()} == before, "repointing back restores all"


def test_set_repository_refuses_a_url_colab_cannot_open_and_changes_nothing(tmp_path):
    clone = _small_clone(tmp_path)
    before = {p: p.read_bytes() for p in clone.rglob("*") if p.is_file()}
    with pytest.raises(ValueError, match="https://github.com/OWNER/REPO"):
        first_cell.set_repository("https://gitlab.com/a/b", clone)
    assert {p: p.read_bytes() for p in clone.rglob("*") if p.is_file()} == before
