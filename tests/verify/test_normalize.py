"""Normalizers: each volatile value class becomes a placeholder; other text is untouched."""

from __future__ import annotations

import pytest

from nb2pipe.verify.normalize import normalize_text, strip_timing_lines, terminal_text
from nb2pipe.verify.text import compare_text


@pytest.mark.parametrize(
    ("saved", "fresh", "normalizer"),
    [
        # memory addresses in default reprs
        (
            "<__main__.Model object at 0x7f3a2c1d5e50>",
            "<__main__.Model object at 0x7fe01b2c3d40>",
            "memory addresses",
        ),
        ("<function f at 0x10a2b3c4d>", "<function f at 0x10f9e8d7c>", "memory addresses"),
        # scikit-learn's fitted-attribute table shortens reprs in the middle (in HTML, too)
        ("<sklearn.tree...x7ff7870d56f0>", "<sklearn.tree...x7fcc26d89680>", "memory addresses"),
        ("&lt;sklearn.tree...870d56f0&gt;", "&lt;sklearn.tree...26d89680&gt;", "memory addresses"),
        # timestamps: str(datetime), ISO with zone, ctime, a time of day, a timedelta
        ("started 2024-05-01 12:34:56.789012", "started 2025-01-02 08:00:01.000001", "timestamps"),
        ("at 2024-05-01T12:34:56+02:00 ok", "at 2024-06-11T01:02:03Z ok", "timestamps"),
        ("Wed May  1 12:34:56 2024", "Thu Jan 16 09:10:11 2025", "timestamps"),
        # statsmodels' summary() dates the table
        ("Date:                Wed, 02 Dec 2026   AIC", "Date:                Thu, 03 Dec 2026   AIC", "timestamps"),
        ("elapsed 0:00:01.234567", "elapsed 0:00:03.100000", "timestamps"),
        # durations: %time, %timeit, ad-hoc prints
        (
            "CPU times: user 1.71 ms, sys: 496 μs, total: 2.21 ms\nWall time: 2.21 ms\n",
            "CPU times: user 3 ms, sys: 0 ns, total: 3 ms\nWall time: 2.95 ms\n",
            "durations",
        ),
        (
            "12.3 µs ± 1.23 µs per loop (mean ± std. dev. of 7 runs, 100,000 loops each)",
            "9.87 µs ± 310 ns per loop (mean ± std. dev. of 7 runs, 10,000 loops each)",
            "durations",
        ),
        ("fit took 3.2s", "fit took 11.05s", "durations"),
        # ANSI colour codes (a traceback, a coloured log line)
        ("\x1b[0;31mValueError\x1b[0m: bad", "ValueError: bad", "ANSI codes"),
        # tqdm: updates overwritten with \r, rates and times vary, and so does the update count
        (
            "\r  0%|          | 0/50 [00:00<?, ?it/s]"
            "\r100%|██████████| 50/50 [00:00<00:00, 977.34it/s]\n",
            "\r  0%|          | 0/50 [00:00<?, ?it/s]"
            "\r 62%|██████▏   | 31/50 [00:00<00:00, 301.2it/s]"
            "\r100%|██████████| 50/50 [00:00<00:00, 412.90it/s]\n",
            "progress output",
        ),
        (
            "100%|██████████| 50/50 [00:01<00:00, 45.12it/s]\n",
            "100%|██████████| 50/50 [00:02<00:00, 20.01it/s]\n",
            "progress output",
        ),
        # temp paths: mkdtemp, ipykernel's cell files, macOS
        ("wrote /tmp/tmpa1b2c3d4/model.pkl", "wrote /tmp/tmpzz9x_8qw/model.pkl", "temp paths"),
        (
            "/tmp/ipykernel_4242/3323461.py:3: FutureWarning: x",
            "/tmp/ipykernel_977/11122.py:3: FutureWarning: x",
            "temp paths",
        ),
        (
            "/var/folders/xy/abc123/T/tmpq1/f.csv",
            "/var/folders/xy/abc123/T/tmpz9/f.csv",
            "temp paths",
        ),
        (
            "run 123e4567-e89b-12d3-a456-426614174000",
            "run 9f0c2a71-5a3d-4b8e-9c1f-0a2b3c4d5e6f",
            "UUIDs",
        ),
    ],
)
def test_normalizer_makes_volatile_values_equal(saved: str, fresh: str, normalizer: str) -> None:
    outcome = compare_text(saved, fresh, rtol=0)
    assert outcome.equal, outcome.diff
    assert normalizer in outcome.normalizers


@pytest.mark.parametrize(
    ("saved", "fresh"),
    [
        ("accuracy: 0.9259", "accuracy: 0.9300"),  # a real number change survives
        ("2024-05-01", "2024-05-02"),  # a date alone is data, not a timestamp
        ("hash 0x1F", "hash 0x2F"),  # short hex constants are values, not addresses
        ("see pages...1234>", "see pages...1235>"),  # a shortened number is not an address
        ("83 test rows", "84 test rows"),
        ("/home/me/tmpdir/a.csv", "/home/me/tmpdir/b.csv"),  # not a temp dir
    ],
)
def test_real_differences_survive_normalization(saved: str, fresh: str) -> None:
    assert not compare_text(saved, fresh, rtol=1e-6).equal


def test_floats_within_rtol_are_equal_and_say_so() -> None:
    outcome = compare_text("loss 0.30000000000000004, n=3", "loss 0.3, n=3", rtol=1e-6)
    assert outcome.equal and outcome.within_tolerance
    assert not compare_text("loss 0.3001, n=3", "loss 0.3, n=3", rtol=1e-6).equal
    assert compare_text("loss 0.3001, n=3", "loss 0.3, n=3", rtol=1e-3).equal
    # the text around the numbers must match exactly
    assert not compare_text("loss 0.3000000001", "gain 0.3", rtol=1e-6).equal
    assert compare_text("[nan, 1e-300, -inf]", "[nan, 1.0000000001e-300, -inf]", rtol=1e-6).equal


def test_compare_text_diff_is_compact_and_normalized() -> None:
    saved = "\n".join(f"line {i}" for i in range(100)) + "\nat 0x7f0000000001"
    fresh = "\n".join(f"line {i}" for i in range(100)) + "\nat 0x7f0000000002 changed"
    outcome = compare_text(saved, fresh, rtol=0)
    assert not outcome.equal
    assert "-at 0x<ADDRESS>" in outcome.diff and "+at 0x<ADDRESS> changed" in outcome.diff
    assert "line 10\n" not in outcome.diff  # one line of context only


def test_terminal_text_applies_overwrites_and_drops_escapes() -> None:
    assert terminal_text("a\r\nb\rc\n\x1b[1mbold\x1b[0m") == "a\nc\nbold"


def test_strip_timing_lines_removes_only_what_timing_magics_print() -> None:
    text = "result 3\nCPU times: user 1 ms, sys: 0 ns, total: 1 ms\nWall time: 1.2 ms\nafter\n"
    assert strip_timing_lines(text) == "result 3\nafter\n"


def test_normalize_reports_nothing_for_plain_text() -> None:
    assert normalize_text("hello world\n").applied == frozenset()


def test_sklearn_fitted_attributes_table_compares_equal_across_runs() -> None:
    from nb2pipe.verify.tables import compare_html_tables

    def table(address: str) -> str:
        return (
            "<table><tr><td>tree_</td><td>Tree</td>"
            f"<td>&lt;sklearn.tree...x{address}&gt;</td></tr></table>"
        )

    assert compare_html_tables(table("7ff7870d56f0"), table("7fcc26d89680"), rtol=1e-6).equal
