"""``nb2pipe sweep``: optimize an exported script's parameters on an Optuna study."""

from nb2pipe.sweep.runner import Sweeper, SweepRun, TrialRun
from nb2pipe.sweep.script import CheckedPoints, check_points, first_metric, type_space
from nb2pipe.sweep.space import (
    Choice,
    Range,
    SweepSpace,
    distributions,
    grid,
    parse_assignment,
    read_space_file,
)

__all__ = [
    "CheckedPoints",
    "Choice",
    "Range",
    "SweepRun",
    "SweepSpace",
    "Sweeper",
    "TrialRun",
    "check_points",
    "distributions",
    "first_metric",
    "grid",
    "parse_assignment",
    "read_space_file",
    "type_space",
]
