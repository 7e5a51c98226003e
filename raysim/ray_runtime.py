"""Starting and stopping the Ray runtime that raysim runs on.

A local Ray costs seconds to start and stop on a small machine, a large share of
a short simulation, so raysim starts it lean (no dashboard, no API server) and
stops it fast.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import ray

log = logging.getLogger(__name__)


# The raylet connects to its own object store, and workers to the raylet, retrying
# every `raylet_client_connect_timeout_milliseconds` (1 s by default). The store is
# often not listening at the first try, which cost a whole second of every start.
# Same 10 s budget, checked every 50 ms.
_PROMPT_CONNECT = {
    "raylet_client_connect_timeout_milliseconds": 50,
    "raylet_client_num_connect_attempts": 200,
}
# Task events feed only the dashboard's task views and the state API, both absent
# from a lean start; the driver flushing them made every shutdown ~0.25 s longer.
_NO_TASK_EVENTS = {"task_events_report_interval_ms": 0}
# Ray 2.59+ turns token authentication on for a new local cluster when RAY_AUTH_MODE
# is unset, and warns so on every start. raysim keeps the default (authentication on)
# and drops only that notice; a RAY_AUTH_MODE the user sets is Ray's business.
_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"
_AUTH_NOTICE = "Token authentication is enabled for this Ray cluster"


def init_ray(
    address: str | None = None,
    num_cpus: int | None = None,
    *,
    state_api: bool = False,
    **kwargs: Any,
) -> bool:
    """Connect to `address` (e.g. 'auto') or start a local Ray without the dashboard.

    A local Ray started here has no dashboard, no API server (job submission and
    the `ray.util.state` listing APIs) unless `state_api`, and no task events: the
    simulations need none of them, and they cost start-up and shutdown time. Ray
    Train does query the state API (its controller's placement-group cleaner): a
    fit on a Ray without it waits ~12 s at its end for queries that time out, so
    callers that run Ray Train pass ``state_api=True``. Pass ``include_dashboard=True``
    to have all three. Ray's notice that a new local cluster has token authentication
    on (Ray's default) is not printed; authentication stays on. Returns True if this
    call started Ray (the caller then owns its shutdown). Extra keyword arguments go to
    :func:`ray.init`.
    """
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"include_dashboard": False, "configure_logging": False, **kwargs}
    if address:
        options["address"] = address
    starts_local = address == "local" or (not address and not os.environ.get("RAY_ADDRESS"))
    with contextlib.ExitStack() as lean:
        if starts_local:
            if num_cpus:
                options["num_cpus"] = num_cpus
            system = dict(_PROMPT_CONNECT)
            lean.enter_context(_prompt_raylet_lookup())
            lean.enter_context(_without_auth_notice())
            if not options["include_dashboard"]:
                system.update(_NO_TASK_EVENTS)
                if not state_api:
                    lean.enter_context(_without_api_server())
            options["_system_config"] = {**system, **options.get("_system_config", {})}
        ray.init(**options)
    return True


class _DropNotice(logging.Filter):
    """Drops the log records whose message starts with `prefix`."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefix)


@contextlib.contextmanager
def _without_auth_notice() -> Iterator[None]:
    """Ray's notice that a new local cluster has token authentication on (the default
    since Ray 2.59) is dropped inside the block; authentication itself is unchanged."""
    logger, notice = logging.getLogger(_AUTH_LOGGER), _DropNotice(_AUTH_NOTICE)
    logger.addFilter(notice)
    try:
        yield
    finally:
        logger.removeFilter(notice)


@contextlib.contextmanager
def _swapped(owner: Any, name: str, replacement: Any) -> Iterator[None]:
    """`owner.name` is `replacement` inside the block, restored after it."""
    original = getattr(owner, name)
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)


def _without_api_server() -> contextlib.AbstractContextManager:
    """Skip Ray's API server (the dashboard process, here with only its usage-stats
    module) while a local Ray starts: `ray.init` polls every 0.1 s until it is up,
    0.3-0.5 s on 2 cores, and its Python start competes with the workers' for CPU."""
    try:
        from ray._private.node import Node
    except ImportError:  # private API moved: keep Ray's behaviour
        return contextlib.nullcontext()

    def no_api_server(self: Node, **_: Any) -> None:
        log.debug("local Ray started without its API server")

    return _swapped(Node, "start_api_server", no_api_server)


def _prompt_raylet_lookup(
    poll_s: float = 0.01, timeout_s: float = 30.0
) -> contextlib.AbstractContextManager:
    """Let a starting local Ray notice its raylet within `poll_s`, not a whole second.

    Ray 2.60's start-up looks the new raylet up in GCS through a C++ call that
    sleeps a fixed 1 s between tries. The raylet registers 0.3-1.3 s after it is
    launched, so `ray.init` waited for the next whole second (2-3 s in all on 2
    cores). Polling GCS cheaply until the raylet is there makes the C++ call
    succeed on its first try. Anything unexpected falls back to Ray's own wait.
    """
    try:
        from ray._private import services
        from ray._raylet import GcsClient
    except ImportError:  # private API moved: keep Ray's behaviour
        return contextlib.nullcontext()
    ray_get_node = services.get_node

    def get_node_once_registered(gcs_address: str, node_id: str) -> Any:
        try:
            client = GcsClient(address=gcs_address)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if any(known.hex() == node_id for known in client.get_all_node_info(timeout=5)):
                    break
                time.sleep(poll_s)
        except Exception as err:  # private API: never let the shortcut break a start
            log.debug("prompt raylet lookup unavailable (%s); Ray's own wait", err)
        return ray_get_node(gcs_address, node_id)

    return _swapped(services, "get_node", get_node_once_registered)


def shutdown_ray() -> None:
    """:func:`ray.shutdown`, about 1 s faster for a local Ray this process started.

    Ray 2.60 stops the GCS before the autoscaler monitor; the monitor's SIGTERM
    handler then reports its exit to the dead GCS and is killed only after a 1 s
    grace period. A single local node has nothing to autoscale, so the monitor is
    stopped first and without grace. Anything unexpected falls back to the plain
    shutdown.
    """
    try:
        from ray._private import ray_constants, worker

        node = worker._global_node
        if node is not None and node.head:
            node._kill_process_type(
                ray_constants.PROCESS_TYPE_MONITOR, allow_graceful=False, check_alive=False
            )
    except Exception as err:  # private API: never let the shortcut break a shutdown
        log.debug("fast shutdown unavailable (%s); plain ray.shutdown", err)
    ray.shutdown()
