"""Field types shared by the release manifest models: names, image references, Key Vault references.

Every custom check raises ``PydanticCustomError`` with a message that names the rule and shows the
offending value, so ``errors`` can pass it through unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from controlplane.domain.manifest.config_rules import (
    RESERVED_NAMES,
    RESERVED_PATTERN,
    RESERVED_PREFIXES,
    reserved_name_error,
)

API_VERSION = "controlplane.azure/v1"
KIND = "Release"
STRATEGY_TYPES = ("RollingHealthGated", "Canary", "BlueGreen")
LOCAL_REGION = "local"
QUERY_PLACEHOLDERS = ("environment", "service", "revision", "window")  # of an analysis metric's custom query
QUERY_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")  # Flagger's {{ name }}

# Defaults that the cross-field rules (rules) must apply exactly as the models do.
DEFAULT_REPLICAS = 1
DEFAULT_MIN_REPLICAS = 1
DEFAULT_MAX_SURGE = 1
DEFAULT_MAX_UNAVAILABLE = 0
DEFAULT_SCALING_TARGET: Final = "http"  # Final: typed as the literal that ScalingPolicy.target allows

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
REGION = r"^[a-z][a-z0-9]*$"
HTTP_PATH = r"^/[^\s]*$"
CONFIG_KEY = r"^[A-Za-z_][A-Za-z0-9_.-]*$"
CONFIG_VALUE = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"  # no control characters but tab and line breaks
ENV_VAR_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
LABEL_VALUE = r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$"
PERCENT = r"^(100|[1-9]?[0-9])%$"
KEY_VAULT_SECRET_URI = (
    r"^https://[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]"
    r"\.(vault\.azure\.net|vault\.azure\.cn|vault\.usgovcloudapi\.net|vault\.microsoftazure\.de)"
    r"/secrets/[A-Za-z0-9-]{1,127}(/[0-9a-fA-F]{32})?$"
)
KEY_VAULT_HOSTS = ("vault.azure.net", "vault.azure.cn", "vault.usgovcloudapi.net", "vault.microsoftazure.de")

# What each pattern means in words; used for `string_pattern_mismatch` errors.
PATTERN_HINTS = {
    DNS_LABEL: "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a "
    "letter or digit",
    REGION: 'must be an Azure region name: lowercase letters and digits, e.g. "westeurope"',
    HTTP_PATH: 'must be an HTTP path that starts with "/" and has no spaces',
    CONFIG_KEY: "must start with a letter or '_' and contain only letters, digits, '_', '.' or '-'",
    CONFIG_VALUE: "must not contain control characters (NUL, ESC, DEL, ...); tab and line breaks are allowed",
    ENV_VAR_NAME: "must be an environment variable name: letters, digits and '_', not starting with a digit",
    LABEL_VALUE: "must be empty, or letters, digits, '-', '_', '.' starting and ending alphanumeric",
}

# The distribution reference grammar: components joined by ".", "_", "__" or a run of "-".
_IMAGE_NAME = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_KEY_VAULT_SECRET_URI = re.compile(KEY_VAULT_SECRET_URI, re.IGNORECASE)


class ManifestModel(BaseModel):
    """Base of every manifest model: immutable, strict, camelCase on the wire, unknown fields rejected."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        alias_generator=to_camel,
        populate_by_name=True,
        allow_inf_nan=False,
        field_title_generator=lambda name, _info: name.replace("_", " ").capitalize(),
    )


def shown(value: Any) -> str:
    """A short, unambiguous rendering of an offending value for error messages."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = value.isoformat() if isinstance(value, date) else str(value)
    rendered = json.dumps(text, ensure_ascii=False)
    return rendered if len(rendered) <= 80 else rendered[:76] + '..."'


def _fail(kind: str, message: str, value: Any) -> PydanticCustomError:
    return PydanticCustomError(kind, message + " (got {got})", {"got": shown(value)})


def check_image(ref: str) -> str:
    """An image reference pinned by a tag other than ``latest`` or by an ``@sha256:`` digest."""
    name, at, digest = ref.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        raise _fail("image_digest", "digest must be sha256:<64 lowercase hex>", ref)
    head, slash, last = name.rpartition("/")
    repository, colon, tag = last.partition(":")
    if not _IMAGE_NAME.fullmatch(head + slash + repository):
        raise _fail("image_reference", "not an image reference like registry/repository:tag", ref)
    if colon and not _IMAGE_TAG.fullmatch(tag):
        raise _fail("image_tag", "tag must be letters, digits, '_', '.' or '-' (at most 128)", ref)
    if not colon and not at:
        raise _fail("image_unpinned", "tag or digest required", ref)
    if tag == "latest" and not at:
        raise _fail("image_latest", 'tag "latest" is mutable; pin a version tag or an @sha256 digest', ref)
    return ref


def check_key_vault_secret_uri(uri: str) -> str:
    """An https URI of a Key Vault secret, optionally pinned to a 32-hex version."""
    parts = urlsplit(uri)
    if parts.scheme.lower() != "https":
        raise _fail("key_vault_scheme", "Key Vault secret URIs must use https", uri)
    host = (parts.hostname or "").lower()
    if not any(host.endswith("." + suffix) for suffix in KEY_VAULT_HOSTS):
        raise _fail("key_vault_host", "host must be a Key Vault endpoint (" + ", ".join(KEY_VAULT_HOSTS) + ")", uri)
    if not _KEY_VAULT_SECRET_URI.fullmatch(uri):
        raise _fail(
            "key_vault_uri",
            "must look like https://<vault>.vault.azure.net/secrets/<name>[/<32-hex version>]",
            uri,
        )
    return uri


def check_label_key(key: str) -> str:
    """A Kubernetes label key: ``[dns-subdomain/]name`` with name <= 63 and prefix <= 253 characters."""
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        raise _fail("label_key", "label key prefix must be a DNS subdomain of at most 253 characters", key)
    if len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        raise _fail(
            "label_key",
            "label names are at most 63 letters, digits, '-', '_', '.' starting and ending alphanumeric",
            key,
        )
    return key


def check_config_key(key: str) -> str:
    """A configuration key that is not an environment variable the platform owns (``config_rules``)."""
    reason = reserved_name_error(key)
    if reason is not None:
        raise PydanticCustomError("config_reserved", reason)
    return key


def check_int_or_percent(value: Any) -> int | str:
    """A count (int >= 0) or a percentage string such as ``"25%"``, as Kubernetes accepts for surge."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and re.fullmatch(PERCENT, value):
        return value
    raise _fail("int_or_percent", 'must be an integer >= 0 or a percentage such as "25%"', value)


def _checked_str(check: Callable[[str], str], description: str, **schema: Any) -> Any:
    return Annotated[str, AfterValidator(check), Field(description=description, json_schema_extra=schema or None)]


DnsLabel = Annotated[str, Field(max_length=63, pattern=DNS_LABEL)]
Region = Annotated[str, Field(max_length=63, pattern=REGION)]
HttpPath = Annotated[str, Field(max_length=1024, pattern=HTTP_PATH)]
JsonPointer = Annotated[str, Field(max_length=256, pattern=r"^(/([^~/]|~[01])*)+$")]
EnvVarName = Annotated[str, Field(max_length=256, pattern=ENV_VAR_NAME)]
ConfigKey = Annotated[
    str,
    Field(
        max_length=256,
        pattern=CONFIG_KEY,
        description="Not a name the platform sets (case-insensitive): "
        + ", ".join(sorted(RESERVED_NAMES))
        + ", or starting "
        + ", ".join(RESERVED_PREFIXES),
        json_schema_extra={"not": {"pattern": RESERVED_PATTERN}},
    ),
    AfterValidator(check_config_key),
]
ConfigValue = Annotated[str, Field(max_length=4096, pattern=CONFIG_VALUE)]
LabelKey = _checked_str(check_label_key, "Kubernetes label key: [dns-subdomain/]name")
LabelValue = Annotated[str, Field(max_length=63, pattern=LABEL_VALUE)]
ImageRef = _checked_str(
    check_image,
    "Container image pinned by a tag (not latest) or an @sha256 digest",
    minLength=1,
    maxLength=512,
)
KeyVaultSecretUri = _checked_str(
    check_key_vault_secret_uri, "https URI of a Key Vault secret", pattern=KEY_VAULT_SECRET_URI
)
IntOrPercent = Annotated[
    int | str,
    PlainValidator(check_int_or_percent),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": PERCENT}]}),
]
