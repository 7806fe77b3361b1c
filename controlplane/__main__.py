"""``python -m controlplane``: the operator command line."""

import sys

from controlplane.cli.main import main

sys.exit(main())
