"""Where the project lives and how its local host runs: the app root and the command the product's demo and
end-to-end tests start the host with (``funchost.host_process.HostProcess``)."""

import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
UP_COMMAND = (sys.executable, "-m", "controlplane", "up")
