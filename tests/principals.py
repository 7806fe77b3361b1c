"""Signed-in callers for tests that call the HTTP triggers as functions: the headers App Service
Authentication injects (``funchost.easy_auth.Principal.headers``, App Service's shape), with
``WEBSITE_AUTH_ENABLED`` on as App Service sets it."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from controlplane.domain.access import Role
from funchost.easy_auth import Principal
from triggers.identity import AUTH_ENABLED_SETTING

ALL_ROLES = tuple(role.value for role in Role)


def signed_in(name: str = "operator@contoso.com", roles: Sequence[str] = ALL_ROLES) -> dict[str, str]:
    """The request headers of ``name`` signed in with ``roles``; one object id per name."""
    return Principal.named(name, roles).headers()


def enable_easy_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    """App Service Authentication on, as App Service tells the app (``WEBSITE_AUTH_ENABLED=True``)."""
    monkeypatch.setenv(AUTH_ENABLED_SETTING, "True")
