"""The documentation tells the truth: the README's commands are CI's, every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import click

from crawler.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_commands() -> list[str]:
    """The shell commands in the README's "Two commands" section, in order."""
    section = README.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_readme_has_two_commands_install_then_demo_then_tests():
    first, second = readme_commands()
    assert first.startswith("python3 -m venv .venv") and first.endswith("crawler demo")
    assert "'.[test]'" in second and second.endswith("pytest -q")


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    setup = ("#", "set ", "cd ", "export CI=true", "scripts/system-packages.sh")
    command = [line for line in ci if line.strip() and not line.startswith(setup)]
    assert command == [readme_commands()[1]]


def all_commands(group: click.Group = cli, prefix: str = "") -> dict[str, click.Command]:
    out = {}
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        out[path] = command
        if isinstance(command, click.Group):
            out.update(all_commands(command, path + " "))
    return out


def test_every_command_has_help_and_every_leaf_an_example():
    for path, command in all_commands().items():
        assert command.help and command.help.strip(), f"`crawler {path}` has no help text"
        if not isinstance(command, click.Group):
            assert "Example:" in command.help, f"`crawler {path}` has no Example in its help"


def test_every_top_level_command_is_in_the_readme():
    for name in cli.commands:
        assert f"`crawler {name}" in README, f"`crawler {name}` is missing from the README"


def test_readme_sources_check_example_is_real_output(monkeypatch):
    from click.testing import CliRunner

    block = README.split("$ crawler sources check broken.yaml\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(ROOT / "tests" / "fixtures" / "registry")
    result = CliRunner().invoke(cli, ["sources", "check", "broken.yaml"])
    assert result.exit_code == 2
    assert result.output == block
