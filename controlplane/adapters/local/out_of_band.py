"""Out-of-band edits of local compute: changes made behind the control plane's back, so drift can be seen.

In a cluster someone may ``kubectl set image`` on our deployment or start a workload we did not create;
the drift loop must notice both. Locally such an edit is a request file in ``<compute root>/out-of-band/``
named ``<nanoseconds since the epoch>-<uuid>.json``, so names sort in the order the requests were queued.
``LocalCompute`` applies the pending ones, oldest first, when it starts and whenever it takes inventory.

    action           | fields                                                    | in a cluster
    -----------------+-----------------------------------------------------------+--------------------------
    set-image        | environment, service, revision, image                     | kubectl set image
    run-unmanaged    | environment, service, name, image, replicas=1, port=8080  | kubectl create deployment
    remove-unmanaged | environment, service, name                                | kubectl delete deployment

A request is written to a temporary name and renamed, so a reader never sees half of one; it is deleted
once applied. Every action is idempotent, so a crash between applying and deleting only applies it again.
A request that cannot be applied (malformed, unknown revision, an image the catalog cannot run) is
logged and dropped: it describes a change that can never happen, and keeping it would retry it forever.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Protocol

from controlplane.domain.images import split_image
from controlplane.domain.manifest.fields import DNS_LABEL, PATTERN_HINTS, shown
from controlplane.domain.runtime import RevisionSpec
from controlplane.errors import ControlPlaneError, FieldError, InvalidInput, PermanentError
from funchost.private_files import write_json_atomically

logger = logging.getLogger(__name__)

DIRECTORY = "out-of-band"
MAX_REPLICAS = 1000  # as a release manifest allows
_NAME = re.compile(DNS_LABEL)


class InvalidOutOfBandRequest(InvalidInput):
    what = "out-of-band request"


@dataclass(frozen=True)
class SetImage:
    """Run a revision's replicas on another image, in place; it keeps its name, traffic and configuration."""

    action: ClassVar[str] = "set-image"
    environment: str
    service: str
    revision: str
    image: str

    def __str__(self) -> str:
        return f"{self.action} {self.environment}/{self.service} revision {self.revision} -> {self.image}"


@dataclass(frozen=True)
class RunUnmanaged:
    """Start a workload the control plane did not create; it is routed no traffic."""

    action: ClassVar[str] = "run-unmanaged"
    environment: str
    service: str
    name: str
    image: str
    replicas: int = 1
    port: int = 8080

    def __str__(self) -> str:
        return f"{self.action} {self.environment}/{self.service} {self.name} ({self.image}, {self.replicas} replica(s))"

    def spec(self) -> RevisionSpec:
        return RevisionSpec(
            self.environment, self.service, self.name, self.image, self.replicas, self.port, health_path="/health"
        )


@dataclass(frozen=True)
class RemoveUnmanaged:
    """Stop and forget a workload the control plane did not create."""

    action: ClassVar[str] = "remove-unmanaged"
    environment: str
    service: str
    name: str

    def __str__(self) -> str:
        return f"{self.action} {self.environment}/{self.service} {self.name}"


OutOfBandRequest = SetImage | RunUnmanaged | RemoveUnmanaged
ACTIONS: dict[str, type[OutOfBandRequest]] = {kind.action: kind for kind in (SetImage, RunUnmanaged, RemoveUnmanaged)}


class OutOfBandTarget(Protocol):
    """What applies out-of-band edits (``LocalCompute``)."""

    def set_image(self, environment: str, service: str, revision: str, image: str) -> None:
        """Restart the revision's replicas on ``image``; idempotent; NotFound if there is no such revision."""

    def run_unmanaged(self, spec: RevisionSpec) -> None:
        """Run ``spec`` as a workload the control plane did not create; idempotent."""

    def remove_unmanaged(self, environment: str, service: str, name: str) -> None:
        """Stop and forget an unmanaged workload; no-op if gone; a managed revision is refused."""


def check_owner(spec: RevisionSpec, managed: bool, wanted: bool) -> None:
    """Refuse to treat a managed revision as unmanaged or the other way round: they never share a name."""
    where = f"{spec.environment}/{spec.service}"
    if managed and not wanted:
        raise PermanentError(
            f"{where}: revision {spec.revision} was deployed by the control plane; out-of-band edits may only "
            "set its image: give an unmanaged workload another name"
        )
    if wanted and not managed:
        raise PermanentError(
            f"{where}: {spec.revision} is a workload the control plane did not create (unmanaged): it gets no "
            "traffic and no revision may take its name; remove it first (prune the drift)"
        )


def to_dict(request: OutOfBandRequest) -> dict[str, Any]:
    return {"action": request.action, **asdict(request)}


def parse_request(data: Any) -> OutOfBandRequest:
    """A request from its JSON form; ``InvalidOutOfBandRequest`` names every bad field."""
    if not isinstance(data, dict):
        raise InvalidOutOfBandRequest([FieldError("", f"expected a JSON object (got {shown(data)})")])
    action = data.get("action")
    kind = ACTIONS.get(action) if isinstance(action, str) else None
    if kind is None:
        reason = f"must be one of {', '.join(ACTIONS)} (got {shown(action)})"
        raise InvalidOutOfBandRequest([FieldError("action", reason)])
    errors, values = [], {}
    for field in fields(kind):
        if field.name not in data:
            if field.default is MISSING:
                errors.append(FieldError(field.name, f"required by {kind.action}"))
            continue
        problem = _CHECKS[field.name](data[field.name])
        if problem:
            errors.append(FieldError(field.name, f"{problem} (got {shown(data[field.name])})"))
        values[field.name] = data[field.name]
    known = {"action", *(field.name for field in fields(kind))}
    errors += [
        FieldError(name, f"unknown field of {kind.action}; it takes {', '.join(sorted(known))}")
        for name in sorted(set(data) - known)
    ]
    if errors:
        raise InvalidOutOfBandRequest(errors)
    return kind(**values)


def queue_request(compute_root: Path, request: OutOfBandRequest) -> Path:
    """Validate ``request`` and write it, atomically, as the newest pending request; returns its file."""
    parse_request(to_dict(request))
    path = compute_root / DIRECTORY / f"{time.time_ns():020d}-{uuid.uuid4().hex}.json"
    write_json_atomically(path, to_dict(request))
    return path


def pending_requests(compute_root: Path) -> list[Path]:
    """Request files not yet applied, oldest first (temporary files of writers are hidden: dot names)."""
    directory = compute_root / DIRECTORY
    return sorted(directory.glob("[!.]*.json")) if directory.is_dir() else []


def apply_pending(compute_root: Path, target: OutOfBandTarget) -> int:
    """Apply, then delete, each pending request, oldest first; one that fails is logged and dropped.

    Returns how many were applied.
    """
    applied = 0
    for path in pending_requests(compute_root):
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue  # another instance over the same root took it
        try:
            request = parse_request(json.loads(text))
            apply_request(target, request)
        except (ValueError, ControlPlaneError) as error:  # ValueError: not JSON (or not UTF-8)
            logger.error("out-of-band request %s dropped: %s", path, error)
        else:
            logger.info("out-of-band edit applied: %s", request)
            applied += 1
        path.unlink(missing_ok=True)
    return applied


def apply_request(target: OutOfBandTarget, request: OutOfBandRequest) -> None:
    """The one place that dispatches an out-of-band request to its action."""
    match request:
        case SetImage():
            target.set_image(request.environment, request.service, request.revision, request.image)
        case RunUnmanaged():
            target.run_unmanaged(request.spec())
        case RemoveUnmanaged():
            target.remove_unmanaged(request.environment, request.service, request.name)


def _check_name(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 63 or not _NAME.fullmatch(value):
        return PATTERN_HINTS[DNS_LABEL] + ", at most 63 characters"
    return None


def _check_image(value: Any) -> str | None:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return "must be an image reference such as registry/repository:tag"
    _, tag, digest = split_image(value)
    return None if tag or digest else "tag or digest required"


def _check_replicas(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_REPLICAS
    return None if ok else f"must be an integer from 0 to {MAX_REPLICAS}"


def _check_port(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535
    return None if ok else "must be a port number from 1 to 65535"


_CHECKS = {
    "environment": _check_name,
    "service": _check_name,
    "revision": _check_name,
    "name": _check_name,
    "image": _check_image,
    "replicas": _check_replicas,
    "port": _check_port,
}
