"""A kernel's state by value: what the scenario checks compare after the re-runs.

Run inside a kernel with ``runpy.run_path(<this file>)["digest"](globals())`` (a user expression,
so no cell runs and nothing is bound). Values are normalized the way verify compares outputs:
floats to 6 significant digits, containers element by element, numpy and pandas objects by
their values, functions by their code, notebook classes by their methods' code and class-level data,
objects by their class and attributes. A mutable object
bound to several names is recorded as such (``b`` shares ``a``'s object), so a re-run that
breaks an alias a fresh run has is seen. The global random generators' states count too: a
later cell drawing from them reads them.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
import types
from typing import Any

_IPYTHON = re.compile(r"_+|_i{1,3}|_i?\d+|_[iod]h|_sh|_exit_code|__\w+__|In|Out|exit|quit|get_ipython")
_DEPTH = 8
_ITEMS = 2_000
_VALUES = (int, float, complex, bool, str, bytes, type(None), range, tuple, frozenset, type(Ellipsis))


def _float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    return format(value, ".6g")


def _code(function: Any) -> str:
    code = getattr(function, "__code__", None)
    if code is None:
        return getattr(function, "__qualname__", repr(type(function)))
    return _code_digest(code)


def _code_digest(code: types.CodeType) -> str:
    consts = [c for c in code.co_consts if not isinstance(c, types.CodeType)]
    nested = [_code_digest(c) for c in code.co_consts if isinstance(c, types.CodeType)]
    text = repr((code.co_code, consts, code.co_names, code.co_varnames, nested))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def normalize(value: Any, depth: int = 0, seen: frozenset[int] = frozenset()) -> Any:
    """A JSON-able, comparable form of ``value``."""
    if depth > _DEPTH:
        return "<deep>"
    if id(value) in seen and not isinstance(value, _VALUES):
        return "<cycle>"
    seen = seen | {id(value)}
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return _float(value)
    if kind in (bytes, complex, range) or value is Ellipsis:
        return repr(value)
    if kind in (list, tuple):
        return [kind.__name__, [normalize(v, depth + 1, seen) for v in list(value)[:_ITEMS]]]
    if kind in (set, frozenset):
        return [kind.__name__, sorted((json.dumps(normalize(v, depth + 1, seen)) for v in value))[:_ITEMS]]
    if kind is dict:
        items = [[normalize(k, depth + 1, seen), normalize(v, depth + 1, seen)] for k, v in value.items()]
        return ["dict", items[:_ITEMS]]
    if isinstance(value, types.ModuleType):
        return ["module", value.__name__]
    if isinstance(value, (types.FunctionType, types.LambdaType)):
        return ["function", value.__qualname__, _code(value)]
    if isinstance(value, (types.BuiltinFunctionType, types.MethodType)):
        return ["callable", getattr(value, "__qualname__", repr(kind))]
    module = kind.__module__ or ""
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.ndarray):
        return ["ndarray", value.dtype.str, list(value.shape), normalize(value.tolist(), depth + 1, seen)]
    if numpy is not None and isinstance(value, numpy.generic):
        return normalize(value.item(), depth + 1, seen)
    if numpy is not None and isinstance(value, numpy.random.Generator):
        return ["Generator", normalize(value.bit_generator.state, depth + 1, seen)]
    if module.startswith("pandas"):
        to_dict = getattr(value, "to_dict", None)
        if to_dict is not None:
            try:
                data = to_dict("split") if hasattr(value, "columns") else to_dict()
            except TypeError:
                data = to_dict()
            return [kind.__name__, normalize(data, depth + 1, seen)]
        return [kind.__name__, repr(value)]
    if isinstance(value, type):
        methods = {n: _code(f) for n, f in vars(value).items() if isinstance(f, types.FunctionType)}
        # a notebook class's data too: a container in its body is state every instance shares
        # (a library's classes keep caches of their own there)
        data = {
            n: normalize(v, depth + 1, seen)
            for n, v in vars(value).items()
            if value.__module__ == "__main__" and not n.startswith("__") and not callable(v)
            and not isinstance(v, (classmethod, staticmethod, property))
        }
        return ["class", value.__qualname__, sorted(methods.items()), sorted(data.items())]
    if module == "collections" and isinstance(value, dict):
        return [kind.__name__, normalize(dict(value), depth + 1, seen)]
    attributes = getattr(value, "__dict__", None)
    if isinstance(attributes, dict):
        return ["object", kind.__qualname__, normalize(dict(attributes), depth + 1, seen)]
    return ["other", kind.__qualname__, repr(value)[:200]]


def _random_states() -> dict[str, str]:
    import random

    states = {"<random>": hashlib.sha256(repr(random.getstate()).encode()).hexdigest()[:12]}
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        state = numpy.random.get_state()
        states["<numpy.random>"] = hashlib.sha256(repr((state[0], state[1].tolist(), state[2:])).encode()).hexdigest()[:12]
    return states


def digest(namespace: dict[str, Any]) -> str:
    """The user's names (and the global random states) by value, as one JSON object."""
    hidden = namespace.get("get_ipython")
    hidden_names = set(getattr(hidden(), "user_ns_hidden", {})) if callable(hidden) else set()
    out: dict[str, Any] = {}
    owners: dict[int, str] = {}
    for name in sorted(namespace):
        if _IPYTHON.fullmatch(name) or name in hidden_names:
            continue
        value = namespace[name]
        if not isinstance(value, _VALUES + (types.ModuleType, types.FunctionType, type)):
            owner = owners.setdefault(id(value), name)
            if owner != name:
                out[name] = ["same object as", owner]
                continue
        out[name] = normalize(value)
    out.update(_random_states())
    return json.dumps(out, sort_keys=True)
