"""Local workloads that no record accounts for: found at start-up and reaped, never left running as orphans.

Two records account for a local workload, and a crash can leave either one behind what runs:

- **The compute's state file** names each replica process (pid, kernel start time). A replica is recorded
  right after it starts, so a crash in between, a state file moved aside, or a replica leader that died
  while its children live, leaves processes no record names. Every replica's environment carries
  ``OWNER=<compute root>`` (``processes.OWNER``), inherited by its children, so ``unrecorded`` finds them
  in ``/proc/<pid>/environ`` (readable for our own processes only); those whose process group is not a
  recorded live replica's are reaped (SIGTERM, SIGKILL after the stop timeout).
- **The deployment records** account for each managed revision (``<service>--<id>`` is deployment
  ``dep-<id>``'s, ``domain.rollout.target``). On a machine crash Azurite can lose the last seconds of
  writes while the compute's state file (fsynced) keeps the revisions they started; the next start would
  bring those revisions back with no deployment to finish or roll them back. ``reap_unowned_revisions``
  removes such a revision, unless it serves traffic: a revision serving users is kept and reported (the drift
  loop and the operator see it; cutting live traffic on a guess would be worse than the orphan).

Every decision is logged with the process or revision it concerns. Like Kubernetes' garbage collector for
objects whose owner is gone, but run once at start-up, when nothing else can be acting on them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from pathlib import Path
from typing import Protocol

from controlplane.adapters.local.processes import OWNER
from controlplane.domain.rollout.target import deployment_of
from controlplane.errors import NotFound
from controlplane.ports import Deployments
from funchost.process_identity import command_line, process_start_time

logger = logging.getLogger(__name__)


class RevisionRemover(Protocol):
    """What ``reap_unowned_revisions`` needs of the local compute."""

    def managed_revisions(self) -> list[tuple[str, str, str, int]]:
        """(environment, service, revision, traffic percent) of each managed revision."""
        ...

    def remove_revision(self, environment: str, service: str, revision: str) -> None:
        """Stop every replica and forget the revision; no-op if gone."""
        ...


def unrecorded(owner: Path, accounted_groups: set[int]) -> list[int]:
    """Live processes started for the compute at ``owner`` (or by its replicas) outside every process group in
    ``accounted_groups`` (the recorded live replicas, each the leader of its own group)."""
    marker = f"{OWNER}={owner.resolve()}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environment = (entry / "environ").read_bytes()
            group = os.getpgid(int(entry.name))
        except (OSError, ProcessLookupError):
            continue  # gone, or not ours to read
        if marker in environment.split(b"\0") and group not in accounted_groups:
            found.append(int(entry.name))
    return [pid for pid in found if process_start_time(pid) is not None]


def reap(pids: list[int], timeout: float) -> None:
    """SIGTERM each process, SIGKILL those still there after ``timeout`` seconds; wait until all are gone."""
    started = {pid: process_start_time(pid) for pid in pids}
    for pid in pids:
        logger.warning("reaping pid %d (%s): a local workload process no record accounts for", pid, _shown(pid))
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(started) and time.monotonic() < deadline:
        time.sleep(0.02)
    for pid in _alive(started):
        _signal(pid, signal.SIGKILL)
    while _alive(started):
        time.sleep(0.01)
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # started by this very process before a restart within it


def reap_unowned_revisions(compute: RevisionRemover, deployments: Deployments) -> None:
    """Remove each managed revision whose deployment has no record and that serves no traffic; keep and
    report one that serves traffic. Revisions of recorded deployments are adopted as they are."""
    for environment, service, revision, traffic in compute.managed_revisions():
        owner = deployment_of(revision)
        if owner is None:
            continue  # not a deployment's revision name: nothing can say it is an orphan
        try:
            deployments.get_deployment(owner)
        except NotFound:
            if traffic:
                logger.warning(
                    "%s/%s revision %s serves %d%% of traffic but deployment %s has no record: kept; "
                    "deploy the service again or remove the revision once its traffic moved",
                    environment,
                    service,
                    revision,
                    traffic,
                    owner,
                )
                continue
            logger.warning(
                "%s/%s revision %s: deployment %s has no record (lost before a crash); removing it",
                environment,
                service,
                revision,
                owner,
            )
            compute.remove_revision(environment, service, revision)
            continue
        logger.info("%s/%s revision %s: adopted (deployment %s)", environment, service, revision, owner)


def _alive(started: dict[int, int | None]) -> list[int]:
    return [pid for pid, start_time in started.items() if process_start_time(pid) == start_time]


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def _shown(pid: int) -> str:
    return " ".join(command_line(pid))[:200] or "gone"
