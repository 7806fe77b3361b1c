"""One deployment's orchestration as the deployment orchestrator walks it: stamped activity requests, the
state it last recorded, and the waits for an operator's signal.

A signal's payload is parsed where it arrives (``OperatorSignal.from_event``): anyone with the system key
can raise an event through the Durable webhook with any JSON, so a payload that does not parse is refused
(logged, outside replay) and the wait goes on: an approval is not granted, an abort does not abort. A
refused abort is ignored rather than taken as an abort, because "abort" from a sender who cannot say who
they are is exactly what the validation exists to keep out; the API refuses such a request with 400. A
signal that parses is judged again by the rules the API applied (``domain.approvals``: the Approver role,
four-eyes for prod), since the webhook bypasses the API: the refusal is logged and shown in the custom
status (``refused``), and the wait goes on.

A wait may have a deadline (``wait_for_decision(..., until=...)``): a durable timer races the signals, and the
decision says which came first (approved, aborted or timed-out), so a hold can apply its policy on timeout.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase, TaskState, TimerTask

from activities.deployment import emit_event, record_transition
from controlplane.domain import deployment_events
from controlplane.domain.access import Actor
from controlplane.domain.approvals import abort_refusal, approval_refusal
from controlplane.domain.deployment import DeploymentState
from controlplane.domain.event_catalog import EventData
from controlplane.domain.rollout.target import Target
from controlplane.domain.workflow.deployment_requests import DeploymentRequest, EmitRequest, Gating, TransitionRequest
from controlplane.domain.workflow.deployment_start import DeploymentStart
from controlplane.domain.workflow.signals import ABORT, APPROVE, InvalidSignal, OperatorSignal
from orchestrators.clock import StepClock

log = logging.getLogger(__name__)
STATUS_REASON_CHARS = 500  # of a reason in the custom status
_LOGGED_PAYLOAD_CHARS = 300
TERMINAL_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=1_000, max_number_of_attempts=5)
Task = Generator[Any, Any, Any]
Request = TypeVar("Request", bound=DeploymentRequest)
Resolution = Literal["approved", "aborted", "timed-out"]


@dataclass(frozen=True)
class Decision:
    """How a wait ended: an operator ``approved`` or ``aborted`` it (``actor``; ``reason`` is the abort's, e.g.
    "aborted by ana: wrong build"), or its time ran out first (``timed-out``: a pause's timer, or a deadline)."""

    resolution: Resolution
    actor: Actor | None = None
    reason: str = ""

    @property
    def abort(self) -> str | None:
        """The abort's reason, or None if it was not aborted."""
        return self.reason if self.resolution == "aborted" else None


class Flow:
    """Stamps every activity request with the deployment and trace ids, a deterministic time and event id;
    remembers the last state recorded, the targets once planned, and the operator signals not yet recorded."""

    def __init__(
        self, context: df.DurableOrchestrationContext, start: DeploymentStart, takes_signals: bool = True
    ) -> None:
        """``takes_signals``: False for a service's segment (orchestrators.service_rollout), which operators'
        signals never reach: its activities wait instead of its timers, so the segment stops when the release
        orchestration records a rollback."""
        self.context = context
        self.takes_signals = takes_signals
        self.start = start
        self.deployment_id = start.deployment_id
        self.traceid = start.trace_id
        self.release = start.release
        self.requested_by = start.requested_by
        self.four_eyes = start.four_eyes
        self.state = DeploymentState.REQUESTED
        self.targets: list[Target] = []
        self.promoted: list[str] = []  # services whose promotion is recorded in the catalog
        self._approvals: list[str] = []
        self._handed = 0  # approvals handed over to the activities that record HealthGating (``hand_over``)
        self._operator: Actor | None = None  # who approved or aborted since the last transition
        self.gates: dict[str, int] = {}  # per service, the gates run so far (each numbered from 1)
        # Time spent in metric analysis and inconclusive holds: the health gates' progress deadline does not count
        # it, since waiting for an operator or measuring a step's traffic is no lack of progress of the rollout.
        self.not_progressing = timedelta(0)
        self._abort: TaskBase | None = None  # the one open wait for an abort, shared by every wait (``_abort_wait``)
        self._clock = StepClock(context)

    def stamped(self, request: type[Request], **fields: Any) -> dict[str, Any]:
        """A ``request`` to an activity, on the wire (the time comes before the event id: replays repeat both)."""
        at = self._clock.next()
        stamp = request(self.deployment_id, self.traceid, at, self.context.new_uuid(), **fields)
        return stamp.to_dict()

    def move(
        self,
        state: DeploymentState,
        reason: str = "",
        closing: Sequence[EventData] = (),
        only_from: tuple[DeploymentState, ...] = (),
    ) -> Task:
        """Record the transition; its reason starts with the approvals given since the last one, and its actor
        is the operator whose approval or abort led to it (the last one, when several approved steps in a
        row: each approval has its own RuntimeDeploymentApproved). ``closing``: a terminal state's events,
        recorded with it in one activity (retried: the deployment must not stay terminal without them).
        ``only_from``: record it only from one of these states (else it is recorded already, or moot)."""
        reason = "; ".join([*self._approvals, reason] if reason else self._approvals)
        # The custom status must stay under the extension's 16 KB or the orchestration fails: the reason is cut
        # short there; the transition records all of it.
        self.context.set_custom_status({"state": state.value, "reason": _brief(reason)})
        request = self.stamped(
            TransitionRequest,
            to=state,
            reason=reason,
            closing=tuple(closing),
            actor=self._operator,
            only_from=only_from,
        )
        if closing:
            yield self.context.call_activity_with_retry(record_transition, TERMINAL_RETRY, request)
        else:
            yield self.context.call_activity(record_transition, request)
        self.state = state  # only once recorded: a failed record leaves the stored state where it was
        self._approvals.clear()
        self._operator = None

    def hand_over(self) -> Gating:
        """The HealthGating transition as ``move`` would record it now, for the gate activities that record it
        (``entered`` once they did): its reason holds the approvals given so far. When several gates may record
        it, the first to run does, with what it was handed; an approval given later goes to the next transition
        (each approval has its own RuntimeDeploymentApproved, whichever transition names it)."""
        self._handed = len(self._approvals)
        return Gating("; ".join(self._approvals), self._operator)

    def entered(self, state: DeploymentState) -> None:
        """``state`` was recorded by an activity, as ``hand_over`` said: approvals given since stay for the next
        transition."""
        self.context.set_custom_status({"state": state.value})
        self.state = state
        del self._approvals[: self._handed]
        self._handed = 0
        if not self._approvals:
            self._operator = None

    def emit(self, event: EventData) -> Task:
        yield self.context.call_activity(emit_event, self.stamped(EmitRequest, event=event))

    def wait(self, waiting: TaskBase, what: str = "", service: str | None = None) -> Task:
        """Wait for a timer or an approval of ``what`` (``waiting``) unless an operator aborts first: the
        abort's reason, or None. An approval is emitted (RuntimeDeploymentApproved) and recorded with the next
        transition. A signal that does not parse, or whose actor the rules refuse (``domain.approvals``), is
        refused and the wait goes on (``_accepted``)."""
        return (yield from self._decided(waiting, what, service, None)).abort

    def wait_for_approval(self, what: str, service: str | None = None) -> Task:
        """Announce the wait (RuntimeDeploymentApprovalRequested, which notifications pick up) and wait for an
        operator's approval of ``what`` (the custom status says it too); the abort's reason, or None."""
        return (yield from self.wait_for_decision(what, service)).abort

    def wait_for_decision(self, what: str, service: str | None = None, until: datetime | None = None) -> Task:
        """As ``wait_for_approval``, but with an optional deadline ``until`` (a durable timer racing the signals):
        the ``Decision``, timed-out if the deadline came first. The custom status shows the deadline while the
        wait lasts and drops the wait once decided."""
        environment = self.release.spec.environment.name
        announced = deployment_events.approval_requested(environment, what, service, self.requested_by, self.four_eyes)
        yield from self.emit(announced)
        status = {"for": what} | ({"service": service} if service else {})
        deadline = {"until": until.isoformat()} if until else {}
        self.context.set_custom_status({"state": self.state.value, "waiting": APPROVE, **status, **deadline})
        decision = yield from self._decided(self.context.wait_for_external_event(APPROVE), what, service, until)
        self.context.set_custom_status({"state": self.state.value})
        return decision

    def _decided(self, waiting: TaskBase, what: str, service: str | None, until: datetime | None) -> Task:
        """The ``Decision`` of ``waiting`` (a timer, or the approve event), an abort, or the ``until`` deadline,
        whichever comes first; a timer still pending is cancelled."""
        context = self.context
        abort = self._abort_wait()
        deadline = context.create_timer(until) if until is not None else None
        while True:
            winner = yield context.task_any([waiting, abort, *([deadline] if deadline else [])])
            if winner == abort:
                aborted = self._aborted(abort)
                if aborted is None:
                    abort = self._abort_wait()
                    continue
                _cancel(waiting, deadline)
                return aborted
            if winner == deadline or isinstance(waiting, TimerTask):
                _cancel(waiting, deadline)
                return Decision("timed-out")
            signal = self._accepted(APPROVE, waiting.result)
            if signal is None:
                waiting = context.wait_for_external_event(APPROVE)
                continue
            _cancel(deadline)
            environment = self.release.spec.environment.name
            yield from self.emit(deployment_events.approved(environment, what, service, signal.actor, signal.reason))
            self._approvals.append(f"approved by {signal.describe()}")
            self._operator = signal.actor
            return Decision("approved", signal.actor)

    def first(self, tasks: Sequence[TaskBase]) -> Task:
        """The first of ``tasks`` to complete, or an operator's abort if it comes first (its ``Decision``); a
        refused abort is logged and the race goes on."""
        while True:
            abort = self._abort_wait()
            winner = yield self.context.task_any([*tasks, abort])
            if winner != abort:
                return winner
            if (aborted := self._aborted(abort)) is not None:
                return aborted

    def _aborted(self, abort: TaskBase) -> Decision | None:
        """Read the abort that arrived (the next wait opens a new one): its ``Decision``, or None when refused."""
        self._abort = None
        signal = self._accepted(ABORT, abort.result)
        if signal is None:
            return None
        self._operator = signal.actor
        return Decision("aborted", signal.actor, f"aborted by {signal.describe()}")

    def _abort_wait(self) -> TaskBase:
        """The open wait for an abort, the same across waits until an abort arrives. A fresh wait per pause would
        leave the earlier ones open, and the SDK hands an event that arrives while no wait is being yielded (the
        orchestration is running an activity between two waits) to the newest open one: an abandoned wait,
        where nobody would read it. One shared wait catches an abort whenever it comes."""
        if self._abort is None:
            self._abort = self.context.wait_for_external_event(ABORT)
        return self._abort

    def _accepted(self, name: str, data: object) -> OperatorSignal | None:
        """The signal ``data`` carries if it parses and its actor may send it, else None: logged, and a refusal
        by rule is shown in the custom status. Nothing is scheduled here: the wait must be open again at once,
        since the SDK keeps only the last of the same-named events that arrive while no wait for them is open
        (``TaskOrchestrationExecutor.set_task_value``'s deferred tasks), and an activity would open that gap."""
        try:
            signal = OperatorSignal.from_event(data)
        except InvalidSignal as refused:
            self._log_refusal(name, "; ".join(str(error) for error in refused.errors))
            return None
        if name == APPROVE:
            refusal = approval_refusal(signal.actor, self.requested_by, self.four_eyes)
        else:
            refusal = abort_refusal(signal.actor)
        if refusal is None:
            return signal
        self._log_refusal(name, refusal)
        status = self.context.custom_status if isinstance(self.context.custom_status, dict) else {}
        shown = {"signal": name, "actor": signal.actor.to_dict(), "refusal": _brief(refusal)}
        self.context.set_custom_status({**status, "refused": shown})
        return None

    def _log_refusal(self, name: str, why: str) -> None:
        if not self.context.is_replaying:
            log.warning(
                "deployment %s (trace %s): %s signal refused, still waiting: %s",
                self.deployment_id,
                self.traceid,
                name,
                why[:_LOGGED_PAYLOAD_CHARS],
            )


def _cancel(*tasks: TaskBase | None) -> None:
    """Cancel the timers among ``tasks`` that have not fired (Durable cancels a pending timer; an event wait needs
    nothing)."""
    for task in tasks:
        if isinstance(task, TimerTask) and not task.is_completed:
            task.cancel()


def _brief(text: str) -> str:
    return text if len(text) <= STATUS_REASON_CHARS else text[: STATUS_REASON_CHARS - 1] + "…"


def settled(context: df.DurableOrchestrationContext, tasks: Sequence[TaskBase]) -> Task:
    """Wait for every one of ``tasks`` (scheduled together), failed ones included: ``task_all`` ends at the first
    failure, while the others still run. Each task's state and result say how it ended."""
    try:
        yield context.task_all(list(tasks))
    except Exception:
        for task in tasks:
            if not task.is_completed:
                with contextlib.suppress(Exception):
                    yield task


def failure_of(task: TaskBase) -> Exception | None:
    """The exception a settled task ended with, or None if it succeeded."""
    return task.result if task.state is TaskState.FAILED and isinstance(task.result, Exception) else None
