"""Normalizers: each volatile value class becomes a placeholder; other text is untouched, and
numbers in tables, CSV rows and plain sentences are never masked."""

from __future__ import annotations

import pytest

from nb2pipe.verify.normalize import normalize_text, strip_timing_lines, terminal_text
from nb2pipe.verify.text import compare_text

DESCRIBE = (
    "count    26.000000\nmean     57.500000\nstd       4.082483\nmin      50.000000\n"
    "25%      54.250000\n50%      57.500000\n75%      60.750000\nmax      65.000000\n"
    "Name: x, dtype: float64"
)
KMEANS_TABLE = (
    "init\t\ttime\tinertia\thomo\tcompl\n"
    "k-means++\t1.733s\t69545\t0.598\t0.645\n"
    "random   \t1.910s\t69735\t0.681\t0.723\n"
)
DATED_TABLE = (
    "                     pm25\n2019-05-31 00:00:00  103.26\n2019-05-31 01:00:00  104.47\n"
)
UUID_TABLE = (
    "                                     id  spend\n"
    "0  123e4567-e89b-12d3-a456-426614174000   10.5\n"
    "1  9f0c2a71-5a3d-4b8e-9c1f-0a2b3c4d5e6f    3.2\n"
)
SUMMARY = (
    "Dep. Variable:                      y   R-squared:                       0.933\n"
    "Date:                Wed, 02 Dec 2026   AIC                            555.927\n"
    "Time:                        04:46:36   BIC                            578.980\n"
)


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
        # datetime.now(timezone.utc).isoformat()
        ("at 2024-05-01T12:34:56.123456+00:00 ok", "at 2024-06-11T01:02:03.000001+00:00 ok", "timestamps"),
        ("Wed May  1 12:34:56 2024", "Thu Jan 16 09:10:11 2025", "timestamps"),
        # statsmodels' summary() dates the table
        ("Date:                Wed, 02 Dec 2026   AIC", "Date:                Thu, 03 Dec 2026   AIC", "timestamps"),
        (SUMMARY, SUMMARY.replace("02 Dec", "05 Jan").replace("04:46:36", "11:00:09"), "timestamps"),
        ("elapsed 0:00:01.234567", "elapsed 0:00:03.100000", "durations"),  # a timedelta
        # a log record's stamp: logging, optuna, TensorFlow, cmdstanpy
        (
            "2024-05-01 12:34:56,789 - root - INFO - loaded 3 files",
            "2025-01-02 08:00:01,002 - root - INFO - loaded 3 files",
            "timestamps",
        ),
        (
            "[I 2024-05-01 12:34:56,789] Trial 0 finished with value: 0.5",
            "[I 2024-05-01 12:35:07,001] Trial 0 finished with value: 0.5",
            "timestamps",
        ),
        (
            "2024-05-01 12:34:56.789012: I tensorflow/core/util/port.cc:113] oneDNN on",
            "2024-05-02 09:00:00.000001: I tensorflow/core/util/port.cc:113] oneDNN on",
            "timestamps",
        ),
        (
            "12:34:56 - cmdstanpy - INFO - Chain [1] start processing",
            "09:01:02 - cmdstanpy - INFO - Chain [1] start processing",
            "timestamps",
        ),
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
        ("Done in 0.53 seconds.", "Done in 1.2 seconds.", "durations"),
        (
            "Elapsed time to compute the importances: 0.044 seconds",
            "Elapsed time to compute the importances: 6.868 seconds",
            "durations",
        ),
        ("Training time: 1min 3s, loss 0.25", "Training time: 59.8 s, loss 0.25", "durations"),
        # scikit-learn's GridSearchCV(verbose=3) pads its lines into columns: not a table
        (
            (
                "[CV 1/5] END .....C=0.1;, score=0.967 total time=   0.0s\n"
                "[CV 2/5] END .....C=0.1;, score=0.933 total time=   0.0s\n"
            ),
            (
                "[CV 1/5] END .....C=0.1;, score=0.967 total time=   0.1s\n"
                "[CV 2/5] END .....C=0.1;, score=0.933 total time=   0.0s\n"
            ),
            "durations",
        ),
        # %timeit -o, %run -t, an ASCII-only stdout
        (
            "<TimeitResult : 1.23 ms ± 45.6 µs per loop (mean ± std. dev. of 7 runs, 1,000 loops each)>",
            "<TimeitResult : 998 µs ± 1.2 µs per loop (mean ± std. dev. of 7 runs, 1,000 loops each)>",
            "durations",
        ),
        ("Wall time:       1.23 s.", "Wall time:      12.00 s.", "durations"),
        (
            "1.23 ms +- 45.6 us per loop (mean +- std. dev. of 7 runs, 1,000 loops each)",
            "2 ms +- 0 ns per loop (mean +- std. dev. of 1 run, 100 loops each)",
            "durations",
        ),
        # a cell's %%time lines after a table it printed
        (
            ("   a    b\n0  1.0  2.0\n1  3.0  4.0\nCPU times: user 2 ms, sys: 0 ns, total: 2 ms\n"
            "Wall time: 2.5 ms\n"),
            ("   a    b\n0  1.0  2.0\n1  3.0  4.0\nCPU times: user 1min 2s, sys: 3 s, total: "
            "1min 5s\nWall time: 1min 5s\n"),
            "durations",
        ),
        # ANSI colour codes (a traceback, a coloured log line)
        ("\x1b[0;31mValueError\x1b[0m: bad", "ValueError: bad", "ANSI codes"),
        # tqdm: updates overwritten with \r, rates and times vary, and so does the update count
        (
            ("\r  0%|          | 0/50 [00:00<?, ?it/s]"
            "\r100%|██████████| 50/50 [00:00<00:00, 977.34it/s]\n"),
            ("\r  0%|          | 0/50 [00:00<?, ?it/s]"
            "\r 62%|██████▏   | 31/50 [00:00<00:00, 301.2it/s]"
            "\r100%|██████████| 50/50 [00:00<00:00, 412.90it/s]\n"),
            "progress output",
        ),
        (
            "100%|██████████| 50/50 [00:01<00:00, 45.12it/s]\n",
            "100%|██████████| 50/50 [00:02<00:00, 20.01it/s]\n",
            "progress output",
        ),
        # an ASCII bar (a stream that cannot encode blocks), a postfix, a description
        (
            "train: 100%|██████████| 30/30 [00:03<00:00,  9.12it/s, loss=0.25]\n",
            "train: 100%|##########| 30/30 [00:01<00:00, 25.00it/s, loss=0.25]\n",
            "progress output",
        ),
        # a bar of unknown length: its states, whichever were printed
        ("120it [00:01, 98.2it/s]\ndone\n", "97it [00:00, 101.5it/s]\ndone\n", "progress output"),
        # Keras: the unfinished states (how many depends on timing), the times of the last one
        (
            ("Epoch 1/2\n 4/10 [===>..........] - ETA: 3s - loss: 0.71\n"
            "10/10 [==============] - 2s 15ms/step - loss: 0.5012 - accuracy: 0.91\n"),
            "Epoch 1/2\n10/10 [==============] - 1s 9ms/step - loss: 0.5012 - accuracy: 0.91\n",
            "progress output",
        ),
        (
            "10/10 ━━━━━━━━━━━━━━━━━━━━ 2s 15ms/step - accuracy: 0.91 - loss: 0.50\n",
            "10/10 ━━━━━━━━━━━━━━━━━━━━ 0s 3ms/step - accuracy: 0.91 - loss: 0.50\n",
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
            "/var/folders/xy/abc123/T/tmpq1w2e3r4/f.csv",
            "/var/folders/zz/xyz789/T/tmpz9x8c7v6/f.csv",
            "temp paths",
        ),
        # a temp file with a suffix; pytest's and multiprocessing's folders
        ("saved /tmp/tmpab12cd34.csv", "saved /tmp/tmp_9xk2l0q.csv", "temp paths"),
        ("/tmp/pytest-of-me/pytest-12/x.txt", "/tmp/pytest-of-ci/pytest-3/x.txt", "temp paths"),
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
        # describe(): `std` followed by a line starting `min` is not a duration
        (DESCRIBE, DESCRIBE.replace("4.082483", "9.999999")),
        (DESCRIBE.replace("\n", "\r\n"), DESCRIBE.replace("4.082483", "4.082583").replace("\n", "\r\n")),
        # a Series indexed by unit-like words
        ("s      3.2\nmin    1.0\nh      7.0\n", "s      3.3\nmin    1.0\nh      7.0\n"),
        # a table with a column of timings (scikit-learn's k-means benchmark): data in a table
        (KMEANS_TABLE, KMEANS_TABLE.replace("1.733s", "1.833s")),
        (KMEANS_TABLE, KMEANS_TABLE.replace("69545", "69555")),
        # a number and a unit with no word that makes it the run's timing
        ("the longest gap: 3.2 s", "the longest gap: 3.3 s"),
        ("max 5 min", "max 6 min"),
        ("href=\"#:~:text=(min%28X%2C\"", "href=\"#:~:text=(min%29X%2C\""),
        # CSV rows starting with a timestamp: `,103` is a value, not milliseconds
        ("2019-05-31 00:00:00,103.26,305.46", "2019-05-31 00:00:00,193.26,305.46"),
        ("2019-05-31 00:00:00,103.26,305.46", "2019-05-31 01:00:00,103.26,305.46"),
        # a time series in a table, a time-of-day column
        (DATED_TABLE, DATED_TABLE.replace("01:00:00", "02:00:00")),
        ("   time  n\n0  12:00:00  1\n1  13:00:00  2", "   time  n\n0  12:00:00  1\n1  13:30:00  2"),
        # a date and time in a sentence is data unless it is a clock reading (microseconds)
        ("first sale: 2020-01-01 09:30:00", "first sale: 2020-01-01 09:31:00"),
        # at the start of a line, only before what a log format puts there is it a log stamp
        ("2020-01-01 09:30:00 sale", "2020-01-01 09:31:00 sale"),
        ("12:00:00 lunch", "13:00:00 lunch"),
        # a fraction at the start of a line is no Keras progress line
        ("1/2 - 3 apples", "1/2 - 4 apples"),
        ("3/4 [...] of 5 ms", "3/4 [...] of 6 ms"),
        # a hex number that is not in a repr's address: a checksum
        ("crc 0x1c291ca3", "crc 0x1c291ca4"),
        # in a temp dir, only the generated names are masked
        ("/tmp/tmpa1b2c3d4/epoch_3.ckpt", "/tmp/tmpzz9x8qw7/epoch_4.ckpt"),
        ("/tmp/results_3.csv", "/tmp/results_4.csv"),
        # UUIDs in a table are data (ids read from a file)
        (UUID_TABLE, UUID_TABLE.replace("e89b-12d3", "e89c-12d3")),
        # a finished bar's counts and metrics, Keras' metrics
        (
            "100%|██████████| 50/50 [00:01<00:00, 45.12it/s, loss=0.234]",
            "100%|██████████| 50/50 [00:01<00:00, 45.12it/s, loss=0.334]",
        ),
        (
            "100%|██████████| 50/50 [00:01<00:00, 45.12it/s]",
            "100%|██████████| 60/60 [00:01<00:00, 45.12it/s]",
        ),
        (
            "10/10 [==============] - 2s 15ms/step - loss: 0.5012 - accuracy: 0.91",
            "10/10 [==============] - 2s 15ms/step - loss: 0.5112 - accuracy: 0.91",
        ),
        # ids and overflowing numbers are not compared with the float tolerance
        ("key 123e4567-e89b", "key 923e4567-e89b"),
        ("key a456-426614174000", "key a456-426614174001"),
        ("x 1e999", "x 2e999"),
        # statsmodels' summary: the date is masked, not the statistics beside it
        (SUMMARY, SUMMARY.replace("555.927", "555.928")),
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


def test_masked_regions_are_spans_of_the_original_text_with_their_rule() -> None:
    text = (
        "\x1b[1mfit\x1b[0m took 3.2 s\r\n"
        "\r 10%|█         | 1/10 [00:00<00:01, 9.1it/s]\r100%|██████████| 10/10 [00:01<00:00,"
        " 9.9it/s]\n"
        "<Model object at 0x7f3a2c1d5e50>\n"
    )
    normalized = normalize_text(text)
    assert normalized.text == (
        "fit took <DURATION>\n100%|<PROGRESS>| 10/10 [<PROGRESS>]\n"
        "<Model object at 0x<ADDRESS>>\n"
    )
    found = [(region.rule, region.text) for region in normalized.masked]
    assert found == [
        ("ANSI codes", "\x1b[1m"),
        ("ANSI codes", "\x1b[0m"),
        ("durations", "3.2 s"),
        ("progress output", "\r 10%|█         | 1/10 [00:00<00:01, 9.1it/s]\r"),
        ("progress output", "██████████"),
        ("progress output", "00:01<00:00, 9.9it/s"),
        ("memory addresses", "0x7f3a2c1d5e50"),
    ]
    assert all(text[r.start : r.end] == r.text for r in normalized.masked)
    assert normalized.applied == {"ANSI codes", "durations", "progress output", "memory addresses"}


def test_html_table_cells_are_masked_only_by_rules_that_hold_in_tables() -> None:
    from nb2pipe.verify.tables import compare_html_tables

    def table(std: str, when: str, took: str) -> str:
        return (
            f"<table><tr><th>std</th><td>{std}</td></tr><tr><th>min</th><td>50.0</td></tr>"
            f"<tr><th>Time:</th><td>{when}</td></tr><tr><th>fit</th><td>took {took}</td></tr>"
            "</table>"
        )

    base = table("4.082483", "04:46:36", "3.2 s")
    assert not compare_html_tables(base, table("9.999999", "04:46:36", "3.2 s"), 1e-6).equal
    # statsmodels' summary as HTML: a time of day after a `Time:` cell is its clock reading
    when = compare_html_tables(base, table("4.082483", "11:00:09", "3.2 s"), 1e-6)
    assert when.equal and "timestamps" in when.normalizers
    assert [r.where for r in when.saved_masked] == ["table 1, row 3, column 2"]
    # a duration phrase in a table cell is a value of the table
    assert not compare_html_tables(base, table("4.082483", "04:46:36", "3.3 s"), 1e-6).equal
