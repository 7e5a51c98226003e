"""Task registry. A task defines the model, the local loss and the evaluation.

Each task registers a light pydantic params model (validated on the driver
without importing torch) and its implementation (imported where it runs).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    from raysim.tasks.base import Task

_TASKS: dict[str, tuple[str, str]] = {
    "feature_classification": (
        "raysim.tasks.classification_params:ClassificationParams",
        "raysim.tasks.classification:FeatureClassification",
    ),
    "speech_enhancement": ("raysim.tasks.se_params:SEParams", "raysim.tasks.se:SpeechEnhancement"),
    "semi_ser": ("raysim.tasks.semi_ser_params:SemiSERParams", "raysim.tasks.semi_ser:SemiSER"),
}


def register_task(name: str, params_path: str, impl_path: str) -> None:
    """Register a task by 'module:attr' paths of its params model and its class."""
    _TASKS[name] = (params_path, impl_path)


def _load(path: str) -> Any:
    module, attr = path.split(":")
    return getattr(importlib.import_module(module), attr)


def task_names() -> list[str]:
    """Names of the registered tasks."""
    return sorted(_TASKS)


def task_params_model(name: str) -> type[BaseModel]:
    """The params model of task `name` (ValueError naming the task if unknown)."""
    if name not in _TASKS:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(task_names())}")
    return _load(_TASKS[name][0])


def validate_task_params(name: str, params: dict[str, Any]) -> BaseModel:
    """Validate task params, re-raising errors with `task.<key>` paths."""
    try:
        return task_params_model(name).model_validate(params)
    except ValidationError as err:
        msgs = [
            f"task.{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})"
            for e in err.errors()
        ]
        raise ValueError("; ".join(msgs)) from None


def build_task(name: str, params: dict[str, Any], info: dict[str, Any]) -> Task:
    """Instantiate task `name` with validated params and the data's info (dims, classes)."""
    return _load(_TASKS[name][1])(validate_task_params(name, params), info)
