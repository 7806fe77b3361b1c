"""The local host's App Service Authentication ("Easy Auth"): who is signed in, and how the app is told.

On Azure the app sits behind App Service Authentication with Microsoft Entra ID: a signed-in user's requests
reach the functions with the headers App Service injects (learn.microsoft.com, "Work with user identities in
Azure App Service authentication"):

| header | value |
|---|---|
| ``X-MS-CLIENT-PRINCIPAL`` | base64 of ``{"auth_typ", "name_typ", "role_typ", "claims": [{"typ", "val"}]}`` |
| ``X-MS-CLIENT-PRINCIPAL-ID`` | the provider's id of the user (Entra: the object id) |
| ``X-MS-CLIENT-PRINCIPAL-NAME`` | a readable name (e-mail or UPN) |
| ``X-MS-CLIENT-PRINCIPAL-IDP`` | the provider (``aad``) |

and "external requests aren't allowed to set these headers": App Service drops any a client sends, and the
provider-token headers (``X-MS-TOKEN-*``) with them. The claims are Entra's after App Service's claim mapping:
the name as ``name_typ`` (the ws/2005 ``name`` URI), the object id as the ``objectidentifier`` URI, and one
``roles`` claim per app role (Entra ID sends app roles as ``roles``; App Service still declares ``role_typ`` as
the ws/2008 ``role`` URI, so an app must look for ``roles`` claims, as it must on Azure). There are no
"anonymous"/"authenticated" roles: Static Web Apps adds those, App Service does not.

Locally there is no Entra login: as the Static Web Apps CLI does (Azure/static-web-apps-cli, ``src/msha/auth/``),
``/.auth/login/aad`` shows a form where the developer types the user id, name and roles
(``funchost.easy_auth_routes``). The session is a cookie the host signs with HMAC-SHA256 under a per-host secret
(``<state dir>/easy_auth.key``, mode 0600), so a client can neither forge one nor edit its roles; it expires
after 8 hours, App Service's default ``login.cookieExpiration.timeToExpiration``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from funchost.errors import PermanentError
from funchost.private_files import FILE_MODE, private_directory

log = logging.getLogger(__name__)

ENABLED_SETTING = "WEBSITE_AUTH_ENABLED"
"""App Service's own setting for whether authentication is on; ``false`` turns the local emulation off."""
SESSION_COOKIE = "AppServiceAuthSession"
"""App Service's session cookie name."""
SESSION_SECONDS = 8 * 3600
"""App Service's default session cookie lifetime (``login.cookieExpiration.timeToExpiration`` 08:00:00)."""
PROVIDERS = frozenset({"aad"})
"""The identity providers the app is configured with on Azure; another provider's login is a 404 there too."""
TOKEN_SECONDS = 3600
"""A local bearer token's lifetime: an Entra ID access token's usual one hour."""
SECRET_FILE = "easy_auth.key"
PRINCIPAL_HEADER = "X-MS-CLIENT-PRINCIPAL"
_INJECTED_PREFIXES = ("x-ms-client-principal", "x-ms-token-")
NAME_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
ROLE_TYPE = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
OBJECT_ID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"
ROLES_CLAIM = "roles"
_MAX_FIELD = 256
_SECRET_BYTES = 32


class LoginFieldError(ValueError):
    """A login form field that cannot be a principal: ``field`` names it, the message says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    """A signed-in user as the login form describes it (the SWA CLI's ``userId``/``userDetails``/``userRoles``)."""

    provider: str
    user_id: str
    user_details: str
    roles: tuple[str, ...]

    @classmethod
    def named(cls, name: str, roles: Sequence[str], object_id: str | None = None) -> Principal:
        """An Entra ID (``aad``) user called ``name`` with ``roles``; without ``object_id``, one derived from the
        name (a UUID, as Entra's object ids are), so one name is one person across tokens and sessions."""
        subject = object_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"funchost-local-user:{name}"))
        return cls("aad", subject, name, tuple(roles))

    def claims(self) -> list[dict[str, str]]:
        """The claims App Service passes for this user: name, object id, preferred_username, one ``roles`` each."""
        claims = [
            {"typ": NAME_CLAIM, "val": self.user_details},
            {"typ": OBJECT_ID_CLAIM, "val": self.user_id},
            {"typ": "preferred_username", "val": self.user_details},
        ]
        return claims + [{"typ": ROLES_CLAIM, "val": role} for role in self.roles]

    def headers(self) -> dict[str, str]:
        """The request headers App Service injects for this user."""
        document = {"auth_typ": self.provider, "claims": self.claims(), "name_typ": NAME_CLAIM, "role_typ": ROLE_TYPE}
        encoded = base64.b64encode(json.dumps(document, separators=(",", ":")).encode()).decode("ascii")
        return {
            PRINCIPAL_HEADER: encoded,
            f"{PRINCIPAL_HEADER}-ID": self.user_id,
            f"{PRINCIPAL_HEADER}-NAME": self.user_details,
            f"{PRINCIPAL_HEADER}-IDP": self.provider,
        }

    def me(self) -> list[dict[str, Any]]:
        """What ``/.auth/me`` answers: App Service's array of identities (no tokens: the host keeps none)."""
        return [{"provider_name": self.provider, "user_id": self.user_details, "user_claims": self.claims()}]


def principal_from_form(provider: str, fields: Mapping[str, str]) -> Principal:
    """The principal the login form describes; LoginFieldError naming the first field that cannot be used.

    ``userId`` and ``userDetails`` are required, at most 256 printable characters; ``userRoles`` is a
    comma-separated list of app role values (no spaces inside one, as Entra ID's app role values), possibly
    empty; duplicates are dropped, order kept.
    """
    user_id = _text(fields, "userId")
    user_details = _text(fields, "userDetails")
    roles: list[str] = []
    for role in (part.strip() for part in fields.get("userRoles", "").split(",")):
        if not role:
            continue
        if len(role) > _MAX_FIELD or not role.isprintable() or any(char.isspace() for char in role):
            raise LoginFieldError("userRoles", f"{role[:40]!r} is not a role value (no spaces, at most 256 characters)")
        if role not in roles:
            roles.append(role)
    return Principal(provider, user_id, user_details, tuple(roles))


def _text(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise LoginFieldError(name, "is required")
    if len(value) > _MAX_FIELD or not value.isprintable():
        raise LoginFieldError(name, "must be at most 256 printable characters")
    return value


def injected_header_names(headers: Mapping[str, str]) -> list[str]:
    """The names in ``headers`` that only App Service may set (``X-MS-CLIENT-PRINCIPAL*``, ``X-MS-TOKEN-*``)."""
    return [name for name in headers if name.lower().startswith(_INJECTED_PREFIXES)]


class EasyAuth:
    """Signs and checks the session cookie and the login form's token with one per-host secret."""

    def __init__(self, secret: bytes, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._clock = clock

    @classmethod
    def from_settings(cls, environ: MutableMapping[str, str], state_dir: Path) -> EasyAuth | None:
        """The emulation with the secret under ``state_dir`` (created on first use), or None when
        ``WEBSITE_AUTH_ENABLED`` is ``false``. When on, ``WEBSITE_AUTH_ENABLED`` becomes ``True`` in
        ``environ``, as App Service sets it for the app when authentication is on."""
        if environ.get(ENABLED_SETTING, "").strip().lower() == "false":
            return None
        environ[ENABLED_SETTING] = "True"
        return cls.in_state_dir(state_dir)

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> EasyAuth:
        """The emulation signing with the host's secret under ``state_dir`` (created on first use): what a
        tool beside the host uses to sign tokens that host accepts."""
        return cls(host_secret(state_dir / SECRET_FILE))

    def session_cookie(self, principal: Principal) -> str:
        """The signed cookie value for ``principal``, valid for ``SESSION_SECONDS``."""
        return self._sign("session", _principal_payload(principal, int(self._clock()) + SESSION_SECONDS))

    def bearer_token(self, principal: Principal, seconds: int = TOKEN_SECONDS) -> str:
        """A bearer token for ``principal``, valid for ``seconds``: the local stand-in for an Entra ID access
        token for the app's audience (a pipeline's or the remote CLI's), signed like the session cookie."""
        return self._sign("bearer", _principal_payload(principal, int(self._clock()) + seconds))

    def principal_of_bearer(self, token: str | None) -> Principal | None:
        """The principal of a bearer token, or None if absent, not signed by this host, or expired."""
        return self._principal("bearer", token)

    def principal_of(self, cookie: str | None) -> Principal | None:
        """The principal of a session cookie, or None if absent, not signed by this host, or expired."""
        return self._principal("session", cookie)

    def _principal(self, purpose: str, value: str | None) -> Principal | None:
        payload = self._verified(purpose, value)
        if payload is None:
            return None
        try:
            document = json.loads(payload)
            principal = Principal(
                str(document["idp"]), str(document["uid"]), str(document["name"]), tuple(map(str, document["roles"]))
            )
            expires = int(document["exp"])
        except (ValueError, KeyError, TypeError):
            return None
        return principal if expires > self._clock() else None

    def form_token(self) -> str:
        """A token the login form carries: a cross-site page cannot read the form, so cannot post it."""
        return self._sign("form", str(int(self._clock()) + SESSION_SECONDS).encode())

    def form_token_valid(self, token: str) -> bool:
        payload = self._verified("form", token)
        return payload is not None and payload.isdigit() and int(payload) > self._clock()

    def _sign(self, purpose: str, payload: bytes) -> str:
        body = base64.urlsafe_b64encode(payload).decode("ascii").rstrip("=")
        return f"{body}.{self._mac(purpose, body)}"

    def _verified(self, purpose: str, value: str | None) -> str | None:
        body, dot, mac = (value or "").partition(".")
        if not dot or not hmac.compare_digest(mac.encode(), self._mac(purpose, body).encode()):
            if value:
                log.warning("refused an Easy Auth %s value that this host did not sign", purpose)
            return None
        try:
            return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None

    def _mac(self, purpose: str, body: str) -> str:
        digest = hmac.new(self._secret, f"{purpose}|{body}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _principal_payload(principal: Principal, expires: int) -> bytes:
    payload = {
        "idp": principal.provider,
        "uid": principal.user_id,
        "name": principal.user_details,
        "roles": list(principal.roles),
        "exp": expires,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def host_secret(path: Path) -> bytes:
    """The secret in ``path``; created 0600 when missing, written whole to a temporary file and linked into
    place, so concurrent hosts on one state dir agree on the first one written. PermanentError naming the file
    when it is too short to be one (delete it: a new secret ends the sessions signed with the old)."""
    private_directory(path.parent)
    if not path.exists():
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "wb") as handle:
            handle.write(secrets.token_bytes(_SECRET_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    secret = path.read_bytes()
    if len(secret) < _SECRET_BYTES:
        raise PermanentError(f"{path}: shorter than {_SECRET_BYTES} bytes; delete it and the host makes a new one")
    return secret
