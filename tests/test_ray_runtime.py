"""The lean local Ray start: prompt raylet lookup and connect retries."""

from __future__ import annotations

import logging

import pytest
from ray._private import services

from raysim import ray_runtime


def test_raylet_lookup_is_restored_after_start_even_on_error():
    ray_get_node = services.get_node
    with pytest.raises(RuntimeError, match="boom"):
        with ray_runtime._prompt_raylet_lookup():
            assert services.get_node is not ray_get_node
            raise RuntimeError("boom")
    assert services.get_node is ray_get_node


def test_lookup_waits_for_the_raylet_then_asks_ray(ray_session):
    """Against the session's live GCS: the registered node is found at once and
    the answer is Ray's own."""
    node = ray_session._private.worker._global_node
    expected = services.get_node(node.gcs_address, node.node_id)
    with ray_runtime._prompt_raylet_lookup():
        got = services.get_node(node.gcs_address, node.node_id)
    assert got["node_id"] == expected["node_id"] == node.node_id


def test_started_ray_retries_connections_every_50_ms_and_keeps_no_task_events(ray_session):
    config = ray_session._private.worker._global_node._config
    for key, value in {**ray_runtime._PROMPT_CONNECT, **ray_runtime._NO_TASK_EVENTS}.items():
        assert config[key] == value


def test_state_api_start_keeps_the_api_server_and_the_lean_hook_is_restored(ray_session):
    """The session starts with `state_api=True` (its Ray Train fits query the state
    API): the API server runs; a lean start swaps Ray's start of it for a no-op."""
    from ray._private import ray_constants
    from ray._private.node import Node

    node = ray_session._private.worker._global_node
    assert ray_constants.PROCESS_TYPE_DASHBOARD in node.all_processes
    ray_start_api_server = Node.start_api_server
    with ray_runtime._without_api_server():
        assert Node.start_api_server is not ray_start_api_server
    assert Node.start_api_server is ray_start_api_server


def test_local_start_drops_only_rays_token_auth_notice(caplog):
    logger = logging.getLogger(ray_runtime._AUTH_LOGGER)
    notice = "Token authentication is enabled for this Ray cluster. Set RAY_AUTH_MODE=..."
    with caplog.at_level(logging.WARNING, logger=ray_runtime._AUTH_LOGGER):
        with ray_runtime._without_auth_notice():
            logger.warning(notice)
            logger.warning("Token authentication is enabled but no token was found")
        logger.warning(notice)  # outside a local start: Ray's as it is
    assert [r.getMessage() for r in caplog.records] == [
        "Token authentication is enabled but no token was found",
        notice,
    ]
    assert not logger.filters
