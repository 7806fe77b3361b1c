"""``python -m controlplane compute ...``: edit local compute behind the control plane's back.

Each command only queues an out-of-band request (``controlplane.adapters.local.out_of_band``) in the local
compute root; the host's compute applies it at its next inventory (the drift loop's), or when it starts.
It works whether or not the host is running. Exit 0 when queued, 2 when an argument is bad.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_COMMON = {
    "environment": "environment name, e.g. dev",
    "service": "service name, e.g. orders",
}


def add_compute_parser(commands: Any) -> None:
    """Add ``compute set-image | run-unmanaged | remove-unmanaged`` to the top-level subcommands."""
    compute = commands.add_parser("compute", help="edit local compute out of band, to make drift")
    actions = compute.add_subparsers(dest="action", required=True)
    set_image = _action(actions, "set-image", "like kubectl set image: restart a revision's replicas on IMAGE")
    set_image.add_argument("revision", help="the revision to change, e.g. orders-v1")
    set_image.add_argument("image", help="the new image, e.g. example.azurecr.io/orders:9.9.9")
    run = _action(actions, "run-unmanaged", "start a workload the control plane did not create (no traffic)")
    run.add_argument("name", help="its name, which no revision of the service may have")
    run.add_argument("image", help="its image, e.g. example.azurecr.io/orders:9.9.9")
    run.add_argument("--replicas", type=int, default=1, help="how many replicas to run (default 1)")
    remove = _action(actions, "remove-unmanaged", "stop and forget a workload started by run-unmanaged")
    remove.add_argument("name", help="the unmanaged workload's name")


def _action(actions: Any, name: str, summary: str) -> argparse.ArgumentParser:
    parser = actions.add_parser(name, help=summary, description=summary)
    for argument, text in _COMMON.items():
        parser.add_argument(argument, help=text)
    parser.add_argument(
        "--local-dir",
        type=Path,
        help="the local host's directory (default: CONTROLPLANE_LOCAL_DIR, else .local in the project)",
    )
    return parser


def queue_compute_edit(arguments: argparse.Namespace, root: Path, environ: Mapping[str, str]) -> int:
    """Validate the request, write it to ``<local dir>/compute/out-of-band/`` and say what was queued."""
    from controlplane.adapters.local.out_of_band import parse_request, queue_request
    from controlplane.errors import PermanentError
    from funchost.errors import PermanentError as HostRefused

    names = ("environment", "service", "revision", "name", "image", "replicas")
    data = {"action": arguments.action} | {n: getattr(arguments, n) for n in names if hasattr(arguments, n)}
    try:
        request = parse_request(data)
        compute_root = local_dir(arguments.local_dir, root, environ) / "compute"
    except (PermanentError, HostRefused) as error:  # a bad field, or settings the host could not start with either
        print(f"compute {arguments.action}: {error}", file=sys.stderr)
        return 2
    path = queue_request(compute_root, request)
    print(f"queued {request}\n  as {path}\n  local compute applies it at its next inventory (or when it starts)")
    return 0


def local_dir(given: Path | None, root: Path, environ: Mapping[str, str]) -> Path:
    """Where the local host keeps its state: ``given``, else as the host decides (settings, else root/.local)."""
    if given is not None:
        return given
    from controlplane.config import Settings
    from funchost.settings import apply_local_settings

    environment = dict(environ)  # local.settings.json may name the directory; read it as the host would
    apply_local_settings(root, environment)
    return Path(Settings.from_environment(environment).local_dir or root / ".local")
