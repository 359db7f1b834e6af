"""The ``jinglian`` command: thin over the client SDK (and the node for ``node start``).

``main`` is the console-script entry point; ``cli`` the click group (tests
drive it with ``click.testing.CliRunner``). Commands: ``init``, ``node
start``, ``devnet up|status|down``, ``tx invoke|get``, ``query``, ``state
get``, ``block get``, ``contract deploy|upgrade|list|show``, ``chain info``;
``docs/cli.md`` documents each. Failures are one line on stderr,
``error: <message> (<code>)``, exit code 1 (2 for usage errors).
"""

from jinglian.cli.main import cli, main

__all__ = ["cli", "main"]
