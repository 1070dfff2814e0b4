"""Which distributions a script's imports need, and the PEP 723 block that lists them.

What the block lists is a function of the notebook alone: an import is the standard
library's (by name), a local module (a file or package beside the notebook), or a
distribution, named by the table below when the import name differs from the distribution's,
else by the installed distribution that provides it, else by the import name. Only the pinned
versions come from the environment export runs in (``--check`` ignores them), so a pre-commit
hook in an environment holding nb2pipe alone writes the same script apart from the pins.
"""

from __future__ import annotations

import enum
import importlib.metadata
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

from nb2pipe.analysis.parse import ParsedCell

__all__ = [
    "ModuleOrigin",
    "Requirement",
    "classify_module",
    "missing_import_notes",
    "normalized_name",
    "render_script_block",
    "requirement_for_module",
    "requirement_for_distribution",
]


class ModuleOrigin(str, enum.Enum):
    STDLIB = "stdlib"
    LOCAL = "local"  #: a module or package beside the notebook (or a relative import)
    THIRD_PARTY = "third-party"  #: from a distribution (installed here or not)


#: Import names whose distribution is named otherwise (the common cases).
KNOWN_DISTRIBUTIONS = {
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
    "dotenv": "python-dotenv",
    "mpl_toolkits": "matplotlib",
    "IPython": "ipython",
    "google": "protobuf",
    "serial": "pyserial",
    "usb": "pyusb",
    "OpenSSL": "pyOpenSSL",
    "Levenshtein": "levenshtein",
    "magic": "python-magic",
    "docx": "python-docx",
    "pptx": "python-pptx",
    "fitz": "PyMuPDF",
    "gi": "PyGObject",
    "wx": "wxPython",
    "MySQLdb": "mysqlclient",
    "psycopg2": "psycopg2-binary",
    "sentencepiece": "sentencepiece",
    "tensorflow_datasets": "tensorflow-datasets",
    "umap": "umap-learn",
    "hdbscan": "hdbscan",
    "Bio": "biopython",
    "igraph": "igraph",
    "pyspark": "pyspark",
    "lightgbm": "lightgbm",
    "xgboost": "xgboost",
    "catboost": "catboost",
    "statsmodels": "statsmodels",
    "pandas_datareader": "pandas-datareader",
    "pkg_resources": "setuptools",
    "nb2pipe_runtime": "nb2pipe-runtime",
}




@dataclass(frozen=True)
class Requirement:
    """One line of the dependency block: a distribution and, when installed here, its version."""

    name: str
    version: str | None = None
    #: anything after the name as the user wrote it (``>=2``, ``[extra]``) for %pip lines
    spec: str = ""

    @property
    def key(self) -> str:
        return normalized_name(self.name)

    def __str__(self) -> str:
        if self.spec:
            return f"{self.name}{self.spec}"
        return f"{self.name}=={self.version}" if self.version else self.name


def normalized_name(name: str) -> str:
    """A distribution name as PEP 503 compares them (``PyYAML`` = ``pyyaml``, ``a_b`` = ``a-b``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def classify_module(top_level: str, notebook_dir: Path | None) -> ModuleOrigin:
    """Where an import's top-level module comes from (never by trying to import it)."""
    if not top_level:
        return ModuleOrigin.LOCAL  # relative import
    if top_level in sys.stdlib_module_names or top_level in sys.builtin_module_names:
        return ModuleOrigin.STDLIB
    if notebook_dir is not None and (
        (notebook_dir / f"{top_level}.py").is_file() or (notebook_dir / top_level).is_dir()
    ):
        return ModuleOrigin.LOCAL
    return ModuleOrigin.THIRD_PARTY


@lru_cache(maxsize=1)
def _packages_distributions() -> Mapping[str, list[str]]:
    # Reads every installed distribution's metadata (~0.5 s): only when the table and the
    # import name both miss.
    return importlib.metadata.packages_distributions()


@lru_cache(maxsize=None)
def _installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=None)
def requirement_for_module(top_level: str) -> Requirement:
    """The distribution that provides the third-party module ``top_level``.

    The name comes from :data:`KNOWN_DISTRIBUTIONS`, else from the installed distribution
    whose name is the import name, else from the one that provides the module, else it is
    the import name; the version from the installed distribution of that name.
    """
    known = KNOWN_DISTRIBUTIONS.get(top_level)
    if known is not None:
        return Requirement(known, _installed_version(known))
    for candidate in (top_level, top_level.replace("_", "-")):
        version = _installed_version(candidate)
        if version is not None:
            return Requirement(_canonical_name(candidate), version)
    providers = sorted(_packages_distributions().get(top_level, ()))
    if providers:
        return Requirement(_canonical_name(providers[0]), _installed_version(providers[0]))
    return Requirement(top_level)


def requirement_for_distribution(name: str) -> Requirement:
    """``name`` (a distribution) pinned to its installed version, if any."""
    return Requirement(name, _installed_version(name))


@lru_cache(maxsize=None)
def _canonical_name(name: str) -> str:
    try:
        return str(importlib.metadata.metadata(name)["Name"])
    except importlib.metadata.PackageNotFoundError:
        return name


def render_script_block(requirements: Iterable[Requirement | str], requires_python: str) -> str:
    """The PEP 723 inline script metadata block."""
    lines = ["# /// script", f'# requires-python = "{requires_python}"', "# dependencies = ["]
    lines += [f'#     "{requirement}",' for requirement in requirements]
    lines += ["# ]", "# ///"]
    return "\n".join(lines) + "\n"


def missing_import_notes(cells: Iterable[ParsedCell], notebook_dir: Path | None) -> list[str]:
    """Summary notes for third-party imports not installed here, one per cell.

    The script is the same either way; only the block's pins are missing, and the user should
    know that the script's dependencies are not installed where they exported it.
    """
    notes: list[str] = []
    seen: set[str] = set()
    for parsed in cells:
        missing: list[str] = []
        for binding in parsed.symbols.imports:
            top = binding.top_level_module
            if binding.is_relative or top in seen:
                continue
            if classify_module(top, notebook_dir) is not ModuleOrigin.THIRD_PARTY:
                continue
            seen.add(top)
            if requirement_for_module(top).version is None:
                missing.append(top)
        if missing:
            them = "it" if len(missing) == 1 else "them"
            notes.append(
                f"{parsed.cell.label}: {', '.join(missing)} not installed here, so the "
                f"dependency list does not pin {them}"
            )
    return notes
