"""Federated strategies, one per module, each registered in `raysim.registry.STRATEGIES`.

A module holds the strategy's `Params` (a :class:`~raysim.engine.strategies.base.
StrategyParams`) and its numpy server rule; the torch side of its client logic lives
in :mod:`raysim.engine.strategies.hooks`, imported on the workers only.
"""
