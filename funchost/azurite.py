"""Starts and stops the Azurite Table and Blob storage emulators from the app's ``node_modules``.

Table storage holds the state and the durable engine's tables; Blob storage holds the engine's payloads
too large for a Table row (the ``<hub>-largemessages`` container, as on Azure).

Durability (Azurite 3.x, ``node_modules/azurite/dist/src``): with ``--location`` Azurite keeps each store in
memory as a LokiJS database and writes it to a file only by autosave, every 5 s (``autosaveInterval: 5000``
in ``table/persistence/LokiTableMetadataStore.js`` and the blob and extent stores; no option changes it, and
``--inMemoryPersistence`` is the opposite: nothing is ever written). So Azurite answers a write before it is
on disk, and whatever it was not yet saved dies with its process. Two consequences here:

- ``stop`` sends SIGINT, the one signal on which both services close their LokiJS databases, which saves a
  dirty one (``Loki.close``); ``azurite-table`` has no SIGTERM handler at all (``table/main.js``), so SIGTERM
  kills it without a save. ``stop`` then waits for the exit.
- ``detached`` services run in a session of their own, so a crash of the process that started them (a
  SIGKILL of its whole process group, as a container stop or the OOM killer sends) does not take the unsaved
  writes with it; the local host records and adopts them (``funchost.azurite_record``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO
from urllib.parse import urlsplit

from funchost.errors import PermanentError
from funchost.private_files import private_directory
from funchost.process_identity import process_start_time
from funchost.storage.account import DEVELOPMENT_STORAGE

# Azurite's published development account; it only ever opens the local emulator.
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEFAULT_TABLE_PORT = 10002
DEFAULT_BLOB_PORT = 10000
SERVICES = ("table", "blob")
STOP_TIMEOUT = 60.0  # seconds for a graceful stop: the final save of a large store takes a while


def is_listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


def connection_string(table_port: int, blob_port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"TableEndpoint=http://127.0.0.1:{table_port}/{ACCOUNT};"
        f"BlobEndpoint=http://127.0.0.1:{blob_port}/{ACCOUNT};"
    )


def emulator_ports(connection: str) -> dict[str, int] | None:
    """The loopback ports of Azurite's services that a connection string names, or None if it names another
    account: ``UseDevelopmentStorage=true`` (the default ports), or the development account with its Table
    and Blob endpoints on 127.0.0.1 (the form ``connection_string`` gives)."""
    if DEVELOPMENT_STORAGE in connection:
        return {"table": DEFAULT_TABLE_PORT, "blob": DEFAULT_BLOB_PORT}
    parts = dict(part.split("=", 1) for part in connection.split(";") if "=" in part)
    if parts.get("AccountName") != ACCOUNT:
        return None
    ports = {}
    for service in SERVICES:
        endpoint = urlsplit(parts.get(f"{service.capitalize()}Endpoint", ""))
        if endpoint.hostname != "127.0.0.1" or endpoint.port is None:
            return None
        ports[service] = endpoint.port
    return ports


@dataclass
class ServiceProcess:
    """One Azurite service's process: ``process`` is None when it was adopted from an earlier host."""

    service: str
    port: int
    pid: int
    start_time: int
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None

    def alive(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            return False
        return process_start_time(self.pid) == self.start_time


class Azurite:
    """Azurite's Table and Blob services on 127.0.0.1 that this process started (or adopted) and will stop.

    ``root`` is the app's folder: Azurite runs from the ``node_modules`` there or in the nearest folder above.
    ``location=None`` keeps data in memory only (tests); a folder persists it (the local host).
    ``services`` names the ones to start (the local host starts only those not already listening).
    ``detached`` (needs ``location``) runs them in their own session, logging to ``location``, so they outlive
    a crash of this process (see the module docstring).
    """

    def __init__(
        self,
        root: Path,
        port: int | None = None,
        location: Path | None = None,
        blob_port: int | None = None,
        services: tuple[str, ...] = SERVICES,
        *,
        detached: bool = False,
    ) -> None:
        if detached and location is None:
            raise ValueError("a detached Azurite needs a location: in memory, its data would die with it")
        self.root = root
        self.port = port or free_port()
        self.blob_port = blob_port or free_port()
        self.location = location
        self.services = services
        self.detached = detached
        self.processes: list[ServiceProcess] = []

    @classmethod
    def adopted(cls, root: Path, location: Path, processes: list[ServiceProcess]) -> Azurite:
        """The detached services an earlier process started, now stopped by this one."""
        ports = {process.service: process.port for process in processes}
        azurite = cls(
            root,
            ports.get("table", 0),
            location,
            ports.get("blob", 0),
            tuple(ports),
            detached=True,
        )
        azurite.processes = processes
        return azurite

    @property
    def connection_string(self) -> str:
        return connection_string(self.port, self.blob_port)

    def start(self, timeout: float = 30.0) -> Azurite:
        return self.launch().wait_until_listening(timeout)

    def launch(self) -> Azurite:
        """Start the services' processes without waiting for them (``processes`` then names them)."""
        ports = {"table": self.port, "blob": self.blob_port}
        for service in self.services:
            self._launch(service, ports[service])
        return self

    def wait_until_listening(self, timeout: float = 30.0) -> Azurite:
        """Wait until every service listens; PermanentError (everything stopped) if one exits or is late."""
        ports = {"table": self.port, "blob": self.blob_port}
        deadline = time.monotonic() + timeout
        for service in self.services:
            while not is_listening(ports[service]):
                self._fail_if_exited()
                if time.monotonic() > deadline:
                    self.stop()
                    raise PermanentError(
                        f"Azurite {service} did not listen on 127.0.0.1:{ports[service]} within {timeout:.0f} s"
                    )
                time.sleep(0.05)
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGINT every service (each saves its stores as it closes), wait until it exits; SIGKILL after
        ``timeout`` seconds."""
        for service in self.processes:
            if service.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(service.pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        for service in self.processes:
            while service.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            if service.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(service.pid, signal.SIGKILL)
            if service.process is not None:
                service.process.wait()
            else:
                while service.alive():
                    time.sleep(0.01)
            if service.log is not None:
                service.log.close()
        self.processes = []

    def _launch(self, service: str, port: int) -> None:
        executable = self._executable(service)
        command = [
            str(executable),
            f"--{service}Host",
            "127.0.0.1",
            f"--{service}Port",
            str(port),
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--silent",
        ]
        if self.location is None:
            command.append("--inMemoryPersistence")
        else:
            private_directory(self.location)  # the app's state and config values
            command += ["--location", str(self.location)]
        log = self._log(service)
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=self.detached
        )
        start_time = process_start_time(process.pid) or 0
        self.processes.append(ServiceProcess(service, port, process.pid, start_time, process, log))

    def _log(self, service: str) -> IO[bytes]:
        """Where a service writes: a file beside its data when detached (it outlives us), else a temporary one."""
        if self.detached and self.location is not None:
            path = self.location / f"azurite-{service}.log"
            return os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600), "a+b")
        return tempfile.TemporaryFile()

    def _executable(self, service: str) -> Path:
        """``node_modules/.bin/azurite-<service>`` in the app root or the nearest folder above that has it."""
        relative = Path("node_modules") / ".bin" / f"azurite-{service}"
        for folder in (self.root.resolve(), *self.root.resolve().parents):
            if (folder / relative).exists():
                return folder / relative
        raise PermanentError(
            f"{relative} is missing in {self.root} and the folders above it: run `npm ci` there (make does it for you)"
        )

    def _fail_if_exited(self) -> None:
        for service in self.processes:
            if service.process is not None and service.process.poll() is not None:
                error = ""
                if service.log is not None:
                    service.log.seek(0)
                    error = service.log.read().decode(errors="replace")[-4000:]
                self.stop()
                code = service.process.returncode
                raise PermanentError(f"Azurite {service.service} exited with {code}: {error.strip()}")

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
