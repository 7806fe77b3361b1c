"""Run by .venv-worker's Python: index function apps with the Python worker's own code and print what it loads.

Usage: ``python worker_probe.py APP_FILE [APP_FILE ...]``. For each app file, as the worker does: put its folder
first on sys.path, ``loader.index_function_app`` it, then ``Registry.add_indexed_function`` every function,
stopping at the first refusal (which fails the whole index on Azure). Prints one JSON object:
``{APP_FILE: {"error": "<Exception>: <message>" | null, "functions": [{"name", "bindings", "params", "isAsync"}]}}``,
where ``bindings`` are the raw bindings the worker sends the host, ``params`` the Python parameters it binds and
``isAsync`` whether it awaits the function on its event loop (else it runs it on its thread pool).
"""

from __future__ import annotations

import json
import os
import sys


def probe(app_file: str, protos: object) -> dict[str, object]:
    from azure_functions_runtime.functions import Registry
    from azure_functions_runtime.loader import index_function_app

    sys.path.insert(0, os.path.dirname(os.path.abspath(app_file)))
    loaded: list[dict[str, object]] = []
    try:
        registry = Registry()
        for function in index_function_app(app_file):
            info = registry.add_indexed_function(function=function, protos=protos)
            params = sorted([*info.input_types, *info.output_types, *(["context"] if info.requires_context else [])])
            bindings = [json.loads(raw) for raw in function.get_raw_bindings()]
            loaded.append({"name": info.name, "bindings": bindings, "params": params, "isAsync": info.is_async})
    except Exception as error:  # what the worker reports to the host instead of any function
        return {"error": f"{type(error).__name__}: {error}", "functions": loaded}
    finally:
        sys.path.pop(0)
    return {"error": None, "functions": loaded}


def main(app_files: list[str]) -> None:
    from azure_functions_runtime.bindings.meta import load_binding_registry

    from funchost.worker_checks import WORKER_PROTOS

    load_binding_registry()
    print(json.dumps({app_file: probe(app_file, WORKER_PROTOS) for app_file in app_files}))


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())  # the project root: WORKER_PROTOS (BindingInfo's enum values) lives there
    main(sys.argv[1:])
