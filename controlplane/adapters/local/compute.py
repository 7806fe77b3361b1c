"""Local compute: every replica of a revision is a real local process behind the local traffic router.

A replica is ``command_for(spec.image)`` in its own process group (session), with ``PORT``, ``SERVICE_NAME``,
``SERVICE_VERSION`` (the image tag), ``REVISION``, ``REPLICA``, the RuntimeConfiguration and, per secret
binding, ``<NAME>_SECRET_URI`` (the Key Vault reference, never a value). Output goes to
``<root>/<env>/<service>/<revision>-<replica>.log``.

Crash safety: ``state_file`` records each wanted revision (spec, replica count) and each process (pid,
kernel start time, port). A desired change is recorded before it is acted on, so after a crash a new
instance over the same file can finish the job: it adopts recorded processes that still run (same pid
and start time), restarts the replicas whose process is gone, and reaps processes no longer wanted and
those of this compute that no record names (``orphans``).
Linux only (reads ``/proc/<pid>/stat``).

Out-of-band edits (``local_out_of_band``) change what runs behind the control plane's back, as
``kubectl set image`` or a workload someone else started would: they are applied when an instance starts
and whenever it takes inventory, and inventory reports workloads we did not create as unmanaged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from controlplane.adapters.local.orphans import reap, unrecorded
from controlplane.adapters.local.out_of_band import apply_pending, check_owner
from controlplane.adapters.local.processes import (
    Replica,
    alive,
    describe,
    start_replica,
    stop_replica,
    wait_ready,
)
from controlplane.adapters.local.router import LocalRouter
from controlplane.adapters.local.state_files import read_state
from controlplane.domain.manifest.service import ScalingPolicy
from controlplane.domain.runtime import LiveWorkload, RevisionSpec, check_revision_unchanged
from controlplane.domain.traffic import check_weights
from controlplane.errors import NotFound, PermanentError
from funchost.private_files import write_json_atomically

logger = logging.getLogger(__name__)

CommandFor = Callable[[str], list[str]]
"""Image reference → the command that runs it locally (the image catalog)."""
_Key = tuple[str, str, str]


@dataclass
class _Revision:
    spec: RevisionSpec
    replicas: int  # wanted; 0 keeps the revision restorable
    running: dict[int, Replica] = field(default_factory=dict)
    removed: bool = False  # recorded before its processes stop, so a crash mid-removal is finished on restart
    managed: bool = True  # False: started out of band; never routed traffic


class LocalCompute:
    """The Compute port over local processes and a ``LocalRouter``. Thread-safe."""

    def __init__(
        self,
        root: Path,
        command_for: CommandFor,
        router: LocalRouter,
        state_file: Path,
        start_timeout: float = 20.0,
        stop_timeout: float = 5.0,
    ) -> None:
        self._root = root
        self._command_for = command_for
        self._router = router
        self._state_file = state_file
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._lock = threading.RLock()
        self._revisions: dict[_Key, _Revision] = {}
        self._recover()

    # -- the Compute port ------------------------------------------------------------------------------------
    def deploy_revision(self, spec: RevisionSpec) -> None:
        """Run ``spec.replicas`` replicas of the revision (registered with no traffic). Idempotent; a revision
        scaled to zero is restored; a different image or configuration under the same name is refused."""
        self._run(spec, managed=True)

    def _run(self, spec: RevisionSpec, managed: bool) -> None:
        if spec.replicas < 0:
            raise PermanentError(f"{spec.environment}/{spec.service}/{spec.revision}: replicas must be >= 0")
        with self._lock:
            existing = self._revisions.get(_key(spec))
            if existing is not None:
                check_owner(existing.spec, existing.managed, wanted=managed)
                check_revision_unchanged(existing.spec, spec)
            revision = existing or _Revision(spec, spec.replicas, managed=managed)
            revision.replicas = spec.replicas
            self._revisions[_key(spec)] = revision
            self._save()
            try:
                self._converge(revision)
            except PermanentError:
                if existing is None:  # a failed first start leaves nothing behind, so a retry starts afresh
                    self._stop_all(revision)
                    del self._revisions[_key(spec)]
                    self._save()
                raise

    def set_traffic(self, environment: str, service: str, weights: dict[str, int]) -> None:
        """Route the service's port by these weights (sum 100); revisions not named get none."""
        check_weights(environment, service, weights)
        with self._lock:
            for name in weights:
                self._managed(environment, service, name)
            self._router.set_weights(environment, service, weights)

    def set_preview(self, environment: str, service: str, revision: str | None) -> None:
        """Send the service's preview port to ``revision`` (blue-green), or nowhere."""
        with self._lock:
            if revision is not None:
                self._managed(environment, service, revision)
            self._router.set_preview(environment, service, revision)

    def scale(self, environment: str, service: str, revision: str, replicas: int) -> None:
        """Start or stop replicas (highest index first) to reach ``replicas``; 0 keeps the spec restorable."""
        if replicas < 0:
            raise PermanentError(f"{environment}/{service}/{revision}: replicas must be >= 0 (got {replicas})")
        with self._lock:
            wanted = self._revision(environment, service, revision)
            wanted.replicas = replicas
            self._save()
            self._converge(wanted)

    def remove_revision(self, environment: str, service: str, revision: str) -> None:
        """Stop every replica and forget the revision (managed or not); refused while it still has traffic;
        no-op if gone."""
        with self._lock:
            wanted = self._revisions.get((environment, service, revision))
            if wanted is None:
                return
            weight = self._router.weights(environment, service).get(revision, 0)
            if weight:
                raise PermanentError(
                    f"{environment}/{service}: revision {revision} still receives {weight}% of traffic; "
                    "shift its traffic to another revision before removing it"
                )
            wanted.removed = True
            self._save()
            self._stop_all(wanted)
            self._router.remove_revision(environment, service, revision)
            del self._revisions[(environment, service, revision)]
            self._save()

    def inventory(self, environment: str) -> list[LiveWorkload]:
        """Every revision of the environment with its live replica count and traffic, after applying pending
        out-of-band edits; workloads started out of band are reported unmanaged."""
        with self._lock:
            apply_pending(self._root, self)
            found = []
            for (env, service, name), revision in sorted(self._revisions.items()):
                if env != environment or revision.removed:
                    continue
                live = [r for r in revision.running.values() if alive(r)]
                weight = self._router.weights(env, service).get(name, 0)
                spec = revision.spec
                found.append(
                    LiveWorkload(
                        env, service, name, spec.image, len(live), spec.config_hash(), weight, revision.managed
                    )
                )
            return found

    # -- out-of-band edits (see local_out_of_band) -------------------------------------------------------------
    def set_image(self, environment: str, service: str, revision: str, image: str) -> None:
        """Like ``kubectl set image``: restart the revision's replicas on ``image``; its name, traffic and
        configuration stay. Idempotent; an image the catalog cannot run changes nothing."""
        with self._lock:
            wanted = self._revision(environment, service, revision)
            if wanted.spec.image == image:
                return
            self._command_for(image)
            # Stopped while the old image is recorded: a crash now restarts the old one, then this runs again.
            self._stop_all(wanted)
            wanted.spec = replace(wanted.spec, image=image)
            self._save()
            self._converge(wanted)

    def run_unmanaged(self, spec: RevisionSpec) -> None:
        """Run a workload the control plane did not create: no traffic, unmanaged in inventory. Idempotent."""
        self._run(spec, managed=False)

    def remove_unmanaged(self, environment: str, service: str, name: str) -> None:
        """Stop and forget a workload the control plane did not create; no-op if gone; refused if managed."""
        with self._lock:
            found = self._revisions.get((environment, service, name))
            if found is not None:
                check_owner(found.spec, found.managed, wanted=False)
            self.remove_revision(environment, service, name)

    # -- local extras ----------------------------------------------------------------------------------------
    def endpoints(self, environment: str, service: str, revision: str) -> list[str]:
        """Base URLs of the revision's live replicas, by replica index (for the health probe)."""
        with self._lock:
            wanted = self._revision(environment, service, revision)
            return [r.url for _, r in sorted(wanted.running.items()) if alive(r)]

    def managed_revisions(self) -> list[tuple[str, str, str, int]]:
        """(environment, service, revision, traffic percent) of each managed revision, in name order."""
        with self._lock:
            return [
                (env, service, name, self._router.weights(env, service).get(name, 0))
                for (env, service, name), revision in sorted(self._revisions.items())
                if revision.managed and not revision.removed
            ]

    def pids(self, environment: str, service: str, revision: str) -> list[int]:
        """Process ids of the revision's replicas, by replica index."""
        with self._lock:
            return [r.pid for _, r in sorted(self._revision(environment, service, revision).running.items())]

    def shutdown(self) -> None:
        """Stop every process this instance runs. Revisions stay wanted, so the next instance restarts them."""
        with self._lock:
            for revision in self._revisions.values():
                self._stop_all(revision)
            self._save()

    # -- convergence -----------------------------------------------------------------------------------------
    def _converge(self, revision: _Revision) -> None:
        for index in sorted(revision.running, reverse=True):
            if index >= revision.replicas or not alive(revision.running[index]):
                stop_replica(revision.running.pop(index), self._stop_timeout)
                self._save()
        missing = [index for index in range(revision.replicas) if index not in revision.running]
        command = self._command_for(revision.spec.image)
        started = [
            start_replica(command, revision.spec, index, self._log_path(revision.spec, index), self._root)
            for index in missing
        ]
        revision.running.update((replica.index, replica) for replica in started)
        self._save()
        try:
            wait_ready(revision.spec, started, lambda index: self._log_path(revision.spec, index), self._start_timeout)
        except PermanentError:
            for replica in started:
                stop_replica(revision.running.pop(replica.index), self._stop_timeout)
            self._save()
            raise
        finally:
            self._register(revision)

    def _register(self, revision: _Revision) -> None:
        spec = revision.spec
        urls = [r.url for _, r in sorted(revision.running.items())]
        self._router.set_backends(spec.environment, spec.service, spec.revision, urls)

    def _stop_all(self, revision: _Revision) -> None:
        for index in sorted(revision.running, reverse=True):
            stop_replica(revision.running.pop(index), self._stop_timeout)
            self._save()
        self._register(revision)

    # -- persistence -----------------------------------------------------------------------------------------
    def _recover(self) -> None:
        """Adopt, restart or reap what the state file records (see the module docstring)."""
        for item in read_state(self._state_file, "revisions"):
            spec = _spec_from_record(item["spec"])
            revision = _Revision(spec, item["replicas"], removed=item.get("removed", False))
            revision.managed = item.get("managed", True)  # files written before out-of-band edits lack it
            records = [Replica(r["replica"], r["pid"], r["startTime"], r["port"]) for r in item["processes"]]
            revision.running = {r.index: r for r in records if alive(r)}
            self._revisions[_key(spec)] = revision
            if revision.removed:
                self._stop_all(revision)
                self._router.remove_revision(spec.environment, spec.service, spec.revision)
                del self._revisions[_key(spec)]
                continue
            adopted = sorted(index for index in revision.running if index < revision.replicas)
            logger.info("%s: adopted replicas %s of %s", describe(spec), adopted, revision.replicas)
            try:
                self._converge(revision)
            except PermanentError as error:
                logger.error("%s: cannot restore its replicas: %s", describe(spec), error)
        self._save()
        accounted = {replica.pid for revision in self._revisions.values() for replica in revision.running.values()}
        reap(unrecorded(self._root, accounted), self._stop_timeout)
        apply_pending(self._root, self)

    def _save(self) -> None:
        revisions = [
            {
                "spec": _spec_record(r.spec),
                "replicas": r.replicas,
                "removed": r.removed,
                "managed": r.managed,
                "processes": [replica.record() for _, replica in sorted(r.running.items())],
            }
            for r in self._revisions.values()
        ]
        write_json_atomically(self._state_file, {"revisions": revisions})

    def _log_path(self, spec: RevisionSpec, index: int) -> Path:
        return self._root / spec.environment / spec.service / f"{spec.revision}-{index}.log"

    def _revision(self, environment: str, service: str, revision: str) -> _Revision:
        found = self._revisions.get((environment, service, revision))
        if found is None or found.removed:
            raise NotFound(f"{environment}/{service}: no revision {revision}; deploy it first")
        return found

    def _managed(self, environment: str, service: str, revision: str) -> _Revision:
        found = self._revision(environment, service, revision)
        check_owner(found.spec, found.managed, wanted=True)
        return found


def _key(spec: RevisionSpec) -> _Key:
    return spec.environment, spec.service, spec.revision


def _spec_record(spec: RevisionSpec) -> dict[str, Any]:
    """The spec as the state file holds it: plain JSON, the scaling policy in its manifest (camelCase) form."""
    scaling = spec.scaling.model_dump(mode="json", by_alias=True) if spec.scaling is not None else None
    return {
        **vars(spec),
        "configuration": dict(spec.configuration),
        "secret_refs": dict(spec.secret_refs),
        "scaling": scaling,
    }


def _spec_from_record(record: dict[str, Any]) -> RevisionSpec:
    """The inverse of ``_spec_record``; files written before specs carried a policy lack ``scaling``."""
    scaling = record.get("scaling")
    policy = ScalingPolicy.model_validate(scaling) if scaling is not None else None
    return RevisionSpec(**{**record, "scaling": policy})
