"""Validation errors name the dotted key, the problem and the value, with did-you-mean hints."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from raysim.config import SimulationConfig
from raysim.sweep.spec import SweepSpec
from raysim.validation_errors import error_lines, format_validation_error


def _lines(model, data) -> list[str]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return error_lines(info.value, model)


def test_unknown_keys_get_the_closest_field_of_their_own_section():
    assert _lines(SimulationConfig, {"local": {"batch_siz": 8}, "roundz": 3}) == [
        "local.batch_siz: unknown key; did you mean 'batch_size'?",
        "roundz: unknown key; did you mean 'rounds'?",
    ]
    assert _lines(SimulationConfig, {"sampling": {"zzz": 1}}) == ["sampling.zzz: unknown key"]


def test_a_registered_section_keeps_its_own_hint():
    lines = _lines(SimulationConfig, {"local": {"optimizer": {"name": "sgd", "lrr": 0.1}}})
    assert lines == ["local.optimizer.lrr: unknown key; did you mean 'lr'?"]


def test_hints_reach_into_optional_and_union_sections():
    data = {
        "report": {"heatmap": {"x": "a", "yy": "b"}},
        "logging": {"mlflow": {"trackin_uri": "x"}},
    }
    lines = _lines(SweepSpec, data)
    assert "report.heatmap.yy: unknown key; did you mean 'y'?" in lines
    assert "report.heatmap.y: Field required" in lines  # a section as input: not shown
    assert (
        "logging.mlflow.MLflowSpec.trackin_uri: unknown key; did you mean 'tracking_uri'?" in lines
    )


def test_bad_values_are_shown_under_a_header():
    with pytest.raises(ValidationError) as info:
        SimulationConfig.model_validate({"rounds": 0})
    text = format_validation_error(info.value, SimulationConfig, "invalid config")
    assert text == "invalid config:\n  rounds: Input should be greater than or equal to 1 (got 0)"
    assert _lines(SimulationConfig, "x") == [
        "<root>: Input should be a valid dictionary or instance of SimulationConfig (got 'x')"
    ]
