"""W3 of the reference workloads (WORKLOADS.md) (scale) through raysim's public API.

W1's model and local work with N clients of 20 samples each (default
100,000), 1,000 sampled a round, 5 rounds. Client c's data is generated on
demand from (seed, c) by the reference generator, so nothing per client is
stored anywhere: memory must not grow with N.

usage: python benchmarks/w3.py [--n-clients 100000] [--workers 2] [--workloads DIR]
prints one JSON line like benchmarks/w1.py, plus n_clients.
"""

# first: start the clock early
from _harness import WORKLOADS_HELP, TreeMonitor, reference_workloads, run_workload

MON = TreeMonitor()

import argparse  # noqa: E402

from ray import cloudpickle  # noqa: E402

from raysim.data.clients import GeneratedClients  # noqa: E402
from raysim.data.sources import SourceData  # noqa: E402
from raysim.engine.sampling import FixedSchedule  # noqa: E402

W = reference_workloads()
cloudpickle.register_pickle_by_value(W)  # workers cannot import the workloads folder themselves


class W3Data:
    """Client id → that client's arrays, generated on demand by the workload's generator."""

    def __init__(self, generator):
        self.generator = generator

    def __call__(self, client_id: int) -> dict:
        x, y = self.generator[client_id]
        return {"x": x, "y": y}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-clients", type=int, default=W.W3["n_clients"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--workloads", help=WORKLOADS_HELP)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    spec = W.W3
    generator, (x_test, y_test) = W.make_w3(a.seed, a.n_clients, spec["per_client"])
    clients = GeneratedClients(a.n_clients, W3Data(generator), spec["per_client"])
    data = SourceData(clients, {"x": x_test, "y": y_test}, {"input_dim": 88, "num_classes": 4})
    schedule = W.round_schedule(a.seed, a.n_clients, spec["per_round"], spec["rounds"])
    config = {
        "seed": a.seed,
        "rounds": spec["rounds"],
        "task": {"name": "feature_classification", "hidden": [128, 128]},
        "local": {
            "optimizer": {"name": "sgd", "lr": spec["lr"]},
            "batch_size": spec["batch"],
            "epochs": spec["epochs"],
            "shuffle": False,  # WORKLOADS.md: stored order
        },
        "strategy": {"name": "fedavg", "weighting": "samples"},
        "engine": {"num_workers": a.workers},
        "eval": {"every": 0},
    }
    run_workload(
        MON,
        "w3",
        config,
        data,
        FixedSchedule(schedule),
        a.workers,
        "accuracy",
        n_clients=a.n_clients,
    )


if __name__ == "__main__":
    main()
