"""Where imported modules come from, and the PEP 723 dependency block they imply."""

from __future__ import annotations

import enum
import importlib.metadata
import importlib.util
import sys
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from nb2pipe.analysis.parse import ParsedCell

__all__ = [
    "ModuleOrigin",
    "classify_module",
    "missing_import_notes",
    "pinned_requirement",
    "render_script_block",
]


class ModuleOrigin(str, enum.Enum):
    STDLIB = "stdlib"
    LOCAL = "local"  #: a module or package beside the notebook (or a relative import)
    INSTALLED = "installed"  #: importable here, from a distribution
    MISSING = "missing"  #: not importable here


#: Import names whose distribution is named differently; tried before a full metadata scan.
_KNOWN_DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "cv2": "opencv-python",
    "PIL": "pillow",
    "yaml": "PyYAML",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "jwt": "PyJWT",
    "Crypto": "pycryptodome",
    "attr": "attrs",
    "google.protobuf": "protobuf",
    "dotenv": "python-dotenv",
    "mpl_toolkits": "matplotlib",
    "IPython": "ipython",
}


def classify_module(top_level: str, notebook_dir: Path | None) -> ModuleOrigin:
    """Classify an import's top-level module name."""
    if not top_level:
        return ModuleOrigin.LOCAL  # relative import
    if top_level in sys.stdlib_module_names or top_level in sys.builtin_module_names:
        return ModuleOrigin.STDLIB
    if notebook_dir is not None and (
        (notebook_dir / f"{top_level}.py").is_file() or (notebook_dir / top_level).is_dir()
    ):
        return ModuleOrigin.LOCAL
    return _installed_or_missing(top_level)


@lru_cache(maxsize=None)
def _installed_or_missing(top_level: str) -> ModuleOrigin:
    try:
        spec = importlib.util.find_spec(top_level)
    except (ImportError, ValueError):
        spec = None
    return ModuleOrigin.INSTALLED if spec is not None else ModuleOrigin.MISSING


@lru_cache(maxsize=1)
def _packages_distributions() -> dict[str, list[str]]:
    # Reads every installed distribution's metadata (~0.5 s): only when a guess failed.
    return importlib.metadata.packages_distributions()


@lru_cache(maxsize=None)
def pinned_requirement(top_level: str) -> str | None:
    """``name==version`` of the distribution that provides ``top_level``, if any."""
    candidates = [_KNOWN_DISTRIBUTIONS.get(top_level, top_level), top_level.replace("_", "-")]
    for candidate in candidates:
        try:
            dist = importlib.metadata.distribution(candidate)
        except importlib.metadata.PackageNotFoundError:
            continue
        if _provides(dist, top_level):
            return f"{dist.metadata['Name']}=={dist.version}"
    names = _packages_distributions().get(top_level)
    if not names:
        return None
    dist = importlib.metadata.distribution(sorted(names)[0])
    return f"{dist.metadata['Name']}=={dist.version}"


def _provides(dist: importlib.metadata.Distribution, top_level: str) -> bool:
    top_level_txt = dist.read_text("top_level.txt")
    if top_level_txt is not None:
        return top_level in top_level_txt.split()
    return True  # no top_level.txt (most modern wheels): the guessed name matched the import


def render_script_block(requirements: Iterable[str], requires_python: str) -> str:
    """The PEP 723 inline script metadata block."""
    lines = ["# /// script", f'# requires-python = "{requires_python}"', "# dependencies = ["]
    lines += [f'#     "{requirement}",' for requirement in requirements]
    lines += ["# ]", "# ///"]
    return "\n".join(lines) + "\n"


def missing_import_notes(cells: Iterable[ParsedCell], notebook_dir: Path | None) -> list[str]:
    """Summary notes for imports of modules that are not installed here, one per cell.

    The dependency block pins what is installed; a missing module cannot be pinned (its
    distribution is unknown), so the block is incomplete and the user must know.
    """
    notes: list[str] = []
    seen: set[str] = set()
    for parsed in cells:
        missing: list[str] = []
        for binding in parsed.symbols.imports:
            top = binding.top_level_module
            if binding.is_relative or top in seen:
                continue
            if classify_module(top, notebook_dir) is ModuleOrigin.MISSING:
                seen.add(top)
                missing.append(top)
        if missing:
            them = "it" if len(missing) == 1 else "them"
            notes.append(
                f"{parsed.cell.label}: {', '.join(missing)} not installed here, so the "
                f"dependency list leaves {them} out; install {them} and export again, "
                f"or add {them} by hand"
            )
    return notes
