"""``python -m sim`` is the ``backupsim`` command."""

import sys

from .cli import main

sys.exit(main())
