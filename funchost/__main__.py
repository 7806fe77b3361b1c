"""``python -m funchost``: see :mod:`funchost.cli`."""

import sys

from funchost.cli import main

sys.exit(main())
