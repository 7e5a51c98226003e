"""User errors at the entry points: one line naming the key and the value, exit status 2,
before Ray starts; the traceback only with --debug; a bug keeps its traceback."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from raysim.config import ConfigError, load_config, parse_config
from raysim.input_checks import input_problems
from raysim.user_errors import run_cli

REPO = Path(__file__).resolve().parents[1]


def _cli(name: str):
    """The entry point experiments/`name`.py as a module (its `main(argv)`)."""
    spec = importlib.util.spec_from_file_location(
        f"{name}_cli", REPO / "experiments" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _one_clean_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_missing_data_path_is_one_line_naming_key_and_value(tmp_path, capsys):
    missing = tmp_path / "no-store"
    run = _cli("run")
    assert run.main(["data.source=feature_store", f"data.path={missing}"]) == 2
    line = _one_clean_line(capsys)
    assert (
        line == f"data.path: {missing} does not exist (a feature store made by features/extract.py)"
    )


def test_missing_manifest_is_one_line_naming_key_and_value(tmp_path, capsys):
    manifest, noise = tmp_path / "speech.parquet", tmp_path / "noise.parquet"
    noise.touch()  # only looked up, not read
    config = tmp_path / "se.yaml"
    data = {"source": "se_mixtures", "speech": {"manifest": str(manifest)},
            "noise": {"manifest": str(noise)}}  # fmt: skip
    config.write_text(yaml.safe_dump({"task": {"name": "speech_enhancement"}, "data": data}))
    assert _cli("run").main(["--config", str(config)]) == 2
    line = _one_clean_line(capsys)
    assert line.startswith(f"data.speech.manifest: {manifest} does not exist (a Parquet manifest")


def test_debug_shows_the_traceback(tmp_path):
    run = _cli("run")
    with pytest.raises(ConfigError, match=r"data\.path: .* does not exist"):
        run.main(["--debug", "data.source=npz", f"data.path={tmp_path / 'x.npz'}"])


def test_config_typos_and_broken_yaml_are_one_line(tmp_path, capsys):
    run = _cli("run")
    broken = tmp_path / "broken.yaml"
    broken.write_text("rounds: [3\n")
    assert run.main(["--config", str(broken)]) == 2
    assert _one_clean_line(capsys).startswith(f"{broken}: not valid YAML (")
    assert run.main(["rounds=[3"]) == 2
    assert _one_clean_line(capsys).startswith("override 'rounds=[3': the value is not YAML")


def test_sweep_and_centralized_check_paths_before_starting(tmp_path, capsys):
    missing = tmp_path / "w.npz"
    sweep = {"config": {"data": {"source": "npz", "path": str(missing)}}}
    file = tmp_path / "sweep.yaml"
    file.write_text(yaml.safe_dump(sweep))
    storage = tmp_path / "runs"
    assert _cli("sweep").main(["--config", str(file), "--storage", str(storage)]) == 2
    assert _one_clean_line(capsys).startswith(f"config.data.path: {missing} does not exist")
    assert not storage.exists()
    assert _cli("centralized").main(["data.source=npz", f"data.path={missing}"]) == 2
    assert _one_clean_line(capsys).startswith(f"data.path: {missing} does not exist")


def test_se_compare_missing_data_root_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RAYSIM_DATA_ROOT", raising=False)
    se_compare = _cli("se_compare")
    assert se_compare.main(["--data-root", str(tmp_path / "corpora")]) == 2
    assert "does not exist" in _one_clean_line(capsys)


def test_a_bug_keeps_its_traceback():
    with pytest.raises(ZeroDivisionError):
        run_cli(lambda: 1 // 0)
    assert run_cli(lambda: 0) == 0


def test_input_checks_name_every_path(tmp_path):
    (tmp_path / "store").mkdir()
    problems = input_problems(
        parse_config(
            {
                "data": {"source": "feature_store", "path": str(tmp_path / "store")},
                "init_checkpoint": "nowhere.pt",
            }
        )  # fmt: skip
    )
    assert problems[0] == (
        f"data.path: {tmp_path / 'store'} holds no shard-*.parquet files "
        "(a feature store made by features/extract.py)"
    )
    assert problems[1].startswith(f"init_checkpoint: nowhere.pt does not exist in {Path.cwd()}")
    corpus = {"corpus": "fsdd", "root": str(tmp_path)}
    ok = {"source": "se_mixtures", "speech": corpus, "noise": {"corpus": "esc11", "root": "x"}}
    assert input_problems(parse_config({"data": ok})) == [
        "data.noise.corpus: 'esc11' is not a known corpus; known: " + ", ".join(_builders())
    ]
    # validating reads nothing from disk: a config naming a missing path still loads
    assert load_config(None, [f"data.path={tmp_path / 'x'}", "data.source=npz"]).data.path


def _builders() -> list[str]:
    from raysim.data.corpora import BUILDERS

    return list(BUILDERS)


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["data.held_out.fraction=0.9"], "data.held_out.fraction=0.9 leaves no training groups"),
        (
            ["data.partition.name=group", "data.partition.n_clients=9"],
            "n_clients=9 exceeds the number of",
        ),
    ],
)
def test_data_the_config_contradicts_is_one_line(overrides, message, capsys):
    """Settings valid on their own that the data cannot satisfy (found while building
    it, here by --describe: no Ray)."""
    base = ["data.source=procedural_ser", "data.n_speakers=4",
            "data.utterances_per_speaker_per_emotion=2"]  # fmt: skip
    assert _cli("run").main([*base, *overrides, "--describe"]) == 2
    assert message in _one_clean_line(capsys)


def test_a_manifest_override_on_a_corpus_config_says_how_to_switch():
    data = {"source": "se_mixtures", "speech": {"corpus": "fsdd", "root": "/x", "manifest": "m"},
            "noise": {"manifest": "n"}}  # fmt: skip
    with pytest.raises(ConfigError, match=r"not both .* add KEY.corpus=null KEY.root=null"):
        parse_config({"task": {"name": "speech_enhancement"}, "data": data})
