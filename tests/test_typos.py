"""Every misspelled model in a run is named at once, each with its suggestions: a user fixes
them all in one go instead of one per attempt."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeoff.cli import main


def test_every_unknown_model_is_named_in_one_error(
    isolated_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["run", "say hi", "--models", "haikuu,sonet-4,local", "--judge", "gpt-55",
         "--no-preflight", "--store", str(tmp_path / "r.sqlite")]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("error:") == 1
    assert "3 unknown models" in err
    assert "'haikuu': did you mean haiku" in err and "'sonet-4': did you mean sonnet-4" in err
    assert "'gpt-55'" in err
