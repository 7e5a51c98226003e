"""Who holds what: a federation's clients × speakers × classes × examples, and the
held-out set the server evaluates on.

:func:`federation_of` summarises the data a simulation trains on (the
:class:`~raysim.data.sources.SourceData` its source built, exactly as
:class:`~raysim.Simulation` builds it), so the summary cannot disagree with the
run. Per client: its speakers, its examples per class (label, or noise class for
SE mixtures), the total, and, where the task says, its kind (SE: supervised, MixIT
or PU) or its labelled and unlabelled rows (semi-supervised SER at the label
rate). :func:`describe` prints it without training; every run saves it as
``federation.json`` (:data:`FEDERATION_FILE`).

What a source's arrays do not hold, its info gives: ``client_speakers``,
``noise_classes``, ``client_class_counts``, ``held_out_class_counts``,
``held_out_speakers``, ``held_out_noise_files`` and ``client_kinds``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from raysim.config import ConfigError, SimulationConfig, parse_config
from raysim.data.clients import compact_counts, sample_counts
from raysim.data.sources import SourceData, build_source

FEDERATION_FILE = "federation.json"
#: client kinds (`raysim.data.se_sources.KIND_NAMES`) as they are trained
KIND_LABELS = {"supervised": "supervised", "unsupervised": "MixIT", "pu": "PU"}
#: client rows shown before and after the cut when there are more than twice as many
EDGE_ROWS = 8
#: most class columns shown; beyond, a client's class count instead
MAX_CLASS_COLUMNS = 10


class Counts(Sequence[int]):
    """Per-client counts as one compact array (a byte a client for small clients),
    not a list of Python ints (8 bytes a client or more): a population of millions
    stays small in the driver. Reads like a list of ints and equals one; `to_dict`
    writes it as one."""

    __slots__ = ("values",)

    def __init__(self, values: Sequence[int] | np.ndarray):
        self.values = compact_counts(np.asarray(values))

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, i):  # an int for an index, a list for a slice
        return self.values[i].tolist()

    def __iter__(self) -> Iterator[int]:
        return iter(self.values.tolist())

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.asarray(self.values, dtype)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Counts):
            return np.array_equal(self.values, other.values)
        if isinstance(other, list | tuple):
            return len(other) == len(self) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to a list, so unhashable like one

    def tolist(self) -> list[int]:
        return self.values.tolist()

    def __repr__(self) -> str:
        return repr(self.tolist())


@dataclass
class Federation:
    """A federation's clients and held-out set (plain lists, but `examples` a
    :class:`Counts` when built by :func:`federation_of`: it is what
    ``federation.json`` holds).

    Attributes:
        source, task: the data source's and the task's names.
        classes: the class names (columns of `class_counts`); empty when the data has
            no classes.
        class_kind: what the classes are (``class`` or ``noise class``).
        examples: per client, its training examples.
        class_counts: per client, its examples per class (None: no classes).
        speakers: per client, its speakers (None: the data has no speakers).
        kinds: per client, how it trains (SE: supervised, MixIT, PU; else None).
        labelled: per client, the rows whose labels it trains on (semi-supervised
            SER at the label rate; else None).
        held_out: the server's examples: ``examples``, ``speakers`` (list or None),
            ``class_counts`` (list or None) and for SE mixtures ``noise_files``
            (noise class → files).
        notes: lines about how the clients train (the label rate).
    """

    source: str
    task: str
    classes: list[str]
    class_kind: str
    examples: Sequence[int]
    class_counts: list[list[int]] | None
    speakers: list[list[str]] | None
    kinds: list[str] | None
    labelled: list[int] | None
    held_out: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def n_clients(self) -> int:
        return len(self.examples)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "examples": list(self.examples)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Federation:
        return cls(**data)

    def to_json(self) -> str:
        """What ``federation.json`` holds."""
        return json.dumps(self.to_dict(), indent=1)

    def save(self, folder: str | Path) -> Path:
        """Write ``federation.json`` into `folder` (made if missing); returns the file."""
        path = Path(folder) / FEDERATION_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json())
        return path

    def __repr__(self) -> str:
        return f"Federation({self.headline()})"

    def __str__(self) -> str:
        return self.text()

    def headline(self) -> str:
        """One line: clients, training examples and their spread, classes."""
        n = np.asarray(self.examples, np.int64)
        spread = f"{n.min()}-{int(np.median(n))}-{n.max()}" if len(n) else "-"
        classes = f", {_n(len(self.classes), self.class_kind)}" if self.classes else ""
        return (
            f"{_n(self.n_clients, 'client')}, {_n(n.sum(), 'training example')} "
            f"(min-median-max {spread} per client){classes}"
        )

    def text(self, edge_rows: int = EDGE_ROWS) -> str:
        """The summary as text: a headline, a table of clients (the first and last
        `edge_rows` when there are more than twice as many) with a total row, and the
        held-out set."""
        lines = [f"{self.source} -> {self.task}: {self.headline()}", *self.notes, ""]
        lines += _table(self._header(), self._rows(edge_rows))
        lines += ["", *self._held_out_lines()]
        return "\n".join(lines)

    # -- the client table ---------------------------------------------------------
    def _per_class(self) -> bool:
        return self.class_counts is not None and len(self.classes) <= MAX_CLASS_COLUMNS

    def _header(self) -> list[str]:
        head = ["client"]
        head += ["speakers"] if self.speakers is not None else []
        head += ["kind"] if self.kinds is not None else []
        if self.class_counts is not None:
            head += self.classes if self._per_class() else [f"{self.class_kind}es"]
        head += ["examples"]
        head += ["labelled", "unlabelled"] if self.labelled is not None else []
        return head

    def _row(self, c: int) -> list[str]:
        row = [str(c)]
        row += [_speakers_cell(self.speakers[c])] if self.speakers is not None else []
        row += [self.kinds[c]] if self.kinds is not None else []
        if self.class_counts is not None:
            counts = self.class_counts[c]
            row += [str(v) for v in counts] if self._per_class() else [str(sum(map(bool, counts)))]
        row += [str(self.examples[c])]
        if self.labelled is not None:
            row += [str(self.labelled[c]), str(self.examples[c] - self.labelled[c])]
        return row

    def _total_row(self) -> list[str]:
        row = ["total"]
        if self.speakers is not None:
            row += [_n(len({s for group in self.speakers for s in group}), "speaker")]
        if self.kinds is not None:
            row += [", ".join(f"{self.kinds.count(k)} {k}" for k in dict.fromkeys(self.kinds))]
        if self.class_counts is not None:
            totals = np.asarray(self.class_counts, np.int64).sum(0) if self.class_counts else []
            row += [str(v) for v in totals] if self._per_class() else [str(len(self.classes))]
        row += [str(sum(self.examples))]
        if self.labelled is not None:
            row += [str(sum(self.labelled)), str(sum(self.examples) - sum(self.labelled))]
        return row

    def _rows(self, edge_rows: int) -> list[list[str] | str | None]:
        n = self.n_clients
        if n <= 2 * edge_rows + 1:
            rows: list[list[str] | str | None] = [self._row(c) for c in range(n)]
        else:
            rows = [self._row(c) for c in range(edge_rows)]
            rows.append(f"... {n - 2 * edge_rows} more clients ...")
            rows += [self._row(c) for c in range(n - edge_rows, n)]
        return [*rows, None, self._total_row()]

    def _held_out_lines(self) -> list[str]:
        held = self.held_out
        speakers = held.get("speakers")
        who = f"{_n(len(speakers), 'speaker')}, " if speakers is not None else ""
        lines = [f"held out: {who}{_n(held['examples'], 'example')}"]
        counts = held.get("class_counts")
        if counts is not None and self.classes:
            per = ", ".join(f"{c} {n}" for c, n in zip(self.classes, counts, strict=True))
            lines.append(f"  per {self.class_kind}: {per}")
        if speakers:
            lines.append(f"  speakers: {', '.join(speakers)}")
        files = held.get("noise_files")
        if files:
            total = sum(map(len, files.values()))
            per = ", ".join(f"{c} {len(paths)}" for c, paths in files.items())
            lines.append(f"  noise files: {total} ({per})")
        return lines


def _n(count: int, noun: str) -> str:
    """``1 class``, ``2 classes``."""
    plural = noun + ("es" if noun.endswith(("s", "sh", "ch", "x")) else "s")
    return f"{count} {noun if count == 1 else plural}"


def _speakers_cell(speakers: list[str]) -> str:
    """A client's speakers: all of up to two, else the first and last and their count."""
    if len(speakers) <= 2:
        return ", ".join(speakers) or "-"
    return f"{speakers[0]}..{speakers[-1]} ({len(speakers)})"


#: columns of text, aligned left (the others hold numbers, aligned right)
TEXT_COLUMNS = frozenset({"client", "speakers", "kind"})


def _table(header: list[str], rows: list[list[str] | str | None]) -> list[str]:
    """Aligned text columns; a str row is printed as it is, a None row is a rule."""
    cells = [header, *(r for r in rows if isinstance(r, list))]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    left = [h in TEXT_COLUMNS for h in header]
    rule = "  ".join("-" * w for w in widths)

    def line(row: list[str] | str | None) -> str:
        if row is None:
            return rule
        if isinstance(row, str):
            return row
        aligned = (
            cell.ljust(w) if is_left else cell.rjust(w)
            for cell, w, is_left in zip(row, widths, left, strict=True)
        )
        return "  ".join(aligned).rstrip()

    return [line(header), rule, *map(line, rows)]


# -- building it ---------------------------------------------------------------------
def _class_indices(y: np.ndarray | None) -> bool:
    """Whether `y` holds class indices (integers from 0) to count."""
    if y is None or not np.issubdtype(np.asarray(y).dtype, np.integer):
        return False
    return len(y) == 0 or int(np.min(y)) >= 0


def _client_of_rows(counts: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(counts)), counts)


def _per_client_names(
    client: np.ndarray, codes: np.ndarray, names: list[str], n_clients: int
) -> list[list[str]]:
    """Per client, the sorted distinct names of its rows' codes."""
    pairs = np.unique(np.stack([client, codes]), axis=1)
    out: list[list[str]] = [[] for _ in range(n_clients)]
    for c, g in pairs.T:
        out[int(c)].append(names[int(g)])
    return [sorted(group) for group in out]


def _labelled_counts(config: SimulationConfig, examples: list[int]) -> list[int] | None:
    """Per client, the rows whose labels it trains on, as `semi_ser` masks them
    (`raysim.ser.masks`, seeded by the run's seed and the client id); None for other
    tasks."""
    task = config.task
    if task.name != "semi_ser":
        return None
    if task.mode == "all_labelled":
        return list(examples)
    from raysim.ser.masks import supervision_mask

    def labelled(client: int, n: int) -> int:
        fraction, rounding = task.labelled_client_fraction, task.label_rounding
        mask = supervision_mask(n, task.label_rate, fraction, config.seed, client, rounding)
        return int(mask.sum())

    return [labelled(c, n) for c, n in enumerate(examples)]


def _notes(config: SimulationConfig, data: SourceData) -> list[str]:
    """Lines on how the clients train (the label rate) and on rows left out."""
    return _label_notes(config) + _dropped_notes(data.info.get("dropped_rows"))


def _label_notes(config: SimulationConfig) -> list[str]:
    task = config.task
    if task.name != "semi_ser":
        return []
    if task.mode == "all_labelled":
        return ["labels: every row's (task.mode all_labelled)"]
    return [
        f"labels: {task.label_rate:.0%} of each labelled client's rows "
        f"({task.label_rounding} rounding); {task.labelled_client_fraction:.0%} of the "
        f"clients hold labels (task.mode {task.mode})"
    ]


def _dropped_notes(dropped: dict[str, int] | None) -> list[str]:
    """The rows `data.classes` left out, per label."""
    if not dropped:
        return []
    per_label = ", ".join(f"{label}: {n}" for label, n in dropped.items())
    return [f"data.classes: dropped {sum(dropped.values())} rows of other labels ({per_label})"]


#: what :func:`_classes` gives: the class names, per client its examples per class,
#: the held-out examples per class
_Table = tuple[list[str], list[list[int]] | None, list[int] | None]


def _classes(data: SourceData, client: np.ndarray | None) -> tuple[str, _Table]:
    """What the classes are, and the examples per client and class: counted from the
    ``y`` arrays (label indices) or, for SE mixtures, given in the info."""
    info, arrays = data.info, getattr(data.clients, "arrays", {})
    if client is not None and _class_indices(arrays.get("y")):
        y = np.asarray(arrays["y"], np.int64)
        k = int(info.get("num_classes") or (int(y.max()) + 1 if len(y) else 0))
        names = [str(c) for c in info.get("classes") or range(k)]
        flat = np.bincount(client * k + y, minlength=len(data.clients) * k)
        held_y = data.eval_data.get("y")
        held = np.bincount(held_y, minlength=k).tolist() if _class_indices(held_y) else None
        return "class", (names, flat.reshape(-1, k).tolist(), held)
    if "client_class_counts" in info:
        table = info["client_class_counts"], info.get("held_out_class_counts")
        return "noise class", (list(info["noise_classes"]), *table)
    return "class", ([], None, None)


def _speakers(
    data: SourceData, client: np.ndarray | None
) -> tuple[list[list[str]] | None, list[str] | None]:
    """The speakers of each client and of the held-out set: from the ``group`` arrays
    (indices into ``info['groups']``) or, for SE mixtures, given in the info."""
    info, arrays = data.info, getattr(data.clients, "arrays", {})
    if client is not None and "group" in arrays and "groups" in info:
        names = list(map(str, info["groups"]))
        codes = np.asarray(arrays["group"])
        per_client = _per_client_names(client, codes, names, len(data.clients))
        held_codes = data.eval_data.get("group")
        held = None if held_codes is None else sorted({names[g] for g in np.unique(held_codes)})
        return per_client, held
    if "client_speakers" in info:
        return info["client_speakers"], info.get("held_out_speakers")
    return None, None


def federation_of(config: SimulationConfig | dict[str, Any], data: SourceData) -> Federation:
    """The federation `config` trains on `data` (built from ``config.data``)."""
    config = parse_config(config)
    counts = sample_counts(data.clients)
    client = _client_of_rows(counts) if getattr(data.clients, "arrays", None) else None
    class_kind, (classes, class_counts, held_classes) = _classes(data, client)
    speakers, held_speakers = _speakers(data, client)
    held: dict[str, Any] = {
        "examples": len(next(iter(data.eval_data.values()))) if data.eval_data else 0,
        "speakers": held_speakers,
        "class_counts": held_classes,
    }
    if "held_out_noise_files" in data.info:
        held["noise_files"] = data.info["held_out_noise_files"]
    kinds = None
    if "client_kinds" in data.info:
        kinds = [KIND_LABELS.get(k, k) for k in data.info["client_kinds"]]
    elif config.task.name == "speech_enhancement":  # no kind array: every client MixIT
        kinds = [KIND_LABELS["unsupervised"]] * len(counts)
    examples = Counts(counts)
    return Federation(
        source=config.data.source,
        task=config.task.name,
        classes=classes,
        class_kind=class_kind,
        examples=examples,
        class_counts=class_counts,
        speakers=speakers,
        kinds=kinds,
        labelled=_labelled_counts(config, examples),
        held_out=held,
        notes=_notes(config, data),
    )


def describe(
    config: SimulationConfig | dict[str, Any] | None = None,
    *,
    data: SourceData | None = None,
    show: bool = True,
) -> Federation:
    """The federation `config` would train, without training (and without Ray, unless
    its data source needs it to build a feature store the first time): the data is
    built as :class:`~raysim.Simulation` builds it, after the same input checks. With a
    ``privacy:`` section its notes end with the solved privacy plan (ConfigError when it
    cannot be solved, as at a run's start). Printed unless `show` is False."""
    from raysim.input_checks import check_inputs

    config = parse_config(config)
    if data is None:
        check_inputs(config)
        data = build_source(config.data, config.seed)
    fed = federation_of(config, data)
    if config.privacy is not None:
        from raysim.privacy import plan_privacy

        try:
            plan, _ = plan_privacy(config, len(data.clients), fed.speakers, curve=False)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        fed.notes.append(f"privacy: {plan.describe()}")
    if show:
        print(fed.text())
    return fed


def load_federation(path: str | Path) -> Federation | None:
    """The federation saved in folder `path` (or the file itself); None if none is."""
    path = Path(path)
    file = path / FEDERATION_FILE if path.is_dir() else path
    if not file.is_file():
        return None
    return Federation.from_dict(json.loads(file.read_text()))
