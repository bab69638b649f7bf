"""One recipe in one place: the config defaults are the cpu recipe, and nothing else restates it."""

import json
import re
from dataclasses import fields, replace

import pytest

import inception_nb
from inception_nb import cli
from inception_nb.config import (
    CLI_PROFILE, PROFILES, DataConfig, ModelConfig, Profile, TrainConfig, get_profile, profile_table,
)
from inception_nb.paths import REPO_ROOT as ROOT

CPU_LR = TrainConfig().lr
CPU_SIZE = DataConfig().image_size
# Spellings of the cpu recipe's learning rate and image size as code sets them (lr=3e-3, "image_size": 28,
# --image-size 28); other numbers equal to them (a 28 x 28 feature map) are not recipe copies.
_LR_TEXT = "|".join(re.escape(t) for t in {repr(CPU_LR), f"{CPU_LR:g}", f"{CPU_LR:.0e}",
                                           f"{CPU_LR:.0e}".replace("e-0", "e-")})
RECIPE_COPY = re.compile(rf"""(?:\blr\b["']?\s*[=:]\s*|--lr[ =])(?:{_LR_TEXT})(?![\d.])"""
                         rf"""|(?:\bimage_size\b["']?\s*[=:]\s*|--image-size[ =]){CPU_SIZE}(?!\d)""")


def _copies(text: str) -> list:
    return [line.strip() for line in text.splitlines() if RECIPE_COPY.search(line)]


def test_the_pattern_finds_the_ways_code_restates_the_recipe():
    for line in (f"TrainConfig(lr={CPU_LR})", '{"lr": 3e-3}', "python -m inception_nb train --lr 0.003",
                 f"DataConfig(image_size={CPU_SIZE}, channels=1)", f'"image_size": {CPU_SIZE}', "--image-size 28"):
        assert _copies(line), line
    for line in ("lr=3e-4", "lr=0.0035", "image_size=280", "torch.randn(1, 192, 28, 28)", "image_size=32"):
        assert not _copies(line), line


def test_package_scripts_and_cli_state_the_cpu_recipe_only_in_config():
    files = [p for p in sorted((ROOT / "inception_nb").rglob("*.py")) if p.name != "config.py"]
    files += sorted((ROOT / "scripts").glob("*.py"))
    offenders = {str(p.relative_to(ROOT)): found for p in files if (found := _copies(p.read_text()))}
    assert not offenders, f"read the recipe from inception_nb.config instead of restating it: {offenders}"


def test_notebooks_state_the_cpu_recipe_only_through_the_package():
    # Lists every notebook code cell that restates the recipe, so whoever edits the notebooks sees them all.
    # At the reorganisation (issue 15) this flagged notebook 00's DataConfig(image_size=28, ...) on purpose:
    # the notebooks are edited separately, and this test stays red until they read the recipe instead.
    offenders = {}
    for path in sorted(ROOT.glob("notebooks/**/*.ipynb")) + sorted(ROOT.glob("exercises/*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        if found := _copies(code):
            offenders[str(path.relative_to(ROOT))] = found
    assert not offenders, f"notebooks restate the cpu recipe; use DataConfig() / get_profile() instead: {offenders}"


def test_fit_without_a_config_trains_the_cpu_profile():
    cpu = get_profile("cpu")
    assert cpu.train == TrainConfig() and cpu.data == DataConfig() and cpu.model == ModelConfig()


def test_the_clis_five_minute_profile_is_the_cpu_recipe_with_a_time_budget():
    cli_profile, cpu = get_profile(CLI_PROFILE), get_profile("cpu")
    assert cli_profile.data == cpu.data and cli_profile.model == cpu.model
    assert cli_profile.train.time_budget == 300
    assert replace(cli_profile.train, epochs=cpu.train.epochs, time_budget=None, out_dir=cpu.train.out_dir) == cpu.train


def test_every_profile_builds_and_is_listed(monkeypatch):
    table = profile_table()
    for name in PROFILES:
        profile = get_profile(name)
        assert isinstance(profile, Profile) and profile.name == name and f"`{name}`" in table
        assert profile.model.build(num_classes=10, in_channels=profile.data.channels).num_classes == 10
    monkeypatch.setenv("INCEPTION_NB_PROFILE", "quick")
    assert get_profile().name == "quick"
    with pytest.raises(ValueError, match="unknown profile 'gpu'"):
        get_profile("gpu")


def test_every_config_field_has_help_and_a_cli_option():
    parser = cli.build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    options = {flag: action for action in train._actions for flag in action.option_strings}
    for config_class in (ModelConfig, DataConfig, TrainConfig):
        for f in fields(config_class):
            assert f.metadata.get("help"), f"{config_class.__name__}.{f.name} has no help text"
            if f.name not in cli.NOT_OPTIONS:
                assert cli.flag_for(f.name) in options, f"no option sets {config_class.__name__}.{f.name}"


def test_library_field_names_become_cli_options_in_error_messages():
    message = "DataConfig.image_size 8 is too small. Fix: set DataConfig.image_size to 15; or TrainConfig.out_dir"
    assert cli.in_cli_words(message) == "--image-size 8 is too small. Fix: set --image-size to 15; or --out"
    assert cli.in_cli_words("halve TrainConfig.lr") == "halve --lr"


def test_the_package_exports_its_public_names_on_first_use():
    from inception_nb import (  # noqa: F401
        DataConfig,
        InceptionBlock,
        InceptionV1,
        ModelConfig,
        TrainConfig,
        fit,
        from_torchvision,
        layer_report,
        load_data,
        to_torchvision,
    )

    assert set(inception_nb.__all__) >= {"InceptionV1", "InceptionBlock", "from_torchvision", "to_torchvision",
                                         "layer_report", "fit", "load_data", "TrainConfig", "DataConfig",
                                         "ModelConfig"}
    for name in inception_nb.__all__:
        assert getattr(inception_nb, name) is not None, name
    with pytest.raises(AttributeError):
        inception_nb.no_such_name  # noqa: B018


def test_library_messages_speak_config_fields_not_cli_flags():
    import ast

    flag = re.compile(r"(?<![\w-])--[a-z][a-z-]+")
    # Modules that are command-line programs themselves (they build an argparse parser: cli, first_cell, ...)
    # may name their own flags; everything a notebook calls must not.
    library = [p for p in sorted((ROOT / "inception_nb").glob("*.py"))
               if p.stem not in ("__main__", "cli_errors")  # cli_errors: only the command line imports it
               and "import argparse" not in p.read_text()]
    offenders = {}
    for path in library:
        strings = [node.value for node in ast.walk(ast.parse(path.read_text()))
                   if isinstance(node, ast.Constant) and isinstance(node.value, str)]
        if found := [s for s in strings if flag.search(s)]:
            offenders[path.name] = found
    assert not offenders, f"name the config field (DataConfig.image_size), the CLI translates: {offenders}"
