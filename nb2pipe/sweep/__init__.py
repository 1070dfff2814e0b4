"""``nb2pipe sweep``: run an exported script over a grid (or random points) of its parameters."""

from nb2pipe.sweep.runner import PointRun, SweepRun, run_sweep
from nb2pipe.sweep.script import CheckedPoints, check_points
from nb2pipe.sweep.space import Choice, Range, SweepSpace, parse_assignment, points, read_space_file

__all__ = [
    "CheckedPoints",
    "Choice",
    "PointRun",
    "Range",
    "SweepRun",
    "SweepSpace",
    "check_points",
    "parse_assignment",
    "points",
    "read_space_file",
    "run_sweep",
]
