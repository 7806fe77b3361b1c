"""The local host's own Azurite across host restarts: recorded, adopted by the next start, never a stranger.

The host starts Azurite detached (its own session, ``Azurite(detached=True)``) so that a crash of the host's
whole process group leaves it running with every acknowledged write still in its memory; a graceful stop
SIGINTs it, which saves its stores. ``<location>/funchost-azurite.json`` (mode 0600) records each service's
pid, kernel start time and port. The next start adopts a recorded service only if it is still that Azurite:

====================================  ==========================================================
check                                 what it rules out
====================================  ==========================================================
same pid and kernel start time        the pid reused by another process after Azurite died
``azurite-<service>`` command line    another program (same pid and start time cannot happen, but
with the recorded port and location   a record copied from another data folder can)
the listening socket is that pid's    a stranger holding the port while the recorded one hangs
====================================  ==========================================================

A record that fails any check is stale: logged, ignored and replaced. A service someone else runs on the
port (``azurite`` in a terminal, a test's shared one) is used as it is and never stopped by the host.
"""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path

from funchost.azurite import Azurite, ServiceProcess, is_listening
from funchost.private_files import write_json_atomically
from funchost.process_identity import command_line, listens_on, process_start_time

log = logging.getLogger("funchost.azurite")

RECORD = "funchost-azurite.json"


def start_or_adopt(root: Path, location: Path, ports: dict[str, int]) -> Azurite | None:
    """The services of ``ports`` this host owns: the recorded ones still alive adopted, those nobody serves
    started detached; None when others serve them all. The record then names exactly what is returned."""
    adopted = []
    for recorded in _read(location):
        problem = _not_adoptable(recorded, location, ports)
        if problem:
            log.warning("Azurite record %s: %s %s; ignored", location / RECORD, recorded.service, problem)
            continue
        log.info("adopting Azurite %s (pid %d) on 127.0.0.1:%d", recorded.service, recorded.pid, recorded.port)
        adopted.append(recorded)
    owned = {process.service for process in adopted}
    missing = []
    for service, port in ports.items():
        if service in owned:
            continue
        if is_listening(port):
            log.info("using the Azurite %s someone else runs on 127.0.0.1:%d (the host never stops it)", service, port)
        else:
            missing.append(service)
    if not adopted and not missing:
        (location / RECORD).unlink(missing_ok=True)
        return None
    if missing:
        log.info("starting Azurite %s on 127.0.0.1, data under %s", " and ".join(missing), location)
        started = Azurite(root, ports["table"], location, ports["blob"], tuple(missing), detached=True).launch()
        # Recorded before the wait for its ports: a crash during Azurite's start-up leaves no unrecorded Azurite.
        _write(location, adopted + started.processes)
        started.wait_until_listening()
        adopted += started.processes
    else:
        _write(location, adopted)
    return Azurite.adopted(root, location, adopted)


def stop_and_forget(azurite: Azurite) -> None:
    """Stop the host's Azurite gracefully (it saves its stores) and remove its record."""
    azurite.stop()
    if azurite.location is not None:
        (azurite.location / RECORD).unlink(missing_ok=True)


def stop_recorded(location: Path) -> None:
    """Stop the Azurite recorded under ``location`` if it still runs (a host that crashed and never came back)."""
    alive = [recorded for recorded in _read(location) if not _not_adoptable(recorded, location, None)]
    if alive:
        stop_and_forget(Azurite.adopted(location, location, alive))
    else:
        (location / RECORD).unlink(missing_ok=True)


def _not_adoptable(recorded: ServiceProcess, location: Path, ports: dict[str, int] | None) -> str | None:
    """Why a recorded service is not the Azurite this host may adopt, or None if it is."""
    if ports is not None and ports.get(recorded.service) != recorded.port:
        return f"was on port {recorded.port}, the storage settings now name {ports.get(recorded.service)}"
    if process_start_time(recorded.pid) != recorded.start_time:
        return f"pid {recorded.pid} is gone"
    arguments = command_line(recorded.pid)
    expected = (f"--{recorded.service}Port", str(recorded.port), "--location", str(location))
    pairs = set(itertools.pairwise(arguments))
    is_azurite = any(argument.endswith(f"azurite-{recorded.service}") for argument in arguments)
    if not is_azurite or not {expected[:2], expected[2:]} <= pairs:
        return f"pid {recorded.pid} is not Azurite {recorded.service} on this port and location"
    if not listens_on(recorded.pid, recorded.port):
        return f"pid {recorded.pid} does not hold the listening socket of 127.0.0.1:{recorded.port}"
    return None


def _read(location: Path) -> list[ServiceProcess]:
    path = location / RECORD
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return [
            ServiceProcess(item["service"], int(item["port"]), int(item["pid"]), int(item["startTime"]))
            for item in document["services"]
        ]
    except FileNotFoundError:
        return []
    except (ValueError, KeyError, TypeError) as error:
        log.warning("Azurite record %s is unreadable (%r); ignored", path, error)
        return []


def _write(location: Path, processes: list[ServiceProcess]) -> None:
    services = [{"service": p.service, "port": p.port, "pid": p.pid, "startTime": p.start_time} for p in processes]
    write_json_atomically(location / RECORD, {"location": str(location), "services": services})
