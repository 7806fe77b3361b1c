"""How the product's local host runs: the command the product's demo and end-to-end tests start it with
(``funchost.host_process.HostProcess``)."""

import sys

UP_COMMAND = (sys.executable, "-m", "controlplane", "up")
