"""Container image references: their parts and the version they stand for.

    image                                        | split_image                          | image_version | short_version
    -------------------------------------------- | ------------------------------------ | ------------- | -------------
    reg.io/orders:1.2.0                          | (reg.io/orders, 1.2.0, None)         | 1.2.0         | 1.2.0
    reg.io/orders@sha256:ab12…                   | (reg.io/orders, None, sha256:ab12…)  | sha256:ab12…  | ab12… (12 hex)
    reg.io/orders:1.2.0@sha256:ab12…             | (reg.io/orders, 1.2.0, sha256:ab12…) | sha256:ab12…  | 1.2.0
    localhost:5000/orders                        | (localhost:5000/orders, None, None)  | latest        | PermanentError
"""

from __future__ import annotations

from controlplane.errors import PermanentError

_VERSION_DIGEST_CHARS = 12


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """``registry/repo:tag@sha256:hex`` -> ``(registry/repo, tag, sha256:hex)``; absent parts are None.

    A colon before the last ``/`` is a registry port, not a tag: ``localhost:5000/orders`` has no tag.
    """
    name, _, digest = image.partition("@")
    head, slash, last = name.rpartition("/")
    repository, colon, tag = last.partition(":")
    return head + slash + repository, (tag if colon else None), (digest or None)


def image_version(image: str) -> str:
    """The version a workload runs (the AKS version label, a local process's ``SERVICE_VERSION``): the
    digest when pinned, else the tag, else ``latest``."""
    if "@" in image:
        return image.split("@", 1)[1]
    _, tag, _ = split_image(image)
    return tag if tag is not None else "latest"


def short_version(image: str) -> str:
    """A readable version of ``image``: its tag, else the first 12 hex of its digest; PermanentError if it
    has neither."""
    _, tag, digest = split_image(image)
    if tag:
        return tag
    if digest:
        return digest.partition(":")[2][:_VERSION_DIGEST_CHARS] or digest[:_VERSION_DIGEST_CHARS]
    raise PermanentError(f'image "{image}": tag or digest required to tell its version')
