"""The host process serves the Easy Auth emulation by default, its session secret private under the state dir."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import requests

from funchost.easy_auth import SECRET_FILE
from funchost.tests.e2e.host_process import HostProcess


def test_the_host_signs_in_with_the_form_and_answers_auth_me(host: HostProcess, tmp_path: Path) -> None:
    session = requests.Session()
    form = session.get(f"{host.base_url}/.auth/login/aad", timeout=10)
    hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form.text))
    data = {"userId": "oid-7", "userDetails": "ops@contoso.com", "userRoles": "Operator", **hidden}
    signed_in = session.post(f"{host.base_url}/.auth/login/aad", data=data, allow_redirects=False, timeout=10)

    assert (signed_in.status_code, signed_in.headers["Location"]) == (303, "/")
    (identity,) = session.get(f"{host.base_url}/.auth/me", timeout=10).json()
    assert {"typ": "roles", "val": "Operator"} in identity["user_claims"]
    secret = tmp_path / "state" / SECRET_FILE  # the fixture's --state-dir
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
