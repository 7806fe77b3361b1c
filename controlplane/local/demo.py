"""``make demo`` at the foundation stage: validate the example releases, then walk deployments through
the RuntimeDeployment state machine with the real Table store on Azurite and print every envelope.

This is a dry run of the workflow's bookkeeping: no workload is started and the health gate's verdict
for v3 comes from a recorded response of the sample workload (``examples/health``). The deployment
orchestrator that rolls real workloads out replaces the walk below.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from controlplane.bootstrap import build_state_store
from controlplane.config import Settings
from controlplane.domain import deployment_events
from controlplane.domain.deployment import Deployment, DeploymentState
from controlplane.domain.events import Envelope
from controlplane.domain.health import parse_health_response
from controlplane.domain.manifest import load_release
from controlplane.errors import IllegalTransition, InvalidManifest
from controlplane.local.azurite import PROJECT_ROOT, Azurite
from controlplane.ports import StateStore

EXAMPLES = PROJECT_ROOT / "examples"
SOURCE = "/runtime-control-plane/demo"
S = DeploymentState
HAPPY_PATH = [S.PROVISIONING, S.CONFIGURING, S.ROLLING_OUT, S.HEALTH_GATING, S.PROMOTING, S.COMPLETED]
GATE_FAILS = [S.PROVISIONING, S.CONFIGURING, S.ROLLING_OUT, S.HEALTH_GATING, S.ROLLING_BACK, S.ROLLED_BACK]


@dataclass(frozen=True)
class Walk:
    file: str
    deployment: Deployment
    events: list[Envelope]


def run_demo() -> int:
    print("Runtime control plane: foundation demo\n")
    with Azurite() as azurite:
        print(f"Azurite Table service started on 127.0.0.1:{azurite.port} (in memory, stopped at the end)\n")
        store = build_state_store(Settings.from_environment({"CONTROLPLANE_STORAGE": azurite.connection_string}))
        valid = _validate_examples()
        walks = [
            _walk(store, "v1-rolling.yaml", HAPPY_PATH, "dep-demo-1"),
            _walk(store, "v2-canary.yaml", HAPPY_PATH, "dep-demo-2"),
            _walk(store, "v3-unhealthy.yaml", GATE_FAILS, "dep-demo-3"),
        ]
        stored_ok = _check_store(store, walks)
        refused = _try_illegal_step(store, walks[0].deployment.id)
    expected = {
        "v1-rolling.yaml": S.COMPLETED,
        "v2-canary.yaml": S.COMPLETED,
        "v3-unhealthy.yaml": S.ROLLED_BACK,
    }
    _summary(walks, expected)
    ok = valid and stored_ok and refused and all(w.deployment.state is expected[w.file] for w in walks)
    print("\nDemo " + ("passed: every release ended as expected." if ok else "FAILED: see above."))
    return 0 if ok else 1


def _validate_examples() -> bool:
    print("1. Release manifests (python -m controlplane validate FILE)")
    all_as_expected = True
    for path in sorted((EXAMPLES / "releases").glob("*.yaml")):
        try:
            release = load_release(path.read_bytes(), source=path.name)
        except InvalidManifest as error:
            print(f"   INVALID {path.name}: {error}")
            all_as_expected = False
            continue
        spec = release.spec
        services = ", ".join(f"{s.name}={s.image.rsplit('/', 1)[-1]}" for s in spec.services)
        target = f"{spec.environment.name}/{spec.environment.tier}"
        print(f"   ok      {path.name:<20} {target:<12} {spec.strategy.type:<18} {services}")
    for path in sorted((EXAMPLES / "releases" / "invalid").glob("*.*")):
        if path.suffix not in {".yaml", ".json"}:
            continue
        try:
            load_release(path.read_bytes(), source=path.name)
        except InvalidManifest as error:
            print(f"   refused invalid/{path.name}: {error.errors[0]}")
        else:
            print(f"   ACCEPTED invalid/{path.name} (should have been refused)")
            all_as_expected = False
    print()
    return all_as_expected


def _walk(store: StateStore, file: str, path: list[DeploymentState], deployment_id: str) -> Walk:
    release = load_release((EXAMPLES / "releases" / file).read_bytes(), source=file)
    start = datetime.now(UTC).replace(microsecond=0)
    ids = (str(uuid.uuid5(uuid.NAMESPACE_URL, f"{deployment_id}/{step}")) for step in range(100))
    deployment = store.create_deployment(Deployment.request(deployment_id, release, uuid.uuid4().hex, start))
    events = [deployment_events.requested(deployment, event_id=next(ids), source=SOURCE)]
    print(f"2. Walk {file}: deployment {deployment_id}, traceid {deployment.traceid}")
    _print_event(start, events[0], "Requested")
    for second, target in enumerate(path, start=1):
        reason = _reason(file, target)
        deployment = store.update_deployment(
            deployment_id,
            lambda current, t=target, r=reason, s=second: current.advance(t, start + timedelta(seconds=s), r),
        )
        transition = deployment.transitions[-1]
        event = deployment_events.state_changed(
            deployment, transition, event_id=next(ids), source=SOURCE, causationid=events[-1].id
        )
        events.append(event)
        _print_event(start, event, f"{transition.source.value} -> {transition.target.value}  {reason}".rstrip())
    if deployment.state is S.COMPLETED:
        terminal = deployment_events.completed(deployment, event_id=next(ids), source=SOURCE, causationid=events[-1].id)
    else:
        terminal = deployment_events.rolled_back(
            deployment,
            reason=_reason(file, S.ROLLING_BACK),
            restored_deployment_id="dep-demo-2",
            event_id=next(ids),
            source=SOURCE,
            causationid=events[-1].id,
        )
    events.append(terminal)
    _print_event(start, terminal, deployment.state.value)
    print(
        f"   every event carries traceid {deployment.traceid}: {all(e.traceid == deployment.traceid for e in events)}\n"
    )
    return Walk(file, deployment, events)


def _reason(file: str, target: DeploymentState) -> str:
    if target is S.ROLLING_BACK:
        body = (EXAMPLES / "health" / "orders-3.0.0-unhealthy.json").read_bytes()
        report = parse_health_response(503, body, "application/json")
        return f"gate failed: {report.summary()}"
    return ""


def _print_event(start: datetime, event: Envelope, label: str) -> None:
    offset = (event.time - start).total_seconds()
    print(f"   +{offset:>4.0f}s  {event.type:<31} id {event.id[:8]}  {label}")


def _check_store(store: StateStore, walks: list[Walk]) -> bool:
    print("3. Read back from Table storage")
    ok = True
    for walk in walks:
        stored = store.get_deployment(walk.deployment.id)
        same = stored == walk.deployment
        ok &= same
        steps = " -> ".join(t.target.value for t in stored.transitions)
        print(f"   {stored.id}: {'matches' if same else 'DIFFERS'}: {steps}")
    print()
    return ok


def _try_illegal_step(store: StateStore, deployment_id: str) -> bool:
    print("4. An illegal transition is refused and changes nothing")
    before = store.get_deployment(deployment_id)
    try:
        store.update_deployment(deployment_id, lambda d: d.advance(S.ROLLING_OUT, datetime.now(UTC), "retry"))
    except IllegalTransition as error:
        unchanged = store.get_deployment(deployment_id) == before
        print(f"   refused: {error}; stored record unchanged: {unchanged}\n")
        return unchanged
    print("   ACCEPTED an illegal transition\n")
    return False


def _summary(walks: list[Walk], expected: dict[str, DeploymentState]) -> None:
    print(f"{'release':<20} {'deployment':<12} {'final state':<12} {'expected':<12} {'events':>6}  traceid")
    for walk in walks:
        d = walk.deployment
        states = f"{d.state.value:<12} {expected[walk.file].value:<12}"
        print(f"{walk.file:<20} {d.id:<12} {states} {len(walk.events):>6}  {d.traceid}")
