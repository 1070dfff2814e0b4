"""The symbolic kernel state ``%track`` keeps: which cell execution produced each live value.

Every bound name points to a :class:`Token` that stands for one object (aliases share the
token). A token's ``sig`` summarises how its value came about: the cell that created it, that
cell's source and the signatures of everything it read, then every in-place change since. Two
values with the same signature are equal as far as the notebook's code can tell, so:

- re-running an idempotent cell reproduces the same signatures and upsets nothing downstream;
- a cell's output matches a fresh top-to-bottom run exactly when the signature of its last
  execution equals the one a simulated fresh run gives (see :mod:`nb2pipe.tracking.rerun`).

The same :meth:`TrackerState.apply` consumes live executions, replayed history-log lines and
the synthetic executions of the fresh-run and re-run simulations. No user object is referenced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from nb2pipe.analysis.symbols import FunctionSymbols
from nb2pipe.tracking.log import ExecutionEvent, RandomUse

__all__ = [
    "BASELINE_KEY",
    "CREATE",
    "CellRun",
    "FILE_PREFIX",
    "LIST",
    "MutationFact",
    "RANDOM_PREFIX",
    "REMOVE",
    "Token",
    "TrackerState",
    "Writer",
    "file_name",
    "is_pseudo_name",
    "random_name",
]

#: Pseudo-names for state that is not a Python name: files on disk and global RNG states.
FILE_PREFIX = "file:"
RANDOM_PREFIX = "random:"
#: The "cell" that bound names existing before tracking started.
BASELINE_KEY = "<before %track>"
#: File operations seen by listing the folder around a cell (beside the file audit's read,
#: write, append and update): a path that appeared, and one that went away.
CREATE = "create"
REMOVE = "remove"
#: A folder's entries listed (``os.walk``, ``os.listdir``, globs): reads every path below it.
LIST = "list"

#: (cell key, execution seq) of an execution that created, aliased or changed a value
Writer = tuple[str, int]


def file_name(path: str) -> str:
    return FILE_PREFIX + path


def random_name(family: str) -> str:
    return RANDOM_PREFIX + family


def is_pseudo_name(name: str) -> bool:
    return ":" in name


def _baseline_sig(name: str) -> int:
    return hash(("baseline", name))


def _missing_sig(name: str) -> int:
    return hash(("unbound", name))


@dataclass(eq=False)
class Token:
    """One object (or file, or RNG state) as the tracker knows it."""

    sig: int
    #: creator first, then the executions that aliased or changed it, in order
    writers: list[Writer]
    nondet: bool = False  #: depends on unseeded random numbers or an interrupted cell
    appended: bool = False  #: a file some cell appended to
    #: a path whose content (or existence) a tracked cell made: written, created, renamed to
    written: bool = False

    @property
    def creator(self) -> Writer:
        return self.writers[0]

    def copy(self) -> Token:
        return Token(self.sig, list(self.writers), self.nondet, self.appended, self.written)


@dataclass(frozen=True)
class MutationFact:
    """An execution changed in place an object another cell created."""

    name: str
    creator: Writer
    #: other names bound to the same object (``b`` for ``a`` after ``b = a``)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class CellRun:
    """The latest execution of a cell and what it found when it ran."""

    event: ExecutionEvent
    step: int  #: the execution's signature
    inputs: Mapping[str, int]  #: name -> signature of the value it read
    #: name -> executions that produced the value it read (creator, aliasers, changers)
    input_writers: Mapping[str, tuple[Writer, ...]]
    mutated: tuple[MutationFact, ...] = ()
    #: names read whose value already carried an earlier execution of this same cell
    repeated: tuple[str, ...] = ()
    #: draws made while no seed covered them
    unseeded: tuple[RandomUse, ...] = ()
    nondet: bool = False
    runs: int = 1  #: how many times the cell has run in this session

    @property
    def key(self) -> str:
        return self.event.cell_key

    @property
    def seq(self) -> int:
        return self.event.seq


@dataclass
class TrackerState:
    """Names → tokens, plus the latest run of every cell. Built by :meth:`apply` only."""

    baseline: frozenset[str] = frozenset()
    names: dict[str, Token] = field(default_factory=dict)
    runs: dict[str, CellRun] = field(default_factory=dict)
    #: cell key -> seq of its first execution, and the cell executed just before it
    first_seq: dict[str, int] = field(default_factory=dict)
    predecessor: dict[str, str | None] = field(default_factory=dict)
    deleted_cells: set[str] = field(default_factory=set)
    functions: dict[str, FunctionSymbols] = field(default_factory=dict)
    resets: list[int] = field(default_factory=list)  #: seqs of executions that ran %reset
    #: name -> keys of cells whose latest run read it (kept for the live state only)
    readers: dict[str, set[str]] | None = field(default_factory=dict)
    last_key: str | None = None
    executions: int = 0

    @classmethod
    def start(cls, baseline: Iterable[str] = ()) -> TrackerState:
        state = cls(baseline=frozenset(baseline))
        for name in state.baseline:
            state.names[name] = Token(_baseline_sig(name), [(BASELINE_KEY, 0)])
        return state

    def copy_for_simulation(self) -> TrackerState:
        """A copy whose tokens can change freely (aliases still share one token)."""
        copies: dict[int, Token] = {}
        names = {}
        for name, token in self.names.items():
            copied = copies.get(id(token))
            if copied is None:
                copied = copies[id(token)] = token.copy()
            names[name] = copied
        return TrackerState(
            baseline=self.baseline,
            names=names,
            runs=dict(self.runs),
            first_seq=dict(self.first_seq),
            predecessor=dict(self.predecessor),
            deleted_cells=set(self.deleted_cells),
            functions=dict(self.functions),
            resets=list(self.resets),
            readers=None,
            last_key=self.last_key,
            executions=self.executions,
        )

    def sharing(self, name: str) -> tuple[str, ...]:
        """Other names bound to the same token as ``name``."""
        token = self.names.get(name)
        if token is None:
            return ()
        return tuple(sorted(n for n, t in self.names.items() if t is token and n != name))

    # -- applying one execution ----------------------------------------------------------------
    def apply(
        self, event: ExecutionEvent, *, untracked: bool = False, recorded_step: int | None = None
    ) -> CellRun:
        """Fold ``event`` into the state and return the cell's new :class:`CellRun`.

        ``untracked`` marks a simulated execution of a cell that never ran under tracking:
        names it binds that existed before tracking keep their pre-tracking signature.
        ``recorded_step``: for a simulation replaying a recorded execution, the signature
        that execution had; the values it observed hold only if the simulated one is the
        same (the same code read the same inputs), except those its code alone fixes.
        """
        key, seq = event.cell_key, event.seq
        inputs, input_writers, nondet = self._read_inputs(event)
        unseeded = tuple(
            draw
            for draw in event.draws
            if draw.family is None
            or (random_name(draw.family) not in self.names and draw.family not in event.seeds)
        )
        nondet = nondet or bool(unseeded) or event.interrupted
        if event.interrupted:
            step = hash(("interrupted", key, seq))
        else:
            step = hash((key, event.source_hash, tuple(sorted(inputs.items()))))
        # draws from a seeded generator (global or ``rng``) advance it: running again draws
        # other numbers than a fresh run
        advanced = set(event.generators) | {n for n in inputs if n.startswith(RANDOM_PREFIX)}
        repeated = tuple(
            sorted(
                name
                for name in (event.reads & (event.rebinds | event.mutates)) | advanced
                if any(w[0] == key for w in input_writers.get(name, ()))
            )
        )
        if event.reset:
            for name in [n for n in self.names if not is_pseudo_name(n)]:
                del self.names[name]
            self.resets.append(seq)
        mutated = self._apply_mutations(event, step, nondet, untracked)
        for name in event.deletes:
            self.names.pop(name, None)
        for access in event.files:
            if access.op == REMOVE:
                self.names.pop(file_name(access.path), None)
        trusted = recorded_step is None or recorded_step == step
        self._apply_definitions(event, step, nondet, untracked, trusted)
        for info in event.functions:
            self.functions[info.name] = info
        self.deleted_cells.update(event.deleted_cells)

        previous = self.runs.get(key)
        run = CellRun(
            event=event,
            step=step,
            inputs=inputs,
            input_writers=input_writers,
            mutated=mutated,
            repeated=repeated,
            unseeded=unseeded,
            nondet=nondet,
            runs=(previous.runs + 1) if previous is not None else 1,
        )
        if self.readers is not None:
            if previous is not None:
                for name in previous.inputs:
                    self.readers.get(name, set()).discard(key)
            for name in inputs:
                self.readers.setdefault(name, set()).add(key)
        self.runs[key] = run
        if key not in self.first_seq:
            self.first_seq[key] = seq
            self.predecessor[key] = self.last_key
        self.last_key = key
        self.executions += 1
        return run

    def _input_names(self, event: ExecutionEvent) -> set[str]:
        names = set(event.reads) | set(event.generators)
        for access in event.files:
            if access.op in ("read", "update", REMOVE, LIST):  # a rename reads what it moves
                names.add(file_name(access.path))
        for draw in event.draws:
            if draw.family is not None and draw.family not in event.seeds:
                names.add(random_name(draw.family))
        return names

    def _read_inputs(
        self, event: ExecutionEvent
    ) -> tuple[dict[str, int], dict[str, tuple[Writer, ...]], bool]:
        inputs: dict[str, int] = {}
        writers: dict[str, tuple[Writer, ...]] = {}
        nondet = False
        stamps = {file_name(a.path): a.stamp for a in event.files if a.op in ("read", LIST)}
        listed = {file_name(a.path) for a in event.files if a.op == LIST}
        for name in self._input_names(event):
            if name in listed:
                inputs[name], writers[name], unsure = self._listing(name, stamps.get(name))
                nondet = nondet or unsure
                continue
            token = self.names.get(name)
            if token is None:
                if name in stamps:  # a file no tracked cell wrote: its content on disk
                    inputs[name] = hash(("external", name, stamps[name]))
                elif not name.startswith(RANDOM_PREFIX):
                    inputs[name] = _missing_sig(name)
                continue
            inputs[name] = token.sig
            writers[name] = tuple(token.writers)
            nondet = nondet or token.nondet
        return inputs, writers, nondet

    def _listing(self, name: str, stamp: tuple[int, int] | None) -> tuple[int, tuple[Writer, ...], bool]:
        """What listing a folder read: the folder and every path tracked below it."""
        prefix = name + "/"
        below = sorted((n, t) for n, t in self.names.items() if n.startswith(prefix))
        folder = self.names.get(name)
        if folder is None and not below:
            return hash(("external", name, stamp)), (), False
        parts = [(n, t.sig) for n, t in below]
        writers: list[Writer] = list(folder.writers) if folder is not None else []
        for _, token in below:
            writers += [w for w in token.writers if w not in writers]
        # a folder is what it holds: which run made it (or found it there) does not show
        signature = hash(("listing", tuple(parts)))
        unsure = (folder is not None and folder.nondet) or any(t.nondet for _, t in below)
        return signature, tuple(writers), unsure

    def _apply_mutations(
        self, event: ExecutionEvent, step: int, nondet: bool, untracked: bool
    ) -> tuple[MutationFact, ...]:
        key, seq = event.cell_key, event.seq
        facts = []
        changed = [name for name in event.mutates | event.generators if name in event.reads]
        changed += [file_name(a.path) for a in event.files if a.op in ("append", "update")]
        changed += [
            random_name(d.family)
            for d in event.draws
            if d.family is not None and d.family not in event.seeds
        ]
        done: set[int] = set()
        for name in sorted(set(changed)):
            token = self.names.get(name)
            if token is None:
                if name.startswith(FILE_PREFIX):  # appending to a file no tracked cell wrote
                    token = self.names[name] = Token(hash(("external", name)), [(key, seq)])
                    token.appended = True
                continue
            if id(token) in done:
                continue
            done.add(id(token))
            if untracked and token.sig == _baseline_sig(name):
                continue  # the baseline value already includes pre-tracking changes
            if token.creator[0] != key and not is_pseudo_name(name) and name not in event.generators:
                facts.append(MutationFact(name, token.creator, self.sharing(name)))
            token.sig = hash((token.sig, step))
            token.writers.append((key, seq))
            token.nondet = token.nondet or nondet
            if name.startswith(FILE_PREFIX):
                token.appended = True
        return tuple(facts)

    def _apply_definitions(
        self, event: ExecutionEvent, step: int, nondet: bool, untracked: bool, trusted: bool
    ) -> None:
        """Bind the names ``event`` defines to new tokens (aliases to their target's).

        A name whose value has a fingerprint gets a signature of its value alone: bound
        again to an equal value (a parameter cell edited elsewhere), its readers are not out
        of date. Otherwise the signature is the execution's.
        """
        key, seq = event.cell_key, event.seq
        values = event.values
        kept = (event.mutates | event.generators) & event.reads  # ``a += [1]``: changed in place
        aliased = []
        for name in sorted(event.defines):
            if name in event.aliases:
                aliased.append(name)
            elif name in kept and name in self.names:
                continue
            elif untracked and name in self.baseline:
                self.names[name] = Token(_baseline_sig(name), [(key, seq)], nondet)
            else:
                value = values.get(name) if trusted or name in event.constants else None
                sig = hash(("value", value)) if value is not None else hash((step, name))
                self.names[name] = Token(sig, [(key, seq)], nondet)
        for name in aliased:
            target = self.names.get(event.aliases[name])
            if target is None:
                self.names[name] = Token(hash((step, name)), [(key, seq)], nondet)
                continue
            self.names[name] = target
            if target.writers[-1] != (key, seq):
                target.writers.append((key, seq))
        for access in event.files:
            if access.op in ("write", CREATE):
                self.names[file_name(access.path)] = Token(
                    hash((step, access.path)), [(key, seq)], nondet, written=True
                )
        for family in event.seeds:
            self.names[random_name(family)] = Token(hash((step, family)), [(key, seq)])
