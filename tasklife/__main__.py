"""``python -m tasklife``: the same command line as ``tasklife``."""

import sys

from tasklife.cli import main

sys.exit(main())
