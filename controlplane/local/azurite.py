"""Starts and stops the Azurite Table storage emulator from the project's ``node_modules``."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from controlplane.errors import PermanentError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Azurite's published development account; it only ever opens the local emulator.
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEFAULT_TABLE_PORT = 10002


def is_listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


def connection_string(port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"TableEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
    )


class Azurite:
    """An Azurite Table service on 127.0.0.1 that this process started and will stop.

    ``location=None`` keeps data in memory only (tests); a folder persists it (the local host).
    """

    def __init__(self, port: int | None = None, location: Path | None = None) -> None:
        self.port = port or free_port()
        self.location = location
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives from start() to stop(), not one block

    @property
    def connection_string(self) -> str:
        return connection_string(self.port)

    def start(self, timeout: float = 30.0) -> Azurite:
        executable = PROJECT_ROOT / "node_modules" / ".bin" / "azurite-table"
        if not executable.exists():
            raise PermanentError(f"{executable} is missing: run `npm ci` (make does it for you)")
        command = [
            str(executable),
            "--tableHost",
            "127.0.0.1",
            "--tablePort",
            str(self.port),
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--silent",
        ]
        if self.location is None:
            command.append("--inMemoryPersistence")
        else:
            self.location.mkdir(parents=True, exist_ok=True)
            command += ["--location", str(self.location)]
        self._process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not is_listening(self.port):
            if self._process.poll() is not None:
                self._log.seek(0)
                error = self._log.read().decode(errors="replace")
                raise PermanentError(f"Azurite exited with {self._process.returncode}: {error.strip()}")
            if time.monotonic() > deadline:
                self.stop()
                raise PermanentError(f"Azurite did not listen on 127.0.0.1:{self.port} within {timeout:.0f} s")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
