"""Dotted keys of nested dicts: get/has/set, flatten ↔ unflatten, deep merge."""

from __future__ import annotations

import pytest

from raysim.dotted import (
    NotASectionError,
    flatten,
    get_dotted,
    has_dotted,
    merge,
    set_dotted,
    unflatten,
)

NESTED = {"seed": 3, "local": {"optimizer": {"name": "sgd", "lr": 0.1}, "epochs": 1}, "x": {}}
FLAT = {"seed": 3, "local.optimizer.name": "sgd", "local.optimizer.lr": 0.1, "local.epochs": 1,
        "x": {}}  # fmt: skip


def test_flatten_and_unflatten_are_inverse_empty_sections_included():
    assert flatten(NESTED) == FLAT
    assert unflatten(FLAT) == NESTED
    assert flatten({"a": [1, {"b": 2}]}) == {"a": [1, {"b": 2}]}  # lists are leaves


def test_get_and_has_walk_sections_only():
    assert get_dotted(NESTED, "local.optimizer.lr") == 0.1
    assert get_dotted(NESTED, "local.optimizer") == {"name": "sgd", "lr": 0.1}
    assert has_dotted(NESTED, "x") and not has_dotted(NESTED, "x.y")
    assert not has_dotted(NESTED, "seed.value")  # through a value that is not a section
    assert has_dotted({"a": None}, "a")  # a stored None is a value
    assert get_dotted(NESTED, "local.momentum", default=None) is None
    with pytest.raises(KeyError, match="local.momentum"):
        get_dotted(NESTED, "local.momentum")


def test_set_creates_sections_and_refuses_to_go_through_a_value():
    data: dict = {"local": {"epochs": 1}}
    set_dotted(data, "local.optimizer.lr", 0.5)
    assert data == {"local": {"epochs": 1, "optimizer": {"lr": 0.5}}}
    with pytest.raises(NotASectionError, match=r"local\.epochs\.n: 'epochs' is not a section"):
        set_dotted(data, "local.epochs.n", 2)


def test_merge_deep_merges_into_a_copy():
    base = {"local": {"epochs": 1, "optimizer": {"lr": 0.1}}, "seed": 0}
    out = merge(base, {"local": {"optimizer": {"lr": 0.2}}, "seed": {"a": 1}})
    assert out == {"local": {"epochs": 1, "optimizer": {"lr": 0.2}}, "seed": {"a": 1}}
    assert base == {"local": {"epochs": 1, "optimizer": {"lr": 0.1}}, "seed": 0}


def test_merge_replaces_a_section_that_names_another_implementation():
    base = {"strategy": {"name": "scaffold", "option": "I"}, "local": {"epochs": 2}}
    swapped = merge(base, {"strategy": {"name": "fedprox", "mu": 0.1}})
    assert swapped["strategy"] == {"name": "fedprox", "mu": 0.1}  # no stale option
    tuned = merge(base, {"strategy": {"name": "scaffold", "server_lr": 0.5}})
    assert tuned["strategy"] == {"name": "scaffold", "option": "I", "server_lr": 0.5}
    data = merge(
        {"data": {"source": "npz", "path": "a"}}, {"data": {"source": "synthetic_features"}}
    )
    assert data["data"] == {"source": "synthetic_features"}
