"""Timer triggers on the local host: fires the app's ``timerTrigger`` functions on their NCRONTAB schedules.

Follows the Functions host's timer extension (its timer listener and schedule monitor). A monitored timer
keeps one status entity per function in table ``TimerStatus`` (the host keeps the same three values in
``timer-status/.../status`` blobs): ``last`` firing, expected ``next`` occurrence, ``lastUpdated``.

At start, per function:

=====================================================  ==============================================
situation                                              what happens now
=====================================================  ==============================================
monitored, no stored status (first start ever)         status saved with the next occurrence; no firing
monitored, stored ``next`` still ahead                 nothing
monitored, stored ``next`` has passed (host was down)  one firing at once, ``past_due=True``
``runOnStartup`` and not past due                      one firing at once, ``past_due=False``
=====================================================  ==============================================

Then one firing per occurrence, ``past_due=False`` (the host's ``TimerListener.HandleTimerEvent`` passes
``isPastDue`` only for the start-up firing); occurrences missed while running (a sleeping laptop) fold into
one firing. After each firing, successful or not, the next occurrence is computed from the firing time and
the status saved. If the schedule was edited while the host was down, the stored ``next`` is capped at what
the new schedule gives after ``lastUpdated``, as the host does. A zero or negative TimeSpan fires again at
once after each firing, as the host's timer does (``GetNextTimerInterval`` turns it into one tick).

Monitoring is ``useMonitor`` (default true), turned off as the extension does (``TimerSchedule.Create``):
for a TimeSpan under a minute, and for a cron schedule of the form ``X * * * * *`` with more than one second
a minute. Schedules are evaluated in UTC. Functions run one at a time on the scheduler's thread, so a slow
function delays the others but never overlaps itself.

Schedules are resolved and parsed when the scheduler is built, at host start-up. Where the host would put a
timer function "in error" (an app setting that does not resolve, a schedule NCrontab and .NET refuse), the
local host refuses to start, with the host's message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from funchost.errors import HostError, NotFound
from funchost.function_checks import FunctionAppRefused, FunctionError
from funchost.functions import FunctionEntry
from funchost.name_resolver import function_in_error, resolve_whole_string
from funchost.ncrontab import NEVER, CronSchedule
from funchost.storage.tables import Entity, Tables

if TYPE_CHECKING:
    from azure.functions import TimerRequest

logger = logging.getLogger(__name__)

STATUS_TABLE = "TimerStatus"
STATUS_PARTITION = "timer-status"
# Longest sleep between clock checks: a wall clock that jumps (suspend, NTP) is noticed within this.
MAX_SLEEP_SECONDS = 30.0
_NO_LAST_FIRING = datetime(1, 1, 1, tzinfo=UTC)  # how the host writes "no last firing" (default(DateTime))


@dataclass(frozen=True)
class ScheduleStatus:
    """A timer's monitored status: the last firing (None if never), the expected next one, when written."""

    last: datetime | None
    next: datetime
    last_updated: datetime

    def to_body(self) -> dict[str, str | None]:
        return {
            "last": self.last.isoformat() if self.last else None,
            "next": self.next.isoformat(),
            "lastUpdated": self.last_updated.isoformat(),
        }

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ScheduleStatus:
        last = body.get("last")
        return cls(
            last=datetime.fromisoformat(last) if last else None,
            next=datetime.fromisoformat(body["next"]),
            last_updated=datetime.fromisoformat(body["lastUpdated"]),
        )

    def to_wire(self) -> dict[str, str]:
        """The ``ScheduleStatus`` object of the host's timer payload."""
        return {
            "Last": (self.last or _NO_LAST_FIRING).isoformat(),
            "Next": self.next.isoformat(),
            "LastUpdated": self.last_updated.isoformat(),
        }


@dataclass(frozen=True)
class TimerInfo:
    """What one firing hands a timer function; ``to_request()`` is the ``func.TimerRequest`` it receives."""

    past_due: bool
    schedule_status: ScheduleStatus | None  # status before this firing; None when the timer is not monitored
    adjust_for_dst: bool = True

    def to_json(self) -> dict[str, Any]:
        """The host's payload for the worker: ``{"Schedule", "ScheduleStatus", "IsPastDue"}``."""
        return {
            "Schedule": {"AdjustForDST": self.adjust_for_dst},
            "ScheduleStatus": self.schedule_status.to_wire() if self.schedule_status else None,
            "IsPastDue": self.past_due,
        }

    def to_request(self) -> TimerRequest:
        """The SDK's own ``azure.functions.timer.TimerRequest``, built as the Python worker builds it."""
        # Imported here: the control-plane core stays free of azure.functions; only the host's call needs it.
        from azure.functions.timer import TimerRequest

        payload = self.to_json()
        return TimerRequest(
            past_due=payload["IsPastDue"], schedule_status=payload["ScheduleStatus"], schedule=payload["Schedule"]
        )


def resolve_schedule(function: str, schedule: str, settings: Mapping[str, str]) -> str:
    """``schedule`` with its ``%NAME%`` app settings resolved; ValueError with the host's message if one fails."""
    try:
        return resolve_whole_string(schedule, settings)
    except ValueError as error:
        local = ' (local host: set it in local.settings.json "Values" or the environment)'
        raise ValueError(function_in_error(function, str(error)) + local) from None


@dataclass
class _Timer:
    entry: FunctionEntry
    schedule: CronSchedule
    monitored: bool
    run_on_startup: bool
    status: ScheduleStatus | None = None
    due: datetime | None = None  # the next regular occurrence, once primed
    startup_firing: bool | None = None  # pending firing at start: its past_due flag; None when none pending


def _timer(entry: FunctionEntry, settings: Mapping[str, str]) -> _Timer:
    expression = entry.trigger.get("schedule")
    if not isinstance(expression, str) or not expression.strip():
        raise ValueError(f"timer function {entry.name!r}: the timerTrigger binding has no schedule")
    resolved = resolve_schedule(entry.name, expression, settings)
    try:
        schedule = CronSchedule.parse(resolved)
    except ValueError as error:
        raise ValueError(function_in_error(entry.name, str(error), "Microsoft.Azure.WebJobs.Extensions")) from None
    use_monitor = bool(entry.trigger.get("useMonitor", True))
    return _Timer(
        entry=entry,
        schedule=schedule,
        monitored=use_monitor and not schedule.disables_monitor,
        run_on_startup=bool(entry.trigger.get("runOnStartup", False)),
    )


def check_schedules(entries: Iterable[FunctionEntry], settings: Mapping[str, str]) -> None:
    """Refuse, as the host's indexing does, every timer whose schedule does not resolve or parse (one
    FunctionAppRefused naming them all); no side effects."""
    errors = []
    for entry in entries:
        try:
            _timer(entry, settings)
        except ValueError as error:
            errors.append(FunctionError(entry.name, str(error)))
    if errors:
        raise FunctionAppRefused(errors)


class TimerScheduler:
    """Fires timer-trigger functions through ``invoke``; status in ``tables``; time from ``clock`` (aware UTC).

    Schedules are resolved and parsed on construction (ValueError naming the function if one is invalid).
    Storage is first touched when the scheduler is primed: by ``start()``, or else by the first ``run_due`` or
    ``next_due``, at ``clock()`` — the moment the scheduler counts as started.
    """

    def __init__(
        self,
        entries: Iterable[FunctionEntry],
        invoke: Callable[[FunctionEntry, TimerInfo], None],
        tables: Tables,
        clock: Callable[[], datetime],
        settings: Mapping[str, str],
    ) -> None:
        self._timers = [_timer(entry, settings) for entry in entries]
        for each in self._timers:  # here, not in _timer: check_schedules parses the same schedules at start-up
            interval = each.schedule.interval
            if interval is not None and interval <= timedelta(0):
                logger.warning("timer %s: TimeSpan %s fires again as soon as it ends, as on Azure", each.entry.name,
                               each.schedule)  # fmt: skip
        self._invoke = invoke
        self._tables = tables
        self._clock = clock
        self._lock = threading.RLock()
        self._primed_at: datetime | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def prime(self, now: datetime) -> None:
        """Read stored statuses and queue the start-up firings (past-due, runOnStartup); idempotent."""
        with self._lock:
            if self._primed_at is not None:
                return
            if any(timer.monitored for timer in self._timers):
                self._tables.create_tables([STATUS_TABLE])
            for timer in self._timers:
                timer.due = timer.schedule.next_after(now)
                if timer.due == NEVER:
                    logger.warning("timer %s: schedule %s has no occurrence; it never fires", timer.entry.name,
                                   timer.schedule)  # fmt: skip
                past_due = timer.monitored and self._check_past_due(timer, now)
                if past_due or timer.run_on_startup:
                    timer.startup_firing = past_due
            self._primed_at = now

    def run_due(self, now: datetime) -> list[str]:
        """Fire every function due at ``now`` and return their names; primes first (at ``clock()``) if needed.

        A function that raises is logged; its schedule and status advance as after a success.
        """
        if now.tzinfo is None:
            raise ValueError(f"now {now.isoformat()} is naive; pass a timezone-aware datetime (UTC)")
        with self._lock:
            self.prime(self._clock())
            fired = []
            for timer in self._timers:
                assert timer.due is not None
                if timer.startup_firing is not None:
                    past_due, timer.startup_firing = timer.startup_firing, None
                elif timer.due <= now:
                    past_due = False
                else:
                    continue
                self._fire(timer, now, past_due)
                fired.append(timer.entry.name)
            return fired

    def next_due(self) -> datetime | None:
        """When the next firing is due (the start time while start-up firings wait); None without timers."""
        with self._lock:
            if not self._timers:
                return None
            self.prime(self._clock())
            assert self._primed_at is not None
            return min(
                self._primed_at if timer.startup_firing is not None else timer.due
                for timer in self._timers
                if timer.due is not None
            )

    def start(self) -> None:
        """Prime, then fire on a daemon thread until ``stop()``; does nothing if already running."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self.prime(self._clock())
            self._stopping = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(self._stopping,), name="timers", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Wake the thread and wait for it (at most ``timeout`` s, or until a running function returns)."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                self.run_due(self._clock())
                due = self.next_due()
                wait = MAX_SLEEP_SECONDS if due is None else (due - self._clock()).total_seconds()
            except Exception:
                logger.exception("timer scheduler: checking schedules failed; trying again shortly")
                wait = MAX_SLEEP_SECONDS
            stopping.wait(min(max(wait, 0.0), MAX_SLEEP_SECONDS))

    def _fire(self, timer: _Timer, now: datetime, past_due: bool) -> None:
        info = TimerInfo(
            past_due=past_due,
            schedule_status=timer.status if timer.monitored else None,
            adjust_for_dst=timer.schedule.interval is None,
        )
        logger.info("timer %s firing at %s%s", timer.entry.name, now.isoformat(), " (past due)" if past_due else "")
        try:
            self._invoke(timer.entry, info)
        except Exception:
            logger.exception("timer function %s failed; its schedule continues", timer.entry.name)
        timer.due = timer.schedule.next_after(now)
        if timer.monitored:
            timer.status = ScheduleStatus(last=now, next=timer.due, last_updated=now)
            try:
                self._save(timer)
            except HostError:
                logger.exception("timer %s: could not save its status; keeping it in memory", timer.entry.name)

    def _check_past_due(self, timer: _Timer, now: datetime) -> bool:
        stored = self._load(timer.entry.name)
        if stored is None:
            assert timer.due is not None
            timer.status = ScheduleStatus(last=None, next=timer.due, last_updated=now)
            self._save(timer)
            return False
        expected = timer.schedule.next_after(stored.last_updated)
        timer.status = replace(stored, next=expected) if expected < stored.next else stored
        if timer.status is not stored:
            self._save(timer)
        return now > timer.status.next

    def _load(self, name: str) -> ScheduleStatus | None:
        try:
            entity = self._tables.get(STATUS_TABLE, STATUS_PARTITION, name)
        except NotFound:
            return None
        try:
            return ScheduleStatus.from_body(entity.body)
        except (KeyError, TypeError, ValueError):
            logger.warning("timer %s: stored status %r is unreadable; starting afresh", name, entity.body)
            return None

    def _save(self, timer: _Timer) -> None:
        assert timer.status is not None
        self._tables.upsert(STATUS_TABLE, Entity(STATUS_PARTITION, timer.entry.name, timer.status.to_body()))
