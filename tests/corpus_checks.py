"""What a manifest of FSDD, URDU or ESC-10 in its published layout must hold, for the
synthetic trees (tests/) and the real example audio (tests/external/) alike."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def check_fsdd(df: pd.DataFrame, root: Path) -> None:
    files = sorted((root / "recordings").glob("*.wav"))
    assert len(df) == len(files) and df["path"].map(lambda p: Path(p).is_file()).all()
    index = df["utt_id"].str.rsplit("_", n=1).str[1].astype(int)
    assert ((index < 5) == (df["split"] == "test")).all()
    assert set(df["split"]) == {"train", "test"}
    assert (df["label"] == df["utt_id"].str[0]).all()
    assert df["speaker"].nunique() == 6 and (df["sample_rate"] == 8000).all()
    assert (df["duration"] > 0).all()


def check_urdu(df: pd.DataFrame, root: Path) -> None:
    folder_label = {"Angry": "ang", "Happy": "hap", "Neutral": "neu", "Sad": "sad"}
    assert (df["path"].map(lambda p: folder_label[Path(p).parent.name]) == df["label"]).all()
    assert (df["gender"] == df["speaker"].str[1]).all()
    assert df["speaker"].str.fullmatch(r"S[MF]\d+").all()
    assert len(df) == sum(1 for _ in root.glob("*/*.wav"))
    assert df["label"].value_counts().min() > 0 and (df["sample_rate"] == 44100).all()


def check_esc10(df: pd.DataFrame, root: Path) -> None:
    assert len(df) == sum(1 for _ in root.glob("* - */*.ogg"))
    assert df["noise_class"].nunique() == 10 and "dog" in set(df["label"])
    assert set(df["split"]) == {"1", "2", "3", "4", "5"}
    fold = df["path"].map(lambda p: Path(p).name.split("-")[0])
    assert (fold == df["split"]).all()
    assert (df["duration"] > 0).all() and (df["sample_rate"] == 44100).all()


#: corpus -> its check, for tests that run every published layout
CHECKS = {"fsdd": check_fsdd, "urdu": check_urdu, "esc10": check_esc10}
