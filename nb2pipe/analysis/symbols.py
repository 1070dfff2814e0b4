"""Which names a cell defines, reads, mutates and deletes: the one cell-symbol analysis.

Export, verify, the server and ``%track`` all call :func:`gather_cell_symbols`; the tracker
hands it the tree IPython already parsed, so nothing parses a cell twice. The visitor walks the
standard-library ``ast`` (fast enough for the kernel's hot path) and follows Python's scoping
rules for module-level code: functions and lambdas read globals when called, comprehensions and
class bodies run at once, walrus targets in comprehensions bind in the enclosing scope.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from nb2pipe.analysis import syntax
from nb2pipe.analysis.magics import CODE_MAGICS, Magic, MagicKind, magic_from_call

__all__ = [
    "BUILTIN_NAMES",
    "CallSite",
    "CellSymbols",
    "ConstantBinding",
    "FunctionSymbols",
    "ImportBinding",
    "NOTEBOOK_NAMES",
    "body_free_names",
    "definition_time_exprs",
    "definition_time_reads",
    "function_locals",
    "function_locals_of_code",
    "gather_cell_symbols",
]

BUILTIN_NAMES = frozenset(dir(builtins)) | {"__name__", "__doc__", "__builtins__", "__file__"}
#: Names a notebook kernel provides that a plain Python process does not.
NOTEBOOK_NAMES = frozenset({"get_ipython", "display", "In", "Out", "_", "__", "___", "exit", "quit"})

#: Methods that change their receiver in place (list, dict, set, bytearray, numpy, pandas,
#: scikit-learn). ``x.<method>(...)`` counts as a mutation of ``x``.
MUTATING_METHODS = frozenset(
    {
        # list / dict / set / deque
        "append", "extend", "insert", "remove", "pop", "popitem", "clear", "sort", "reverse",
        "update", "setdefault", "add", "discard", "difference_update", "intersection_update",
        "symmetric_difference_update", "appendleft", "extendleft", "popleft", "rotate",
        # numpy
        "fill", "resize", "put", "itemset", "partition", "setflags",
        # pandas (``insert``/``pop``/``update`` above too)
        "set_axis_inplace", "drop_duplicates_inplace",
        # scikit-learn and friends
        "fit", "partial_fit", "set_params", "fit_transform", "fit_predict",
    }
)
#: Functions that write into their first argument: ``random.shuffle(x)``, ``np.copyto(dst,
#: src)``, ``np.place``, ``np.putmask``, ``np.fill_diagonal``, ``np.put_along_axis`` and
#: ``ufunc.at`` (``np.add.at(counts, idx, 1)``).
MUTATING_FUNCTIONS = frozenset(
    {"shuffle", "copyto", "place", "putmask", "fill_diagonal", "put_along_axis", "at"}
)
#: Names that are a method changing its receiver with fewer positional arguments and a function
#: writing into its first argument with more: ``a.put(ind, v)`` and ``np.put(a, ind, v)``.
_METHOD_OR_FUNCTION = {"put": 3}


@dataclass(frozen=True)
class ImportBinding:
    """A name an ``import`` statement binds: ``import numpy as np`` binds ``np`` to ``numpy``."""

    name: str  #: the bound name (``np``; ``os`` for ``import os.path``)
    module: str  #: absolute or relative module (``numpy``, ``.local``)
    attribute: str | None  #: for ``from m import a``: ``a``
    line: int

    @property
    def top_level_module(self) -> str:
        return self.module.lstrip(".").split(".", 1)[0]

    @property
    def is_relative(self) -> bool:
        return self.module.startswith(".")

    @property
    def qualified_name(self) -> str:
        """What the bound name refers to: ``numpy``, ``sklearn.model_selection.train_test_split``."""
        return f"{self.module}.{self.attribute}" if self.attribute else self.module


@dataclass(frozen=True)
class CallSite:
    """A call of a (possibly dotted) name: ``np.random.seed(0)``, ``train(model, X)``."""

    callee: str  #: dotted name as written: ``np.random.seed``
    line: int
    arg_roots: tuple[str | None, ...]  #: root name of each positional argument, if a name
    keywords: tuple[str, ...]  #: keyword argument names passed (``None`` for ``**kw``)
    none_keywords: tuple[str, ...] = ()  #: keywords passed a literal ``None``
    #: ``(keyword, root name)`` of each keyword argument whose value is rooted at a name
    keyword_roots: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FunctionSymbols:
    """What a function or class defined at cell level touches when it runs."""

    name: str
    line: int
    #: globals the body reads when called (free names that are not builtins)
    free_globals: frozenset[str]
    #: globals the body rebinds through ``global`` declarations
    global_writes: frozenset[str]
    #: globals whose objects the body mutates in place
    global_mutations: frozenset[str]
    #: positions and names of parameters the body mutates in place
    mutated_params: tuple[tuple[int, str], ...]
    is_class: bool = False
    #: magics and shell escapes in the body (they run when the function is called)
    magics: tuple[Magic, ...] = ()
    #: for a class: its methods that change the instance they are called on (``self.x = v``,
    #: ``self.items.append(v)``, or calling such a method on ``self``)
    mutating_methods: frozenset[str] = frozenset()
    #: positional parameter names, in order
    params: tuple[str, ...] = ()
    #: calls of plain names in the body that pass a parameter: ``(callee, root name of each
    #: positional argument)``, so a parameter handed to a notebook function that changes it
    #: counts as changed too
    param_calls: tuple[tuple[str, tuple[str | None, ...]], ...] = ()
    #: for a class: ``(method, called)`` for methods calling a method on their instance or
    #: on an object it holds (``self.inner.set(v)``)
    receiver_calls: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class ConstantBinding:
    """A name a cell binds once, at cell level, to what its own code fixes: a literal
    (``alpha = 0.5``, ``cols = ("a", "b")``) or an import. Its value depends on no other cell,
    so two runs that bind it alike bind the same value."""

    name: str
    #: the literal's value (numbers, strings, bytes, ``None`` and tuples of them)
    literal: object = None
    #: for an import: ``module|attribute|imported name`` (what it binds, as written)
    imported: str | None = None


@dataclass(frozen=True)
class CellSymbols:
    """Names and effects of one cell's code, in the order a top-to-bottom run would see them."""

    #: names bound at cell level (assignment, import, def, class, for/with/except targets, walrus)
    defines: frozenset[str] = frozenset()
    #: names read at cell level before the cell binds them (they come from earlier cells)
    reads: frozenset[str] = frozenset()
    #: names whose objects are changed in place (item/attribute assignment, mutating methods, ...)
    mutates: frozenset[str] = frozenset()
    #: names removed with ``del``
    deletes: frozenset[str] = frozenset()
    #: names both read and rebound, like ``x += 1`` or ``df = df.dropna()``
    rebinds: frozenset[str] = frozenset()
    imports: tuple[ImportBinding, ...] = ()
    functions: tuple[FunctionSymbols, ...] = ()
    calls: tuple[CallSite, ...] = ()
    magics: tuple[Magic, ...] = ()
    #: the cell may define names no tree shows (``from m import *``, ``%run script.py``)
    opaque_defines: bool = False
    #: line of each cell-level ``await`` (IPython's autoawait)
    top_level_awaits: tuple[int, ...] = ()
    #: first line of each cell-level `for` loop target (loop variables are redefined by design)
    loop_targets: frozenset[str] = frozenset()
    #: names bound by cell-level ``with ... as name`` (rebound by design, like loop variables)
    with_targets: frozenset[str] = frozenset()
    #: ``(receiver root, method)`` of each method call at cell level: ``counters[0].tick()``
    #: is ``("counters", "tick")`` (the notebook's classes say which methods change ``self``)
    method_calls: frozenset[tuple[str, str]] = frozenset()
    #: names bound once, at cell level, to a literal or by an import (see ConstantBinding)
    constants: tuple[ConstantBinding, ...] = ()
    #: every method name called at cell level, whatever the receiver (``Path("a").mkdir()``)
    called_methods: frozenset[str] = frozenset()
    #: ``(part, whole)``: the cell bound ``part`` to an element of ``whole``'s object
    #: (``for row in data``, ``cell = table[1]``): a function changing ``part`` in place
    #: changes ``whole``
    parts: frozenset[tuple[str, str]] = frozenset()

    def function(self, name: str) -> FunctionSymbols | None:
        for info in self.functions:
            if info.name == name:
                return info
        return None


def gather_cell_symbols(tree: ast.Module) -> CellSymbols:
    """Analyse a parsed cell (IPython syntax already turned into ``get_ipython()`` calls)."""
    visitor = _CellVisitor()
    for statement in tree.body:
        visitor.top = statement
        visitor.visit(statement)
    return visitor.result()


def _root_name(node: ast.AST) -> str | None:
    """``df`` for ``df``, ``df.a``, ``df["a"].b``, ``df.loc[0]``; ``None`` for calls etc."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def dotted_name(node: ast.AST) -> str | None:
    """``np.random.seed`` for that attribute chain; ``None`` if it is not a plain chain."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _target_names(target: ast.AST) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _target_names(element)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)


def _load_names(node: ast.AST) -> set[str]:
    """Every name ``node`` holds (what ``ast.walk`` finds as ``ast.Name``), without a generator
    per node: a cell's every assignment asks it on ``%track``'s hot path."""
    kind = type(node)
    if kind is ast.Name:
        return {node.id}  # type: ignore[attr-defined]
    if kind is ast.Constant:
        return set()
    out: set[str] = set()
    pending = [node]
    while pending:
        current = pending.pop()
        if type(current) is ast.Name:
            out.add(current.id)
            continue
        for field_name in current._fields:
            value = getattr(current, field_name, None)
            if type(value) is list:
                pending.extend(item for item in value if isinstance(item, ast.AST))
            elif isinstance(value, ast.AST):
                pending.append(value)
    return out


#: Nodes ``ast.literal_eval`` may accept (anything else in a value makes it raise).
_LITERAL_NODES = (
    ast.Constant, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.UnaryOp, ast.BinOp, ast.Call,
    ast.Name, ast.expr_context, ast.operator, ast.unaryop,
)


def _may_be_literal(node: ast.AST) -> bool:
    """``False`` when ``ast.literal_eval(node)`` surely raises (it reads a name, calls
    something other than ``set()``...): asking it would cost an exception per assignment."""
    pending = [node]
    while pending:
        current = pending.pop()
        if not isinstance(current, _LITERAL_NODES):
            return False
        if type(current) is ast.Name:
            if current.id != "set":
                return False
            continue
        if type(current) is ast.Constant:
            continue
        for field_name in current._fields:
            value = getattr(current, field_name, None)
            if type(value) is list:
                pending.extend(item for item in value if isinstance(item, ast.AST))
            elif isinstance(value, ast.AST):
                pending.append(value)
    return True


class _FastVisitor(ast.NodeVisitor):
    """``ast.NodeVisitor`` with its method lookup cached per node type and a lean
    ``generic_visit``: the same visits, without building a method name and two generators
    per node (the analysis runs on every cell ``%track`` sees)."""

    _methods: dict[type, Callable[[Any, Any], Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._methods = {}

    def visit(self, node: ast.AST) -> Any:
        kind = type(node)
        method = self._methods.get(kind)
        if method is None:
            method = self._methods[kind] = self._method_for(kind)
        return method(self, node)

    @classmethod
    def _method_for(cls, kind: type) -> Callable[[Any, Any], Any]:
        found = getattr(cls, "visit_" + kind.__name__, None)
        if found is not None:
            return found  # type: ignore[no-any-return]
        if not getattr(kind, "_fields", ()):  # ``Load``, ``Add``...: nothing below them
            return _visit_nothing
        return cls.generic_visit

    def visit_Constant(self, node: ast.Constant) -> None:
        """Nothing below a constant (``NodeVisitor``'s own looks for ``visit_Num`` & co)."""

    def generic_visit(self, node: ast.AST) -> None:
        visit = self.visit
        for field_name in node._fields:
            value = getattr(node, field_name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        visit(item)
            elif isinstance(value, ast.AST):
                visit(value)


def _visit_nothing(visitor: Any, node: ast.AST) -> None:
    return None


_SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _mutation_roots(call: ast.Call) -> Iterator[str]:
    """Names a call mutates in place, judged from its shape alone."""
    func = call.func
    if isinstance(func, ast.Attribute):
        root = _root_name(func.value)
        if root is not None and (
            func.attr in MUTATING_METHODS
            or any(
                kw.arg == "inplace" and isinstance(kw.value, ast.Constant) and kw.value.value is True
                for kw in call.keywords
            )
        ):
            yield root
        takes = _METHOD_OR_FUNCTION.get(func.attr)
        if call.args and (func.attr in MUTATING_FUNCTIONS or (takes and len(call.args) >= takes)):
            arg_root = _root_name(call.args[0])
            if arg_root is not None:
                yield arg_root
    elif isinstance(func, ast.Name) and func.id in MUTATING_FUNCTIONS and call.args:
        arg_root = _root_name(call.args[0])
        if arg_root is not None:
            yield arg_root
    for kw in call.keywords:
        if kw.arg == "out":
            for element in kw.value.elts if isinstance(kw.value, ast.Tuple) else [kw.value]:
                root = _root_name(element)
                if root is not None:
                    yield root


def _method_call(call: ast.Call) -> tuple[str, str] | None:
    """``("counters", "tick")`` for ``counters[0].tick()``: the receiver's root and the method."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return None
    root = _root_name(func.value)
    return (root, func.attr) if root is not None else None


#: Calls whose result iterates over (the elements of) their first argument or receiver.
_ELEMENT_ITERATORS = frozenset({"enumerate", "zip", "reversed", "sorted", "list", "tuple", "iter", "filter"})
_ELEMENT_VIEWS = frozenset({"items", "values", "iterrows", "itertuples"})


def _iterated_roots(node: ast.expr) -> tuple[str, ...]:
    """The names whose elements a ``for`` loop over ``node`` visits: ``rows`` for ``rows``,
    ``rows[1:]``, ``enumerate(rows)``, ``d.items()``; ``a`` and ``b`` for ``[a, b]``; none
    when it is not known."""
    if isinstance(node, (ast.Name, ast.Subscript, ast.Attribute)):
        root = _root_name(node)
        return (root,) if root is not None else ()
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        # ``for xs in [left, right]``: the loop variable is each of them in turn
        return tuple(dict.fromkeys(r for e in node.elts if (r := _root_name(e)) is not None))
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id in _ELEMENT_ITERATORS and node.args:
            first = node.args[-1] if func.id == "filter" else node.args[0]
            return _iterated_roots(first)
        if isinstance(func, ast.Attribute) and func.attr in _ELEMENT_VIEWS:
            root = _root_name(func.value)
            return (root,) if root is not None else ()
    return ()


def _receiver_calls(node: ast.ClassDef) -> frozenset[tuple[str, str]]:
    """``(method, called)`` for each method calling ``called`` on its instance or on an object
    the instance holds (``self.inner.set(v)``): when another class's ``called`` changes its
    instance, ``method`` changes this one (:func:`nb2pipe.analysis.dataflow.cell_effects`
    knows every class)."""
    out: set[tuple[str, str]] = set()
    for statement in node.body:
        if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        args = statement.args
        params = [a.arg for a in [*args.posonlyargs, *args.args]]
        if not params:
            continue
        scanner = _FunctionScanner()
        scanner.scan_function(statement)
        out.update((statement.name, method) for root, method in scanner.method_calls if root == params[0])
    return frozenset(out)


def _mutating_methods(node: ast.ClassDef) -> frozenset[str]:
    """The methods of a class that change the instance (their first parameter) in place.

    Directly (``self.x = v``, ``self.items.append(v)``) or by calling such a method on the
    instance (``self._store(v)``). Dunder methods run through syntax (``obj[k] = v`` already
    counts as changing ``obj``), so they are left out.
    """
    direct: set[str] = set()
    calls: dict[str, set[str]] = {}
    for statement in node.body:
        if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if statement.name.startswith("__") or any(
            isinstance(d, ast.Name) and d.id == "staticmethod" for d in statement.decorator_list
        ):
            continue
        args = statement.args
        params = [a.arg for a in [*args.posonlyargs, *args.args]]
        if not params:
            continue
        scanner = _FunctionScanner()
        scanner.scan_function(statement)
        receiver = params[0]
        if receiver in scanner.mutated_roots:
            direct.add(statement.name)
        calls[statement.name] = {method for root, method in scanner.method_calls if root == receiver}
    changed = True
    while changed:
        changed = False
        for name, called in calls.items():
            if name not in direct and called & direct:
                direct.add(name)
                changed = True
    return frozenset(direct)


class _FunctionScanner(_FastVisitor):
    """Collects a function body's locals, loads, global writes and mutations (one scope)."""

    def __init__(self) -> None:
        self.stores: set[str] = set()
        self.loads: set[str] = set()
        self.declared_global: set[str] = set()
        self.declared_nonlocal: set[str] = set()
        self.mutated_roots: set[str] = set()
        #: free names of nested scopes, resolved against this scope's locals afterwards
        self.nested_free: set[str] = set()
        self.nested_global_writes: set[str] = set()
        #: magics in this scope and the scopes nested in it, in source order
        self.magics: list[Magic] = []
        #: ``(receiver root, method)`` of the calls ``x.method(...)`` in this scope
        self.method_calls: set[tuple[str, str]] = set()
        #: ``(callee, argument roots)`` of the calls ``name(...)`` in this scope
        self.name_calls: list[tuple[str, tuple[str | None, ...]]] = []
        #: names the scope changes with an augmented assignment (``l += [x]``): in place for
        #: a list, a set, an array; a rebinding for a number (the kernel tells which)
        self.augmented: set[str] = set()

    def scan_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        args = node.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None:
                self.stores.add(arg.arg)
        body = node.body if isinstance(node.body, list) else [node.body]
        for statement in body:
            self.visit(statement)

    # scopes nested in the function: their free names are looked up here first
    def _nested(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        inner = _FunctionScanner()
        inner.scan_function(node)
        self.nested_free |= inner.free_names()
        self.nested_global_writes |= inner.global_writes()
        self.mutated_roots |= inner.mutated_roots - inner.local_names()
        self.magics += inner.magics

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.stores.add(node.name)
        for expr in definition_time_exprs(node):
            self.visit(expr)
        self._nested(node)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expr in [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]:
            self.visit(expr)
        self._nested(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.stores.add(node.name)
        for expr in [*node.decorator_list, *node.bases, *(kw.value for kw in node.keywords)]:
            self.visit(expr)
        inner = _FunctionScanner()
        for statement in node.body:
            inner.visit(statement)
        # class bodies do not enclose their methods, but they run in this scope's context
        self.nested_free |= inner.free_names()
        self.nested_global_writes |= inner.global_writes()
        self.magics += inner.magics

    def visit_Global(self, node: ast.Global) -> None:
        self.declared_global.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.declared_nonlocal.update(node.names)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.loads.add(node.id)
        else:
            self.stores.add(node.id)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.stores.add(alias.asname or alias.name.split(".", 1)[0])

    visit_ImportFrom = visit_Import  # type: ignore[assignment]

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.stores.add(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self.stores.add(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.stores.add(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self.stores.add(node.rest)
        self.generic_visit(node)

    def _mutate_target(self, target: ast.AST) -> None:
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            root = _root_name(target)
            if root is not None:
                self.mutated_roots.add(root)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._mutate_target(element)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._mutate_target(target)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._mutate_target(node.target)
        if isinstance(node.target, ast.Name):
            self.loads.add(node.target.id)
            self.augmented.add(node.target.id)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._mutate_target(target)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        magic = magic_from_call(node)
        if magic is not None:
            self._visit_magic(magic)
            return
        self.mutated_roots.update(_mutation_roots(node))
        method = _method_call(node)
        if method is not None:
            self.method_calls.add(method)
        elif isinstance(node.func, ast.Name):
            self.name_calls.append((node.func.id, tuple(_root_name(arg) for arg in node.args)))
        self.generic_visit(node)

    def _visit_magic(self, magic: Magic) -> None:
        """A magic in a function body: its names, not ``get_ipython``, are what it reads."""
        self.magics.append(magic)
        for expression in expanded_expressions(magic):
            self.visit(expression)
        for statement in embedded_statements(magic):
            self.visit(statement)

    def local_names(self) -> set[str]:
        return (self.stores | self.declared_nonlocal) - self.declared_global

    def free_names(self) -> set[str]:
        local = self.local_names()
        return ((self.loads | self.nested_free) - local) | (self.declared_global & self.loads)

    def global_writes(self) -> set[str]:
        return (self.declared_global & self.stores) | (self.nested_global_writes - self.local_names())


def definition_time_exprs(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.expr]:
    """Expressions evaluated when ``def`` runs: decorators, defaults, annotations."""
    args = node.args
    exprs: list[ast.expr] = [*node.decorator_list, *args.defaults]
    exprs += [d for d in args.kw_defaults if d is not None]
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if arg is not None and arg.annotation is not None:
            exprs.append(arg.annotation)
    if node.returns is not None:
        exprs.append(node.returns)
    return exprs


def _function_symbols(node: ast.FunctionDef | ast.AsyncFunctionDef) -> FunctionSymbols:
    scanner = _FunctionScanner()
    scanner.scan_function(node)
    args = node.args
    params = [a.arg for a in [*args.posonlyargs, *args.args]]
    local = scanner.local_names()
    passing = tuple(
        (callee, roots) for callee, roots in scanner.name_calls if any(r in params for r in roots)
    )
    # ``l += [x]`` on a parameter changes the caller's list in place (an int's is rebound only)
    changed = scanner.mutated_roots | scanner.augmented
    return FunctionSymbols(
        name=node.name,
        line=node.lineno,
        free_globals=frozenset(scanner.free_names() - BUILTIN_NAMES),
        global_writes=frozenset(scanner.global_writes()),
        global_mutations=frozenset(scanner.mutated_roots - local),
        mutated_params=tuple(
            (position, name) for position, name in enumerate(params) if name in changed
        )
        + tuple((-1, a.arg) for a in args.kwonlyargs if a.arg in changed),
        magics=tuple(scanner.magics),
        params=tuple(params),
        param_calls=tuple(dict.fromkeys(passing)),
    )


class _BodyScanner(_FunctionScanner):
    """A function body made of cell-level code: the ``global`` statements a cell has are
    no-ops the script leaves out, and ``replaced`` statements (at this scope, in blocks) are
    not what the script runs."""

    def __init__(self, replaced: Callable[[ast.stmt], bool] | None) -> None:
        super().__init__()
        self.replaced = replaced

    def visit_Global(self, node: ast.Global) -> None:
        pass

    def visit_Expr(self, node: ast.Expr) -> None:
        if self.replaced is None or not self.replaced(node):
            self.generic_visit(node)


def body_free_names(
    statements: Iterable[ast.stmt],
    parameters: Iterable[str] = (),
    declared_global: Iterable[str] = (),
    reads: Iterable[str] = (),
    replaced: Callable[[ast.stmt], bool] | None = None,
) -> frozenset[str]:
    """Globals a function reads or changes in place when its body is ``statements`` (cell
    code, whose own ``global`` statements are left out), its parameters ``parameters``, and it
    declares ``declared_global``; ``reads`` are names its added lines read (``return x``).

    Builtins are left out, as in :attr:`FunctionSymbols.free_globals`.
    """
    scanner = _BodyScanner(replaced)
    scanner.stores.update(parameters)
    scanner.declared_global.update(declared_global)
    scanner.loads.update(reads)
    for statement in statements:
        scanner.visit(statement)
    local = scanner.local_names()
    return frozenset((scanner.free_names() - BUILTIN_NAMES) | (scanner.mutated_roots - local))


def function_locals(node: ast.FunctionDef | ast.AsyncFunctionDef) -> frozenset[str]:
    """The names local to a function's body (its parameters and what it binds)."""
    scanner = _FunctionScanner()
    scanner.scan_function(node)
    return frozenset(scanner.local_names())


def function_locals_of_code(code: str) -> frozenset[str]:
    """:func:`function_locals` of the one function ``code`` defines (empty if it is not one)."""
    try:
        tree = syntax.parse(code)
    except SyntaxError:
        return frozenset()
    function = tree.body[0] if tree.body else None
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return frozenset()
    return function_locals(function)


def _class_symbols(node: ast.ClassDef) -> FunctionSymbols:
    scanner = _FunctionScanner()
    for statement in node.body:
        scanner.visit(statement)
    return FunctionSymbols(
        name=node.name,
        line=node.lineno,
        free_globals=frozenset(scanner.free_names() - BUILTIN_NAMES),
        global_writes=frozenset(scanner.global_writes()),
        global_mutations=frozenset(scanner.mutated_roots - scanner.local_names()),
        mutated_params=(),
        is_class=True,
        magics=tuple(scanner.magics),
        mutating_methods=_mutating_methods(node),
        receiver_calls=_receiver_calls(node),
    )


class _Collected:
    """What the cell visitor gathers (a plain class: made once per cell analysed)."""

    __slots__ = (
        "awaits", "called_methods", "calls", "defines", "deletes", "functions", "imports",
        "loop_targets", "magics", "method_calls", "mutates", "opaque_defines", "parts", "reads",
        "rebinds", "with_targets",
    )

    def __init__(self) -> None:
        self.defines: set[str] = set()
        self.reads: set[str] = set()
        self.mutates: set[str] = set()
        self.deletes: set[str] = set()
        self.rebinds: set[str] = set()
        self.loop_targets: set[str] = set()
        self.with_targets: set[str] = set()
        self.imports: list[ImportBinding] = []
        self.functions: list[FunctionSymbols] = []
        self.calls: list[CallSite] = []
        self.magics: list[Magic] = []
        self.awaits: list[int] = []
        self.opaque_defines = False
        self.method_calls: set[tuple[str, str]] = set()
        self.called_methods: set[str] = set()
        self.parts: set[tuple[str, str]] = set()


_EMPTY: frozenset[Any] = frozenset()


def _frozen(items: set[Any]) -> frozenset[Any]:
    """``frozenset(items)``, sharing one empty set (most of a cell's sets are empty, and the
    symbols of every cell run are kept for the session)."""
    return frozenset(items) if items else _EMPTY


class _CellVisitor(_FastVisitor):
    """Walks cell-level code in execution order."""

    def __init__(self) -> None:
        self.out = _Collected()
        #: names read at cell level, in this cell, after the cell bound them
        self._bound: set[str] = set()
        #: name bound in this cell to (a part of) the object another name holds: a loop
        #: variable to its iterable's (``for r in rows``), ``cell = table[1]`` to ``table``.
        #: Changing the part in place changes the whole.
        self._part_of: dict[str, tuple[str, ...]] = {}
        self._line_offset = 0
        #: the cell-level statement being visited, and how often each name is bound
        self.top: ast.stmt | None = None
        self._bindings: dict[str, int] = {}
        self._constants: dict[str, ConstantBinding] = {}

    def result(self) -> CellSymbols:
        out = self.out
        return CellSymbols(
            defines=_frozen(out.defines),
            reads=_frozen(out.reads - BUILTIN_NAMES if out.reads else out.reads),
            mutates=_frozen(out.mutates),
            deletes=_frozen(out.deletes),
            rebinds=_frozen(out.rebinds),
            imports=tuple(out.imports),
            functions=tuple(out.functions),
            calls=tuple(out.calls),
            magics=tuple(out.magics),
            opaque_defines=out.opaque_defines,
            top_level_awaits=tuple(out.awaits),
            loop_targets=_frozen(out.loop_targets),
            with_targets=_frozen(out.with_targets),
            method_calls=_frozen(out.method_calls),
            parts=_frozen(out.parts),
            called_methods=_frozen(out.called_methods),
            constants=tuple(
                c for name, c in self._constants.items() if self._bindings.get(name) == 1
            ) if self._constants else (),
        )

    def _constant(self, node: ast.stmt, target: ast.expr, value: ast.expr | None) -> None:
        """Note ``target = value`` at cell level when the value is a literal."""
        if node is not self.top or not isinstance(target, ast.Name) or value is None:
            return
        if not isinstance(value, (ast.Constant, ast.Tuple, ast.UnaryOp, ast.BinOp)):
            return  # ``[...]``, ``{...}``: mutable, and anything else is not a literal
        if type(value) is ast.Constant:
            literal = value.value  # what ``ast.literal_eval`` gives for a constant
        elif not _may_be_literal(value):
            return
        else:
            try:
                literal = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                return
        self._constants[target.id] = ConstantBinding(target.id, literal=literal)

    # -- names -------------------------------------------------------------------------------
    def _read(self, name: str) -> None:
        if name not in self._bound:
            self.out.reads.add(name)

    def _define(self, name: str) -> None:
        self._bindings[name] = self._bindings.get(name, 0) + 1
        self.out.defines.add(name)
        self._bound.add(name)
        self._part_of.pop(name, None)  # rebound: what it held before no longer matters

    def _wholes(self, name: str) -> list[str]:
        """``name`` and the names whose objects hold (a part of) its object, nearest first."""
        out = [name]
        for current in out:
            out += [w for w in self._part_of.get(current, ()) if w not in out]
        return out

    def _mutate(self, name: str) -> None:
        for changed in self._wholes(name):
            self._read(changed)
            self.out.mutates.add(changed)

    def _bind_part(self, target: ast.AST, wholes: tuple[str, ...]) -> None:
        """``target`` (a name) now holds a part of the objects of ``wholes``, or (none) its own."""
        if not wholes:
            if self._part_of:
                for name in _target_names(target):
                    self._part_of.pop(name, None)
            return
        for name in _target_names(target):
            held = tuple(w for w in wholes if w != name)
            if held:
                self._part_of[name] = held
                self.out.parts.update((name, whole) for whole in held)
            else:
                self._part_of.pop(name, None)

    def _store(self, target: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self._define(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._store(element)
        elif isinstance(target, ast.Starred):
            self._store(target.value)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            root = _root_name(target)
            self.visit(target.value)
            if isinstance(target, ast.Subscript):
                self.visit(target.slice)
            if root is not None:
                self._mutate(root)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._read(node.id)

    def visit_Constant(self, node: ast.Constant) -> None:
        """Nothing to see (``NodeVisitor``'s own looks for the deprecated ``visit_Num``...)."""

    # -- statements --------------------------------------------------------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        value_reads = _load_names(node.value)
        # ``b = a``, ``cell = table[1]``, ``x = obj.attr``: the same object, or a part of it
        whole = _root_name(node.value) if isinstance(node.value, (ast.Name, ast.Subscript, ast.Attribute)) else None
        wholes = (whole,) if whole is not None else ()
        if len(node.targets) == 1:
            self._constant(node, node.targets[0], node.value)
            target = node.targets[0]
            if type(target) is ast.Name:  # ``x = ...``: most assignments
                if target.id in value_reads:
                    self.out.rebinds.add(target.id)
                self._define(target.id)
                self._bind_part(target, wholes)
                return
        for target in node.targets:
            names = set(_target_names(target))
            self.out.rebinds |= names & value_reads
            self._store(target)
            self._bind_part(target, wholes if isinstance(target, ast.Name) else ())

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.annotation)
        if node.value is not None:
            self.visit(node.value)
            self._store(node.target)
            self._constant(node, node.target, node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self._read(node.target.id)
            self.out.rebinds.add(node.target.id)
            self.out.mutates.add(node.target.id)
            self._define(node.target.id)
        else:
            self._store(node.target)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self._store(node.target)
        self.out.loop_targets.update(_target_names(node.target))
        # ``for r in rows``, ``for k, v in d.items()``, ``for i, r in enumerate(rows)``: the
        # loop variables hold the iterable's elements
        self._bind_part(node.target, _iterated_roots(node.iter))
        for statement in [*node.body, *node.orelse]:
            self.visit(statement)

    visit_AsyncFor = visit_For  # type: ignore[assignment]

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self._store(item.optional_vars)
                self.out.with_targets.update(_target_names(item.optional_vars))
        for statement in node.body:
            self.visit(statement)

    visit_AsyncWith = visit_With  # type: ignore[assignment]

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._define(node.name)
        for statement in node.body:
            self.visit(statement)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self._read(target.id)
                self.out.deletes.add(target.id)
                self._bound.discard(target.id)
            else:
                self._store(target)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            bound = alias.asname or alias.name.split(".", 1)[0]
            module = alias.name if alias.asname else alias.name
            self.out.imports.append(ImportBinding(bound, module, None, node.lineno + self._line_offset))
            self._define(bound)
            if node is self.top:
                self._constants[bound] = ConstantBinding(bound, imported=f"{alias.name}||{bound}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            if alias.name == "*":
                self.out.opaque_defines = True
                continue
            bound = alias.asname or alias.name
            self.out.imports.append(
                ImportBinding(bound, module, alias.name, node.lineno + self._line_offset)
            )
            self._define(bound)
            if node is self.top:
                self._constants[bound] = ConstantBinding(bound, imported=f"{module}|{alias.name}|{bound}")

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expr in definition_time_exprs(node):
            self.visit(expr)
        info = _function_symbols(node)
        self.out.functions.append(info)
        self._function_magics(info)
        self._define(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *(kw.value for kw in node.keywords)]:
            self.visit(expr)
        info = _class_symbols(node)
        self._function_magics(info)
        # a class body runs now: what it evaluates is read by the cell (methods read later)
        for name in definition_time_reads(node):
            self._read(name)
        self.out.functions.append(info)
        self._define(node.name)

    def visit_Global(self, node: ast.Global) -> None:
        pass  # a no-op at cell level

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name:
            self._define(node.name)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self._define(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest:
            self._define(node.rest)

    # -- expressions -------------------------------------------------------------------------
    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._store(node.target)

    def visit_Await(self, node: ast.Await) -> None:
        self.out.awaits.append(node.lineno + self._line_offset)
        self.visit(node.value)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        scanner = _FunctionScanner()
        scanner.scan_function(node)
        for expr in [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]:
            self.visit(expr)
        # usually called at once (``key=lambda r: r[col]``): count its free names as reads
        for name in scanner.free_names():
            self._read(name)

    def _visit_comprehension(self, node: ast.expr, elements: Iterable[ast.expr]) -> None:
        generators: list[ast.comprehension] = node.generators  # type: ignore[attr-defined]
        # the first iterable is evaluated in the enclosing scope
        self.visit(generators[0].iter)
        local: set[str] = set()
        for generator in generators:
            local.update(_target_names(generator.target))
        nodes: list[ast.AST] = [*elements]
        for index, generator in enumerate(generators):
            if index:
                nodes.append(generator.iter)
            nodes.extend(generator.ifs)
        for sub in nodes:
            for inner in ast.walk(sub):
                if isinstance(inner, ast.NamedExpr) and isinstance(inner.target, ast.Name):
                    self._define(inner.target.id)  # walrus binds in the enclosing scope
                elif isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Load):
                    if inner.id not in local:
                        self._read(inner.id)
                elif isinstance(inner, _COMPREHENSIONS):
                    for gen in inner.generators:
                        local.update(_target_names(gen.target))
                elif isinstance(inner, ast.Call):
                    self._record_call(inner, local)
                elif isinstance(inner, ast.Lambda):
                    local.update(a.arg for a in inner.args.args)

    def visit_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        self._visit_comprehension(node, [node.elt])

    visit_SetComp = visit_ListComp  # type: ignore[assignment]
    visit_GeneratorExp = visit_ListComp  # type: ignore[assignment]

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._visit_comprehension(node, [node.key, node.value])

    def _record_call(self, node: ast.Call, local: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        if isinstance(node.func, ast.Attribute):
            self.out.called_methods.add(node.func.attr)
        method = _method_call(node)
        if method is not None and method[0] not in local:
            # ``for c in counters: c.tick()`` calls the method on a part of ``counters`` too
            self.out.method_calls.update((whole, method[1]) for whole in self._wholes(method[0]))
        callee = dotted_name(node.func)
        if callee is not None:
            self.out.calls.append(
                CallSite(
                    callee=callee,
                    line=node.lineno + self._line_offset,
                    arg_roots=tuple(_root_name(arg) for arg in node.args),
                    keywords=tuple(kw.arg or "**" for kw in node.keywords),
                    none_keywords=tuple(
                        kw.arg
                        for kw in node.keywords
                        if kw.arg and isinstance(kw.value, ast.Constant) and kw.value.value is None
                    ),
                    keyword_roots=tuple(
                        (kw.arg, root)
                        for kw in node.keywords
                        if kw.arg and (root := _root_name(kw.value)) is not None
                    ),
                )
            )
        for root in _mutation_roots(node):
            if root not in local:
                self._mutate(root)

    def visit_Call(self, node: ast.Call) -> None:
        magic = magic_from_call(node)
        if magic is not None:
            self._visit_magic(magic)
            return
        self.visit(node.func)
        for arg in node.args:
            self.visit(arg)
        for kw in node.keywords:
            self.visit(kw.value)
        self._record_call(node)

    def _function_magics(self, info: FunctionSymbols) -> None:
        """A body's magics are the cell's too (the exporter translates them where they stand)."""
        for magic in info.magics:
            self.out.magics.append(
                Magic(magic.kind, magic.name, magic.args, magic.body, magic.line + self._line_offset)
            )

    def _visit_magic(self, magic: Magic) -> None:
        magic = Magic(magic.kind, magic.name, magic.args, magic.body, magic.line + self._line_offset)
        self.out.magics.append(magic)
        if magic.kind is MagicKind.LINE and magic.name in ("run", "store"):
            self.out.opaque_defines = True
        for expression in expanded_expressions(magic):
            for node in ast.walk(expression):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    self._read(node.id)
        statements = embedded_statements(magic)
        if not statements:
            return
        saved = self._line_offset
        # line magics sit on the magic's line; a cell magic's body starts on the next one
        self._line_offset = magic.line - 1 + (1 if magic.kind is MagicKind.CELL else 0)
        for statement in statements:
            self.visit(statement)
        self._line_offset = saved



def definition_time_reads(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> set[str]:
    """Globals a ``def``/``class`` statement itself evaluates (not its function bodies).

    Decorators, defaults and annotations of a function; for a class also its bases, keywords
    and the statements of its body, which run when the class is created.
    """
    scanner = _FunctionScanner()
    if isinstance(node, ast.ClassDef):
        for expr in [*node.decorator_list, *node.bases, *(kw.value for kw in node.keywords)]:
            scanner.visit(expr)
        body = _FunctionScanner()
        for statement in node.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for expr in definition_time_exprs(statement):
                    body.visit(expr)
            else:
                body.visit(statement)
        return (scanner.loads | (body.loads - body.stores) | body.nested_free) - BUILTIN_NAMES
    for expr in definition_time_exprs(node):
        scanner.visit(expr)
    return (scanner.loads | scanner.nested_free) - BUILTIN_NAMES


def expanded_expressions(magic: Magic) -> list[ast.expr]:
    """The ``{expression}`` and ``$name`` parts IPython evaluates in a shell command or in a
    magic's argument line (``%cd $folder``, ``%%writefile {path}``; code magics run their code
    instead).

    ``$name`` expands only when ``name`` is a variable at run time, so it is a read of the
    notebook's ``name`` if there is one: a name no cell binds (``$HOME``) is read from nowhere,
    as the shell's own variable, and the dataflow finds no definition to tie it to.
    """
    if magic.kind in (MagicKind.SYSTEM, MagicKind.GETOUTPUT):
        command = magic.args
    elif (
        magic.kind in (MagicKind.LINE, MagicKind.CELL)
        and magic.name not in CODE_MAGICS
        and ("{" in magic.args or "$" in magic.args)
    ):
        command = magic.args
    else:
        return []
    from nb2pipe.analysis.shell import split_shell_command

    return [
        syntax.parse(piece.text, mode="eval").body
        for piece in split_shell_command(command, is_variable=lambda name: True)
        if piece.is_expression
    ]


def embedded_statements(magic: Magic) -> list[ast.stmt]:
    """The statements of a code magic's code (none for other magics, or code that does not
    parse: the exporter, which has to translate it, reports that)."""
    code = embedded_code(magic)
    if code is None:
        return []
    try:
        return syntax.parse(code).body
    except SyntaxError:
        return []


def embedded_code(magic: Magic) -> str | None:
    """The Python code a code magic runs (``%time x = f()`` → ``x = f()``), else ``None``."""
    if magic.name not in CODE_MAGICS or magic.kind not in (MagicKind.LINE, MagicKind.CELL):
        return None
    from nb2pipe.analysis.magic_args import split_magic_options

    options, rest = split_magic_options(magic.name, magic.args)
    del options
    if magic.kind is MagicKind.LINE:
        return rest
    if magic.name == "timeit" and rest.strip():
        return rest + "\n" + (magic.body or "")  # ``%%timeit setup`` runs setup first
    return magic.body or ""
