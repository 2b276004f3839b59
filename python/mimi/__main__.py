"""`python -m mimi`: the `mimi` command."""

import sys

from mimi.cli import main

sys.exit(main())
