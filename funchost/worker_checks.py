"""The Python worker's load checks: what it refuses when it loads an indexed function, worded as it words it.

On Azure the Python worker (the ``azure-functions-runtime`` library) loads every function it indexed with
``Registry.add_indexed_function``; the first function it refuses fails the whole index, so the host gets no
functions at all. When that library is importable, the real check runs here; otherwise ``_check_as_worker``
applies the same rules, read from ``azure_functions_runtime/functions.py`` (``validate_function_params``,
``get_function_return_type``) and ``bindings/meta.py`` of azure-functions-runtime 1.3.0.
funchost/tests/conformance/test_bad_apps.py runs both against the real library on a set of bad apps.
"""

from __future__ import annotations

import collections.abc
import functools
import inspect
import sys
import typing
from types import SimpleNamespace
from typing import Any

import azure.functions as func

# The values the worker compares bindings with: BindingInfo.Direction and BindingInfo.DataType in the host's
# FunctionRpc.proto (azure-functions-language-worker-protobuf). The worker receives the generated module from
# its gRPC layer; only these enum values are read when a function is loaded.
_IN, _OUT, _INOUT = 0, 1, 2
_UNDEFINED = 0
WORKER_PROTOS = SimpleNamespace(
    BindingInfo=SimpleNamespace(**{"in": _IN, "out": _OUT, "inout": _INOUT, "undefined": _UNDEFINED})
)

RETURN = "$return"


class WorkerRefusal(Exception):
    """The worker refused to load a function; ``str()`` reads as the worker's own exception line."""


def check_function(function: Any) -> None:
    """Raise WorkerRefusal if the Python worker would refuse to load ``function`` (an indexed azure.functions one)."""
    registry = _real_worker()
    try:
        if registry is None:
            _check_as_worker(function)
        else:
            registry().add_indexed_function(function=function, protos=WORKER_PROTOS)
    except Exception as error:  # the worker fails indexing with whatever the load raised, named by its class
        raise WorkerRefusal(f"{type(error).__name__}: {error}") from error


def real_worker_installed() -> bool:
    return _real_worker() is not None


@functools.cache
def _real_worker() -> Any:
    """The worker's ``Registry`` class, its binding registry loaded; None when azure-functions-runtime is absent."""
    try:
        from azure_functions_runtime.bindings.meta import load_binding_registry
        from azure_functions_runtime.functions import Registry
    except ImportError:
        return None
    load_binding_registry()
    return Registry


class FunctionLoadError(RuntimeError):
    """Named as the worker's exception is, so a refusal reads the same with or without the library."""

    def __init__(self, function_name: str, reason: str) -> None:
        super().__init__(f"cannot load the {function_name} function: {reason}")


def _check_as_worker(function: Any) -> None:
    name = function.get_function_name()
    handler = function.get_user_function()
    params = dict(inspect.signature(handler).parameters)
    hints = typing.get_type_hints(handler)
    bound: dict[str, Any] = {}
    return_type: str | None = None
    for binding in function.get_bindings():
        if binding.direction == _INOUT:
            raise FunctionLoadError(name, '"inout" bindings are not supported')
        if binding.name == RETURN:
            if binding.direction != _OUT:
                raise FunctionLoadError(name, '"$return" binding must have direction set to "out"')
            return_type = return_type or binding.type
        else:
            bound[binding.name] = binding
    _check_context(name, params, bound, hints)
    _check_parameters_match_bindings(name, params, bound, hints)
    for param in params.values():
        _check_parameter(name, param.name, bound[param.name], hints)
    if return_type is not None and "return" in hints:
        _check_return(name, hints["return"], return_type)


def _check_context(name: str, params: dict[str, Any], bound: dict[str, Any], hints: dict[str, Any]) -> None:
    """An unbound ``context`` parameter receives the invocation context, so it may only be annotated Context."""
    if "context" not in params or "context" in bound:
        return
    params.pop("context")
    annotation = hints.get("context")
    if "context" in hints and not (isinstance(annotation, type) and annotation.__name__ == "Context"):
        raise FunctionLoadError(
            name, f'the "context" parameter is expected to be of type azure.functions.Context, got "{annotation!r}"'
        )


def _check_parameters_match_bindings(
    name: str, params: dict[str, Any], bound: dict[str, Any], hints: dict[str, Any]
) -> None:
    unbound = set(params) - set(bound)
    if unbound:
        settlement = _settlement_parameter(unbound, hints)
        if settlement is None:
            raise FunctionLoadError(
                name,
                "the following parameters are declared in Python but not in the function definition "
                f"(function.json or function decorators):  {unbound!r}",
            )
        params.pop(settlement)
    extra = set(bound) - set(params)
    if extra:
        raise FunctionLoadError(
            name,
            "Extra parameters in binding definition — the following parameters are declared as bindings "
            f"but are not present in Python: {extra!r}",
        )


def _check_parameter(name: str, param: str, binding: Any, hints: dict[str, Any]) -> None:
    annotated = param in hints
    annotation = hints.get(param)
    is_out = annotated and _is_out(annotation)
    py_type = annotation
    if is_out:
        arguments = typing.get_args(annotation)
        if len(arguments) != 1:
            raise FunctionLoadError(name, f"binding {param} has invalid Out annotation {annotation!r}")
        py_type = arguments[0]
    if annotated and not isinstance(py_type, type) and not _is_typing_generic(py_type):
        raise FunctionLoadError(name, f"binding {param} has invalid non-type annotation {annotation!r}")
    binding_is_out = binding.direction == _OUT
    if binding_is_out and annotated and not is_out:
        raise FunctionLoadError(
            name,
            f'binding {param} is declared to have the "out" direction, but its annotation in Python is not '
            "a subclass of azure.functions.Out",
        )
    if not binding_is_out and is_out:
        raise FunctionLoadError(
            name,
            f'binding {param} is declared to have the "in" direction in the binding decorator, but its annotation '
            "is azure.functions.Out in Python",
        )
    if not annotated or py_type is None:  # annotated: hints hold a type (None is not one)
        return
    binding_type = "generic" if py_type in (str, bytes) and not _has_implicit_output(binding.type) else binding.type
    if is_out:
        accepted = _converter(binding_type).check_output_type_annotation(py_type)
    else:
        accepted = _input_converter(binding_type, py_type).check_input_type_annotation(py_type)
    if accepted:
        return
    type_name = getattr(py_type, "__name__", repr(py_type))
    if binding.data_type != _UNDEFINED:  # None (no dataType given) differs from 0 here too
        raise FunctionLoadError(
            name,
            f'binding type "{param!r}" and dataType "{binding.type}" in the binding decorator do not match the '
            f"corresponding function parameter's Python type annotation {type_name}",
        )
    raise FunctionLoadError(
        name,
        f'type of {param} binding in the binding decorator "{binding.type}" does not match its Python '
        f'annotation "{type_name}"',
    )


def _check_return(name: str, annotation: Any, binding_type: str) -> None:
    if _is_typing_generic(annotation) and getattr(typing.get_origin(annotation), "__name__", None) == "Out":
        raise FunctionLoadError(name, "return annotation should not be azure.functions.Out")
    if not isinstance(annotation, type):
        raise FunctionLoadError(name, f"has invalid non-type return annotation {annotation!r}")
    if not _converter(binding_type).check_output_type_annotation(annotation):
        raise FunctionLoadError(
            name, f'Python return annotation "{annotation.__name__}" does not match binding type "{binding_type}"'
        )


def _is_out(annotation: Any) -> bool:
    if isinstance(annotation, type):
        return annotation.__name__ == "Out"
    origin = typing.get_origin(annotation)
    return _is_typing_generic(annotation) and isinstance(origin, type) and origin.__name__ == "Out"


_NOT_GENERIC_ORIGINS = (typing.Union, tuple, typing.ClassVar, collections.abc.Callable)


def _is_typing_generic(annotation: Any) -> bool:
    """What the worker counts as a generic type: typing's own subscripted aliases (``typing.Dict[str, Any]``,
    ``typing.Mapping``) and Generic classes, but not unions, tuples or callables, nor the builtin generics of
    PEP 585 (``dict[str, Any]``), whose alias class is ``types.GenericAlias``, not typing's."""
    if isinstance(annotation, type):
        return issubclass(annotation, typing.Generic)
    origin = typing.get_origin(annotation)
    return type(annotation).__module__ == "typing" and origin is not None and origin not in _NOT_GENERIC_ORIGINS


class _GenericBinding:
    """A binding type the SDK has no converter for: the worker binds it as str or bytes."""

    @staticmethod
    def check_input_type_annotation(py_type: type) -> bool:
        return issubclass(py_type, (str, bytes))

    @staticmethod
    def check_output_type_annotation(py_type: type) -> bool:
        return issubclass(py_type, (str, bytes, bytearray))


def _converter(binding_type: str) -> Any:
    return func.get_binding_registry().get(binding_type) or _GenericBinding


def _has_implicit_output(binding_type: str) -> bool:
    converter = func.get_binding_registry().get(binding_type)
    if converter is None:
        return binding_type != "durableClient"  # the worker exempts the durable client from implicit output
    return getattr(converter, "has_implicit_output", lambda: False)()


def _deferred_registry() -> Any:
    """The SDK-type binding registry, only when the app imported the extension base (as the worker decides)."""
    base = sys.modules.get("azurefunctions.extensions.base")
    return base.get_binding_registry() if base is not None else None


def _input_converter(binding_type: str, py_type: type) -> Any:
    deferred = _deferred_registry()
    if deferred is not None and deferred.check_supported_type(py_type):
        return deferred.get(binding_type) or _GenericBinding
    return _converter(binding_type)


def _settlement_parameter(unbound: set[str], hints: dict[str, Any]) -> str | None:
    """The one unbound parameter a Service Bus settlement client (SDK-type binding) fills, if that is what it is."""
    deferred = _deferred_registry()
    if len(unbound) != 1 or deferred is None:
        return None
    (param,) = unbound
    return param if deferred.check_supported_grpc_client_type(hints.get(param)) else None
