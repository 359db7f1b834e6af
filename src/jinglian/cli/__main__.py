"""``python -m jinglian.cli``: the same as the ``jinglian`` command."""

from jinglian.cli.main import main

main()
