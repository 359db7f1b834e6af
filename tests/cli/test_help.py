"""Every command has help with an example and a section in docs/cli.md (STYLE 16)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from jinglian.cli import cli

CLI_DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        found.append(path)
        if isinstance(command, click.Group):
            found += _commands(command, path)
    return found


COMMANDS = _commands()


def test_the_contract_of_design_section_4_exists() -> None:
    for path in [
        ("init",),
        ("node", "start"),
        ("devnet", "up"),
        ("devnet", "status"),
        ("devnet", "down"),
        ("tx", "invoke"),
        ("tx", "get"),
        ("query",),
        ("block", "get"),
        ("contract", "deploy"),
        ("contract", "upgrade"),
        ("contract", "list"),
        ("contract", "show"),
        ("state", "get"),
        ("chain", "info"),
    ]:
        assert path in COMMANDS, f"jinglian {' '.join(path)} is missing"


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda p: " ".join(p) or "jinglian")
def test_help_shows_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output, f"jinglian {' '.join(path)} --help has no example"
    assert "jinglian" in result.output.split("Example:")[1]


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_has_help_text(path: tuple[str, ...]) -> None:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    assert command.help and len(command.help.strip()) > 20
    assert command.get_short_help_str().strip()
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"jinglian {' '.join(path)} {param.opts[0]} has no help"


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_is_documented(path: tuple[str, ...]) -> None:
    headings = [line for line in CLI_DOC.read_text().splitlines() if line.startswith("#")]
    wanted = f"jinglian {' '.join(path)}"
    assert any(wanted in line for line in headings), f"docs/cli.md has no section for `{wanted}`"


def test_json_option_on_every_output_command() -> None:
    without_json = {("node", "start"), ("devnet", "up"), ("devnet", "down")}
    for path in COMMANDS:
        command: click.Command = cli
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        if isinstance(command, click.Group) or path in without_json:
            continue
        assert any(p.name == "as_json" for p in command.params), f"{path} lacks --json"
