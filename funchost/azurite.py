"""Starts and stops the Azurite Table and Blob storage emulators from the app's ``node_modules``.

Table storage holds the state and the durable engine's tables; Blob storage holds the engine's payloads
too large for a Table row (the ``<hub>-largemessages`` container, as on Azure).
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from funchost.errors import PermanentError

# Azurite's published development account; it only ever opens the local emulator.
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEFAULT_TABLE_PORT = 10002
DEFAULT_BLOB_PORT = 10000
SERVICES = ("table", "blob")


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


class Azurite:
    """Azurite's Table and Blob services on 127.0.0.1 that this process started and will stop.

    ``root`` is the app's folder: Azurite runs from the ``node_modules`` there or in the nearest folder above.
    ``location=None`` keeps data in memory only (tests); a folder persists it (the local host).
    ``services`` names the ones to start (the local host starts only those not already listening).
    """

    def __init__(
        self,
        root: Path,
        port: int | None = None,
        location: Path | None = None,
        blob_port: int | None = None,
        services: tuple[str, ...] = SERVICES,
    ) -> None:
        self.root = root
        self.port = port or free_port()
        self.blob_port = blob_port or free_port()
        self.location = location
        self.services = services
        self._processes: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    @property
    def connection_string(self) -> str:
        return connection_string(self.port, self.blob_port)

    def start(self, timeout: float = 30.0) -> Azurite:
        ports = {"table": self.port, "blob": self.blob_port}
        for service in self.services:
            self._launch(service, ports[service])
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

    def stop(self) -> None:
        for process, log in self._processes:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
        self._processes = []

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
            self.location.mkdir(parents=True, exist_ok=True)
            command += ["--location", str(self.location)]
        log = tempfile.TemporaryFile()  # noqa: SIM115 - lives from start() to stop(), not one block
        self._processes.append((subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), log))

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
        for process, log in self._processes:
            if process.poll() is not None:
                log.seek(0)
                error = log.read().decode(errors="replace")
                self.stop()
                raise PermanentError(f"Azurite exited with {process.returncode}: {error.strip()}")

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
