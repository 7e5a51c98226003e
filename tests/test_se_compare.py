"""raysim.se_compare (experiments/se_compare.py): its config, the federation it reports,
the metrics over seeds."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from raysim import se_compare
from raysim.config import ConfigError
from raysim.data.corpora import build_manifest
from raysim.data.manifest import write_manifest
from raysim.data.sources import build_source
from raysim.registry import DATA_SOURCES

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "experiments" / "configs"


def _write(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "compare.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _data(corpus_root: Path, **kw) -> dict:
    return {
        "speech": {"corpus": "urdu", "root": str(corpus_root / "urdu")},
        "noise": {"corpus": "esc10", "root": str(corpus_root / "esc10")},
        **kw,
    }


def _error(tmp_path: Path, config: dict) -> str:
    with pytest.raises(ConfigError) as err:
        se_compare.load_compare_config(_write(tmp_path, config))
    return str(err.value)


def test_typos_are_rejected_naming_the_key(tmp_path, corpus_root):
    message = _error(tmp_path, {"data": _data(corpus_root, partiton={"name": "iid"}), "roundz": 3})
    assert "data.partiton: unknown key; did you mean 'partition'?" in message
    assert "roundz: unknown key; did you mean 'rounds'?" in message
    message = _error(
        tmp_path, {"data": _data(corpus_root), "models": {"pulse_cnn": {"chanels": 4}}}
    )
    assert "models.pulse_cnn.chanels: unknown key; did you mean 'channels'?" in message
    message = _error(tmp_path, {"data": _data(corpus_root), "method_rounds": {"PULSE PUU": 5}})
    assert "method_rounds.PULSE PUU.[key]: Input should be 'FedEnhance supervised'" in message


def test_bad_sources_and_method_keys_are_named(tmp_path, corpus_root, monkeypatch):
    bad_root = _data(corpus_root)
    bad_root["speech"]["root"] = str(tmp_path / "nowhere")
    message = _error(tmp_path, {"data": bad_root})
    assert f"data.speech: root: {tmp_path / 'nowhere'} does not exist" in message
    monkeypatch.delenv("SE_COMPARE_TEST_ROOT", raising=False)
    unset = _data(corpus_root, noise={"manifest": "${SE_COMPARE_TEST_ROOT}/noise.parquet"})
    message = _error(tmp_path, {"data": unset})
    assert (
        "data.noise: manifest: '${SE_COMPARE_TEST_ROOT}/noise.parquet' names an unset "
        "environment variable" in message
    )
    typo = _data(corpus_root)
    typo["speech"]["corpus"] = "urdo"
    message = _error(tmp_path, {"data": typo})
    assert "data.speech: corpus: 'urdo' is not a known corpus; known: " in message
    own = _error(tmp_path, {"data": _data(corpus_root, p_pu=1.0, noise_clip="noise_only")})
    assert "noise_clip, p_pu: set by each method's named config" in own


def test_rounds_models_and_data_reach_every_method(tmp_path, corpus_root):
    config = {
        "data": _data(corpus_root, partition={"name": "group", "n_clients": 2}, sample_rate=8000),
        "models": {"pulse_cnn": {"channels": 4, "n_fft": 256, "hop": 64}},
        "method_rounds": {"PULSE PN": 7},
        "engine": {"num_workers": 1},
    }
    compare = se_compare.load_compare_config(_write(tmp_path, config))
    pu, pn = (se_compare.method_config(m, compare, 3, CONFIGS) for m in ("PULSE PU", "PULSE PN"))
    fed = se_compare.method_config("FedEnhance 50% supervised", compare, 3, CONFIGS)
    # the named configs' own rounds (pulse.yaml's, fedenhance.yaml's) unless set here
    named = {f: yaml.safe_load((CONFIGS / f).read_text())["rounds"]
             for f in ("pulse.yaml", "fedenhance.yaml")}  # fmt: skip
    assert (pu.rounds, pn.rounds, fed.rounds) == (named["pulse.yaml"], 7, named["fedenhance.yaml"])
    compare.rounds = 2  # the others' rounds
    rounds = {
        m: se_compare.method_config(m, compare, 0, CONFIGS).rounds for m in se_compare.METHODS
    }
    assert rounds == {**dict.fromkeys(se_compare.METHODS, 2), "PULSE PN": 7}
    # each method keeps its own kinds and clips; the shared data and sizes are the config's
    assert (pu.data.p_pu, pn.data.p_supervised, fed.data.p_supervised) == (1.0, 1.0, 0.5)
    assert pu.data.noise_clip == "noise_only" and fed.data.noise_clip == "extra_noise"
    assert all(c.data.partition.n_clients == 2 and c.seed == 3 for c in (pu, pn, fed))
    assert all(c.data.speech.corpus == "urdu" and c.engine.num_workers == 1 for c in (pu, fed))
    assert (pu.task.model.channels, pu.task.model.n_fft, pu.task.model.blocks) == (4, 256, 2)
    assert fed.task.model.enc_bases == 512  # not named in models: the paper's size


def _federation(corpus_root: Path, noise: Path, **kw) -> dict:
    params = DATA_SOURCES.parse(
        {
            "source": "se_mixtures", **_data(corpus_root, noise={"manifest": str(noise)}),
            "sample_rate": 8000,
            "chunk_seconds": 0.5, "partition": {"name": "group", "n_clients": 2},
            "held_out": {"groups": ["SM3"]}, "noise_partition": "classes",
            "classes_per_client": 2, "snr_range_db": [0.0, 5.0], **kw,
        }
    )  # fmt: skip
    data = build_source(params, 0)
    return se_compare.federation(data.info, len(data.eval_data["mixture"])), data


def test_federation_summary_of_a_tiny_corpus(corpus_root, tmp_path):
    esc10 = build_manifest("esc10", corpus_root / "esc10", probe=False)
    noise = write_manifest(esc10, tmp_path / "esc10.parquet")  # the {manifest: ...} form
    sup, data = _federation(corpus_root, noise, p_supervised=0.5, noise_clip="noise_only")
    pu, _ = _federation(corpus_root, noise, p_pu=1.0, noise_clip="noise_only")
    mixit, _ = _federation(corpus_root, noise, noise_clip="extra_noise")
    # synthetic URDU: SF2 (8 files), SM1 (12), SM3 (4, held out); 2 clients of one speaker
    assert (
        sup["client_kinds"] == ["supervised", "unsupervised"] and pu["client_kinds"] == ["pu"] * 2
    )
    assert sup["client_examples"] == [8, 12] and sum(mixit["client_examples"]) == 10  # half mixed
    assert sup["held_out_speakers"] == ["SM3"] and sup["test_examples"] == 4
    assert all(len(c) <= 2 for c in sup["client_noise_classes"])
    assert set(sup["held_out_noise_files"]) <= set(esc10["noise_class"])
    files = [Path(p) for paths in sup["held_out_noise_files"].values() for p in paths]
    assert files and all(f.is_file() and f.parent.parent == corpus_root / "esc10" for f in files)
    assert list(data.clients.sample_counts()) == sup["client_examples"]

    text = se_compare.federation_markdown({"sup": sup, "pu": pu, "mixit": mixit})
    # same clients and test set: one table with a kind column per method; other data: its own
    assert text.count("speakers of the held-out examples (1): SM3") == 2
    assert "sup, pu: 2 clients, 20 training examples, 4 held-out examples" in text
    assert "| client | noise classes | examples | sup | pu |" in text
    second = ", ".join(sup["client_noise_classes"][1])
    assert f"| 1 | {second} | 12 | unsupervised | pu |" in text
    assert "mixit: 2 clients, 10 training examples" in text
    assert all(f.name in text for f in files)


def test_metrics_over_seeds_mean_std_and_counts():
    runs = [
        {"si_sdri": 1.0, "stoi": 0.7, "stoi_defined": 10.0, "input_stoi": 0.8, "n_items": 20.0},
        {"si_sdri": 2.0, "stoi": 0.8, "stoi_defined": 12.0, "input_stoi": 0.8, "n_items": 20.0},
        {"si_sdri": 3.0, "stoi": math.nan, "stoi_defined": 0.0, "input_stoi": 0.8, "n_items": 20.0},
    ]
    out = se_compare.over_seeds(runs)
    assert out["si_sdri"] == {"mean": 2.0, "std": 1.0, "n": 3.0}
    assert out["stoi"]["n"] == 2.0 and out["stoi"]["mean"] == pytest.approx(0.75)
    assert out["stoi_defined"] == {"total": 22.0} and out["n_items"] == {"total": 60.0}
    one = se_compare.over_seeds(runs[:1])["si_sdri"]
    assert one["mean"] == 1.0 and math.isnan(one["std"])

    summary = {"metrics": out, "rounds": 5, "seeds": [0, 1, 2], "wall_s": 12.3}
    table = se_compare.metrics_markdown({"PULSE PU": summary}).splitlines()
    # measured columns only (no SDR, PESQ), input STOI beside the output's
    assert table[0] == "| method | si_sdri | stoi | input_stoi | rounds | n | wall s / seed |"
    assert table[2] == "| PULSE PU | 2.00 ± 1.00 | 0.75 ± 0.07 (22/60) | 0.80 ± 0.00 | 5 | 3 | 12 |"


def test_each_seed_runs_and_is_kept(tmp_path, corpus_root, ray_session):
    config = {
        "data": _data(corpus_root, partition={"name": "group", "n_clients": 2}, sample_rate=8000,
                      chunk_seconds=0.5, held_out={"groups": ["SM3"]}, max_test_examples=2),
        "models": {"pulse_cnn": {"channels": 2, "blocks": 0, "n_fft": 128, "hop": 64}},
        "metrics": ["si_sdri", "sdr"], "rounds": 1,
        "engine": {"num_workers": 1, "worker_cpus": 0.5},
    }  # fmt: skip
    compare = se_compare.load_compare_config(_write(tmp_path, config))
    result = se_compare.run_method("PULSE PN", compare, [0, 1], CONFIGS)
    assert [r["seed"] for r in result["runs"]] == [0, 1] and result["metrics"]["si_sdri"]["n"] == 2
    assert all(len(r["history"]) == 1 and "sdr_delta" in r["metrics"] for r in result["runs"])
    sdri = [r["metrics"]["si_sdri"] for r in result["runs"]]
    assert result["metrics"]["si_sdri"]["mean"] == pytest.approx(sum(sdri) / 2)
    assert result["runs"][1]["federation"]["client_kinds"] == ["supervised"] * 2
    text = se_compare.report({"PULSE PN": result})
    assert "## Federation, seed 1" in text and "| PULSE PN |" in text and "input_sdr" in text


def test_a_methods_centralized_reference_is_found_for_every_seed(tmp_path, corpus_root, capsys):
    """experiments/centralized.py --compare FILE --method NAME trains the method's own
    config, so its reference is recorded under the key se_compare looks up."""
    import importlib.util

    from raysim.centralized_results import reference_lines, save_reference
    from raysim.config import parse_config

    spec = importlib.util.spec_from_file_location(
        "centralized_cli", REPO / "experiments" / "centralized.py"
    )
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    path = _write(tmp_path, {"data": _data(corpus_root)})
    config = parse_config(cli.compare_method_config(path, "PULSE PN"))
    compare = se_compare.load_compare_config(path)
    assert config == se_compare.method_config("PULSE PN", compare, 0, CONFIGS)
    save_reference(config, "ray_train", {"si_sdri": 4.5}, seed=0, folder=tmp_path / "refs")
    seed_2 = se_compare.method_config("PULSE PN", compare, 2, CONFIGS)
    assert reference_lines(seed_2, "si_sdri", tmp_path / "refs") == [
        "- IID upper bound (centralized ray_train, 1 run): si_sdri 4.5000"
    ]
    assert cli.main(["--method", "PULSE PN"]) == 2
    assert "--compare and --method go together" in capsys.readouterr().err
    assert cli.main(["--compare", str(path), "--method", "PULSE PNN"]) == 2
    assert "--method 'PULSE PNN': one of FedEnhance supervised" in capsys.readouterr().err


def test_max_test_examples_samples_over_every_held_out_speaker(corpus_root, tmp_path):
    esc10 = build_manifest("esc10", corpus_root / "esc10", probe=False)
    noise = write_manifest(esc10, tmp_path / "esc10.parquet")
    kw = {"p_supervised": 1.0, "noise_clip": "noise_only", "held_out": {"groups": ["SF2", "SM3"]},
          "partition": {"name": "group", "n_clients": 1}}  # fmt: skip
    full, _ = _federation(corpus_root, noise, **kw)
    cut, data = _federation(corpus_root, noise, max_test_examples=4, **kw)
    # the test rows run speaker by speaker (SF2's 8, then SM3's 4): the first 4 are all SF2
    assert full["held_out_speakers"] == cut["held_out_speakers"] == ["SF2", "SM3"]
    assert (full["test_examples"], cut["test_examples"]) == (12, 4)
    assert len(data.eval_data["mixture"]) == 4
