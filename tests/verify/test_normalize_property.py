"""Property: normalization never makes two outputs that differ in a number equal, unless a named
rule reported masking the place where they differ; and it never masks a number of the data.

Outputs are generated the way notebooks print them: pandas' ``describe()`` and ``DataFrame``
reprs (rendered by pandas itself, with unit-like column and row names and cells such as
``took 4 s`` or ``12:00:00``), text tables, CSV rows that start with a timestamp, log records,
statsmodels-like summaries, the lines of ``%time``/``%timeit``, tqdm and Keras progress bars
(with the carriage returns a notebook saves), reprs with addresses, temp paths, UUIDs, and
sentences with numbers and unit words. Each digit of a generated output is known to be data (a
value the notebook computed: in a table, a log message, a finished bar's counts and metrics,
a sentence) or volatile (a timing, a stamp, an address, an unfinished bar).

One digit is changed, then:
- the normalized texts differ, or the changed digit lies inside a region the normalization
  reported masking (on either side) — for every digit;
- the normalized texts differ, and no masked region touches a digit of the data — for data.

HTML tables (``DataFrame.to_html()``) are compared cell by cell: a changed leading digit of a
cell always makes them differ.

``NB2PIPE_PROPERTY_EXAMPLES=N`` runs N examples (default 300, a few seconds, derandomized so CI
sees the same examples every time).
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nb2pipe.verify.normalize import NormalizedText, normalize_text
from nb2pipe.verify.tables import compare_html_tables

EXAMPLES = int(os.environ.get("NB2PIPE_PROPERTY_EXAMPLES", "300"))
SETTINGS = settings(
    max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

DATA, VOLATILE = "data", "volatile"


@dataclass
class Doc:
    """A generated output: its text and, for each character, whether it is data."""

    parts: list[tuple[str, str]]  # (text, kind); kind applies to the digits of the text

    @property
    def text(self) -> str:
        return "".join(text for text, _ in self.parts)

    def digits(self) -> list[tuple[int, str]]:
        """(position, kind) of every digit."""
        out = []
        position = 0
        for text, kind in self.parts:
            out += [(position + i, kind) for i, char in enumerate(text) if char.isdigit()]
            position += len(text)
        return out

    def data_spans(self) -> list[tuple[int, int]]:
        out = []
        position = 0
        for text, kind in self.parts:
            if kind == DATA:
                out += [(position + i, position + i + 1) for i, c in enumerate(text) if c.isdigit()]
            position += len(text)
        return out


def d(text: str) -> tuple[str, str]:
    return text, DATA


def v(text: str) -> tuple[str, str]:
    return text, VOLATILE


# ---------------------------------------------------------------------------------------------
# building blocks: the structure is drawn by hypothesis, the many values from a seeded
# generator (one draw instead of dozens keeps an example at about a millisecond)

NAMES = ["x", "price", "s", "min", "h", "ms", "took", "time", "elapsed", "Wall time", "std", "sec"]
UNIT_WORDS = ["s", "sec", "seconds", "ms", "min", "minutes", "h", "hours", "µs"]
seeds = st.integers(min_value=0, max_value=2**32 - 1).map(random.Random)


def number(rng: random.Random) -> float:
    """A float of any magnitude and sign, sometimes round."""
    value = rng.choice([0.0, 1.0, -1.0]) if rng.random() < 0.1 else rng.uniform(-1, 1)
    value *= 10.0 ** rng.randint(-4, 6)
    return round(value, rng.choice([0, 2, 6])) if rng.random() < 0.3 else value


def positive(rng: random.Random) -> float:
    return abs(number(rng)) or 1.0


def cell_string(rng: random.Random) -> str:
    """A string cell that looks like a duration, a time, a date, an id, or a unit word."""
    kind = rng.randrange(6)
    if kind == 0:
        return f"{positive(rng):g} {rng.choice(UNIT_WORDS)}"
    if kind == 1:
        return f"took {positive(rng):.1f} s"
    if kind == 2:
        return f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
    if kind == 3:
        return f"2020-01-{rng.randint(1, 28):02d} {rng.randrange(24):02d}:30:00"
    if kind == 4:
        return f"123e4567-e89b-12d3-a456-{rng.randrange(10**12):012d}"
    return rng.choice(["a", "b", "min", "s", "h"])


def column(rng: random.Random, rows: int, strings: bool) -> list[object]:
    return [cell_string(rng) if strings else number(rng) for _ in range(rows)]


@st.composite
def describe_block(draw: st.DrawFn) -> Doc:
    """``describe()`` of a Series or DataFrame, as pandas prints it."""
    columns = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    rng = draw(seeds)
    index = ["count", "mean", "std", "min", "25%", "50%", "75%", "max"]
    frame = pd.DataFrame({c: column(rng, 8, False) for c in columns}, index=index)
    if len(columns) == 1 and draw(st.booleans()):
        return Doc([d(repr(frame[columns[0]]))])
    return Doc([d(repr(frame))])


@st.composite
def frame_block(draw: st.DrawFn) -> Doc:
    """A ``DataFrame`` repr with numbers and strings that look like durations and times."""
    rows = draw(st.integers(min_value=2, max_value=6))
    columns = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    strings = draw(st.lists(st.booleans(), min_size=len(columns), max_size=len(columns)))
    index_kind = draw(st.sampled_from(["range", "dates", "names"]))
    rng = draw(seeds)
    data = {c: column(rng, rows, text) for c, text in zip(columns, strings)}
    index = {
        "range": None,
        "dates": pd.date_range("2019-05-31", periods=rows, freq="h"),
        "names": rng.sample(NAMES, rows),
    }[index_kind]
    return Doc([d(repr(pd.DataFrame(data, index=index)))])


@st.composite
def text_table_block(draw: st.DrawFn) -> Doc:
    """A table printed by hand: tab-separated (scikit-learn's k-means benchmark) or padded."""
    rows = draw(st.integers(min_value=2, max_value=5))
    tab = draw(st.booleans())
    rng = draw(seeds)
    lines = ["init\t\ttime\tinertia\thomo" if tab else "name        time   inertia   homo"]
    for row in range(rows):
        t, inertia, homo = rng.uniform(0, 99), rng.randrange(100_000), rng.random()
        name = ["k-means++", "random   ", "PCA-based"][row % 3]
        if tab:
            lines.append(f"{name}\t{t:.3f}s\t{inertia}\t{homo:.3f}")
        else:
            lines.append(f"{name:<10}{t:6.3f}s{inertia:10d}{homo:7.3f}")
    return Doc([d("\n".join(lines))])


@st.composite
def csv_block(draw: st.DrawFn) -> Doc:
    """CSV rows that start with a timestamp (numpy's air quality tutorial prints them)."""
    rows = draw(st.integers(min_value=1, max_value=4))
    rng = draw(seeds)
    lines = []
    for hour in range(rows):
        values = ",".join(f"{positive(rng):.2f}" for _ in range(3))
        lines.append(f"2019-05-31 {hour:02d}:00:00,{values}")
    return Doc([d("\n".join(lines))])


def _stamp(rng: random.Random) -> str:
    return (
        f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randrange(24):02d}:"
        f"{rng.randrange(60):02d}:{rng.randrange(60):02d},{rng.randrange(1000):03d}"
    )


@st.composite
def log_block(draw: st.DrawFn) -> Doc:
    """Log records: the stamp varies, the message is data, a `took` phrase is a timing."""
    styles = draw(st.lists(st.sampled_from(["logging", "optuna", "plain"]), min_size=1, max_size=3))
    phrases = draw(
        st.lists(st.sampled_from(["", "took", "done in", "elapsed:", "total time="]),
                 min_size=len(styles), max_size=len(styles))
    )
    rng = draw(seeds)
    parts: list[tuple[str, str]] = []
    for style, phrase in zip(styles, phrases):
        epoch, loss = rng.randrange(1000), positive(rng)
        if style == "logging":
            parts += [v(_stamp(rng)), d(f" - train - INFO - epoch {epoch} loss {loss:.4f}")]
        elif style == "optuna":
            parts += [
                d("[I "), v(_stamp(rng)), d(f"] Trial {epoch} finished with value: {loss:.5f}."),
            ]
        else:
            parts += [d(f"epoch {epoch} loss {loss:.4f}")]
        if phrase:
            parts += [d(f", {phrase} "), v(f"{positive(rng):.2f}"), d(f" {rng.choice(UNIT_WORDS)}")]
        parts.append(d("\n"))
    return Doc(parts)


@st.composite
def timing_block(draw: st.DrawFn) -> Doc:
    """What ``%time`` and ``%timeit`` print."""
    magic = draw(st.sampled_from(["time", "timeit", "timeit-slowest"]))
    rng = draw(seeds)

    def amount() -> str:
        return f"{rng.uniform(1, 999):.3g} {rng.choice(['ns', 'µs', 'μs', 'ms', 's'])}"

    lines = []
    if magic == "time":
        lines.append(f"CPU times: user {amount()}, sys: {amount()}, total: {amount()}")
        lines.append(f"Wall time: {amount()}")
    else:
        runs, loops = rng.randint(1, 9), rng.choice([1, 10, 100, 1000, 10000])
        if magic == "timeit-slowest":
            lines.append(
                f"The slowest run took {rng.uniform(4, 99):.2f} times longer than the fastest. "
                "This could mean that an intermediate result is being cached."
            )
        lines.append(
            f"{amount()} ± {amount()} per loop (mean ± std. dev. of {runs} run"
            f"{'s' if runs > 1 else ''}, {loops:,} loop{'s' if loops > 1 else ''} each)"
        )
    return Doc([v("\n".join(lines) + "\n")])


@st.composite
def tqdm_block(draw: st.DrawFn) -> Doc:
    """A tqdm bar on stderr: states overwritten with \\r, then its last state."""
    states = draw(st.integers(min_value=0, max_value=3))
    finished, postfix = draw(st.booleans()), draw(st.booleans())
    desc = draw(st.sampled_from(["", "Epoch 3: ", "train: "]))
    rng = draw(seeds)
    total = rng.randint(1, 500)
    parts: list[tuple[str, str]] = []
    for _ in range(states):
        n = rng.randint(0, total)
        parts.append(v(f"\r{desc}{100 * n // total:3d}%|####      | {n}/{total} "
                       f"[00:0{rng.randrange(10)}<00:01, {positive(rng):.2f}it/s]"))
    n = total if finished else rng.randrange(total)
    kind = DATA if finished else VOLATILE
    parts += [
        d("\r"), (desc, kind), (f"{100 * n // total:3d}%", kind), d("|██████████| "),
        (f"{n}/{total}", kind), v(f" [00:{rng.randrange(60):02d}<00:00, {positive(rng):.2f}it/s"),
    ]
    if postfix:
        parts.append((f", loss={positive(rng):.3f}", kind))
    parts.append(d("]\n"))
    return Doc(parts)


@st.composite
def keras_block(draw: st.DrawFn) -> Doc:
    """Keras' fit: per epoch, unfinished states (how many: timing), then the finished line."""
    unfinished = draw(st.lists(st.integers(0, 2), min_size=1, max_size=3))
    rng = draw(seeds)
    epochs, steps = len(unfinished), rng.randint(2, 200)
    parts: list[tuple[str, str]] = []
    for epoch, states in enumerate(unfinished, 1):
        parts.append(d(f"Epoch {epoch}/{epochs}\n"))
        for _ in range(states):
            parts.append(v(f"{rng.randint(1, steps - 1):>4}/{steps} [==>.........] - ETA: "
                           f"{rng.randint(1, 9)}s - loss: {positive(rng):.4f}\n"))
        parts += [
            d(f"{steps}/{steps} [==============] - "), v(f"{rng.randrange(10)}s"), d(" "),
            v(f"{rng.randint(1, 999)}ms/step"),
            d(f" - loss: {positive(rng):.4f} - accuracy: {rng.random():.4f}\n"),
        ]
    return Doc(parts)


@st.composite
def repr_block(draw: st.DrawFn) -> Doc:
    """Reprs and messages with an address, a temp dir, a UUID."""
    kind = draw(st.sampled_from(["address", "temp", "uuid"]))
    rng = draw(seeds)
    if kind == "address":
        return Doc([d("<__main__.Model object at "), v(f"0x{rng.getrandbits(48):012x}"), d(">\n")])
    if kind == "temp":
        name = "".join(rng.choice("abcdefghij0123456789_") for _ in range(8))
        return Doc([d("wrote "), v(f"/tmp/tmp{name}"), d(f"/model_{rng.randrange(100)}.pkl\n")])
    uuid = f"{rng.getrandbits(128):032x}"
    return Doc([d("run "), v(f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"),
                d(f" finished: {rng.randrange(10**6)} rows\n")])


@st.composite
def summary_block(draw: st.DrawFn) -> Doc:
    """statsmodels' summary: its date and time vary, its statistics do not."""
    rng = draw(seeds)
    return Doc([
        d(f"Dep. Variable:                      y   R-squared:                    {rng.random():8.3f}\n"),
        d("Date:                "), v(f"Wed, {rng.randint(10, 28)} Dec 2026"),
        d(f"   AIC                         {number(rng):11.3f}\n"),
        d("Time:                        "),
        v(f"{rng.randint(10, 23)}:{rng.randint(10, 59)}:{rng.randint(10, 59)}"),
        d(f"   BIC                         {number(rng):11.3f}\n"),
    ])


@st.composite
def sentence_block(draw: st.DrawFn) -> Doc:
    """Sentences with numbers and unit words, and no word that makes them the run's timing."""
    templates = [
        "mean gap: {x} {u}", "max wait {x} {u}", "dt = {x} {u}", "the longest trip lasted {x} {u}",
        "window of {x} {u}", "{n} test rows, {m} train rows", "accuracy {x}", "period {x}{u}",
        "std {x}\n{u} {y}", "value {x} {u}\nmin {y}",
    ]
    template = draw(st.sampled_from(templates))
    unit = draw(st.sampled_from(UNIT_WORDS))
    rng = draw(seeds)
    text = template.format(
        x=f"{positive(rng):g}", y=f"{positive(rng):g}", u=unit, n=rng.randrange(10**5),
        m=rng.randrange(10**5),
    )
    return Doc([d(text + "\n")])


BLOCKS = st.one_of(
    describe_block(), frame_block(), text_table_block(), csv_block(), log_block(),
    timing_block(), tqdm_block(), keras_block(), repr_block(), summary_block(), sentence_block(),
)


@st.composite
def outputs(draw: st.DrawFn) -> Doc:
    """One cell's output: a few blocks, one after another (a table, then %%time's lines, ...)."""
    blocks = draw(st.lists(BLOCKS, min_size=1, max_size=3))
    parts: list[tuple[str, str]] = []
    for block in blocks:
        if parts and not parts[-1][0].endswith("\n"):
            parts.append(("\n", DATA))
        parts += block.parts
    return Doc(parts)


# ---------------------------------------------------------------------------------------------
# the properties


def _covered(normalized: NormalizedText, position: int) -> bool:
    return any(region.start <= position < region.end for region in normalized.masked)


def _other_digit(digit: str, choice: int) -> str:
    options = [c for c in "0123456789" if c != digit]
    return options[choice % len(options)]


@SETTINGS
@given(outputs(), st.data())
def test_a_changed_number_differs_unless_a_named_rule_masked_it(doc: Doc, data: st.DataObject) -> None:
    text = doc.text
    digits = doc.digits()
    saved = normalize_text(text)
    # nothing of the data is masked
    for low, high in doc.data_spans():
        touching = [r for r in saved.masked if r.start < high and low < r.end]
        assert not touching, (text, text[low:high], touching)
    if not digits:
        return
    position, kind = digits[data.draw(st.integers(0, len(digits) - 1), label="digit")]
    new = _other_digit(text[position], data.draw(st.integers(0, 8), label="replacement"))
    changed = text[:position] + new + text[position + 1 :]
    fresh = normalize_text(changed)
    if saved.text == fresh.text:
        assert kind != DATA, (text, position, saved.text)
        assert _covered(saved, position) or _covered(fresh, position), (
            text, position, saved.masked, fresh.masked,
        )


@st.composite
def html_tables(draw: st.DrawFn) -> str:
    rows = draw(st.integers(min_value=1, max_value=5))
    columns = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    strings = draw(st.lists(st.booleans(), min_size=len(columns), max_size=len(columns)))
    index_kind = draw(st.sampled_from(["range", "describe", "labels"]))
    rng = draw(seeds)
    index = {
        "range": None,
        "describe": ["count", "mean", "std", "min", "25%", "50%", "75%", "max"][:rows],
        "labels": rng.sample(["Date:", "Time:", "took", "s", "min"], rows),
    }[index_kind]
    data = {c: column(rng, rows, text) for c, text in zip(columns, strings)}
    return pd.DataFrame(data, index=index).to_html()


@SETTINGS
@given(html_tables(), st.data())
def test_html_table_cells_are_data(html: str, data: st.DataObject) -> None:
    """A changed leading digit of any cell makes two ``DataFrame.to_html()`` outputs differ
    (``Date:``/``Time:`` labels included: a time of day after a ``Time:`` cell is masked as
    statsmodels' clock reading, so the cell is not counted as data then)."""
    cells = [m for m in re.finditer(r"<td>([^<]*)</td>", html) if re.search(r"\d", m[1])]
    if not cells:
        return
    cell = cells[data.draw(st.integers(0, len(cells) - 1), label="cell")]
    digit = re.search(r"\d", cell[1])
    assert digit is not None
    position = cell.start(1) + digit.start()
    new = _other_digit(html[position], data.draw(st.integers(0, 8), label="replacement"))
    if new == "0" and html[position + 1 : position + 2].isdigit():
        new = "9" if html[position] != "9" else "1"  # keep it a leading digit
    changed = html[:position] + new + html[position + 1 :]
    outcome = compare_html_tables(html, changed, rtol=1e-6)
    if outcome.equal:
        # only statsmodels' clock reading: a time of day in the cell after a `Time:` cell
        label = list(re.finditer(r"<t[hd][^>]*>([^<]*)</t[hd]>", html[: cell.start()]))[-1][1]
        assert label.strip() in ("Date:", "Time:"), (label, cell[1], outcome)
        assert [(r.rule, r.text) for r in outcome.saved_masked] == [
            ("timestamps", cell[1].strip())
        ], outcome
