"""Task registry. A task defines the model, the local loss and the evaluation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from raysim.registry import Registry

if TYPE_CHECKING:
    from raysim.tasks.base import Task

TASKS = Registry(
    "task",
    "name",
    {
        "feature_classification": (
            "raysim.tasks.classification_params:ClassificationParams",
            "raysim.tasks.classification:FeatureClassification",
        ),
        "speech_enhancement": (
            "raysim.tasks.se_params:SEParams",
            "raysim.tasks.se:SpeechEnhancement",
        ),
        "semi_ser": ("raysim.tasks.semi_ser_params:SemiSERParams", "raysim.tasks.semi_ser:SemiSER"),
    },
)


def build_task(name: str, params: dict[str, Any], info: dict[str, Any]) -> Task:
    """Instantiate task `name` with validated params and the data's info (dims, classes)."""
    return TASKS.build(name, params, info)
