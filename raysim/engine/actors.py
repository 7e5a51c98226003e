"""Ray actor shells for the worker and the aggregator.

They import the torch-heavy implementation inside the actor process only, so
the driver (and `import raysim`) stays free of torch and starts fast.
"""

from __future__ import annotations

from typing import Any

import ray

#: `ready` answers from its own thread, so it means "constructed" even while the
#: evaluator worker is still importing evaluation libraries in the default group;
#: all work (training, evaluation) runs in the default group, one call at a time.
WORKER_CONCURRENCY = {"control": 1}


class WorkerActor:
    """Ray actor wrapping :class:`raysim.engine.worker.ClientWorker`."""

    def __init__(self, *args: Any, **kwargs: Any):
        from raysim.engine.worker import ClientWorker

        self.impl = ClientWorker(*args, **kwargs)

    @ray.method(concurrency_group="control")
    def ready(self) -> bool:
        return True

    def train(self, *args: Any):
        return self.impl.train(*args)

    def initial_state(self):
        return self.impl.initial_state()

    def preload_evaluation(self) -> None:
        self.impl.preload_evaluation()

    def evaluate(self, *args: Any):
        return self.impl.evaluate(*args)

    def evaluate_clients(self, *args: Any):
        return self.impl.evaluate_clients(*args)


class AggregatorActor:
    """Ray actor wrapping :class:`raysim.engine.aggregator.Aggregator`."""

    def __init__(self, *args: Any, **kwargs: Any):
        from raysim.engine.aggregator import Aggregator

        self.impl = Aggregator(*args, **kwargs)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Invoke a public method of the aggregator."""
        if method.startswith("_"):
            raise AttributeError(method)
        return getattr(self.impl, method)(*args, **kwargs)
