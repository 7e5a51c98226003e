"""System heterogeneity: client system profiles, a virtual clock, and the aggregation
modes sync, deadline (over-commit, drop stragglers) and FedBuff (asynchronous, buffered,
staleness-weighted).

- `config.py`: the ``system:`` config section (torch-free, validated on the driver);
- `traces.py`: FedScale's device-capacity and behaviour traces;
- `profiles.py`: each client's speed, bandwidths and availability;
- `fedbuff.py`: FedBuff's event order in virtual time;
- `compare.py`: the modes side by side in virtual time (``experiments/system_compare.py``).

The engine side is `raysim.engine.clock`: the aggregator's virtual clock, which runs each
mode's rounds on the worker pool. Nothing here imports the engine.
"""
