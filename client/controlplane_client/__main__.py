"""``python -m controlplane_client``: the same as ``cpctl``."""

from controlplane_client.cli import main

raise SystemExit(main())
