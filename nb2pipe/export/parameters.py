"""The parameters of an export: read from the ``parameters`` cell by the analysis
(:mod:`nb2pipe.analysis.parameters`, which reads the cell's syntax); named here too for the
exporter's modules and their users."""

from nb2pipe.analysis.parameters import Parameter, ParamType, read_parameters

__all__ = ["ParamType", "Parameter", "read_parameters"]
