"""Release waves in the deployment orchestrator: the services of a release roll out in dependency order
(``dependsOn``, layered by ``controlplane.domain.rollout.waves``), each wave gated whole before the next starts.

Within a wave, every service runs its plan's steps up to its last gate, then every service runs its last gate
(what a release without ``dependsOn`` always did: it is one wave). What follows the last gate (the traffic
switch of blue-green, retiring the stable revision) waits for promotion, which takes every service of the
release together: until then each wave's stable revisions keep running, so a failure in a later wave can
still put every service back on its stable revision. The progress deadline (``progressDeadlineSeconds``) runs
from the start of the rollout over every wave, as it runs over every service of a release without waves.

A release of more than one wave announces each wave (RuntimeReleaseWaveStarted, with the services of the
earlier waves it waited for) and its end (RuntimeReleaseWaveCompleted, passed or failed); a single wave
emits neither, so a release without ``dependsOn`` has the events it always had.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from controlplane.domain.gate_events import wave_completed, wave_started
from controlplane.domain.manifest import Release
from controlplane.domain.rollout import RunHealthGate, Step, plan_rollout
from controlplane.domain.rollout.target import Target
from controlplane.domain.rollout.waves import waves
from orchestrators.flow import Flow, Task

WaveRunner = Callable[[list[Target], bool], Task]


@dataclass(frozen=True)
class ServicePlan:
    """A service's rollout plan cut at its last gate: the steps before it (RollingOut), the last gate and its
    number among the plan's gates (from 1; HealthGating in the last wave), the steps after it (Promoting)."""

    steps: list[Step]
    last_gate: RunHealthGate | None
    last_gate_number: int
    after: list[Step]

    @classmethod
    def of(cls, release: Release, target: Target) -> ServicePlan:
        compute = release.spec.environment.compute
        plan = plan_rollout(release.spec.strategy, target.desired, target.stable_replicas, compute)
        gates = [(index, step) for index, step in enumerate(plan) if isinstance(step, RunHealthGate)]
        if not gates:
            return cls(plan, None, 0, [])
        index, last = gates[-1]
        return cls(plan[:index], last, len(gates), plan[index + 1 :])


def in_waves(release: Release, targets: Sequence[Target]) -> list[list[Target]]:
    """The targets wave by wave, in manifest order within a wave."""
    by_service = {target.service: target for target in targets}
    layers = waves({service.name: service.depends_on for service in release.spec.services})
    return [[by_service[name] for name in layer] for layer in layers]


def roll_out_in_waves(flow: Flow, targets: Sequence[Target], roll_out_wave: WaveRunner) -> Task:
    """Run ``roll_out_wave(wave, last)`` for each wave in order until one fails; that failure, or None."""
    layers = in_waves(flow.release, targets)
    if len(layers) == 1:
        return (yield from roll_out_wave(layers[0], True))
    earlier: list[str] = []
    for number, wave in enumerate(layers, start=1):
        services = [target.service for target in wave]
        yield from flow.emit(wave_started(number, len(layers), services, earlier))
        failure = yield from roll_out_wave(wave, number == len(layers))
        yield from flow.emit(wave_completed(number, len(layers), services, "failed" if failure else "passed"))
        if failure:
            return failure
        earlier.extend(services)
    return None
