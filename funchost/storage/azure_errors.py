"""``azure.core`` exceptions of the Table and Blob SDKs, translated into the host's errors at the storage edge."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from funchost.errors import AlreadyExists, ConcurrencyConflict, NotFound, PermanentError, TransientError

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Run a storage call, re-raising its failures as NotFound / AlreadyExists / ConcurrencyConflict /
    TransientError / PermanentError with ``what`` naming the operation."""
    try:
        yield
    except ResourceNotFoundError as error:
        raise NotFound(f"{what}: not found") from error
    except ResourceExistsError as error:
        raise AlreadyExists(f"{what}: already exists") from error
    except ResourceModifiedError as error:
        raise ConcurrencyConflict(f"{what}: changed since it was read") from error
    except (ServiceRequestError, ServiceResponseError) as error:
        raise TransientError(f"{what}: {error}") from error
    except HttpResponseError as error:
        if error.status_code == 412:
            raise ConcurrencyConflict(f"{what}: changed since it was read") from error
        if error.status_code in RETRYABLE_STATUS:
            raise TransientError(f"{what}: HTTP {error.status_code} {error.reason}") from error
        raise PermanentError(f"{what}: HTTP {error.status_code} {error.message}") from error
    except AzureError as error:
        raise TransientError(f"{what}: {error}") from error
