"""DesiredState from release manifests in Git (a local repository or a URL) or in a plain local folder.

Every ``*.yaml``, ``*.yml`` and ``*.json`` file under ``path`` (recursively; hidden files and folders such as
``.github/`` are skipped) must be a release manifest; apply order is file-path order. A missing ``path`` is
NotFound, not an empty desired state (git keeps no empty folder: commit a ``.gitkeep`` to keep one).

Each call (``releases``, ``environments``, ``revision``) resolves the ref afresh, so a new commit is seen on
the next call; parsed releases are kept for the last revision, so an unchanged commit is not parsed again.
A URL is read through a bare mirror in ``cache_dir`` (cloned once, fetched on every call); a local
repository is read in place at the ref, not its work tree; a local folder that is not the root of a
repository is read as plain files.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from controlplane.domain.manifest import Release, load_release
from controlplane.errors import ControlPlaneError, InvalidManifest, NotFound, PermanentError, TransientError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
GIT_TIMEOUT_SECONDS = 300
_SCP_URL = re.compile(r"^[\w.-]+@[\w.-]+:")  # git@github.com:org/repo.git
_CREDENTIALS = re.compile(r"//[^/@]+@")
_AUTH_FAILED = re.compile(r"permission denied|authentication failed|could not read (user|pass)|error: 40[13]", re.I)
_MISSING = re.compile(r"not found|does not appear to be a git repository|does not exist|error: 404", re.I)
_NETWORK = re.compile(
    r"could not resolve|timed out|connection (refused|reset|closed)|unable to access|early eof|hung up"
    r"|rpc failed|could not read from remote|temporar|error: 5\d\d|HTTP 5\d\d",
    re.I,
)


@dataclass(frozen=True)
class _Snapshot:
    """A revision and how to read its manifest files (``(path, bytes)``), only called on a cache miss."""

    revision: str
    files: Callable[[], list[tuple[str, bytes]]]


class GitDesiredState:
    """The DesiredState port over Git manifests; also lists ``environments()`` for the drift loop."""

    def __init__(self, source: str, ref: str = "HEAD", path: str = "", cache_dir: Path | None = None) -> None:
        self._source = source
        self._ref = ref
        self._path = _relative_folder(path)
        self._cache_dir = cache_dir
        self._shown = _CREDENTIALS.sub("//***@", source)  # never put a token from the URL in a message
        self._lock = threading.Lock()
        self._parsed: tuple[str, tuple[Release, ...]] | None = None

    def releases(self, environment: str) -> list[Release]:
        """The releases of ``environment`` at the ref as it is now, in file-path order ([] if none)."""
        return [release for release in self._read()[1] if release.spec.environment.name == environment]

    def environments(self) -> list[str]:
        """The sorted, distinct environment names of all releases at the ref as it is now."""
        return sorted({release.spec.environment.name for release in self._read()[1]})

    def revision(self) -> str:
        """The commit the ref names now (a plain folder: ``sha256:`` hash of its manifests); parsed and kept."""
        return self._read()[0]

    # -- reading -----------------------------------------------------------------------------------------------
    def _read(self) -> tuple[str, tuple[Release, ...]]:
        with self._lock:
            snapshot = self._snapshot()
            if self._parsed is None or self._parsed[0] != snapshot.revision:
                files = sorted(snapshot.files())
                self._parsed = (snapshot.revision, tuple(self._load(name, data, snapshot) for name, data in files))
            return self._parsed

    def _load(self, name: str, data: bytes, snapshot: _Snapshot) -> Release:
        try:
            return load_release(data, source=name)
        except InvalidManifest as error:
            error.args = (f"{name} in {self._shown} at {snapshot.revision[:19]}: {error}",)
            raise

    def _snapshot(self) -> _Snapshot:
        if "://" in self._source or _SCP_URL.match(self._source):
            return self._git_snapshot(self._mirror())
        local = Path(self._source).expanduser()
        if not local.is_dir():
            raise NotFound(f"desired state {self._shown}: no such repository or folder (check the source)")
        if (local / ".git").exists() or self._is_bare_repository(local):
            return self._git_snapshot(local)
        return self._folder_snapshot(local)

    def _folder_snapshot(self, folder: Path) -> _Snapshot:
        root = folder / self._path
        if not root.is_dir():
            raise NotFound(f'desired state {self._shown}: no folder "{self._path}" (check the path)')
        names = [path.relative_to(folder).as_posix() for path in root.rglob("*") if path.is_file()]
        files = [(name, (folder / name).read_bytes()) for name in sorted(filter(self._is_manifest, names))]
        digest = hashlib.sha256()
        for name, data in files:
            digest.update(f"{name}\0{len(data)}\0".encode())
            digest.update(data)
        return _Snapshot(f"sha256:{digest.hexdigest()}", lambda: files)

    def _git_snapshot(self, repository: Path) -> _Snapshot:
        commit = self._resolve(repository)
        return _Snapshot(commit, lambda: self._git_files(repository, commit))

    def _resolve(self, repository: Path) -> str:
        commit = self._verify(repository, f"{self._ref}^{{commit}}")
        if commit is None:
            raise NotFound(f'desired state {self._shown}: ref "{self._ref}" does not name a commit (check the ref)')
        return commit

    def _git_files(self, repository: Path, commit: str) -> list[tuple[str, bytes]]:
        if self._path and self._verify(repository, f"{commit}:{self._path}") is None:
            raise NotFound(f'desired state {self._shown} at {self._ref}: no folder "{self._path}" (check the path)')
        pathspec = [self._path] if self._path else []
        listing = self._git(repository, "ls-tree", "-r", "-z", "--full-tree", commit, "--", *pathspec)
        blobs: dict[str, str] = {}
        for entry in filter(None, listing.decode().split("\0")):
            meta, name = entry.split("\t", 1)
            mode, kind, oid = meta.split()
            if kind == "blob" and mode != "120000" and self._is_manifest(name):  # 120000: a symbolic link
                blobs[name] = oid
        return list(zip(blobs, self._read_blobs(repository, list(blobs.values())), strict=True))

    def _read_blobs(self, repository: Path, oids: Sequence[str]) -> list[bytes]:
        """Contents of ``oids`` from one ``git cat-file --batch``: ``<oid> blob <size>\\n<bytes>\\n`` each."""
        if not oids:
            return []
        output = self._git(repository, "cat-file", "--batch", stdin="".join(f"{oid}\n" for oid in oids).encode())
        contents, at = [], 0
        for _ in oids:
            header_end = output.index(b"\n", at)
            size = int(output[at:header_end].split()[2])
            contents.append(output[header_end + 1 : header_end + 1 + size])
            at = header_end + 1 + size + 1
        return contents

    def _is_manifest(self, name: str) -> bool:
        """A manifest suffix, and no hidden file or folder below ``path`` (``.github/workflows/ci.yml``)."""
        path = PurePosixPath(name)
        below = path.relative_to(self._path) if self._path else path
        return path.suffix in MANIFEST_SUFFIXES and not any(part.startswith(".") for part in below.parts)

    # -- the mirror of a URL -----------------------------------------------------------------------------------
    def _mirror(self) -> Path:
        cache = self._cache_dir or Path(tempfile.gettempdir()) / "controlplane-desired-state"
        mirror = cache / f"{hashlib.sha256(self._source.encode()).hexdigest()[:24]}.git"
        if mirror.is_dir():
            self._git(mirror, "fetch", "--prune", "--quiet", network=True)
        else:
            self._clone(mirror)
        return mirror

    def _clone(self, mirror: Path) -> None:
        """Clone beside ``mirror`` and rename into place, so a concurrent reader never sees half a clone."""
        mirror.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".clone-", dir=mirror.parent))
        try:
            self._git(None, "clone", "--mirror", "--quiet", "--", self._source, str(staging / "repo"), network=True)
            try:
                (staging / "repo").rename(mirror)
            except OSError:
                if not mirror.is_dir():  # else another reader cloned it first, which is as good
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    # -- running git -------------------------------------------------------------------------------------------
    def _is_bare_repository(self, folder: Path) -> bool:
        done = self._run(folder, "rev-parse", "--absolute-git-dir")
        return done.returncode == 0 and Path(done.stdout.decode().strip()) == folder.resolve()

    def _verify(self, repository: Path, revision: str) -> str | None:
        """The object id ``revision`` names, or None if there is none; other git failures raise."""
        done = self._run(repository, "rev-parse", "--verify", "--quiet", "--end-of-options", revision)
        if done.returncode == 1 and not done.stderr.strip():  # --quiet: a missing object is a silent exit 1
            return None
        if done.returncode != 0:
            raise self._failure("rev-parse", done.stderr.decode(errors="replace").strip(), network=False)
        return done.stdout.decode().strip()

    def _git(self, cwd: Path | None, *args: str, stdin: bytes | None = None, network: bool = False) -> bytes:
        done = self._run(cwd, *args, stdin=stdin)
        if done.returncode != 0:
            raise self._failure(args[0], done.stderr.decode(errors="replace").strip(), network)
        return done.stdout

    def _run(self, cwd: Path | None, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        command = ["git", "--literal-pathspecs", *(["-C", str(cwd)] if cwd else []), *args]
        try:
            return subprocess.run(
                command, input=stdin, capture_output=True, timeout=GIT_TIMEOUT_SECONDS, env=_git_environment()
            )
        except subprocess.TimeoutExpired:
            raise TransientError(f"desired state {self._shown}: git {args[0]} timed out; retry later") from None
        except FileNotFoundError:
            raise PermanentError("git is not installed or not on PATH; install git to read desired state") from None

    def _failure(self, operation: str, stderr: str, network: bool) -> ControlPlaneError:
        first_line = _CREDENTIALS.sub("//***@", stderr.partition("\n")[0])
        message = f"desired state {self._shown} (ref {self._ref}): git {operation} failed: {first_line}"
        if network and _AUTH_FAILED.search(stderr):
            return PermanentError(f"{message} (check the credentials for the repository)")
        if network and _MISSING.search(stderr):
            return NotFound(f"{message} (check the source URL)")
        if network and _NETWORK.search(stderr):
            return TransientError(message)
        return PermanentError(message)


def _git_environment() -> dict[str, str]:
    """The caller's environment without repository overrides, never prompting, messages in English."""
    environment = {key: value for key, value in os.environ.items() if key not in ("GIT_DIR", "GIT_WORK_TREE")}
    return {**environment, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


def _relative_folder(path: str) -> str:
    """``path`` as git names it: no leading, trailing or ``./`` slashes; ``""`` for the root."""
    normalized = PurePosixPath(path.strip("/")).as_posix()
    return "" if normalized == "." else normalized
