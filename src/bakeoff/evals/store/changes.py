"""What a trial changed, kept so `bakeoff apply` can write it into the user's folder: for each
file the trial added, changed or deleted, the SHA-256 of the fixture's bytes it started from
and the new bytes (`TrialChanges`, packed by `changes_between` from the workspace snapshots of
`evals/trial/diff.py`). The store keeps them in their own table (`trial_changes`, one row a file,
made by `migrations.m002_trial_changes`), beside the trial's record, never inside it: reports
never read them. A trial hands its record to the store as a `TrialWithChanges`, which
`Store.add_trial` splits in two.

What is kept is bounded and clean: at most `MAX_KEPT_BYTES` a trial (files over
`diff.MAX_FILE_BYTES` are never read), and a file whose new bytes hold a secret from the
environment (in any form the redaction filter knows) is kept only as a note, so the store
never holds a key and apply never writes one. Everything else the snapshot could not read (a
symlink, a FIFO, a name that is not UTF-8, the fixture's own unread entries) is a note too:
apply refuses those files and says why (`evals/run/apply_target.py`). Pure data and hashing; no
I/O."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bakeoff.evals.store.records import Snapshot, TrialRecord, Unread
from bakeoff.redact import current, redact
from bakeoff.workspace import printable_name

MAX_KEPT_BYTES = 8 * 1024 * 1024
"""New bytes kept per trial; files past this are noted as not kept."""

ChangeKind = Literal["added", "changed", "deleted"]

COLUMNS = "path, kind, before_sha256, content, not_kept"
"""The columns of a file's row in the store's `trial_changes` table, in `rows_of` order."""


class FileChange(BaseModel):
    """One file a trial added, changed or deleted."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, ser_json_bytes="base64", val_json_bytes="base64"
    )

    path: str
    """Workspace-relative, `/`-separated, as the contestant named it (printable when not kept)."""
    kind: ChangeKind
    before_sha256: str | None = None
    """SHA-256 (hex) of the fixture's bytes at `path`; None when the fixture had no file there."""
    content: bytes | None = None
    """The new bytes; None when deleted, or when not kept (`not_kept` says why)."""
    not_kept: str | None = None
    """Why an added or changed file's bytes were not kept; apply refuses such a file."""


class TrialChanges(BaseModel):
    """Every file one trial changed, by path."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    files: list[FileChange] = Field(default_factory=list)

    @property
    def kept_bytes(self) -> int:
        return sum(len(f.content or b"") for f in self.files)


class TrialWithChanges(TrialRecord):
    """A trial's record as it leaves the trial, with what it changed; the store keeps the two
    apart (`split`)."""

    changes: TrialChanges

    def split(self) -> tuple[TrialRecord, TrialChanges]:
        """The plain record (no copy of its fields is validated again) and the changes."""
        fields = {name: getattr(self, name) for name in TrialRecord.model_fields}
        return TrialRecord.model_construct(**fields), self.changes


def trial_from_json(text: str | bytes) -> TrialRecord:
    """A trial's record sent as JSON (the Ray executor's workers), its changes kept when it
    carries them."""
    data = json.loads(text)
    if isinstance(data, dict) and data.get("changes") is not None:
        return TrialWithChanges.model_validate(data)
    return TrialRecord.model_validate(data)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def secret_in(data: bytes) -> bool:
    """Whether `data` holds a secret of the environment now, in any form `redact` knows."""
    return any(form.encode("utf-8", "replace") in data for form in current().forms)


def changes_between(
    before: Snapshot, after: Snapshot, *, budget: int = MAX_KEPT_BYTES
) -> TrialChanges:
    """What changed from the fixture `before` to the workspace `after` (module docstring),
    keeping at most `budget` bytes of new content."""
    files: list[FileChange] = []
    left = budget
    taken = set(before) | set(after)  # names shown in place of others must not clash with one
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        kind: ChangeKind = "added" if old is None else "deleted" if new is None else "changed"
        why = _not_kept(path, old, new)
        content = new if why is None and isinstance(new, bytes) else None
        if content is not None and len(content) > left:
            why, content = f"over the {budget} bytes of new files a trial keeps", None
        left -= len(content or b"")
        files.append(
            FileChange(
                path=path if "\x00" not in path and why is None else _stand_in(path, taken),
                kind=kind,
                before_sha256=sha256(old) if isinstance(old, bytes) else None,
                content=content,
                not_kept=why,
            )
        )
    return TrialChanges(files=files)


def _shown(path: str) -> str:
    return printable_name(path.replace("\x00", "..."))


def _stand_in(path: str, taken: set[str]) -> str:
    """The name a file that is not kept is stored under: printable, redacted (a key in a name
    never reaches the store) and unique among `taken` (it is the table's key), which it joins."""
    name = shown = redact(_shown(path))
    n = 1
    while name in taken and name != path:
        n += 1
        name = f"{shown} ({n})"
    taken.add(name)
    return name


def _not_kept(path: str, old: bytes | Unread | None, new: bytes | Unread | None) -> str | None:
    """Why this change cannot be kept whole, or None."""
    if "\x00" in path:  # the snapshot's key for "the rest of this folder"
        return "the workspace held more files than a snapshot reads"
    if _shown(path) != path:
        return "its name is not plain UTF-8 text"
    if secret_in(path.encode("utf-8")):
        return "its name holds a secret from the environment (an API key): not kept"
    if isinstance(old, Unread):
        return f"the fixture's entry here was not read ({old.note})"
    if isinstance(new, Unread):
        return new.note
    if new is not None and secret_in(new):
        return "it holds a secret from the environment (an API key): not kept, never written"
    return None


def rows_of(changes: TrialChanges) -> Iterable[tuple[Any, ...]]:
    """The `COLUMNS` of each file, for the store's table."""
    for f in changes.files:
        yield (f.path, f.kind, f.before_sha256, f.content, f.not_kept)


def changes_of(rows: Sequence[Sequence[Any]]) -> TrialChanges:
    """The changes stored as `rows` (`COLUMNS`). A row whose fields are not what bakeoff
    writes (a damaged or hand-edited store) is a `ValueError`."""
    return TrialChanges(
        files=[
            FileChange(
                path=path, kind=kind, before_sha256=before, content=content, not_kept=not_kept
            )
            for path, kind, before, content, not_kept in rows
        ]
    )
