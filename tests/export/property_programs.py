"""Generated notebooks for the export property test (``test_property_export.py``).

A program is a list of *blocks* of top-level code built from the constructs that decide
scoping in an exported script (its cells run inside ``main``, hoisted definitions at module
level): functions reading globals, ``global`` and ``nonlocal``, closures, default arguments
and decorators that read parameters, class bodies, comprehensions, generators, ``del``,
``try``, ``with``, walrus, ``match``, imports inside cells and top-level ``await``. Every
block reads a parameter of the ``parameters`` cell and prints deterministic values (ints,
strings, bools, sorted containers: nothing whose order depends on hash seeds, no reprs with
addresses), and never raises: the builder tracks which names are bound at each point, so a
name is read only where the notebook has it (or inside ``try: ... except NameError``).

The blocks are cut into cells at random, after a ``parameters``-tagged cell of literal
assignments. :func:`run_cells` is the reference: the cells run in order in one namespace, as
a kernel runs them (top-level ``await`` cells as IPython's autoawait runs them).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import io
import re
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

__all__ = ["Program", "programs", "run_cells"]

#: The parameters every program has, as the blocks are written (an int, a str, a bool, a float).
PARAMETER_NAMES = ("alpha", "name", "flag", "ratio")
#: What a program calls them: plain names, names the script itself uses (``main``, ``params``,
#: ``sys``, ...; the script must rename its own), builtins, and ``experiment``, which clashes
#: with the script's ``--experiment`` option (export refuses that, by design).
RENAMES = {
    "alpha": ("alpha", "main", "params", "sys", "argparse", "Run", "input", "max_iter"),
    "name": ("name", "argv", "run", "label", "experiment"),
    "flag": ("flag", "parse_params", "verbose", "optional"),
    "ratio": ("ratio", "shell", "lr", "id"),
}
#: Parameter names export refuses: they clash with the script's options.
CLASHING = frozenset({"experiment"})
_NAMES = st.text(alphabet="abxyz", min_size=0, max_size=3)
_RATIOS = st.sampled_from([0.5, 0.25, 1.5, 2.0, -0.75, 3.0])
#: Builtins a block may shadow (and later delete, which shows the builtin again).
_SHADOWABLE = ("max", "min")


@dataclass(frozen=True)
class Program:
    """A generated notebook: its code cells and the parameters' two sets of values."""

    #: code cells in order; ``cells[parameters_index]`` is tagged ``parameters``
    cells: tuple[str, ...]
    parameters_index: int
    defaults: dict[str, Any]
    #: other values for every parameter, given on the command line
    overrides: dict[str, Any]

    def argv(self) -> list[str]:
        """The command line that gives every parameter its override."""
        args: list[str] = []
        for key, value in self.overrides.items():
            option = "--" + key.replace("_", "-")
            if isinstance(value, bool):
                args.append(option if value else "--no-" + key.replace("_", "-"))
            else:
                args.append(f"{option}={value}")
        return args

    def injected(self) -> str:
        """The cell papermill injects after the parameters cell for the overrides."""
        return "\n".join(f"{key} = {value!r}" for key, value in self.overrides.items())

    def case_text(self) -> str:
        """The notebook as a golden case's ``# %%`` cells."""
        parts = []
        for index, cell in enumerate(self.cells):
            parts.append("# %% [parameters]" if index == self.parameters_index else "# %%")
            parts.append(cell)
        return "\n".join(parts) + "\n"


def parameters_source(values: dict[str, Any], annotated: bool = False) -> str:
    if annotated:
        return "\n".join(
            f"{key}: {type(value).__name__} = {value!r}  # the {key}" for key, value in values.items()
        )
    return "\n".join(f"{key} = {value!r}" for key, value in values.items())


def run_cells(program: Program, *, overrides: bool) -> str:
    """What running the cells in order prints (with papermill's injected cell when
    ``overrides``): one shared namespace, as the kernel's ``user_ns``."""
    cells = list(program.cells)
    if overrides:
        cells.insert(program.parameters_index + 1, program.injected())
    namespace: dict[str, Any] = {"__name__": "__main__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for index, source in enumerate(cells):
            code = compile(source, f"<cell {index}>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            if code.co_flags & inspect.CO_COROUTINE:
                # IPython's autoawait: the cell's code is a coroutine run in the kernel's loop
                asyncio.run(eval(code, namespace))
            else:
                exec(code, namespace)  # noqa: S102 - generated test code
    return out.getvalue()


# -- the builder ----------------------------------------------------------------------------------
@dataclass
class _Function:
    """A zero-argument function the program may call: what it reads besides parameters."""

    name: str
    deps: frozenset[str]
    returns_int: bool = True


@dataclass
class _State:
    """What is bound at the current point of the program (top level, in order)."""

    ints: list[str] = field(default_factory=list)  #: int variables bound now
    seen: list[str] = field(default_factory=list)  #: every name the program bound so far
    functions: dict[str, _Function] = field(default_factory=dict)
    generators: list[str] = field(default_factory=list)  #: generator objects not consumed
    shadowed: set[str] = field(default_factory=set)  #: builtins rebound to ints
    imported: set[str] = field(default_factory=set)  #: modules imported at top level
    star: bool = False  #: ``from math import *`` ran
    star_gone: bool = False  #: ``floor`` from the star import was rebound and deleted
    declared: set[str] = field(default_factory=set)  #: names a top-level ``global`` declares
    counter: int = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        name = f"{prefix}{self.counter}"
        self.seen.append(name)
        return name

    def bound(self) -> set[str]:
        return set(PARAMETER_NAMES) | set(self.ints) | set(self.functions)

    def bind_int(self, name: str) -> None:
        self.imported.discard(name)  # `json = ...` in any block: json is no module any more
        if name not in self.ints:
            self.ints.append(name)
        if name not in self.seen:
            self.seen.append(name)
        self.functions.pop(name, None)
        if name in self.generators:
            self.generators.remove(name)

    def unbind(self, name: str) -> None:
        if name in self.ints:
            self.ints.remove(name)
        self.functions.pop(name, None)
        if name in self.generators:
            self.generators.remove(name)
        self.shadowed.discard(name)

    def reaches(self, function: _Function) -> set[str]:
        """The names a call of ``function`` reads, through the functions it calls (as they
        are defined now)."""
        seen: set[str] = set()
        pending = list(function.deps)
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in self.functions:
                pending.extend(self.functions[name].deps)
        return seen

    def callable_functions(self, exclude: str | None = None) -> list[_Function]:
        """Functions returning an int that can be called here without a NameError (nor,
        when ``exclude`` is being defined, calling it)."""
        bound = self.bound()
        out = []
        for function in self.functions.values():
            reached = self.reaches(function)
            if function.returns_int and reached <= bound and exclude not in (reached | {function.name}):
                out.append(function)
        return out


def _param_int(draw: Any) -> str:
    """An int expression that reads a parameter."""
    return draw(st.sampled_from(
        ["alpha", "len(name)", "int(flag)", "round(ratio * 4)", "alpha * 2", "(alpha if flag else -alpha)"]
    ))


def _int_expr(draw: Any, state: _State, deps: set[str], exclude: str | None = None) -> str:
    """An int expression reading a parameter, maybe a bound variable or a function's result
    (whose names go to ``deps``)."""
    expr = _param_int(draw)
    choices = ["param"]
    if state.ints:
        choices.append("var")
    functions = state.callable_functions(exclude)
    if functions:
        choices.append("call")
    kind = draw(st.sampled_from(choices))
    if kind == "var":
        var = draw(st.sampled_from(state.ints))
        deps.add(var)
        expr = f"{expr} + {var}"
    elif kind == "call":
        function = draw(st.sampled_from(functions))
        deps |= {function.name, *function.deps}
        expr = f"{expr} + {function.name}()"
    return expr


def _target(draw: Any, state: _State, prefix: str = "v", param: bool = True) -> str:
    """A new variable, or one bound before (rebinding), or (``param``) a parameter."""
    options = ["new"] + (["old"] if state.seen else []) + (["param"] if param else [])
    kind = draw(st.sampled_from(options))
    if kind == "old":
        name = draw(st.sampled_from(state.seen))
        if name not in state.functions and name not in _SHADOWABLE and (param or name != "alpha"):
            return name
    if kind == "param":
        return "alpha"
    return state.fresh(prefix)


# Each block builder returns the block's source and updates the state.
def _assign(draw: Any, state: _State) -> str:
    value = _int_expr(draw, state, set())
    target = _target(draw, state)
    state.bind_int(target)
    annotation = ": int" if draw(st.integers(0, 3)) == 0 else ""
    return f"{target}{annotation} = {value}\nprint({target!r}, {target})"


def _recursive(draw: Any, state: _State) -> str:
    """A function that calls itself by its global name."""
    name = _function_name(draw, state)
    state.functions[name] = _Function(name, frozenset())
    return (
        f"def {name}(n=2):\n"
        f"    return alpha if n <= 0 else {name}(n - 1) + len(name)\n"
        f"print({name!r}, {name}())"
    )


def _rebind_parameter(draw: Any, state: _State) -> str:
    return draw(st.sampled_from([
        "alpha = alpha + 1\nprint('alpha', alpha)",
        "name = name + 'q'\nprint('name', name)",
        "flag = not flag\nprint('flag', flag)",
        "ratio = ratio * 2\nprint('ratio', ratio)",
    ]))


def _function_reading_globals(draw: Any, state: _State) -> str:
    deps: set[str] = set()
    name = _function_name(draw, state)
    value = _int_expr(draw, state, deps, exclude=name)
    body = draw(st.sampled_from([
        f"    return {value}",
        f"    total = 0\n    for i in range(2):\n        total += {value}\n    return total",
        f"    helper = lambda: {value}\n    return helper()",
    ]))
    state.functions[name] = _Function(name, frozenset(deps))
    call = draw(st.booleans())
    return f"def {name}():\n{body}" + (f"\nprint({name!r}, {name}())" if call else "")


def _function_name(draw: Any, state: _State) -> str:
    """A new function name, or (redefinition) one defined before."""
    if state.functions and draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(sorted(state.functions)))
    name = state.fresh("f")
    return name


def _call(draw: Any, state: _State) -> str:
    functions = state.callable_functions()
    if not functions:
        return _assign(draw, state)
    function = draw(st.sampled_from(functions))
    return f"print({function.name!r}, {function.name}() + alpha)"


def _global_write(draw: Any, state: _State) -> str:
    deps: set[str] = set()
    value = _int_expr(draw, state, deps)
    target = _target(draw, state, "g")
    name = state.fresh("setter")
    augmented = target in state.ints and draw(st.booleans())
    line = f"{target} += {value}" if augmented else f"{target} = {value}"
    text = f"def {name}():\n    global {target}\n    {line}\n"
    call = draw(st.sampled_from([f"{name}()", f"_ = {name}()", f"if flag or True:\n    {name}()"]))
    state.bind_int(target)
    state.functions[name] = _Function(name, frozenset(deps | ({target} if augmented else set())), False)
    return text + f"{call}\nprint({target!r}, {target})"


def _global_read(draw: Any, state: _State) -> str:
    name = state.fresh("f")
    param = draw(st.sampled_from(["alpha", "name", "flag"]))
    state.functions[name] = _Function(name, frozenset(), param == "alpha")
    if param != "alpha":
        return f"def {name}():\n    global {param}\n    return {param}\nprint({name!r}, {name}())"
    return f"def {name}():\n    global alpha\n    return alpha * 3\nprint({name!r}, {name}())"


def _nonlocal(draw: Any, state: _State) -> str:
    deps: set[str] = set()
    value = _int_expr(draw, state, deps)
    name = state.fresh("f")
    state.functions[name] = _Function(name, frozenset(deps))
    return (
        f"def {name}():\n"
        f"    count = {value}\n"
        "    def bump():\n"
        "        nonlocal count\n"
        "        count += alpha\n"
        "        return count\n"
        "    bump()\n"
        "    return bump()\n"
        f"print({name!r}, {name}())"
    )


def _closure(draw: Any, state: _State) -> str:
    deps: set[str] = set()
    value = _int_expr(draw, state, deps)
    maker = state.fresh("make")
    target = state.fresh("v")
    form = draw(st.sampled_from(["def", "lambda"]))
    if form == "def":
        text = (
            f"def {maker}(k):\n"
            "    def inner(x):\n"
            "        return x * k + alpha\n"
            "    return inner\n"
            f"{target} = {maker}({value})(2)\n"
        )
    else:
        text = f"{maker} = lambda k: (lambda x: x * k + len(name))\n{target} = {maker}({value})(3)\n"
    state.bind_int(target)
    return text + f"print({target!r}, {target})"


def _default_argument(draw: Any, state: _State) -> str:
    deps: set[str] = set()
    value = _int_expr(draw, state, deps)
    name = _function_name(draw, state)
    form = draw(st.sampled_from(["def", "lambda", "kwonly"]))
    if form == "def":
        text = f"def {name}(a={value}):\n    return a * 10 + alpha"
    elif form == "kwonly":
        text = f"def {name}(*, a={value}, b=flag):\n    return a + int(b) + alpha"
    else:
        text = f"{name} = lambda a={value}: a - alpha"
    state.functions[name] = _Function(name, frozenset())  # the default is read once, here
    return text + f"\nprint({name!r}, {name}())"


def _decorator(draw: Any, state: _State) -> str:
    deps: set[str] = set()
    deco = state.fresh("deco")
    name = _function_name(draw, state)
    value = _int_expr(draw, state, deps, exclude=name)
    form = draw(st.sampled_from(["factory", "plain"]))
    if form == "factory":  # the decorator's argument is read when the function is defined
        text = (
            f"def {deco}(k):\n"
            "    def wrap(fn):\n"
            "        def inner():\n"
            "            return fn() + k\n"
            "        return inner\n"
            "    return wrap\n"
            f"@{deco}({value})\n"
            f"def {name}():\n"
            "    return alpha\n"
        )
        state.functions[name] = _Function(name, frozenset())
    else:  # the decorator reads a parameter when the function is called
        text = (
            f"def {deco}(fn):\n"
            "    def inner():\n"
            f"        return fn() * alpha\n"
            "    return inner\n"
            f"@{deco}\n"
            f"def {name}():\n"
            f"    return {value}\n"
        )
        state.functions[name] = _Function(name, frozenset(deps))
    return text + f"print({name!r}, {name}())"


def _class_body(draw: Any, state: _State) -> str:
    deps: set[str] = set()
    value = _int_expr(draw, state, deps)
    name = state.fresh("C")
    form = draw(st.sampled_from(
        ["method", "shadow", "comprehension", "nested", "decorated", "subclass", "classmethod"]
    ))
    if form == "decorated":  # a class decorator and a class keyword that read parameters
        deco = state.fresh("tag")
        base = state.fresh("Base")
        return (
            f"def {deco}(k):\n"
            "    def wrap(cls):\n"
            "        cls.tag = k + alpha\n"
            "        return cls\n"
            "    return wrap\n"
            f"class {base}:\n"
            "    def __init_subclass__(cls, size=0, **kw):\n"
            "        super().__init_subclass__(**kw)\n"
            "        cls.size = size\n"
            f"@{deco}({value})\n"
            f"class {name}({base}, size=len(name)):\n"
            "    pass\n"
            f"print({name!r}, {name}.tag, {name}.size)"
        )
    if form == "subclass":  # zero-argument super() in a class (maybe kept in main)
        base = state.fresh("Base")
        return (
            f"class {base}:\n"
            "    def value(self):\n"
            "        return alpha\n"
            f"class {name}({base}):\n"
            f"    extra = {value}\n"
            "    def value(self):\n"
            "        return super().value() + self.extra\n"
            f"print({name!r}, {name}().value())"
        )
    if form == "classmethod":
        return (
            f"class {name}:\n"
            f"    base = {value}\n"
            "    @classmethod\n"
            "    def make(cls):\n"
            "        return cls.base + alpha\n"
            "    @property\n"
            "    def twice(self):\n"
            "        return self.make() * 2\n"
            f"print({name!r}, {name}.make(), {name}().twice)"
        )
    if form == "method":
        return (
            f"class {name}:\n"
            f"    k = {value}\n"
            "    def get(self):\n"
            "        return self.k + alpha\n"
            f"print({name!r}, {name}().get(), {name}.k)"
        )
    if form == "shadow":  # a class body that reads a global it then binds
        param = draw(st.sampled_from(["alpha", "name", "flag"]))
        bump = {"alpha": "alpha + 1", "name": "name * 2", "flag": "not flag"}[param]
        return f"class {name}:\n    {param} = {bump}\n    k = {value}\nprint({name!r}, {name}.{param}, {name}.k)"
    if form == "comprehension":
        return (
            f"class {name}:\n"
            f"    n = ({value}) % 4\n"
            "    vals = [i * alpha for i in range(n)]\n"
            f"print({name!r}, {name}.vals)"
        )
    return (
        f"class {name}:\n"
        "    class Inner:\n"
        "        k = alpha\n"
        f"    total = Inner.k + ({value})\n"
        f"print({name!r}, {name}.total)"
    )


def _comprehension(draw: Any, state: _State) -> str:
    deps: set[str] = set()
    value = _int_expr(draw, state, deps)
    target = _target(draw, state, param=False)
    form = draw(st.sampled_from(["list", "dict", "set", "nested", "walrus", "genexp"]))
    if form == "list":
        text = f"{target} = [x * alpha + ({value}) for x in range(3) if flag or x > 0]\n"
    elif form == "dict":
        text = f"{target} = sorted({{k: len(name) + k for k in range(({value}) % 3 + 1)}}.items())\n"
    elif form == "set":
        text = f"{target} = sorted({{x % 3 for x in range(alpha % 5 + 1)}} | {{{value}}})\n"
    elif form == "nested":
        text = f"{target} = [[i + j * alpha for j in range(2)] for i in range(({value}) % 3)]\n"
    elif form == "walrus":
        last = state.fresh("w")
        text = f"{target} = [({last} := x + alpha) for x in range(2)]\nprint({last!r}, {last})\n"
        state.bind_int(last)
    else:
        text = f"{target} = sum(x * alpha for x in range(({value}) % 4))\n"
    if form == "genexp":
        state.bind_int(target)
    else:
        state.unbind(target)  # holds a list: not an int
        if target not in state.seen:
            state.seen.append(target)
    return text + f"print({target!r}, {target})"


def _generator(draw: Any, state: _State) -> str:
    form = draw(st.sampled_from(["expression", "function", "consume"]))
    if form == "consume" and state.generators:
        generator = draw(st.sampled_from(state.generators))
        state.generators.remove(generator)
        return f"print({generator!r}, list({generator}))"
    if form == "function":
        name = state.fresh("gen")
        target = state.fresh("v")
        state.bind_int(target)
        return (
            f"def {name}():\n"
            "    for i in range(2):\n"
            "        yield i + alpha\n"
            f"{target} = sum({name}())\n"
            f"print({target!r}, {target})"
        )
    name = state.fresh("gen")
    state.generators.append(name)
    return f"{name} = (x * alpha for x in range(3))\nprint({name!r}, next({name}))"


def _delete(draw: Any, state: _State) -> str:
    form = draw(st.sampled_from(["temp", "var", "global", "shadow", "builtin"]))
    if form == "builtin":
        unshadowed = [b for b in _SHADOWABLE if b not in state.shadowed]
        if unshadowed:
            builtin = draw(st.sampled_from(unshadowed))
            return f"print({builtin!r}, {builtin}(alpha, 1))"
    if form == "var" and state.ints:
        var = draw(st.sampled_from(state.ints))
        if var != "alpha":
            state.unbind(var)
            return f"del {var}\nprint('deleted', {var!r})"
    if form == "global" and state.ints:
        var = draw(st.sampled_from(state.ints))
        if var != "alpha":
            name = state.fresh("drop")
            state.unbind(var)
            return f"def {name}():\n    global {var}\n    del {var}\n{name}()\nprint('dropped', {var!r})"
    if form == "shadow":
        builtin = draw(st.sampled_from(_SHADOWABLE))
        if builtin not in state.shadowed:
            state.shadowed.add(builtin)
            if builtin not in state.seen:
                state.seen.append(builtin)
            return f"{builtin} = alpha\nprint({builtin!r}, {builtin})"
        state.shadowed.discard(builtin)
        return f"del {builtin}\nprint({builtin!r}, {builtin}([alpha, 2]))"
    temp = state.fresh("tmp")
    value = _int_expr(draw, state, set())
    return f"{temp} = {value}\ndel {temp}\nprint('temp', {temp!r})"


def _probe(draw: Any, state: _State) -> str:
    """Read a name that may or may not be bound here (as ``try: df except NameError``)."""
    candidates = [n for n in state.seen if n not in state.shadowed] + ["err", "alpha"]
    name = draw(st.sampled_from(candidates))
    if name in state.functions or name in _SHADOWABLE:
        shown = f"callable({name})"
    else:
        shown = f"{name} if isinstance({name}, (int, str, list)) else type({name}).__name__"
    return f"try:\n    print({name!r}, {shown})\nexcept NameError:\n    print({name!r}, 'unbound')"


def _try(draw: Any, state: _State) -> str:
    deps: set[str] = set()
    value = _int_expr(draw, state, deps)
    target = _target(draw, state)
    state.bind_int(target)
    return (
        "try:\n"
        f"    {target} = ({value}) // (alpha % 2)\n"
        "except ZeroDivisionError as err:\n"
        f"    {target} = -1\n"
        "    print('caught', type(err).__name__)\n"
        "else:\n"
        "    print('no error')\n"
        "finally:\n"
        f"    print('finally', {target})"
    )


def _with(draw: Any, state: _State) -> str:
    deps: set[str] = set()
    value = _int_expr(draw, state, deps)
    target = state.fresh("w")
    form = draw(st.sampled_from(["nullcontext", "class", "suppress"]))
    if form == "nullcontext":
        state.bind_int(target)
        return f"import contextlib\nwith contextlib.nullcontext({value}) as {target}:\n    print({target!r}, {target})"
    if form == "suppress":
        state.bind_int(target)
        return (
            f"import contextlib\n{target} = 0\n"
            f"with contextlib.suppress(ZeroDivisionError):\n    {target} = ({value}) // (alpha % 2)\n"
            f"print({target!r}, {target})"
        )
    manager = state.fresh("CM")
    state.bind_int(target)
    return (
        f"class {manager}:\n"
        "    def __enter__(self):\n"
        f"        return {value}\n"
        "    def __exit__(self, *exc):\n"
        "        print('exit', alpha)\n"
        "        return False\n"
        f"with {manager}() as {target}:\n"
        f"    print({target!r}, {target})"
    )


def _walrus(draw: Any, state: _State) -> str:
    deps: set[str] = set()
    value = _int_expr(draw, state, deps)
    target = state.fresh("w")
    state.bind_int(target)
    form = draw(st.sampled_from(["if", "while"]))
    if form == "if":
        return f"if ({target} := {value}) > 2:\n    print('big', {target})\nelse:\n    print('small', {target})"
    return f"{target} = 0\nwhile ({target} := {target} + 1) < (alpha % 3 + 2):\n    print('step', {target})"


def _match(draw: Any, state: _State) -> str:
    deps: set[str] = set()
    value = _int_expr(draw, state, deps)
    target = state.fresh("m")
    form = draw(st.sampled_from(["int", "str", "mapping"]))
    if target not in state.seen:
        state.seen.append(target)
    if form == "int":
        capture = state.fresh("k")
        state.bind_int(target)
        return (
            f"match {value}:\n"
            "    case 0 | 1:\n"
            f"        {target} = 100\n"
            f"    case int({capture}) if {capture} > 5:\n"
            f"        {target} = {capture} + alpha\n"
            "    case _:\n"
            f"        {target} = -alpha\n"
            f"print({target!r}, {target})"
        )
    if form == "str":
        state.bind_int(target)
        return (
            "match name:\n"
            "    case '':\n"
            f"        {target} = 0\n"
            "    case str(s) if s.startswith('a'):\n"
            f"        {target} = len(s) + alpha\n"
            "    case _:\n"
            f"        {target} = alpha\n"
            f"print({target!r}, {target})"
        )
    capture = state.fresh("cap")
    state.bind_int(capture)
    return (
        f"match {{'a': {value}, 'b': name}}:\n"
        f"    case {{'a': {capture}, 'b': 'x'}}:\n"
        f"        print('x', {capture})\n"
        f"    case {{'a': {capture}}}:\n"
        f"        print('a', {capture})\n"
        f"print({capture!r}, {capture})"
    )


def _import(draw: Any, state: _State) -> str:
    form = draw(st.sampled_from(["module", "from", "in_function", "conditional", "star", "again"]))
    if form == "module":
        state.imported.add("math")
        return "import math\nprint('floor', math.floor(ratio * alpha))"
    if form == "from":
        alias = state.fresh("sq")
        return f"from math import isqrt as {alias}\nprint({alias!r}, {alias}(abs(alpha) + len(name)))"
    if form == "in_function":
        name = state.fresh("f")
        state.functions[name] = _Function(name, frozenset(), False)
        return (
            f"def {name}():\n"
            "    import json\n"
            "    return json.dumps([alpha, name, flag])\n"
            f"print({name!r}, {name}())"
        )
    if form == "conditional":
        return "if flag:\n    import statistics\n    print('mean', statistics.mean([alpha, 1]))\nelse:\n    print('no statistics')"
    if form == "star" and not state.star:
        state.star = True
        return "from math import *\nprint('star', floor(ratio), gcd(alpha, 6))"
    return "import math as m\nimport math as m\nprint('m', m.copysign(1, ratio))"


def _reimport(draw: Any, state: _State) -> str:
    """The same module imported again in later cells (a notebook habit), read before the
    import that repeats it; a module's name rebound to a value; one name bound by `import x`
    and by `from y import x`; imports after code that changes where imports come from."""
    form = draw(st.sampled_from(["again", "read_then_again", "rebind", "from_and_import", "barrier"]))
    if form == "from_and_import":
        module = draw(st.sampled_from(["from os import path as pth", "import posixpath as pth"]))
        return f"{module}\nprint('pth', pth.basename(name + '/x'))"
    if form == "barrier":
        return (
            "import os\nos.chdir(os.getcwd())\n"
            "import json\nprint('json', json.dumps([alpha, flag]))"
        ) + _imported(state, "json")
    if "json" not in state.imported or form == "again":
        return "import json\nprint('json', json.dumps([alpha, name]))" + _imported(state, "json")
    if form == "read_then_again":
        return "print('json', json.dumps(flag))\nimport json\nprint('json', json.dumps(ratio))"
    state.imported.discard("json")
    state.bind_int("json")  # later blocks may read it as an int
    return "print('json', json.dumps(alpha))\njson = alpha + 1\nprint('json', json)"


def _imported(state: _State, module: str) -> str:
    state.unbind(module)  # (it may have been rebound to an int)
    state.imported.add(module)
    return ""


def _await(draw: Any, state: _State) -> str:
    deps: set[str] = set()
    value = _int_expr(draw, state, deps)
    coroutine = state.fresh("co")
    target = state.fresh("v")
    head = (
        "import asyncio\n"
        f"async def {coroutine}():\n"
        "    await asyncio.sleep(0)\n"
        f"    return {value}\n"
    )
    form = draw(st.sampled_from(["await", "gather", "comprehension", "async_for"]))
    state.bind_int(target)
    if form == "await":
        return head + f"{target} = await {coroutine}()\nprint({target!r}, {target})"
    if form == "gather":
        return head + f"{target} = sum(await asyncio.gather({coroutine}(), {coroutine}()))\nprint({target!r}, {target})"
    if form == "comprehension":
        return head + f"{target} = [await {coroutine}() for _ in range(2)][0]\nprint({target!r}, {target})"
    agen = state.fresh("agen")
    return (
        head
        + f"async def {agen}():\n    for i in range(2):\n        yield i + alpha\n"
        + f"{target} = 0\nasync for item in {agen}():\n    {target} += item\nprint({target!r}, {target})"
    )


def _dynamic_scope(draw: Any, state: _State) -> str:
    target = state.fresh("dyn")
    state.bind_int(target)
    return f"globals()[{target!r}] = alpha + 1\nprint({target!r}, {target}, globals()['alpha'])"


def _top_level_global(draw: Any, state: _State) -> str:
    """``global x`` at a cell's top level: a no-op in the notebook."""
    deps: set[str] = set()
    value = _int_expr(draw, state, deps)
    target = state.fresh("g")  # (a cell may not use a name before declaring it global)
    state.bind_int(target)
    state.declared.add(target)
    return f"global {target}\n{target} = {value}\nprint({target!r}, {target})"


def _loop(draw: Any, state: _State) -> str:
    """A loop at top level: its variable stays bound after it (when it ran)."""
    target = state.fresh("i")
    total = state.fresh("v")
    state.bind_int(total)
    return (
        f"{total} = 0\n"
        f"for {target} in range(abs(alpha) % 3 + 1):\n"
        f"    {total} += {target} * len(name)\n"
        f"print({total!r}, {total}, {target})"
    ) if draw(st.booleans()) else (
        f"{total} = 0\n"
        f"for {target} in range(3):\n"
        "    if flag:\n"
        "        continue\n"
        f"    {total} += {target}\n"
        "else:\n"
        f"    {total} += alpha\n"
        f"print({total!r}, {total})"
    )


def _conditional_definition(draw: Any, state: _State) -> str:
    name = _function_name(draw, state)
    deps: set[str] = set()
    value = _int_expr(draw, state, deps, exclude=name)
    state.functions[name] = _Function(name, frozenset(deps))
    return (
        "if flag:\n"
        f"    def {name}():\n"
        f"        return {value}\n"
        "else:\n"
        f"    def {name}():\n"
        f"        return -({value})\n"
        f"print({name!r}, {name}())"
    )


def _dataclass(draw: Any, state: _State) -> str:
    deps: set[str] = set()
    value = _int_expr(draw, state, deps)
    name = state.fresh("D")
    return (
        "import dataclasses\n"
        "@dataclasses.dataclass\n"
        f"class {name}:\n"
        f"    k: int = {value}\n"
        "    label: str = name\n"
        "    def total(self):\n"
        "        return self.k + alpha\n"
        # (its fields, not its repr: a class kept in main is named main.<locals>.D1 there)
        f"print({name!r}, dataclasses.astuple({name}()), {name}().total())"
    )


def _async_with(draw: Any, state: _State) -> str:
    deps: set[str] = set()
    value = _int_expr(draw, state, deps)
    manager = state.fresh("acm")
    target = state.fresh("w")
    state.bind_int(target)
    return (
        "import contextlib\n"
        "@contextlib.asynccontextmanager\n"
        f"async def {manager}():\n"
        f"    yield {value}\n"
        "    print('closed', alpha)\n"
        f"async with {manager}() as {target}:\n"
        f"    print({target!r}, {target})"
    )


def _star_shadow(draw: Any, state: _State) -> str:
    """A name a star import bound, then rebound, then deleted.

    A program star-imports once: the script runs ``from m import *`` at module level (it is
    legal only there), before main, so a second one after ``del floor`` would not bind
    ``floor`` again in the script (by design).
    """
    if "floor" in state.shadowed:
        state.shadowed.discard("floor")
        state.star_gone = True  # the import's binding was replaced, then deleted
        return "del floor\ntry:\n    floor\nexcept NameError:\n    print('floor', 'gone')"
    if not state.star:
        state.star = True
        return "from math import *\nprint('floor', floor(ratio))"
    if state.star_gone:
        return _assign(draw, state)
    state.shadowed.add("floor")
    return "floor = alpha\nprint('floor', floor)"


def _bare_expression(draw: Any, state: _State) -> str:
    """Expressions as statements: the notebook shows their values (not on stdout); the
    script drops those that only show a value, and must keep those with an effect."""
    form = draw(st.sampled_from(["value", "method", "effect"]))
    if form == "value":
        shown = draw(st.sampled_from(["alpha", "alpha * 2", "name.upper()", "[alpha, flag]", "sorted([alpha, 1])"]))
        return f"print('shown')\n{shown}"
    if form == "method":
        return "print('strip')\nname.strip()"
    tally = state.fresh("Tally")
    instance = state.fresh("t")
    method = draw(st.sampled_from(["count", "sum", "size", "update"]))
    return (
        f"class {tally}:\n"
        "    total = 0\n"
        f"    def {method}(self):\n"
        f"        {tally}.total += alpha\n"
        f"        return {tally}.total\n"
        f"{instance} = {tally}()\n"
        f"{instance}.{method}()\n"
        f"print({tally!r}, {tally}.total)"
    )


_BUILDERS = (
    _assign, _rebind_parameter, _function_reading_globals, _call, _global_write, _global_read,
    _nonlocal, _closure, _default_argument, _decorator, _class_body, _comprehension,
    _generator, _delete, _probe, _try, _with, _walrus, _match, _import, _await, _dynamic_scope,
    _top_level_global, _loop, _conditional_definition, _dataclass, _async_with, _star_shadow,
    _bare_expression, _recursive, _reimport,
)
#: Re-imports need two or more of their blocks in one program to matter: drawn more often.
_WEIGHTED_BUILDERS = (*_BUILDERS, _reimport, _reimport, _reimport)


@st.composite
def programs(draw: Any, max_blocks: int = 12) -> Program:
    """A notebook: a parameters cell, then blocks of scoping constructs cut into cells."""
    defaults = {
        "alpha": draw(st.integers(-3, 12)),
        "name": draw(_NAMES),
        "flag": draw(st.booleans()),
        "ratio": draw(_RATIOS),
    }
    renames = {key: draw(st.sampled_from(RENAMES[key])) if draw(st.integers(0, 3)) == 0 else key
               for key in PARAMETER_NAMES}
    # other values than the defaults (made different, not filtered: no rejected draws)
    alpha, name, ratio = draw(st.integers(-3, 12)), draw(_NAMES), draw(_RATIOS)
    overrides = {
        "alpha": alpha if alpha != defaults["alpha"] else alpha + 1,
        "name": name if name != defaults["name"] else name + "z",
        "flag": not defaults["flag"],
        "ratio": ratio if ratio != defaults["ratio"] else ratio + 1,
    }
    state = _State()
    blocks = []
    introduced: list[list[str]] = []  #: names each block bound first
    for _ in range(draw(st.integers(1, max_blocks))):
        builder = draw(st.sampled_from(_WEIGHTED_BUILDERS))
        before = len(state.seen)
        blocks.append(builder(draw, state))
        introduced.append(state.seen[before:])
    later = [
        (i, n) for i, names in enumerate(introduced) for n in names
        if i > 0 and n not in state.declared
    ]
    if later and draw(st.integers(0, 3)) == 0:
        # a cell that reads a name only a later cell binds (`try: model except NameError`)
        position, name = draw(st.sampled_from(later))
        at = draw(st.integers(0, position - 1))
        probe = (
            f"try:\n    print({name!r}, type({name}).__name__)\n"
            f"except NameError:\n    print({name!r}, 'not yet')"
        )
        blocks.insert(at, probe)
    # a `;` after a print: the cell goes through the exporter's libcst rewrite, not a copy
    for position, block in enumerate(blocks):
        lines = block.split("\n")
        if lines[-1].startswith("print(") and draw(st.integers(0, 5)) == 0:
            blocks[position] = "\n".join([*lines[:-1], lines[-1] + ";"])
    cells: list[str] = []
    current: list[str] = []
    for block in blocks:
        if current and draw(st.booleans()):
            cells.append("\n".join(current))
            current = []
        current.append(block)
    cells.append("\n".join(current))
    before: list[str] = []
    if draw(st.integers(0, 5)) == 0:  # an import cell above the parameters, as notebooks have
        before = ["import math"]
    cells = [*before, parameters_source(defaults, draw(st.booleans())), *cells]
    if any(key != renamed for key, renamed in renames.items()):
        pattern = re.compile(r"\b(" + "|".join(PARAMETER_NAMES) + r")\b")
        cells = [pattern.sub(lambda match: renames[match.group(1)], cell) for cell in cells]
    return Program(
        cells=tuple(cells),
        parameters_index=len(before),
        defaults={renames[key]: value for key, value in defaults.items()},
        overrides={renames[key]: value for key, value in overrides.items()},
    )
