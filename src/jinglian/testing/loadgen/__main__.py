"""``python -m jinglian.testing.loadgen``: the load generator's command line (``cli.main``)."""

import sys

from jinglian.testing.loadgen.cli import main

if __name__ == "__main__":
    sys.exit(main())
