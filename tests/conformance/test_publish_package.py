"""A publish ships the app and nothing else: host.json, requirements.txt, the files function_app.py imports and the
Runtime Center's page assets.

The package is built as Core Tools builds it (publish_package.py), and unpacked to show it imports on its own.
"""

from __future__ import annotations

import ast
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conformance.publish_package import (
    core_tools_rules,
    gitignore_rules,
    package_files,
    publish_package,
)
from triggers.center.page import ASSET_TYPES

ROOT = Path(__file__).resolve().parents[2]
APP = ("function_app.py", "host.json", "requirements.txt", "activities", "orchestrators", "triggers", "controlplane")
LOCAL_HOST = "funchost/"
PAGE_ASSETS = {f"triggers/center/assets/{name}" for name in ASSET_TYPES}  # read at run time, never imported

# Runs in the unpacked package: every module it ships imports (so none needs the local host, which stays out).
IMPORT_ALL = """
import importlib, pathlib
modules = sorted(
    ".".join(path.with_suffix("").parts).removesuffix(".__init__") for path in pathlib.Path(".").rglob("*.py")
)
for module in modules:
    importlib.import_module(module)
import function_app
print(len(modules), len(function_app.app.get_functions()))
"""


def module_file(module: str) -> str | None:
    """The project file of a module (``a.b`` -> ``a/b.py`` or ``a/b/__init__.py``); None outside the project."""
    path = Path(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if (ROOT / candidate).is_file():
            return candidate.as_posix()
    return None


def imported_files(module: str) -> set[str]:
    """The project files ``module`` imports, directly or through others, at the top or inside a function."""
    found: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        path = module_file(name)
        if path is None or path in found:
            continue
        found.add(path)
        parts = name.split(".")
        pending += [".".join(parts[:end]) for end in range(1, len(parts))]  # its packages
        package = parts if path.endswith("__init__.py") else parts[:-1]
        for node in ast.walk(ast.parse((ROOT / path).read_text())):
            if isinstance(node, ast.Import):
                pending += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the package, or node.level - 1 packages up
                    base = ".".join([*package[: len(package) - node.level + 1], base]).strip(".")
                pending += [base, *(f"{base}.{alias.name}" for alias in node.names)]
    return found


def test_a_publish_ships_the_app_files_and_nothing_else() -> None:
    files, _ = publish_package(ROOT)

    assert {path.split("/")[0] for path in files} == set(APP)
    assert set(files) == imported_files("function_app") | {"host.json", "requirements.txt"} | PAGE_ASSETS
    assert not [path for path in files if path.startswith(LOCAL_HOST) or "__pycache__" in path]


def test_funcignore_gives_the_same_package_under_git_rules_as_under_core_tools_rules() -> None:
    text = (ROOT / ".funcignore").read_text()

    assert package_files(ROOT, gitignore_rules(text)) == package_files(ROOT, core_tools_rules(text))


def test_the_published_package_imports_every_module_and_declares_the_functions_without_the_local_host(
    tmp_path: Path,
) -> None:
    _, package = publish_package(ROOT)
    zipfile.ZipFile(io.BytesIO(package)).extractall(tmp_path)
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}

    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    modules, functions = map(int, done.stdout.split())
    assert modules > 50 and functions > 0


@pytest.mark.parametrize(
    ("funcignore", "path", "published"),
    [
        ("/tests", "tests/unit/test_x.py", False),
        ("tests", "controlplane/tests/x.py", True),  # anchored at the root, unlike git's rules
        ("*.pyc", "a.pyc", False),
        ("*.pyc", "pkg/a.pyc", True),  # `*` stays within one folder, and the pattern starts at the root
        ("**/*.pyc", "pkg/sub/a.pyc", False),
        ("tests\n!tests/keep.py", "tests/keep.py", True),  # a negative re-includes, even under an ignored folder
        ("!keep.py\nkeep.py", "keep.py", True),  # a negative wins whatever the order
        (".venv", ".venv-worker/bin/python", False),  # a prefix that ends at a word boundary...
        ("tests", "tests_data.json", True),  # ...and not inside a word
        ("# tests\n\n", "tests/x.py", True),
    ],
)
def test_core_tools_reads_funcignore_as_its_gitignore_parser_does(funcignore: str, path: str, published: bool) -> None:
    """Cases of Azure/azure-functions-core-tools src/Cli/func/Common/GitIgnoreParser.cs (see publish_package)."""
    assert core_tools_rules(funcignore).ignores(path) is not published


@pytest.mark.parametrize("virtualenv", [".venv", ".venv-worker"])
def test_publishing_from_an_activated_virtualenv_leaves_funcignore_as_it_is(virtualenv: str) -> None:
    """Core Tools (Helpers/PythonHelpers.cs, EnsureVirtualEnvironmentIgnored) appends the active virtualenv's
    folder name to .funcignore unless the file contains a newline followed by that name."""
    assert "\n" + virtualenv in (ROOT / ".funcignore").read_text()
