"""What the governance commands share: bounds, common options, argument files, display helpers.

Used by ``txfile_cmds``, ``contract_cmds``, ``proposal_cmds`` and ``config_cmds``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from jinglian.cli._base import parse_args_json
from jinglian.types.errors import ConfigError, InvalidInput

__all__ = [
    "ARG_FILE_BYTES_MAX",
    "GOVERNANCE",
    "LIST_LIMIT_MAX",
    "SHOWN_TEXT_CHARS_MAX",
    "arg_file_option",
    "brief",
    "call_args",
    "plural",
    "read_arg_file",
    "timeout_option",
]

GOVERNANCE = "governance"
"""The system contract that holds proposals, votes and the governance history."""
ARG_FILE_BYTES_MAX = 1024 * 1024
"""Largest file ``--arg-file`` or a contract source reads (the chain's own limit is lower)."""
SHOWN_TEXT_CHARS_MAX = 80
"""Longer strings are shown by their length in text output (``--json`` shows everything)."""
LIST_LIMIT_MAX = 200
"""Most records a list (proposals, config history) asks the node for."""

timeout_option = click.option(
    "--timeout", type=click.FloatRange(0.1, 120), default=30.0, help="Seconds to wait."
)
arg_file_option = click.option(
    "--arg-file",
    "arg_files",
    multiple=True,
    metavar="NAME=PATH",
    help="Set argument NAME to the content of PATH (text, or bytes if not UTF-8); repeatable.",
)


def read_arg_file(path: Path) -> str | bytes:
    """A file's content as text, or as bytes if it is not UTF-8; size-bounded."""
    try:
        with path.open("rb") as handle:
            data = handle.read(ARG_FILE_BYTES_MAX + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if len(data) > ARG_FILE_BYTES_MAX:
        raise InvalidInput(f"{path} is larger than {ARG_FILE_BYTES_MAX} bytes")
    try:
        return data.decode()
    except UnicodeDecodeError:
        return data


def call_args(args_json: str | None, arg_files: Sequence[str]) -> dict[str, Any]:
    """A call's arguments: the --args JSON object plus one per --arg-file NAME=PATH."""
    args = parse_args_json(args_json)
    for item in arg_files:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InvalidInput(f"--arg-file takes NAME=PATH, not {item!r}")
        if name in args:
            raise InvalidInput(f"argument {name!r} is given by both --args and --arg-file")
        args[name] = read_arg_file(Path(path))
    return args


def brief(value: Any) -> Any:
    """A JSON value with long strings replaced by their length, for one-line display."""
    if isinstance(value, str) and len(value) > SHOWN_TEXT_CHARS_MAX:
        return f"<{len(value)} characters>"
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return value if len(str(value["$bytes"])) <= SHOWN_TEXT_CHARS_MAX else "<bytes>"
        return {k: brief(v) for k, v in value.items()}
    if isinstance(value, list):
        return [brief(v) for v in value]
    return value


def plural(count: int, word: str) -> str:
    """``COUNT WORD``, with an "s" unless COUNT is 1."""
    return f"{count} {word}{'' if count == 1 else 's'}"
