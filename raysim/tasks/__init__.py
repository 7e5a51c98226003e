"""Tasks: a task defines the model, the local loss and the evaluation (`tasks/base.py`).

Each is registered in `raysim.registry.TASKS` with a light params model
(``*_params.py``, pydantic only, validated on the driver) and its class.
"""
