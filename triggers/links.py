"""The URLs the API hands to a caller: the product's own status routes on the request's origin, no key in them.

A pipeline polls what it is given with the same function key it used for the POST, so a link opens exactly
what that key already opens and nothing more: no Durable management URL (whose system key would also open
raiseEvent, terminate, purge and rewind) is ever returned.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import azure.functions as func

# host.json extensions.http.routePrefix: the prefix every HTTP trigger is served under.
ROUTE_PREFIX = "api"


def api_url(req: func.HttpRequest, *segments: str) -> str:
    """``<scheme>://<host>/api/<segment>/...`` on the origin ``req`` was sent to (the Functions host passes the
    URL the client called), each segment percent-encoded; no query string, so no key."""
    origin = urlsplit(req.url)
    path = "/".join(quote(segment, safe="") for segment in segments)
    return f"{origin.scheme}://{origin.netloc}/{ROUTE_PREFIX}/{path}"
