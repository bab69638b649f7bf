"""The project's scaffolding stays consistent: dependencies, pins, install files, licence, CI and README agree."""

import re
import sys

import tomllib
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

import inception_nb
from inception_nb.paths import REPO_ROOT as ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
README = (ROOT / "README.md").read_text()


def _requirements() -> list[Requirement]:
    """Every requirement pyproject.toml names: the package's and its extras'."""
    lines = PROJECT["dependencies"] + [r for extra in PROJECT["optional-dependencies"].values() for r in extra]
    return [Requirement(line) for line in lines]


def _pins() -> dict[str, str]:
    """Return {normalised name: version} from constraints.txt."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version, f"constraints.txt must pin with ==, got {line!r}"
            pins[_norm(name)] = version.strip()
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_package_exposes_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+", inception_nb.__version__)


def test_dependencies_have_lower_bounds_only():
    for req in _requirements():
        operators = [spec.operator for spec in req.specifier]
        assert operators == [">="], f"{req} must have exactly one lower bound (>=) and no cap, pin or exclusion"
    assert {"notebooks", "test"} <= set(PROJECT["optional-dependencies"])


def test_bounds_admit_this_machine_and_the_seed_post_versions():
    reqs = {req.name: req for req in _requirements()}
    for name, versions in {"torch": ("2.5.1", "2.14.1", "3.0"), "torchvision": ("0.20.1", "0.29.1", "1.0")}.items():
        for version in versions:
            assert reqs[name].specifier.contains(version), f"{name} {version} is excluded by {reqs[name]}"
    for needed in ("torchsummary", "matplotlib", "jupyterlab", "nbval", "tqdm", "ipywidgets", "pytest", "ruff"):
        assert needed in reqs, f"pyproject.toml lacks {needed}"


def test_constraints_pin_every_dependency_inside_its_bounds():
    pins = _pins()
    for req in _requirements():
        pin = pins.get(_norm(req.name))
        assert pin, f"constraints.txt does not pin {req.name}"
        assert req.specifier.contains(pin), f"the pin {req.name}=={pin} breaks {req}"


def test_readme_states_the_pinned_versions_and_the_python_that_ran():
    pins = _pins()
    for name, version in re.findall(r"\b(torch|torchvision) (\d+\.\d+\.\d+)\b", README.split("## Install")[1]):
        if version not in ("2.5.1", "0.20.1"):  # the seed post's versions, named as the lower bounds
            assert pins[name] == version, f"README says {name} {version}, constraints.txt pins {pins[name]}"
    python = re.search(r"Python (3\.\d+\.\d+)", README)
    assert python, "README must name the Python version the tests ran with"
    requires = SpecifierSet(PROJECT["requires-python"])
    assert requires.contains(python[1]) and requires.contains(f"{sys.version_info.major}.{sys.version_info.minor}")
    assert not requires.contains("3.10"), "no Python older than 3.11 has been run; do not claim it"


def _lines(text: str) -> list[str]:
    """Return the lines of a requirements file without comments and blank lines."""
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def test_requirements_txt_is_the_install_make_setup_runs():
    # One install path: make setup runs `pip install -r requirements.txt`, so the two cannot differ, and the
    # file only points at pyproject.toml (the dependencies) and constraints.txt (the pins) instead of listing any.
    makefile = (ROOT / "Makefile").read_text()
    setup = re.search(r"^\t\$\(PY\) -m pip install (.*)$", makefile, flags=re.M)
    assert setup, "the Makefile's setup target must pip install the package"
    # options that change what pip prints or when bytecode is compiled, not what it installs
    args = [a for a in setup[1].split() if a not in ("--quiet", "--disable-pip-version-check", "--no-compile")]
    assert args == ["-r", "requirements.txt"], f"make setup must install requirements.txt, not {args}"
    stamp = re.search(r"^\$\(STAMP\): (.*)$", makefile, flags=re.M)
    assert stamp and "requirements.txt" in stamp[1].split(), "make setup must reinstall when requirements.txt changes"

    lines = _lines((ROOT / "requirements.txt").read_text())
    constraints = [line.split(None, 1)[1] for line in lines if line.startswith("-c ")]
    assert constraints == ["constraints.txt"], "requirements.txt must take its versions from constraints.txt"
    editable = [line for line in lines if line.startswith("-e ")]
    assert len(editable) == 1 and len(lines) == 2, f"requirements.txt must list no package itself: {lines}"
    target = re.fullmatch(r"-e \.\[([\w,-]+)\]", editable[0])
    assert target, f"requirements.txt must install the clone (-e .[extras]), not {editable[0]!r}"
    extras = target[1].split(",")
    assert set(extras) <= set(PROJECT["optional-dependencies"]), f"unknown extras in requirements.txt: {extras}"
    # make test needs the notebooks (Jupyter, nbclient) and the test tools; the book is optional
    assert set(extras) == {"notebooks", "test"}, f"requirements.txt must install what make test needs: {extras}"


def test_environment_yml_installs_what_make_setup_installs():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python"))
    assert SpecifierSet(PROJECT["requires-python"]).contains(python.split("=")[-1])
    assert "pip" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert pip_section == ["-r requirements.txt"], "conda's pip must install requirements.txt, as make setup does"


def test_licence_is_mit_for_code_with_a_stated_licence_for_the_notebooks():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    assert PROJECT["license"] == "MIT", "an SPDX expression (PEP 639), not the deprecated {text = ...} table"
    build = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    setuptools = next(r for r in build if r.name == "setuptools")
    assert not setuptools.specifier.contains("76.9"), "setuptools reads SPDX `license` strings from 77 on"
    assert "CC BY 4.0" in README and "data/fashion-mnist/README.md" in README


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"^make \w+", README, flags=re.M)
    assert commands[:2] == ["make run", "make test"], "README must open with make run and make test"
    assert re.search(r"^make test$", ci, flags=re.M), ".ci/run must call the README's test command"


def test_makefile_has_the_documented_targets():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("setup", "run", "lab", "test", "test-fast", "lint", "book", "book-check"):
        assert re.search(rf"^{target}:", makefile, flags=re.M), f"Makefile lacks `{target}`"
