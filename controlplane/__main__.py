"""``python -m controlplane``: the operator command line."""

import sys

from controlplane.cli import main

sys.exit(main())
