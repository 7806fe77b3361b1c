"""What a plain RuntimeConfiguration entry may not be: a credential, a name the platform owns, control characters.

Plain configuration is stored with the deployment and shown by ``GET /api/deployments``, the orchestration
status and the CLI, so a credential in it leaks; it belongs in ``secrets`` (a SecretBinding to Key Vault).

Credentials are recognised by their shape, wherever they appear in a value:

| rule              | refused when the value contains                                       |
|-------------------|-----------------------------------------------------------------------|
| connection string | a ``;``-separated ``AccountKey=``, ``SharedAccessKey=``, ``Password=`` |
|                   | or ``Pwd=`` part with a non-empty value                               |
| SAS token         | a ``sig=`` query parameter together with ``sv=`` or ``se=``           |
| private key       | a PEM ``-----BEGIN ... PRIVATE KEY-----`` line (RSA, EC, OPENSSH, ...) |
| JWT               | three base64url parts, the first starting ``eyJ`` (``{"``)            |

and by their name: a key whose last word is ``password``, ``passwd``, ``pwd``, ``secret``, ``token`` or a
compound key name (``api_key``, ``access_key``, ``account_key``, ``private_key``, ``secret_key``,
``client_secret``), with a non-empty value. Only the last word counts, so ``TOKEN_TTL``, ``SECRET_NAME`` or
``PASSWORD_MIN_LENGTH`` (settings about a credential) stay plain, while ``DB_PASSWORD``, ``GithubToken`` and
``stripe.api-key`` are refused. A value that is itself a reference is not a credential: an App Service Key
Vault reference (``@Microsoft.KeyVault(...)``) or a placeholder (``${NAME}``, ``$(NAME)``).

Names the platform sets or that change how the process starts are refused as configuration keys (compared
case-insensitively, as Windows environments are): what local compute and AKS set (``PORT``,
``SERVICE_NAME``, ``SERVICE_VERSION``, ``REVISION``, ``REPLICA``); Container Apps' ``CONTAINER_APP_*`` and
its managed identity endpoint (``IDENTITY_ENDPOINT``, ``IDENTITY_HEADER``, ``MSI_ENDPOINT``,
``MSI_SECRET``); Kubernetes' ``KUBERNETES_*`` service variables; the dynamic loader's ``LD_*`` and
``DYLD_*``; and ``PATH``, ``HOME``, ``HOSTNAME``, ``SHELL``, ``USER``, ``PYTHONPATH``, ``PYTHONHOME``,
``PYTHONSTARTUP``.
"""

from __future__ import annotations

import re

RESERVED_NAMES = frozenset(
    {
        "PORT", "SERVICE_NAME", "SERVICE_VERSION", "REVISION", "REPLICA",
        "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET",
        "PATH", "HOME", "HOSTNAME", "SHELL", "USER", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP",
    }
)  # fmt: skip
RESERVED_PREFIXES = ("CONTAINER_APP_", "KUBERNETES_", "LD_", "DYLD_")
# The upper-case spelling of the same rule, for the JSON Schema (which has no case-insensitive patterns).
RESERVED_PATTERN = "^(" + "|".join(sorted(RESERVED_NAMES)) + ")$|^(" + "|".join(RESERVED_PREFIXES) + ")"

_CONNECTION_KEY = re.compile(r"(?:^|;)\s*(AccountKey|SharedAccessKey|Password|Pwd)\s*=\s*[^;\s]", re.IGNORECASE)
_SAS_SIGNATURE = re.compile(r"(?:^|[?&])sig=[^&\s]", re.IGNORECASE)
_SAS_FIELD = re.compile(r"(?:^|[?&])s[ve]=[^&\s]", re.IGNORECASE)
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----")
_JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
_REFERENCE = re.compile(r"@Microsoft\.KeyVault\(.*\)|\$\{[^}]+\}|\$\([^)]+\)", re.DOTALL)
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_SECRET_WORDS = frozenset({"password", "passwd", "pwd", "secret", "token"})
_SECRET_PAIRS = frozenset({("api", "key"), ("access", "key"), ("account", "key"), ("private", "key"),
                           ("secret", "key"), ("client", "secret")})  # fmt: skip
_USE_SECRETS = (
    "plain configuration is stored and shown with the deployment; put the value in Key Vault and bind it "
    "under secrets (a SecretBinding: name and keyVaultSecretUri)"
)


def reserved_name_error(key: str) -> str | None:
    """Why ``key`` may not be a configuration key, or None."""
    upper = key.upper()
    if upper in RESERVED_NAMES or upper.startswith(RESERVED_PREFIXES):
        return f'"{key}" is an environment variable the platform sets or the process start depends on; rename it'
    return None


def credential_error(key: str, value: str) -> str | None:
    """Why the plain configuration entry ``key: value`` looks like a credential, or None (see the table above)."""
    if not value or _REFERENCE.fullmatch(value.strip()):
        return None
    found = _shape(value)
    if found is None and _names_a_credential(key):
        found = f'the key "{key}" names a credential'
    return f"looks like a credential ({found}); {_USE_SECRETS}" if found else None


def _shape(value: str) -> str | None:
    connection = _CONNECTION_KEY.search(value)
    if connection:
        return f"a connection string with {connection.group(1)}="
    if _SAS_SIGNATURE.search(value) and _SAS_FIELD.search(value):
        return "a SAS token"
    if _PRIVATE_KEY.search(value):
        return "a PEM private key"
    if _JWT.search(value):
        return "a JWT"
    return None


def _names_a_credential(key: str) -> bool:
    words = [word.lower() for word in _WORDS.findall(key)]
    return bool(words) and (words[-1] in _SECRET_WORDS or tuple(words[-2:]) in _SECRET_PAIRS)
