"""Replica processes of local compute: start one, wait until it answers, stop its process group.

A replica runs in its own session (process group) so stopping it stops whatever it started. Processes are
identified by pid and kernel start time (``funchost.process_identity``), so a recorded pid that the kernel
has since given to another process is never signalled. Linux only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from controlplane.adapters.local.loopback import free_port
from controlplane.domain.images import image_version
from controlplane.domain.runtime import RevisionSpec
from controlplane.errors import PermanentError
from funchost.private_files import open_private, private_directory
from funchost.process_identity import process_start_time

_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SYSTEMROOT")
# Every replica's environment names the compute root that started it; its children inherit it. So the processes
# of a compute can be found even when no record names them (``orphans.unrecorded``).
OWNER = "CONTROLPLANE_LOCAL_COMPUTE"


@dataclass
class Replica:
    index: int
    pid: int
    start_time: int
    port: int
    process: subprocess.Popen[bytes] | None = None  # None when adopted from an earlier instance
    log_offset: int = 0  # where this run's output starts in its (appended) log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def record(self) -> dict[str, int]:
        return {"replica": self.index, "pid": self.pid, "startTime": self.start_time, "port": self.port}


def start_replica(command: list[str], spec: RevisionSpec, index: int, log: Path, owner: Path) -> Replica:
    """Start replica ``index`` of ``spec`` on a free loopback port, its output appended to ``log``; ``owner`` is
    the compute root it belongs to (``OWNER``)."""
    port = free_port()
    env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    env.update(spec.configuration)
    env.update({f"{name}_SECRET_URI": uri for name, uri in spec.secret_refs.items()})
    env.update(
        PORT=str(port),
        SERVICE_NAME=spec.service,
        SERVICE_VERSION=image_version(spec.image),
        REVISION=spec.revision,
        REPLICA=str(index),
    )
    env[OWNER] = str(owner.resolve())
    private_directory(log.parent)
    with os.fdopen(open_private(log, append=True), "ab") as output:  # a workload may log its configuration
        offset = output.tell()
        try:
            process = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopping it stops its children too
            )
        except OSError as error:
            raise PermanentError(f"{describe(spec)}: cannot start {spec.image}: {error}") from error
    start_time = process_start_time(process.pid) or 0
    return Replica(index, process.pid, start_time, port, process, offset)


def wait_ready(spec: RevisionSpec, replicas: list[Replica], logs: Callable[[int], Path], timeout: float) -> None:
    """Wait until every replica answers GET / (any HTTP status); an exit or the timeout is permanent."""
    deadline = time.monotonic() + timeout
    pending = list(replicas)
    while pending:
        for replica in list(pending):
            if _answers(replica.url):
                pending.remove(replica)
            elif replica.process is not None and replica.process.poll() is not None:
                why = f"exited with code {replica.process.returncode} before answering GET /"
                raise PermanentError(_failure(spec, replica, why, logs(replica.index)))
        if pending and time.monotonic() > deadline:
            why = f"did not answer GET / on {pending[0].url} within {timeout:g} s"
            raise PermanentError(_failure(spec, pending[0], why, logs(pending[0].index)))
        if pending:
            time.sleep(0.05)


def _failure(spec: RevisionSpec, replica: Replica, why: str, log: Path) -> str:
    with open(log, "rb") as output:
        output.seek(replica.log_offset)
        tail = output.read().decode(errors="replace").splitlines()[-20:]
    lines = "\n".join(f"  | {line}" for line in tail) or "  | (no output)"
    return f"{describe(spec)}: replica {replica.index} {why}; last lines of {log}:\n{lines}"


def stop_replica(replica: Replica, timeout: float) -> None:
    """SIGTERM the replica's process group, SIGKILL it after ``timeout`` seconds; wait until it is gone.

    A group whose leader already died is left alone: its id may since belong to someone else.
    """
    if not alive(replica):
        return
    _signal_group(replica.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while process_start_time(replica.pid) == replica.start_time and time.monotonic() < deadline:
        time.sleep(0.02)
    _signal_group(replica.pid, signal.SIGKILL)  # a leader deaf to SIGTERM, and any children it left
    if replica.process is not None:
        replica.process.wait()
        return
    while process_start_time(replica.pid) == replica.start_time:
        time.sleep(0.01)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(replica.pid, os.WNOHANG)  # adopted from an earlier instance in this same process


def alive(replica: Replica) -> bool:
    if replica.process is not None and replica.process.poll() is not None:
        return False
    return process_start_time(replica.pid) == replica.start_time


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/", timeout=0.5):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means it is up; health is the gate's business
    except (OSError, ValueError):
        return False


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def describe(spec: RevisionSpec) -> str:
    return f"{spec.environment}/{spec.service} revision {spec.revision}"
