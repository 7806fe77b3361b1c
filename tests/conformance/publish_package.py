"""The package ``func azure functionapp publish`` builds from the project root, for the tests and the benchmark.

Azure Functions Core Tools (Azure/azure-functions-core-tools) builds it this way; each rule is re-expressed
here from its source, not copied:

- ``Common/FileSystemHelpers.cs`` ``GetLocalFiles`` walks every file under the root, skipping folders named
  ``.git`` or ``.vscode`` and files named ``.funcignore``, ``.gitignore``, ``local.settings.json`` or
  ``project.lock.json`` at any depth (names compared case-insensitively). Each remaining file's root-relative
  path, with ``/``, goes to the ``.funcignore`` parser; only files are asked, never folders.
- ``Common/GitIgnoreParser.cs`` (a port of codemix/gitignore-parser) is not git's matcher: lines are trimmed,
  empty and ``#`` lines dropped; a leading ``!`` makes a negative pattern, then a leading ``/`` is dropped;
  each pattern becomes a regular expression (regex metacharacters escaped, ``**`` -> ``.+``, ``*`` -> one or
  more characters other than ``/``); the positives are joined into ``^((p1)|(p2)|...)\\b`` and so are the
  negatives. A path is published when a negative matches or no positive does. So every pattern is anchored
  at the root and matches a prefix of the path that ends at a word boundary (``\\b``, ASCII word characters
  as in ECMAScript regexes); a negative wins whatever the order; ``*.pyc`` matches at the root only.
- ``Helpers/ZipHelper.cs`` ``GetAppZipFile`` -> ``PythonHelpers.GetPythonDeploymentPackage`` zips those files
  (with a remote build, the default for Linux apps, no ``.python_packages``: Azure installs requirements.txt).

``gitignore_rules`` reads the same file with git's rules (the pathspec package), as other deployment tools do.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

SKIPPED_FOLDERS = frozenset({".git", ".vscode"})
SKIPPED_FILES = frozenset({".funcignore", ".gitignore", "local.settings.json", "project.lock.json"})
_METACHARACTERS = re.compile(r"[\-\[\]/{}()+?.\\^$|]")


@dataclass(frozen=True)
class IgnoreRules:
    """Which files a publish leaves out: ``ignores(path)`` for a file, ``prunes(path)`` for a whole folder."""

    ignores: Callable[[str], bool]
    prunes: Callable[[str], bool]


def _regex(pattern: str) -> str:
    escaped = _METACHARACTERS.sub(lambda found: "\\" + found.group(0), pattern)
    return escaped.replace("**", "(.+)").replace("*", "([^/]+)")


def _joined(patterns: list[str]) -> re.Pattern[str] | None:
    # Core Tools sorts the patterns first; whether the alternation matches does not depend on their order.
    return re.compile("^((" + ")|(".join(map(_regex, patterns)) + "))\\b", re.ASCII) if patterns else None


def core_tools_rules(text: str) -> IgnoreRules:
    """``.funcignore`` as Core Tools' ``GitIgnoreParser`` reads it (see the module docstring)."""
    positives: list[str] = []
    negatives: list[str] = []
    for line in (raw.strip() for raw in text.split("\n")):
        if not line or line.startswith("#"):
            continue
        kept = negatives if line.startswith("!") else positives
        kept.append(line.removeprefix("!").removeprefix("/"))
    positive, negative = _joined(positives), _joined(negatives)

    def ignores(path: str) -> bool:
        return positive is not None and positive.match(path) is not None and not (negative and negative.match(path))

    def prunes(folder: str) -> bool:
        # A match on "folder/" ends at the same place, before the same character, in every path below it.
        return negative is None and positive is not None and positive.match(folder + "/") is not None

    return IgnoreRules(ignores, prunes)


def gitignore_rules(text: str) -> IgnoreRules:
    """``.funcignore`` read with git's rules (a file under an ignored folder cannot be re-included)."""
    spec = pathspec.GitIgnoreSpec.from_lines(text.splitlines())
    return IgnoreRules(spec.match_file, lambda folder: spec.match_file(folder + "/"))


def package_files(root: Path, rules: IgnoreRules) -> list[str]:
    """The root-relative paths a publish ships, sorted."""
    return sorted(_walk(root, rules))


def _walk(root: Path, rules: IgnoreRules) -> Iterator[str]:
    for folder, folders, files in os.walk(root, followlinks=True):  # Core Tools follows linked folders too
        base = Path(folder).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        folders[:] = [
            name for name in folders if name.lower() not in SKIPPED_FOLDERS and not rules.prunes(prefix + name)
        ]
        for name in files:
            path = prefix + name
            if name.lower() not in SKIPPED_FILES and not rules.ignores(path):
                yield path


def zip_package(root: Path, files: list[str]) -> bytes:
    """The files zipped with deflate, as the zip a publish uploads."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(root / path, path)
    return buffer.getvalue()


def publish_package(root: Path) -> tuple[list[str], bytes]:
    """What ``func azure functionapp publish`` uploads from ``root``: its files and the zip of them."""
    files = package_files(root, core_tools_rules((root / ".funcignore").read_text()))
    return files, zip_package(root, files)
