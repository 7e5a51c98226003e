"""Parameters of the feature-vector classification task (validated on the driver)."""

from __future__ import annotations

from pydantic import Field

from raysim.tasks.params import TaskParams


class ClassificationParams(TaskParams):
    """MLP over fixed-size feature vectors (e.g. eGeMAPS functionals, SSL embeddings)."""

    hidden: list[int] = Field(default_factory=lambda: [128, 128])
    dropout: float = Field(0.0, ge=0, lt=1)
    class_balanced: bool = Field(False, description="weight the loss by inverse class frequency")
