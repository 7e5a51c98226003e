"""Data folders come from a flag or an environment variable, with errors naming both."""

from __future__ import annotations

import pytest

from raysim.data.roots import DataRootError, resolve_root

ENV = "RAYSIM_TEST_ROOT"


def test_the_flag_wins_over_the_variable(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "fsdd").mkdir(parents=True)
    monkeypatch.setenv(ENV, str(tmp_path / "a"))
    assert resolve_root(None, ENV, flag="--root") == tmp_path / "a"
    assert resolve_root(tmp_path / "b", ENV, flag="--root", needs=("fsdd",)) == tmp_path / "b"


@pytest.mark.parametrize(
    ("given", "env", "message"),
    [
        (None, None, r"no folder given: pass --root DIR or set RAYSIM_TEST_ROOT"),
        ("missing", None, r"missing \(from --root\) does not exist"),
        (None, "missing", r"missing \(from \$RAYSIM_TEST_ROOT\) does not exist"),
        (".", None, r"\(from --root\) has no fsdd, esc10; pass --root DIR or set RAYSIM_TEST_ROOT"),
    ],
)
def test_errors_name_the_folder_the_flag_and_the_variable(
    tmp_path, monkeypatch, given, env, message
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV, raising=False)
    if env:
        monkeypatch.setenv(ENV, env)
    with pytest.raises(DataRootError, match=message):
        resolve_root(given, ENV, flag="--root", needs=("fsdd", "esc10"))
