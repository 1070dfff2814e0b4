"""Static analysis of notebooks: IPython masking, cell symbols, dataflow, static hazards."""

from nb2pipe.analysis.analyze import NotebookAnalysis, analyze_notebook, find_static_hazards
from nb2pipe.analysis.dataflow import CellEffects, CellFlow, Dataflow, build_dataflow, cell_effects
from nb2pipe.analysis.hazards import Hazard, HazardKind, Severity
from nb2pipe.analysis.magics import Magic, MagicKind, mask_ipython
from nb2pipe.analysis.parse import ParsedCell, parse_cell
from nb2pipe.analysis.symbols import (
    CellSymbols,
    FunctionSymbols,
    ImportBinding,
    gather_cell_symbols,
)

__all__ = [
    "CellEffects",
    "CellFlow",
    "CellSymbols",
    "Dataflow",
    "FunctionSymbols",
    "Hazard",
    "HazardKind",
    "ImportBinding",
    "Magic",
    "MagicKind",
    "NotebookAnalysis",
    "ParsedCell",
    "Severity",
    "analyze_notebook",
    "build_dataflow",
    "cell_effects",
    "find_static_hazards",
    "gather_cell_symbols",
    "mask_ipython",
    "parse_cell",
]
