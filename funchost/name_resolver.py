"""``%NAME%`` app-setting references in binding values, resolved as the Functions host resolves them.

The host resolves them with ``NameResolverExtensions.ResolveWholeString`` (azure-webjobs-sdk,
``src/Microsoft.Azure.WebJobs.Host/NameResolverExtensions.cs``) over ``DefaultNameResolver``
(``DefaultNameResolver.cs``: ``IConfiguration[name]``):

* each ``%`` pairs with the next one; the text between them is the name, whatever it holds;
* a name is looked up case-insensitively; an environment variable ``A__B`` is the configuration key ``A:B``
  (so ``%A:B%`` finds it and ``%A__B%`` does not);
* an empty name (``%%``) and an unset setting do not resolve; a setting set to ``""`` resolves to ``""``.

=======================  ====================  =======================================================
value                    settings              result
=======================  ====================  =======================================================
``%TICK%``               ``TICK=0 * * * * *``  ``0 * * * * *``
``%tick%``               ``TICK=0 * * * * *``  ``0 * * * * *`` (case-insensitive)
``%Timers:nightly%``     ``Timers__nightly=5``  ``5``
``0 %M% * * * *``        ``M=*/10``            ``0 */10 * * * *``
``%MISSING%``            (none)                error: '%MISSING%' does not resolve to a value.
``50% off``              (any)                 error: The '%' at position 2 does not have a closing '%'
=======================  ====================  =======================================================
"""

from __future__ import annotations

from collections.abc import Mapping


def resolve_whole_string(text: str, settings: Mapping[str, str]) -> str:
    """``text`` with each ``%NAME%`` replaced by its setting; ValueError with the host's message if one fails."""
    configuration = {name.replace("__", ":").casefold(): value for name, value in settings.items()}
    parts, position = [], 0
    while (start := text.find("%", position)) >= 0:
        end = text.find("%", start + 1)
        if end < 0:
            raise ValueError(f"The '%' at position {start} does not have a closing '%'")
        name = text[start + 1 : end]
        value = configuration.get(name.casefold()) if name else None
        if value is None:
            raise ValueError(f"'%{name}%' does not resolve to a value.")
        parts += [text[position:start], value]
        position = end + 1
    return "".join([*parts, text[position:]])


def function_in_error(function: str, reason: str, source: str = "Microsoft.Azure.WebJobs.Host") -> str:
    """The host's log line for a function that failed indexing (the host disables that function).

    ``source`` is the .NET assembly that raised ``reason`` (the exception's ``Source``).
    """
    return (
        f"The '{function}' function is in error: Microsoft.Azure.WebJobs.Host: Error indexing method "
        f"'Functions.{function}'. {source}: {reason}"
    )
