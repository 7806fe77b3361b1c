"""The operator command line: ``python -m controlplane <command>``.

Exit codes: 0 success, 1 the input was invalid or the scenario did not end as expected, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from controlplane.cli.compute import add_compute_parser, queue_compute_edit
from controlplane.config import APP_ROOT
from controlplane.errors import FieldError, InvalidManifest
from funchost.keys import KeyKind

if TYPE_CHECKING:
    from controlplane.domain.manifest import Syntax


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m controlplane", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="validate release manifests (JSON or YAML)")
    validate.add_argument("files", nargs="+", type=Path)
    commands.add_parser("schema", help="print the release manifest JSON Schema")
    commands.add_parser("openapi", help="print the HTTP API's OpenAPI 3.1 document (schemas/openapi.json)")
    demo = commands.add_parser("demo", help="run the demo scenario on Azurite")
    demo.add_argument("--hold", action="store_true", help="keep the local host (the Runtime Center) up until Ctrl-C")
    up = commands.add_parser("up", help="run the embedded local Functions host")
    up.add_argument("--port", type=int, default=7071)
    up.add_argument("--app", default="function_app:app", help="module:attribute of the function app")
    up.add_argument("--trace-console", action="store_true", help="print every span to stderr (OpenTelemetry)")
    key = commands.add_parser("key", help="print a key of the local host (default: the default host key)")
    key.add_argument("--kind", choices=[kind.value for kind in KeyKind], default=KeyKind.HOST.value)
    key.add_argument("--function", default="", help="the function whose key to print (with --kind function)")
    key.add_argument("--app", default="function_app:app", help="module:attribute of the function app")
    token = commands.add_parser(
        "token", help="print a bearer token of the local host's Easy Auth (Azure: an Entra ID access token)"
    )
    token.add_argument("--name", required=True, help="the caller's name (user principal name or app name)")
    token.add_argument("--roles", default="Reader", help="comma-separated app roles (default: Reader)")
    token.add_argument("--object-id", help="the caller's object id (default: one derived from --name)")
    token.add_argument("--minutes", type=int, default=60, help="lifetime in minutes (default: 60, as Entra's)")
    operator_views = [
        commands.add_parser("instances", help="list orchestration instances"),
        status := commands.add_parser("status", help="show one orchestration instance"),
        events := commands.add_parser("events", help="list the events of one trace"),
        commands.add_parser("deadletters", help="list dead-lettered Service Bus deliveries"),
        replay := commands.add_parser("replay", help="print a flow's timeline from its stored events"),
        commands.add_parser("stuck", help="list deployments whose orchestration is gone or ended (exit 1 if any)"),
        explain := commands.add_parser("explain", help="print why a deployment's gates passed, failed or held"),
    ]
    explain.add_argument("deployment_id")
    explain.add_argument("--json", action="store_true", help="print the explanation as the API's JSON")
    replay.add_argument("traceid")
    status.add_argument("instance_id")
    events.add_argument("--trace", required=True, metavar="TRACEID")
    for view in operator_views:
        view.add_argument("--app", default="function_app:app", help="module:attribute of the function app")
    for signal, summary in (("approve", "approve a deployment waiting for it"), ("abort", "abort a deployment")):
        signalled = commands.add_parser(signal, help=f"{summary} (through the running host's API)")
        signalled.add_argument("deployment_id")
        signalled.add_argument("--reason", required=True, help="why (recorded with the deployment's transition)")
        signalled.add_argument("--by", help="whom the local token names (default: the OS user); not with --token")
        signalled.add_argument("--url", default="http://127.0.0.1:7071", help="the host's base URL")
        signalled.add_argument(
            "--token", help="a bearer token (default: a local token for --by with the Approver and Operator roles)"
        )
        signalled.add_argument("--app", default="function_app:app", help="module:attribute of the function app")
    reindexing = commands.add_parser(
        "reindex", help="write the listings' indexes from the stored deployments and findings (idempotent)"
    )
    reindexing.add_argument("--batch", type=int, default=100, help="records indexed between progress lines (100)")
    add_compute_parser(commands)
    arguments = parser.parse_args(argv)
    if arguments.command == "key" and (arguments.kind == KeyKind.FUNCTION) != bool(arguments.function):
        parser.error("key: --function NAME goes with --kind function, and only with it")
    if arguments.command == "validate":
        return validate_files(arguments.files)
    if arguments.command == "schema":
        from controlplane.domain.manifest import release_json_schema

        print(json.dumps(release_json_schema(), indent=2, sort_keys=True))
        return 0
    if arguments.command == "openapi":
        from triggers.openapi import api_document

        print(json.dumps(api_document(), indent=2, sort_keys=True))
        return 0
    if arguments.command == "demo":
        from controlplane.cli.demo import run_demo

        return run_demo(hold=arguments.hold)
    if arguments.command == "reindex":
        from controlplane.cli.reindex import run_reindex

        return run_reindex(arguments.batch)
    if arguments.command == "compute":
        return queue_compute_edit(arguments, APP_ROOT, os.environ)
    return operate(arguments)


def operate(arguments: argparse.Namespace) -> int:
    """The local host commands: ``up``, ``key`` and the operator views of Table storage; exit 1 with Azure's
    messages if the app they load would not load on Azure."""
    from funchost.function_checks import FunctionAppRefused

    sys.path.insert(0, str(APP_ROOT))
    try:
        return _operate(arguments, APP_ROOT)
    except FunctionAppRefused as refused:
        print(refused.for_app(arguments.app), file=sys.stderr)
        return 1


def _operate(arguments: argparse.Namespace, root: Path) -> int:
    if arguments.command == "up":
        return up(root, arguments.port, arguments.app, arguments.trace_console)
    if arguments.command == "key":
        return print_key(KeyKind(arguments.kind), arguments.function, arguments.app)
    if arguments.command == "token":
        return print_token(arguments.name, arguments.object_id, arguments.roles, arguments.minutes)
    if arguments.command in ("approve", "abort"):
        from controlplane.cli.operator import os_user, signal_deployment

        by = arguments.by or os_user()
        token = arguments.token or local_token(by, None, ("Approver", "Operator"), 3600)
        return signal_deployment(arguments.url, token, arguments.deployment_id, arguments.command, arguments.reason)
    from controlplane.cli.operator import Operator

    operator = Operator(root, arguments.app)
    if arguments.command == "instances":
        return operator.instances()
    if arguments.command == "status":
        return operator.status(arguments.instance_id)
    if arguments.command == "events":
        return operator.events(arguments.trace)
    if arguments.command == "replay":
        return operator.replay(arguments.traceid)
    if arguments.command == "stuck":
        return operator.stuck()
    if arguments.command == "explain":
        return operator.explain(arguments.deployment_id, arguments.json)
    return operator.dead_letters()


def up(root: Path, port: int, app: str, trace_console: bool) -> int:
    """The embedded local host serving ``app`` with the product's local ports (``bootstrap.local``)."""
    from controlplane.adapters.azure.monitor import telemetry as telemetry_setup
    from controlplane.bootstrap.local import host_options, prepare_environment
    from controlplane.config import load_settings
    from funchost.host import configure_logging, run_host

    configure_logging()
    prepare_environment(root, os.environ)
    settings = load_settings()
    telemetry_setup.configure(settings, console=trace_console)
    return run_host(host_options(root, settings, port, app))


def local_token(name: str, object_id: str | None, roles: Sequence[str], seconds: int) -> str:
    """A bearer token the local host accepts for ``name`` with ``roles`` (``funchost.easy_auth``), signed with
    the host's Easy Auth secret under the product's local folder; the object id defaults to one derived from
    the name (``Principal.named``), so one name is one person across tokens."""
    from controlplane.config import load_settings
    from funchost.easy_auth import EasyAuth, Principal
    from funchost.settings import apply_local_settings, state_directory

    apply_local_settings(APP_ROOT, os.environ)
    auth = EasyAuth.in_state_dir(state_directory(APP_ROOT, load_settings().local_dir))
    return auth.bearer_token(Principal.named(name, roles, object_id), seconds)


def print_token(name: str, object_id: str | None, roles: str, minutes: int) -> int:
    """Print a local bearer token (``local_token``); exit 1 naming the option that cannot be used."""
    from funchost.easy_auth import LoginFieldError, principal_from_form

    if minutes < 1:
        print("--minutes: at least 1", file=sys.stderr)
        return 1
    form = {"userId": object_id or "derived-from-name", "userDetails": name, "userRoles": roles}
    try:
        checked = principal_from_form("aad", form)
    except LoginFieldError as error:
        option = {"userId": "--object-id", "userDetails": "--name", "userRoles": "--roles"}[error.field]
        print(f"{option}: {error.reason}", file=sys.stderr)
        return 1
    print(local_token(name, object_id, checked.roles, minutes * 60))
    return 0


def print_key(kind: KeyKind, function: str, app: str) -> int:
    """Print one key of the local host as ``python -m funchost key`` does, from the product's key folder
    (``CONTROLPLANE_LOCAL_DIR``)."""
    from controlplane.config import load_settings
    from funchost.cli import print_key as print_host_key
    from funchost.settings import apply_local_settings

    apply_local_settings(APP_ROOT, os.environ)
    local_dir = load_settings().local_dir
    return print_host_key(APP_ROOT, Path(local_dir) if local_dir else None, kind, function, app)


_SYNTAX: dict[str, Syntax] = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}


def validate_files(files: Sequence[Path]) -> int:
    """Print one verdict per file; every error names its field path. Exit 1 if any file is invalid.

    The API's limits apply (``domain.manifest.loader``): a file over 256 KiB is refused unread, ``.json`` is
    read as JSON and ``.yaml``/``.yml`` as YAML (anything else: JSON if it starts with ``{``)."""
    from controlplane.domain.manifest import MAX_DOCUMENT_BYTES, load_release

    failed = 0
    for path in files:
        try:
            size = path.stat().st_size
            if size > MAX_DOCUMENT_BYTES:
                reason = f"{path}: document is {size} bytes; the limit is {MAX_DOCUMENT_BYTES} (256 KiB)"
                raise InvalidManifest([FieldError("", reason)])
            release = load_release(path.read_bytes(), source=str(path), syntax=_SYNTAX.get(path.suffix.lower()))
        except OSError as error:
            print(f"{path}: cannot read: {error.strerror}", file=sys.stderr)
            failed += 1
        except InvalidManifest as error:
            print(f"{path}: invalid ({len(error.errors)} error(s))", file=sys.stderr)
            for field_error in error.errors:
                print(f"  {field_error}", file=sys.stderr)
            failed += 1
        else:
            spec = release.spec
            print(
                f"{path}: ok: release {release.metadata.name} -> {spec.environment.name} "
                f"({spec.strategy.type}, services: {', '.join(s.name for s in spec.services)})"
            )
    return 1 if failed else 0
