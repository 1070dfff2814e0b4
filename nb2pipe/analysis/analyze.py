"""Analyse a whole notebook: parse every code cell once, build the dataflow, find static hazards."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Iterator

from nb2pipe.analysis.dataflow import Dataflow, build_dataflow
from nb2pipe.analysis.hazards import Hazard, HazardKind, short_labels
from nb2pipe.analysis.parse import KernelNamespace, ParsedCell, parse_cell
from nb2pipe.analysis.randomness import random_calls
from nb2pipe.analysis.symbols import NOTEBOOK_NAMES, CellSymbols, ImportBinding, gather_cell_symbols
from nb2pipe.model import Cell, Notebook

__all__ = ["NotebookAnalysis", "analyze_notebook", "find_static_hazards"]

#: Names that several cells rebind on purpose (matplotlib's ``fig, ax = plt.subplots()``).
_CONVENTIONAL_REBINDS = frozenset({"fig", "ax", "axes", "axs", "_", "i", "j", "k"})


@dataclass(frozen=True)
class NotebookAnalysis:
    """A notebook's parsed code cells and their dataflow in top-to-bottom order."""

    notebook: Notebook
    #: every code cell, in notebook order
    cells: tuple[ParsedCell, ...]
    _by_index: dict[int, ParsedCell] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_index.update({parsed.cell.index: parsed for parsed in self.cells})

    def parsed(self, cell_index: int) -> ParsedCell | None:
        return self._by_index.get(cell_index)

    @cached_property
    def dataflow(self) -> Dataflow:
        """The dataflow over all code cells (what a fresh kernel running everything sees)."""
        return build_dataflow(self.cells)

    def import_bindings(self) -> dict[str, ImportBinding]:
        """The last import binding of each imported name across the notebook."""
        out: dict[str, ImportBinding] = {}
        for parsed in self.cells:
            for binding in parsed.symbols.imports:
                out[binding.name] = binding
        return out


def analyze_notebook(notebook: Notebook) -> NotebookAnalysis:
    """Parse and analyse every code cell of ``notebook``.

    Cells are read as a fresh kernel running the notebook top to bottom reads them: a
    one-line cell may be IPython's automagic (``cd data``), unless an earlier cell bound a
    variable of that name. A cell expected to raise (tagged ``raises-exception``, or saved
    with an error output) may be no Python at all: it is kept with an empty tree.

    Raises
    ------
    CellParseError
        For the first other code cell that is not Python.
    """
    namespace = KernelNamespace()
    cells = []
    for cell in notebook.code_cells:
        parsed = parse_cell(cell, notebook.path, namespace, may_fail=cell.expects_error())
        namespace.record(parsed)
        cells.append(parsed)
    return NotebookAnalysis(notebook, tuple(cells))


#: How a message names a cell: ``Cell -> "[3]"``.
CellLabel = Callable[[Cell], str]


def _position_label(cell: Cell) -> str:
    return f"[{cell.index + 1}]"


def find_static_hazards(analysis: NotebookAnalysis, label: CellLabel | None = None) -> list[Hazard]:
    """Hazards visible in the saved notebook alone, in notebook order.

    ``label`` names the other cells a message mentions (default: ``[n]``, the position in
    ``analysis.notebook``); ``%track`` passes its own so positions match its other messages.
    """
    name = label or _position_label
    hazards = [
        *_saved_order_hazards(analysis),
        *_undefined_hazards(analysis, name),
        *_unseeded_random_hazards(analysis),
        *_multiple_definition_hazards(analysis, name),
    ]
    return sorted(hazards, key=lambda h: (h.cell_index if h.cell_index is not None else -1))


def _saved_order_hazards(analysis: NotebookAnalysis) -> Iterator[Hazard]:
    previous: tuple[int, ParsedCell] | None = None
    for parsed in analysis.cells:
        count = parsed.cell.execution_count
        if count is None:
            continue
        if previous is not None and count < previous[0]:
            earlier = previous[1].cell
            yield Hazard(
                HazardKind.OUT_OF_ORDER,
                parsed.cell.index,
                parsed.cell.id,
                (),
                f"saved outputs are not from a top-to-bottom run: [{parsed.cell.index + 1}] ran "
                f"as In [{count}] after [{earlier.index + 1}] ran as In [{previous[0]}]",
                "restart the kernel and run all cells before saving",
            )
            return
        previous = (count, parsed)


def _undefined_hazards(analysis: NotebookAnalysis, label: CellLabel) -> Iterator[Hazard]:
    producers = analysis.dataflow.producers()
    for flow in analysis.dataflow.flows:
        # the kernel provides get_ipython, display, In, Out, ... in a fresh notebook too
        undefined = flow.undefined - NOTEBOOK_NAMES
        if not undefined:
            continue
        cell = analysis.notebook.cells[flow.cell_index]
        names = tuple(sorted(undefined))
        later, short = [], []
        for name in names:
            below = [index for index in producers.get(name, ()) if index > cell.index]
            if below:
                where = label(analysis.notebook.cells[below[0]])
                later.append(f"{name} (defined below in {where})")
                short.append(f"{name} (below: {short_labels(where)})")
            else:
                later.append(name)
                short.append(name)
        more = f" +{len(short) - 3} more" if len(short) > 3 else ""
        yield Hazard(
            HazardKind.UNDEFINED_IN_FRESH_KERNEL,
            cell.index,
            cell.id,
            names,
            f"a fresh kernel raises NameError here: no earlier cell defines {', '.join(later)}",
            "move the defining cell above this one, or define the name in an earlier cell",
            summary=f"NameError in a fresh kernel: no earlier cell defines {', '.join(short[:3])}{more}",
        )


def _unseeded_random_hazards(analysis: NotebookAnalysis) -> Iterator[Hazard]:
    """Cells that draw random numbers with no seed set, directly or through a function the
    notebook defines (``data = generate_data(100)`` where ``generate_data`` calls
    ``np.random.randn``)."""
    imports: dict[str, ImportBinding] = {}
    seeded: set[str] = set()
    functions = _NotebookFunctions()
    for parsed in analysis.cells:
        for binding in parsed.symbols.imports:
            imports[binding.name] = binding
        functions.define(parsed, imports)
        draws: list[_Draw] = []
        for scanned in random_calls(parsed.symbols.calls, imports):
            call, draw = scanned.call, scanned.draw
            if scanned.seeds is not None:
                seeded.add(scanned.seeds)
                continue
            if draw is not None:
                draws.append(_Draw(call.callee, call.line, draw.qualified, draw.seeded_by))
                continue
            inner = functions.draws_of(call.callee)
            seeded |= functions.seeds_of(call.callee)
            draws += [
                _Draw(
                    d.name if d.name.endswith(f" in {call.callee}()")
                    else f"{d.name} via {call.callee}()",
                    call.line, d.qualified, d.seeded_by,
                )
                for d in inner
            ]
        draws = [d for d in draws if d.seeded_by is None or d.seeded_by not in seeded]
        if draws:
            first = draws[0]
            names = tuple(dict.fromkeys(draw.name for draw in draws))
            yield Hazard(
                HazardKind.UNSEEDED_RANDOM,
                parsed.cell.index,
                parsed.cell.id,
                names,
                f"draws random numbers with no seed set: {', '.join(names)} "
                f"(line {first.line})",
                _seed_fix(first.qualified),
                line=first.line,
            )


@dataclass(frozen=True)
class _Draw:
    """A random draw as a hazard names it: ``np.random.randn in generate_data()``."""

    name: str
    line: int
    qualified: str
    seeded_by: str | None


class _NotebookFunctions:
    """The functions the notebook defines so far, and the random draws calling one makes
    (through the functions it calls in turn)."""

    def __init__(self) -> None:
        self._bodies: dict[str, tuple[CellSymbols, dict[str, ImportBinding]]] = {}
        self._memo: dict[str, tuple[tuple[_Draw, ...], frozenset[str]]] = {}

    def define(self, parsed: ParsedCell, imports: dict[str, ImportBinding]) -> None:
        for node in parsed.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                # the body's own statements, as the one analysis reads cell-level code
                body = gather_cell_symbols(ast.Module(body=node.body, type_ignores=[]))
                scope = {**imports, **{b.name: b for b in body.imports}}
                self._bodies[node.name] = (body, scope)
                self._memo.clear()

    def draws_of(self, name: str) -> tuple[_Draw, ...]:
        return self._walk(name, frozenset())[0]

    def seeds_of(self, name: str) -> frozenset[str]:
        """The seed families calling ``name`` sets (``def setup(): np.random.seed(0)``)."""
        return self._walk(name, frozenset())[1]

    def _walk(self, name: str, seen: frozenset[str]) -> tuple[tuple[_Draw, ...], frozenset[str]]:
        if name in self._memo:
            return self._memo[name]
        entry = self._bodies.get(name)
        if entry is None or name in seen:
            return (), frozenset()
        body, scope = entry
        draws: list[_Draw] = []
        seeds: set[str] = set()
        for scanned in random_calls(body.calls, scope):
            call, draw = scanned.call, scanned.draw
            if scanned.seeds is not None:
                seeds.add(scanned.seeds)
                continue
            if draw is not None:
                if draw.seeded_by is None or draw.seeded_by not in seeds:
                    where = f"{call.callee} in {name}()"
                    draws.append(_Draw(where, call.line, draw.qualified, draw.seeded_by))
                continue
            inner, inner_seeds = self._walk(call.callee, seen | {name})
            seeds |= inner_seeds
            draws += [d for d in inner if d.seeded_by is None or d.seeded_by not in seeds]
        result = (tuple(draws), frozenset(seeds))
        self._memo[name] = result
        return result


def _seed_fix(qualified: str) -> str:
    if qualified.startswith("sklearn"):
        return "pass random_state=<int> (or call numpy.random.seed(<int>) in an earlier cell)"
    if qualified == "numpy.random.default_rng":
        return "pass a seed: numpy.random.default_rng(<int>)"
    if qualified.startswith("torch"):
        return "call torch.manual_seed(<int>) in an earlier cell"
    if qualified.startswith("numpy"):
        return "use rng = numpy.random.default_rng(<int>), or call numpy.random.seed(<int>) first"
    return "call random.seed(<int>) in an earlier cell"


def _multiple_definition_hazards(analysis: NotebookAnalysis, label: CellLabel) -> Iterator[Hazard]:
    definers: dict[str, list[ParsedCell]] = {}
    for parsed in analysis.cells:
        symbols = parsed.symbols
        imported = {binding.name for binding in symbols.imports}
        # loop and ``with ... as`` targets are rebound by design, like ``fig, ax``
        rebound = symbols.loop_targets | symbols.with_targets | _CONVENTIONAL_REBINDS
        for name in symbols.defines - rebound - imported:
            definers.setdefault(name, []).append(parsed)
    for name, cells in sorted(definers.items(), key=lambda item: item[1][-1].cell.index):
        if len(cells) < 2:
            continue
        # ``df = df.dropna()`` refines a value; it is not a second, competing definition
        competing = [c for c in cells if name not in c.symbols.rebinds]
        if len(competing) < 2:
            continue
        last = cells[-1].cell
        where = ", ".join(label(c.cell) for c in cells)
        yield Hazard(
            HazardKind.MULTIPLE_DEFINITIONS,
            last.index,
            last.id,
            (name,),
            f"{name!r} is defined by several cells: {where}",
            "give each value its own name, or keep one defining cell",
        )
