"""The local host as a separate process: started, stopped (or killed, as a crash) and called over HTTP.

For demos and end-to-end tests: the caller gives the command that runs the host (``python -m funchost start``,
or an app's own command around ``run_host``); it is run with ``--port 0 --app <app>`` added."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from funchost.keys import KeyStore, open_key_store
from funchost.storage.account import STORAGE


class HostProcess:
    """``command`` run in ``root`` on a free loopback port against the given storage (``AzureWebJobsStorage``).

    ``state_dir`` is where that host keeps its keys (its ``HostOptions.state_dir``; default ``root/.local``).
    """

    def __init__(
        self,
        command: Sequence[str],
        storage: str,
        app: str,
        log_dir: Path,
        extra_env: dict[str, str] | None = None,
        key: str = "",
        *,
        root: Path,
        state_dir: Path | None = None,
    ) -> None:
        self.key = key or secrets.token_urlsafe(24)
        self._command = list(command)
        self._root = root
        self._state_dir = state_dir
        self._storage = storage
        self._app = app
        self._log_dir = log_dir
        self._extra_env = extra_env or {}
        self._process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.rpc_origin = ""  # the Durable RPC listener, without the secret path only the workers know
        self.starts = 0
        self.caller_token: str | None = None  # sent by request() instead of the key when set (bearer_token)

    @property
    def settings(self) -> dict[str, str]:
        """The settings the host runs with on top of the environment (what an operator CLI needs too)."""
        return {STORAGE: self._storage, "FUNCTIONS_HOST_KEY": self.key, **self._extra_env}

    def keys(self) -> KeyStore:
        """The key store the host process uses (its master, host, function and system keys)."""
        environ = {**os.environ, **self.settings}
        return open_key_store(self._root, environ, self._state_dir)

    def bearer_token(self, name: str, roles: Sequence[str], object_id: str | None = None, seconds: int = 3600) -> str:
        """A bearer token the host's Easy Auth emulation accepts for ``name`` with ``roles``
        (``Principal.named``: one derived object id per name). The host must have started once (it creates the
        secret)."""
        from funchost.easy_auth import EasyAuth, Principal
        from funchost.settings import state_directory

        auth = EasyAuth.in_state_dir(state_directory(self._root, self._state_dir))
        return auth.bearer_token(Principal.named(name, roles, object_id), seconds)

    def start(self, timeout: float = 60) -> HostProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.settings}
        self.starts += 1
        stderr = open(self._log_dir / f"host-{self.starts}.log", "w")  # noqa: SIM115 - owned by the process
        self._process = subprocess.Popen(
            [*self._command, "--port", "0", "--app", self._app],
            cwd=self._root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,  # a group of its own, as in a container: kill_group kills it and nothing else
        )
        ready = threading.Event()

        def read() -> None:
            assert self._process and self._process.stdout
            for line in self._process.stdout:
                if line.startswith("RPC "):
                    self.rpc_origin = line.split()[1].split("/durabletask/")[0]
                if line.startswith("READY "):
                    self.base_url = line.split()[1]
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError(f"host did not start; see {self._log_dir}")
        return self

    @property
    def running(self) -> bool:
        """Whether the current host process is alive."""
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        """What the current (or last) host process wrote to its log so far."""
        return (self._log_dir / f"host-{self.starts}.log").read_text()

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as a crash."""
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait()

    def kill_group(self) -> None:
        """SIGKILL the host's whole process group (the host, its workers, any child left in its group), as a
        container stop or the OOM killer does; what runs in a session of its own survives."""
        assert self._process is not None
        os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def auth_headers(self) -> dict[str, str]:
        """How :meth:`request` authenticates by default: the caller's bearer token, else the default host key."""
        return {"Authorization": f"Bearer {self.caller_token}"} if self.caller_token else {"x-functions-key": self.key}

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        key: str | None = "",
        absolute: bool = False,
        token: str | None = "",
    ) -> tuple[int, Any]:
        """One request, authenticated with ``token`` as ``Authorization: Bearer`` (default: ``caller_token``)
        or, when no token is sent, with the default host key in ``x-functions-key`` (or ``key``; ``None``: no
        header, e.g. for a management URL, whose ``code=`` carries its key); the status and the decoded body."""
        token = self.caller_token if token == "" else token
        key = (None if token else self.key) if key == "" else key
        url = path if absolute else f"{self.base_url}{path}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        if key:
            request.add_header("x-functions-key", key)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, _body(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _body(error.read())


def _body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode()
