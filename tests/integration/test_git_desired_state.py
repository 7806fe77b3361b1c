"""GitDesiredState against real git repositories: local, bare, a file:// URL through a mirror, a plain folder."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from controlplane.adapters.git.desired_state import GitDesiredState
from controlplane.domain.manifest import Release
from controlplane.errors import InvalidManifest, NotFound, TransientError
from tests.contracts.desired_state import EXAMPLES, DesiredStateContract, Publish, example, manifest_files

IDENTITY = ("-c", "user.name=Tests", "-c", "user.email=tests@example.com", "-c", "commit.gpgsign=false")


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *IDENTITY, "-C", str(cwd), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


class Repo:
    """A working repository that tests commit manifests to (and push, when it has an ``origin``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True)
        git(root, "init", "--quiet", "--initial-branch=main")
        self.commit({"README.md": "desired state\n"})

    def commit(self, files: Mapping[str, str], *, replace: str | None = None) -> str:
        """Write ``files`` (after removing folder ``replace``) and commit everything; returns the commit."""
        if replace:
            shutil.rmtree(self.root / replace, ignore_errors=True)
        for name, text in files.items():
            (self.root / name).parent.mkdir(parents=True, exist_ok=True)
            (self.root / name).write_text(text)
        git(self.root, "add", "--all")
        git(self.root, "commit", "--quiet", "--allow-empty", "--message", "change")
        return git(self.root, "rev-parse", "HEAD")

    def publish(self, releases: Sequence[Release], folder: str = "releases") -> str:
        """Commit ``releases`` as the folder's only manifests; ``.gitkeep`` keeps the folder when there are none."""
        files = {f"{folder}/{name}": text for name, text in manifest_files(releases).items()}
        return self.commit({f"{folder}/.gitkeep": "", **files}, replace=folder)


def bare_remote_of(repo: Repo, remote: Path) -> Path:
    """A bare repository that ``repo`` pushes to as ``origin``."""
    git(remote.parent, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    git(repo.root, "remote", "add", "origin", str(remote))
    git(repo.root, "push", "--quiet", "origin", "main")
    return remote


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


class TestLocalRepository(DesiredStateContract):
    @pytest.fixture
    def desired(self, repo: Repo) -> GitDesiredState:
        return GitDesiredState(str(repo.root), path="releases")

    @pytest.fixture
    def publish(self, repo: Repo) -> Publish:
        return repo.publish


class TestUrlMirror(DesiredStateContract):
    @pytest.fixture
    def desired(self, repo: Repo, tmp_path: Path) -> GitDesiredState:
        remote = bare_remote_of(repo, tmp_path / "remote.git")
        return GitDesiredState(remote.as_uri(), path="releases", cache_dir=tmp_path / "cache")

    @pytest.fixture
    def publish(self, repo: Repo, desired: GitDesiredState) -> Publish:
        def publish(releases: Sequence[Release]) -> None:
            repo.publish(releases)
            git(repo.root, "push", "--quiet", "origin", "main")

        return publish


class TestPlainFolder(DesiredStateContract):
    @pytest.fixture
    def desired(self, tmp_path: Path) -> GitDesiredState:
        (tmp_path / "folder").mkdir()
        return GitDesiredState(str(tmp_path / "folder"))

    @pytest.fixture
    def publish(self, tmp_path: Path) -> Publish:
        def publish(releases: Sequence[Release]) -> None:
            for old in (tmp_path / "folder").iterdir():
                old.unlink()
            for name, text in manifest_files(releases).items():
                (tmp_path / "folder" / name).write_text(text)

        return publish


def test_a_new_commit_is_seen_on_the_next_call(repo: Repo) -> None:
    desired = GitDesiredState(str(repo.root), path="releases")
    repo.publish([example()])
    assert desired.releases("dev") == [example()]
    commit = repo.publish([example("v2-canary")])
    assert desired.releases("dev") == [example("v2-canary")]
    assert desired.revision() == commit


@pytest.mark.parametrize("ref", ["v1", "stable"])
def test_a_pinned_tag_or_branch_ignores_newer_commits(repo: Repo, ref: str) -> None:
    pinned = repo.publish([example()])
    git(repo.root, "tag", "v1")
    git(repo.root, "branch", "stable")
    repo.publish([example("v2-canary")])
    desired = GitDesiredState(str(repo.root), ref=ref, path="releases")
    assert (desired.releases("dev"), desired.revision()) == ([example()], pinned)
    assert GitDesiredState(str(repo.root), path="releases").releases("dev") == [example("v2-canary")]


def test_an_unchanged_commit_is_not_parsed_again(repo: Repo) -> None:
    desired = GitDesiredState(str(repo.root), path="releases")
    repo.publish([example()])
    [first] = desired.releases("dev")
    assert desired.releases("dev")[0] is first
    repo.publish([example()])  # a new commit with the same content is read again
    assert desired.releases("dev")[0] is not first


@pytest.mark.parametrize("invalid", ["bad-dns-name.yaml", "unknown-field.json"])
def test_an_invalid_manifest_names_the_file_and_the_fields(repo: Repo, invalid: str) -> None:
    repo.commit({"releases/00-good.yaml": (EXAMPLES / "v1-rolling.yaml").read_text()})
    repo.commit({f"releases/10-{invalid}": (EXAMPLES / "invalid" / invalid).read_text()})
    with pytest.raises(InvalidManifest, match=re.escape(f"releases/10-{invalid} in {repo.root}")) as caught:
        GitDesiredState(str(repo.root), path="releases").environments()
    assert "metadata." in {error.path[:9] for error in caught.value.errors}


def test_only_visible_manifests_under_the_path_are_read(repo: Repo) -> None:
    repo.commit(
        {
            ".github/workflows/ci.yml": "on: push\n",
            "releases/.drafts/next.yaml": "not: a release\n",
            "releases/NOTES.md": "notes\n",
            "other/not-a-release.yaml": "kind: Something\n",
        }
    )
    repo.commit({"releases/dev/orders.yaml": (EXAMPLES / "v1-rolling.yaml").read_text()})
    assert GitDesiredState(str(repo.root), path="./releases/").releases("dev") == [example()]
    with pytest.raises(InvalidManifest, match=r"other/not-a-release\.yaml"):
        GitDesiredState(str(repo.root)).releases("dev")


def test_a_missing_ref_path_or_source_raises_not_found(repo: Repo, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=re.escape(f'{repo.root}: ref "no-such-branch" does not name a commit')):
        GitDesiredState(str(repo.root), ref="no-such-branch").releases("dev")
    with pytest.raises(NotFound, match='no folder "releases"'):
        GitDesiredState(str(repo.root), path="releases").releases("dev")
    with pytest.raises(NotFound, match="missing"):
        GitDesiredState(str(tmp_path / "missing")).releases("dev")
    git(tmp_path, "init", "--quiet", "empty")
    with pytest.raises(NotFound, match='ref "HEAD" does not name a commit'):
        GitDesiredState(str(tmp_path / "empty")).revision()
    with pytest.raises(NotFound, match=r"missing\.git"):
        GitDesiredState((tmp_path / "missing.git").as_uri(), cache_dir=tmp_path / "cache").releases("dev")


def test_url_mode_clones_one_mirror_and_fetches_pushed_commits(repo: Repo, tmp_path: Path) -> None:
    remote = bare_remote_of(repo, tmp_path / "remote.git")
    repo.publish([example()])
    git(repo.root, "push", "--quiet", "origin", "main")
    cache = tmp_path / "cache"
    assert GitDesiredState(remote.as_uri(), path="releases", cache_dir=cache).releases("dev") == [example()]
    [mirror] = cache.iterdir()
    assert git(mirror, "rev-parse", "--is-bare-repository") == "true"
    pushed = repo.publish([example("v2-canary")])
    git(repo.root, "push", "--quiet", "origin", "main")
    desired = GitDesiredState(remote.as_uri(), path="releases", cache_dir=cache)
    assert (desired.releases("dev"), desired.revision()) == ([example("v2-canary")], pushed)
    assert list(cache.iterdir()) == [mirror]


def test_a_bare_repository_is_read_in_place(repo: Repo, tmp_path: Path) -> None:
    remote = bare_remote_of(repo, tmp_path / "remote.git")
    commit = repo.publish([example()])
    git(repo.root, "push", "--quiet", "origin", "main")
    desired = GitDesiredState(str(remote), path="releases")
    assert (desired.releases("dev"), desired.revision()) == ([example()], commit)


def test_a_folder_inside_a_repository_is_read_as_a_plain_folder(repo: Repo) -> None:
    (repo.root / "desired").mkdir()
    (repo.root / "desired" / "orders.yaml").write_text((EXAMPLES / "v1-rolling.yaml").read_text())  # uncommitted
    desired = GitDesiredState(str(repo.root / "desired"))
    assert desired.releases("dev") == [example()]
    assert desired.revision().startswith("sha256:")


def test_an_unreachable_url_is_transient_and_its_credentials_stay_hidden(tmp_path: Path) -> None:
    desired = GitDesiredState("https://deployer:s3cret@127.0.0.1:1/desired.git", cache_dir=tmp_path / "cache")
    with pytest.raises(TransientError) as caught:
        desired.releases("dev")
    assert "s3cret" not in str(caught.value)
    assert "https://***@127.0.0.1:1/desired.git" in str(caught.value)
