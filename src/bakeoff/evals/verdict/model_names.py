"""One display name per model. A run stores each contestant and judge under a stable id (aliases
resolved, script paths absolute, so `--resume` works from anywhere) and shows it everywhere under
the name the user typed (`ModelId.shown`: the alias or id as given, a script by its file's stem).
`relabel` turns stored records into shown ones, so every report — terminal, HTML, JSON — uses
the same names."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from bakeoff.config import BakeoffConfig
from bakeoff.errors import UserError
from bakeoff.evals.store.records import BakeoffSpec, PairVerdict, TrialRecord
from bakeoff.evals.store.summary_records import JudgeCalibration
from bakeoff.models.model_id import ModelId


def model_labels(models: Iterable[ModelId]) -> dict[str, str]:
    """Stored id -> shown name for the models of a run, as typed. Where two different ids
    would show under one name (two `careful.json` in different folders), both keep their id."""
    labels: dict[str, str] = {}
    for model in models:
        labels.setdefault(str(model), model.shown)
    shown: dict[str, set[str]] = {}
    for stored, name in labels.items():
        shown.setdefault(name, set()).add(stored)
    return {s: (n if len(shown[n]) == 1 else s) for s, n in labels.items()}


def _stored_labels(model_ids: Iterable[str]) -> dict[str, str]:
    """The labels of a run stored before labels were kept: from its ids alone, under the
    built-in providers (so `script:PATH` shows as `script:` + stem, any other id as itself)."""
    config = BakeoffConfig()
    parsed: list[ModelId] = []
    labels: dict[str, str] = {}
    for model_id in model_ids:
        try:
            parsed.append(ModelId.stored(model_id, config))
        except UserError:  # a provider the built-ins lack: shown by its id
            labels[model_id] = model_id
    return labels | model_labels(parsed)


def namer(spec: BakeoffSpec) -> Callable[[str], str]:
    """Stored model id -> the name a run's reports show it under (`relabel`)."""
    labels = spec.labels or _stored_labels([*spec.models, *spec.judges])

    def name(model_id: str) -> str:
        return labels.get(model_id, model_id)

    return name


def relabel(
    spec: BakeoffSpec,
    records: Sequence[TrialRecord],
    verdicts: Sequence[PairVerdict] = (),
    calibrations: Sequence[JudgeCalibration] = (),
) -> tuple[BakeoffSpec, list[TrialRecord], list[PairVerdict], list[JudgeCalibration]]:
    """The run's spec, records, verdicts and calibrations with every model id shown by name.
    A run stored before labels were kept gets them from its ids (`script:` + stem)."""
    name = namer(spec)
    shown_spec = spec.model_copy(
        update={"models": [name(m) for m in spec.models], "judges": [name(j) for j in spec.judges]}
    )
    shown_records = [relabel_trial(r, name) for r in records]
    shown_verdicts = [
        v.model_copy(
            update={
                "judge": name(v.judge),
                "model_a": name(v.model_a),
                "model_b": name(v.model_b),
                # the winner is one of the two: shown by the same name, or its wins are lost
                "winner": None if v.winner is None else name(v.winner),
            }
        )
        for v in verdicts
    ]
    shown_calibrations = [c.model_copy(update={"judge": name(c.judge)}) for c in calibrations]
    return shown_spec, shown_records, shown_verdicts, shown_calibrations


def relabel_trial(record: TrialRecord, name: Callable[[str], str]) -> TrialRecord:
    """`record` with its model and judges shown by `name` (`namer`)."""
    return record.model_copy(
        update={
            "model": name(record.model),
            "judges": [s.model_copy(update={"judge": name(s.judge)}) for s in record.judges],
        }
    )
