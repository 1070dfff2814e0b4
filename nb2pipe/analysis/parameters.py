"""Read the ``parameters`` cell into typed :class:`Parameter` values (libcst, never regex)."""

from __future__ import annotations

import ast
import dataclasses
import datetime
import enum
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import libcst as cst
from libcst.metadata import PositionProvider

from nb2pipe.analysis import syntax
from nb2pipe.analysis.parse import ParsedCell
from nb2pipe.analysis.randomness import resolve_callee
from nb2pipe.analysis.symbols import ImportBinding
from nb2pipe.errors import ParameterError

__all__ = ["ParamType", "Parameter", "read_parameters"]


class ParamType(str, enum.Enum):
    """How a parameter is typed on the command line and in config files."""

    INT = "int"
    FLOAT = "float"
    STR = "str"
    BOOL = "bool"
    PATH = "Path"
    DATE = "date"
    JSON = "json"  #: lists, dicts and tuples, given as JSON
    #: ``msg = None`` with no annotation (papermill's idiom): a JSON literal, else the text,
    #: as papermill's ``-p`` types it (the run record keeps the value with its type)
    ANY = "any"


@dataclass(frozen=True)
class Parameter:
    """One parameter of the notebook, as the exported script's CLI exposes it."""

    name: str
    type: ParamType
    default: Any  #: the value (``Path``/``date`` objects for those types)
    default_source: str  #: the default as written in the notebook
    optional: bool  #: ``None`` is allowed (annotated ``X | None`` / ``Optional[X]``)
    help: str | None
    line: int
    #: the values the parameter may take (``Literal["a", "b"]``, or ``# one of: a, b``):
    #: the script's ``choices``; ``None`` for any value of its type
    choices: tuple[Any, ...] | None = None

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type.value,
            "default": _jsonable(self.default),
            "optional": self.optional,
            "help": self.help,
            "choices": list(self.choices) if self.choices is not None else None,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, (Path, datetime.date)):
        return str(value)
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


_ANNOTATION_TYPES = {
    "int": ParamType.INT,
    "float": ParamType.FLOAT,
    "str": ParamType.STR,
    "bool": ParamType.BOOL,
    "Path": ParamType.PATH,
    "pathlib.Path": ParamType.PATH,
    "date": ParamType.DATE,
    "datetime.date": ParamType.DATE,
    "list": ParamType.JSON,
    "dict": ParamType.JSON,
    "tuple": ParamType.JSON,
}


def read_parameters(
    parsed: ParsedCell, path: Path | None = None, earlier: Iterable[ParsedCell] = ()
) -> tuple[Parameter, ...]:
    """Read the assignments of a parameters cell.

    ``earlier`` are the cells above it: their imports (with the cell's own) say what a call
    names, so ``dt.date(2024, 1, 31)`` after ``import datetime as dt`` is a date.

    A string literal standing alone (a note, like a docstring) is no parameter: skipped, as
    imports are. ``name = None`` with no annotation, papermill's commonest idiom, is a
    parameter of type :attr:`ParamType.ANY`.

    Raises
    ------
    ParameterError
        A statement that is not an assignment of a literal (or of ``Path(...)`` /
        ``datetime.date(...)`` with literal arguments).
    """
    aliases = _import_aliases([*earlier, parsed])
    wrapper = cst.MetadataWrapper(cst.parse_module(parsed.python_source))
    positions = wrapper.resolve(PositionProvider)
    module = wrapper.module
    parameters: list[Parameter] = []
    for statement in module.body:
        line = positions[statement].start.line
        where = parsed.cell.location(path, line)
        if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
            raise ParameterError(where, "the parameters cell may only hold one assignment a line")
        if isinstance(statement.body[0], (cst.Import, cst.ImportFrom)):
            continue  # imports the values need (``from pathlib import Path``) are exported as usual
        if _is_note(statement.body[0]):
            continue  # a string standing alone says something about the parameters
        comment = statement.trailing_whitespace.comment
        help_text, listed = _comment_choices(comment.value.lstrip("#").strip() if comment else "")
        parameter = _read_assignment(statement.body[0], module, help_text, line, where, aliases)
        parameters.append(_with_choices(parameter, listed, where))
    names = [p.name for p in parameters]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise ParameterError(
                parsed.cell.location(path, parameters[index].line), f"parameter {name!r} is set twice"
            )
    return tuple(parameters)


#: what starts the list of choices in a parameter's comment: ``# the model; one of: a, b``
_ONE_OF = "one of:"


def _comment_choices(comment: str) -> tuple[str | None, tuple[str, ...] | None]:
    """A parameter's comment split into its help text and the choices it lists after
    ``one of:`` (comma-separated, to the end of the comment; quotes around a choice are
    dropped). A comment without that has no choices."""
    start = comment.lower().find(_ONE_OF)
    if start < 0:
        return comment or None, None
    listed = tuple(
        item.strip().strip("`'\"").strip()
        for item in comment[start + len(_ONE_OF):].rstrip().rstrip(".").split(",")
    )
    help_text = comment[:start].rstrip(" ;,:-(\u2013\u2014")
    return help_text or None, tuple(item for item in listed if item)


def _with_choices(
    parameter: Parameter, listed: tuple[str, ...] | None, where: Any
) -> Parameter:
    """``parameter`` with the choices its comment lists (unless its annotation gave some),
    converted to its type; its default must be one of them."""
    choices = parameter.choices
    name = parameter.name
    if choices is None and listed is not None:
        if not listed:
            raise ParameterError(where, f"parameter {name!r}: `one of:` lists no values")
        convert = {ParamType.STR: str, ParamType.INT: int, ParamType.FLOAT: float}.get(
            parameter.type
        )
        if convert is None:
            raise ParameterError(
                where,
                f"parameter {name!r} is a {parameter.type.value}: `one of:` lists choices of "
                "text or numbers only",
            )
        try:
            choices = tuple(dict.fromkeys(convert(item) for item in listed))
        except ValueError as exc:
            raise ParameterError(
                where, f"parameter {name!r}: `one of:` lists a value that is not "
                f"{'an int' if convert is int else 'a number'} ({exc})"
            ) from None
    if choices is None:
        return parameter
    default = parameter.default
    if not (default is None and parameter.optional) and default not in choices:
        raise ParameterError(
            where,
            f"parameter {name!r} is {parameter.default_source}, not one of its choices "
            f"{', '.join(map(repr, choices))}",
        )
    return dataclasses.replace(parameter, choices=choices)


def _literal_choices(annotation: str) -> tuple[tuple[Any, ...], bool] | None:
    """The values of a ``Literal[...]`` annotation, and whether it allows ``None``
    (``Literal["a", "b"] | None``, ``Optional[Literal[...]]``); ``None`` for other
    annotations."""
    try:
        node = syntax.parse(annotation.strip(), mode="eval").body
    except SyntaxError:
        return None
    optional = False
    while True:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            sides = [node.left, node.right]
            nones = [side for side in sides if _is_none(side)]
            if len(nones) != 1:
                return None
            optional = True
            node = next(side for side in sides if not _is_none(side))
        elif isinstance(node, ast.Subscript) and _named(node.value, "Optional"):
            optional, node = True, node.slice
        else:
            break
    if not (isinstance(node, ast.Subscript) and _named(node.value, "Literal")):
        return None
    items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    values: list[Any] = []
    for item in items:
        if _is_none(item):
            optional = True
            continue
        if not isinstance(item, ast.Constant):
            return None
        values.append(item.value)
    return tuple(dict.fromkeys(values)), optional


def _named(node: ast.expr, name: str) -> bool:
    """``name``, ``typing.name`` or ``typing_extensions.name``."""
    if isinstance(node, ast.Name):
        return node.id == name
    return (
        isinstance(node, ast.Attribute) and node.attr == name
        and isinstance(node.value, ast.Name) and node.value.id in ("typing", "typing_extensions")
    )


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _literal_type(values: tuple[Any, ...]) -> ParamType | None:
    """The one type of a ``Literal``'s values: text, integers, or numbers."""
    if values and all(isinstance(value, str) for value in values):
        return ParamType.STR
    if values and all(type(value) is int for value in values):
        return ParamType.INT
    if values and all(type(value) in (int, float) for value in values):
        return ParamType.FLOAT
    return None


def _is_note(small: cst.BaseSmallStatement) -> bool:
    """A string literal standing alone (``"Set these before a run."``, a triple-quoted note)."""
    return isinstance(small, cst.Expr) and isinstance(
        small.value, (cst.SimpleString, cst.ConcatenatedString)
    )


def _import_aliases(cells: Iterable[ParsedCell]) -> dict[str, ImportBinding]:
    """The import bindings of ``datetime``/``pathlib`` names (``dt`` -> ``datetime``)."""
    return {
        binding.name: binding
        for cell in cells
        for binding in cell.symbols.imports
        if binding.module in ("datetime", "pathlib")
    }


def _read_assignment(
    small: cst.BaseSmallStatement,
    module: cst.Module,
    help_text: str | None,
    line: int,
    where: Any,
    aliases: dict[str, ImportBinding] | None = None,
) -> Parameter:
    annotation: str | None = None
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target = small.targets[0].target
        value = small.value
    elif isinstance(small, cst.AnnAssign) and small.value is not None:
        target = small.target
        value = small.value
        annotation = module.code_for_node(small.annotation.annotation)
    else:
        code = module.code_for_node(small).strip()
        raise ParameterError(where, f"not a parameter assignment: {code}")
    if not isinstance(target, cst.Name):
        raise ParameterError(where, "a parameter must be assigned to a plain name")
    source = module.code_for_node(value)
    default = _literal_value(source, aliases or {})
    if default is _NOT_LITERAL:
        raise ParameterError(
            where,
            f"parameter {target.value!r} is not a literal ({source.strip()}); parameters must be "
            "literals, Path(...) or datetime.date(...)",
        )
    literal = _literal_choices(annotation) if annotation else None
    if literal is not None:
        written = (annotation or "").strip()
        choices, optional = literal
        kind = _literal_type(choices)
        if kind is None:
            raise ParameterError(
                where,
                f"parameter {target.value!r} is annotated {written}: its values must "
                "all be text or all numbers",
            )
        if default is None and not optional:
            raise ParameterError(
                where, f"parameter {target.value!r} is None, which {written} does "
                "not allow; add `| None`",
            )
        if kind is ParamType.FLOAT:
            choices = tuple(float(choice) for choice in choices)
        return Parameter(
            target.value, kind, default, source.strip(), optional, help_text, line, choices
        )
    kind, optional = _param_type(
        resolve_callee(annotation.strip(), aliases or {}) if annotation else None, default
    )
    if kind is None:
        raise ParameterError(
            where,
            f"parameter {target.value!r} is {source.strip()}, which the command line cannot "
            "give; parameters must be numbers, strings, booleans, None, or lists and dicts of "
            "them",
        )
    if annotation is not None and default is not None and not _fits(kind, default):
        raise ParameterError(
            where,
            f"parameter {target.value!r} is annotated {annotation.strip()} but its value "
            f"{source.strip()} is {type(default).__name__}; the script would reject or "
            "change it",
        )
    return Parameter(target.value, kind, default, source.strip(), optional, help_text, line)


def _fits(kind: ParamType, default: Any) -> bool:
    """Whether the notebook's value is one of the annotated type (as the script reads it).

    A string is accepted where the script converts it to the same value the annotation asks
    for without surprise (``data: Path = "in.csv"``, ``day: date = "2024-01-31"``); an int
    where a float is asked for. Anything else would fail every run (``x: int = "s"``) or run
    with a value of another type than the notebook's.
    """
    if kind is ParamType.BOOL:
        return isinstance(default, bool)
    if kind is ParamType.INT:
        return isinstance(default, int) and not isinstance(default, bool)
    if kind is ParamType.FLOAT:
        return isinstance(default, (int, float)) and not isinstance(default, bool)
    if kind is ParamType.STR:
        return isinstance(default, str)
    if kind is ParamType.PATH:
        return isinstance(default, (str, Path))
    if kind is ParamType.DATE:
        if isinstance(default, str):
            try:
                datetime.date.fromisoformat(default)
            except ValueError:
                return False
            return True
        return isinstance(default, datetime.date)
    return isinstance(default, (list, dict, tuple))


_NOT_LITERAL = object()


def _literal_value(source: str, aliases: dict[str, ImportBinding] | None = None) -> Any:
    try:
        node = syntax.parse(source.strip(), mode="eval").body
    except SyntaxError:
        return _NOT_LITERAL
    if isinstance(node, ast.Call) and not node.keywords:
        func = ast.unparse(node.func)
        func = resolve_callee(func, aliases or {})
        try:
            args = [ast.literal_eval(arg) for arg in node.args]
        except ValueError:
            return _NOT_LITERAL
        if func in ("Path", "pathlib.Path") and all(isinstance(a, str) for a in args):
            return Path(*args)
        if func in ("date", "datetime.date") and all(isinstance(a, int) for a in args):
            try:
                return datetime.date(*args)
            except (TypeError, ValueError):
                return _NOT_LITERAL
        return _NOT_LITERAL
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _NOT_LITERAL


def _param_type(annotation: str | None, default: Any) -> tuple[ParamType | None, bool]:
    optional = False
    if annotation is not None:
        text = annotation.replace(" ", "")
        for wrapper in ("Optional[", "typing.Optional["):
            if text.startswith(wrapper) and text.endswith("]"):
                text, optional = text[len(wrapper) : -1], True
        parts = text.split("|")
        if "None" in parts:
            optional = True
            parts = [p for p in parts if p != "None"]
        base = parts[0].split("[", 1)[0] if len(parts) == 1 else None
        if base in _ANNOTATION_TYPES:
            return _ANNOTATION_TYPES[base], optional or default is None
    if default is None:  # papermill's `msg = None`: whatever the command line gives
        return ParamType.ANY, True
    if isinstance(default, bool):
        return ParamType.BOOL, optional
    if isinstance(default, int):
        return ParamType.INT, optional
    if isinstance(default, float):
        return ParamType.FLOAT, optional
    if isinstance(default, str):
        return ParamType.STR, optional
    if isinstance(default, Path):
        return ParamType.PATH, optional
    if isinstance(default, datetime.date):
        return ParamType.DATE, optional
    if isinstance(default, (list, dict, tuple)):
        try:
            json.dumps(default)
        except (TypeError, ValueError):
            return None, optional
        return ParamType.JSON, optional
    return None, optional
