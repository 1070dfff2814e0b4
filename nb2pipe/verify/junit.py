"""The JUnit XML form of a verify report: a test case per notebook and per differing cell
(the notebook's own case fails only for findings about no single cell)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from nb2pipe.verify.report import Mismatch, NotebookReport, NotebookStatus, VerifyReport

__all__ = ["junit_xml", "write_junit"]

_SUITE = "nb2pipe verify"
#: Characters XML 1.0 cannot carry (terminal escapes in a kernel log, say).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _case(parent: ET.Element, classname: str, name: str, time: float) -> ET.Element:
    return ET.SubElement(parent, "testcase", classname=classname, name=name, time=f"{time:.3f}")


def _body(mismatch: Mismatch) -> list[str]:
    body = [f"> {mismatch.source}"] if mismatch.source else []
    body += [mismatch.diff] if mismatch.diff else []
    if mismatch.normalizers:
        body.append("normalized: " + ", ".join(mismatch.normalizers))
    if mismatch.hint:
        body.append("hint: " + mismatch.hint)
    return body


def _fail(case: ET.Element, findings: list[Mismatch], text: str) -> None:
    reasons = list(dict.fromkeys(m.reason.value for m in findings))
    failure = ET.SubElement(
        case, "failure", message="; ".join(m.message for m in findings), type=reasons[0]
    )
    failure.text = text


def _notebook_cases(suite: ET.Element, report: NotebookReport) -> tuple[int, int]:
    """Append the notebook's case and one per differing cell; return (failures, errors).

    The notebook's case fails for what is not about one cell (the script failed, say); each
    differing cell is a case of its own, with all its findings, so one differing cell is one
    failure, not two.
    """
    path = str(report.path)
    case = _case(suite, "nb2pipe.verify", path, report.duration)
    if report.status is NotebookStatus.INVALID:
        ET.SubElement(case, "error", message=report.error or "invalid notebook", type="invalid")
        return 0, 1
    by_cell: dict[int, list[Mismatch]] = {}
    whole: list[Mismatch] = []
    for mismatch in report.mismatches:
        if mismatch.cell_index is None:
            whole.append(mismatch)
        else:
            by_cell.setdefault(mismatch.cell_index, []).append(mismatch)
    failures = 0
    if whole:
        _fail(case, whole, "\n\n".join("\n".join([m.message, *_body(m)]) for m in whole))
        failures += 1
    out = list(report.notes)
    if by_cell:
        out.append(f"{len(by_cell)} cell(s) differ: {', '.join(f[0].cell_label for f in by_cell.values())}")
    if out:
        ET.SubElement(case, "system-out").text = "\n".join(out)
    for findings in by_cell.values():
        cell_case = _case(suite, path, findings[0].cell_label, 0.0)
        text = "\n\n".join(
            "\n".join(([f"{m.reason.value}: {m.message}"] if len(findings) > 1 else []) + _body(m))
            for m in findings
        )
        _fail(cell_case, findings, text)
        failures += 1
    return failures, 0


def junit_xml(report: VerifyReport) -> str:
    """The report as a JUnit XML document (``<testsuites>`` with one ``<testsuite>``)."""
    root = ET.Element("testsuites", name=_SUITE)
    suite = ET.SubElement(root, "testsuite", name=_SUITE)
    failures = errors = 0
    for notebook in report.notebooks:
        f, e = _notebook_cases(suite, notebook)
        failures, errors = failures + f, errors + e
    tests = len(suite.findall("testcase"))
    for element in (root, suite):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", str(errors))
        element.set("time", f"{report.duration:.3f}")
    suite.set("skipped", "0")
    for element in root.iter():
        element.attrib = {key: _clean(value) for key, value in element.attrib.items()}
        if element.text:
            element.text = _clean(element.text)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(report: VerifyReport, path: Path) -> None:
    from nb2pipe.files import write_atomically

    write_atomically(path, junit_xml(report))
