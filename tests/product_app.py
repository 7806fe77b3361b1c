"""The product's function_app, indexed once for every test (the SDK indexes an app object only once)."""

from __future__ import annotations

import functools

from funchost.functions import FunctionIndex


@functools.cache
def index() -> FunctionIndex:
    return FunctionIndex.load("function_app", "app")
