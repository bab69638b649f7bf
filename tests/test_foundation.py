"""The project's scaffolding stays consistent: install files, CI and README agree."""

import re

import yaml

import inception_nb
from inception_nb.paths import REPO_ROOT as ROOT


def _requirements() -> list:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_package_exposes_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+", inception_nb.__version__)


def test_environment_yml_parses_and_names_the_same_packages_as_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert any(str(d).startswith("python") for d in deps if isinstance(d, str))
    assert "pip" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert "-e ." in pip_section, "environment.yml must install the package itself"
    assert sorted(p for p in pip_section if p != "-e .") == sorted(_requirements())


def test_requirements_admit_this_machine_and_the_seed_post_versions():
    from packaging.requirements import Requirement

    reqs = {Requirement(line).name: Requirement(line) for line in _requirements()}
    for name, versions in {"torch": ("2.5.1", "2.14.1"), "torchvision": ("0.20.1", "0.29.1")}.items():
        for version in versions:
            assert reqs[name].specifier.contains(version), f"{name} {version} is excluded by {reqs[name]}"
    for needed in ("torchsummary", "matplotlib", "jupyterlab", "nbval", "tqdm", "ipywidgets", "pytest"):
        assert needed in reqs, f"requirements.txt lacks {needed}"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"^make \w+", readme, flags=re.M)
    assert commands[:2] == ["make run", "make test"], "README must open with make run and make test"
    assert re.search(r"^make test$", ci, flags=re.M), ".ci/run must call the README's test command"


def test_makefile_has_the_documented_targets():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("setup", "run", "lab", "test", "test-fast", "lint"):
        assert re.search(rf"^{target}:", makefile, flags=re.M), f"Makefile lacks `{target}`"
