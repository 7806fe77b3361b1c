"""The host's command line, ``python -m funchost``: the embedded local Functions host for any v2 function app.

``start --app module:attr [--port N] [--root DIR]`` serves the app (no app-specific start-up hook);
``key [--kind ...]`` prints one of its keys. Exit codes: 0 success, 1 the app or its settings were refused,
2 usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from funchost.function_checks import FunctionAppRefused
from funchost.keys import KeyKind


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m funchost", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="serve a function app")
    key = commands.add_parser("key", help="print a key of the host (default: the default host key)")
    key.add_argument("--kind", choices=[kind.value for kind in KeyKind], default=KeyKind.HOST.value)
    key.add_argument("--function", default="", help="the HTTP function whose key to print (with --kind function)")
    start.add_argument("--port", type=int, default=7071)
    for command in (start, key):
        command.add_argument("--app", default="function_app:app", help="module:attribute of the function app")
        command.add_argument("--root", type=Path, default=Path.cwd(), help="the app's folder (default: here)")
        command.add_argument("--state-dir", type=Path, help="where the host keeps its keys (default: ROOT/.local)")
    arguments = parser.parse_args(argv)
    if arguments.command == "key" and (arguments.kind == KeyKind.FUNCTION) != bool(arguments.function):
        parser.error("key: --function NAME goes with --kind function, and only with it")
    root = arguments.root.resolve()
    sys.path.insert(0, str(root))
    if arguments.command == "start":
        from funchost.host import HostOptions, run_host

        return run_host(HostOptions(port=arguments.port, app=arguments.app, root=root, state_dir=arguments.state_dir))
    try:
        return print_key(root, arguments.state_dir, KeyKind(arguments.kind), arguments.function, arguments.app)
    except FunctionAppRefused as refused:
        print(refused.for_app(arguments.app), file=sys.stderr)
        return 1


def print_key(root: Path, state_dir: Path | None, kind: KeyKind, function: str, app: str) -> int:
    """Print one key as the host keeps it (creating it if it does not exist yet, as the host would). A function
    key needs the name of an HTTP function of ``app``; exit 1 naming the choices if not."""
    from funchost.functions import HTTP, FunctionIndex
    from funchost.keys import open_key_store
    from funchost.settings import apply_local_settings

    apply_local_settings(root, os.environ)
    if function:
        module, _, attribute = app.partition(":")
        index = FunctionIndex.load(module, attribute or "app")
        names = {entry.name.lower(): entry.name for entry in index.of_type(HTTP)}
        if function.lower() not in names:
            known = ", ".join(sorted(names.values()))
            print(f"key --function: no HTTP function {function!r} in {app} (have: {known})", file=sys.stderr)
            return 1
        function = names[function.lower()]
    print(open_key_store(root, os.environ, state_dir).key(kind, function))
    return 0
