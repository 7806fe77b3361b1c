"""The local image catalog: which command runs a container image as a local process.

Local compute has no container runtime; ``examples/image-catalog.yaml`` says which program stands in for
each image. An image reference is looked up most specific first:

    image                                     | entries tried, in order
    ------------------------------------------+---------------------------------------------------------
    example.azurecr.io/orders:3.0.0           | orders:3.0.0, orders
    example.azurecr.io/orders@sha256:ab…      | orders@sha256:ab…, orders
    example.azurecr.io/orders:3.0.0@sha256:ab… | the full reference, orders@sha256:ab…, orders:3.0.0, orders
    localhost:5000/orders:1.0                 | localhost:5000/orders:1.0, localhost:5000/orders

(``orders`` abbreviates ``example.azurecr.io/orders``.)
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from yaml.nodes import MappingNode

from controlplane.config import APP_ROOT
from controlplane.domain.images import split_image
from controlplane.errors import PermanentError


@dataclass(frozen=True)
class ImageCatalog:
    """Image references (a repository, or one tag or digest of it) mapped to the command that runs them."""

    path: Path
    commands: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "commands", MappingProxyType({k: tuple(v) for k, v in self.commands.items()}))

    @classmethod
    def load(cls, path: str | Path, root: Path = APP_ROOT, python: str | None = None) -> ImageCatalog:
        """Read a catalog file; ``PermanentError`` names the file and the bad field if it cannot be used.

        ``{python}`` becomes ``python`` (default: this interpreter), ``{root}`` the project ``root``, and
        relative arguments naming an existing file or folder under ``root`` become absolute paths, so the
        command runs the same from any working directory.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PermanentError(f"image catalog {path}: file not found") from None
        except (OSError, UnicodeDecodeError) as error:
            raise PermanentError(f"image catalog {path}: cannot be read ({error})") from None
        try:
            document = yaml.load(text, Loader=_UniqueKeyLoader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise PermanentError(f"image catalog {path}: not valid YAML{where}: {error.problem}") from None
        except yaml.YAMLError as error:
            raise PermanentError(f"image catalog {path}: not valid YAML: {error}") from None
        substitutions = {"{python}": python or sys.executable, "{root}": str(root)}
        commands = {
            image: tuple(_resolve(argument, root, substitutions) for argument in command)
            for image, command in _entries(document, path).items()
        }
        return cls(path=path, commands=commands)

    def command_for(self, image: str) -> list[str]:
        """The command that runs ``image``; ``PermanentError`` naming the image and the catalog if unknown."""
        for candidate in _candidates(image):
            command = self.commands.get(candidate)
            if command is not None:
                return list(command)
        repository, tag, digest = split_image(image)
        pinned = f"{repository}:{tag}" if tag else f"{repository}@{digest}" if digest else None
        either = f' (any tag) or "{pinned}" (this one only)' if pinned else ""
        known = ", ".join(sorted(self.commands)) or "nothing yet"
        raise PermanentError(
            f'image "{image}" is not in the local image catalog {self.path}: add an entry for "{repository}"'
            f"{either} under images (the catalog has: {known})"
        )


def _candidates(image: str) -> list[str]:
    repository, tag, digest = split_image(image)
    candidates = [image]
    if digest:
        candidates.append(f"{repository}@{digest}")
    if tag:
        candidates.append(f"{repository}:{tag}")
    candidates.append(repository)
    return list(dict.fromkeys(candidates))


def _entries(document: Any, path: Path) -> dict[str, list[str]]:
    where = f"image catalog {path}"
    if not isinstance(document, dict) or set(document) != {"images"}:
        found = sorted(map(str, document)) if isinstance(document, dict) else type(document).__name__
        raise PermanentError(f"{where}: expected one top-level key, images (got {found})")
    images = document["images"]
    if not isinstance(images, dict) or not images:
        raise PermanentError(f"{where}: images: expected a mapping of image reference to {{command: [...]}}")
    entries = {}
    for image, entry in images.items():
        field_path = f"images[{image!r}]"
        if not isinstance(image, str) or not image.strip() or image != image.strip():
            raise PermanentError(f"{where}: {field_path}: expected an image reference such as registry/repository")
        if not isinstance(entry, dict) or set(entry) != {"command"}:
            found = sorted(map(str, entry)) if isinstance(entry, dict) else type(entry).__name__
            raise PermanentError(f"{where}: {field_path}: expected exactly one key, command (got {found})")
        command = entry["command"]
        if not isinstance(command, list) or not command or not all(isinstance(a, str) and a for a in command):
            raise PermanentError(
                f"{where}: {field_path}.command: expected a non-empty list of non-empty strings (got {command!r})"
            )
        entries[image] = command
    return entries


def _resolve(argument: str, root: Path, substitutions: dict[str, str]) -> str:
    for placeholder, value in substitutions.items():
        argument = argument.replace(placeholder, value)
    candidate = Path(argument)
    if not candidate.is_absolute() and not argument.startswith("-") and (root / candidate).exists():
        return str(root / candidate)
    return argument


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, refusing duplicate keys: a repeated image would silently shadow the first entry."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                continue  # the safe loader reports unhashable keys itself
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)
