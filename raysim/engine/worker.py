"""A worker trains whichever clients a round assigns it and returns ONE partial
aggregate for all of them (exact sums), never one message per client. It also
evaluates the global model for the server, so the aggregator never needs torch."""

from __future__ import annotations

import logging

import numpy as np
import torch

from raysim.data.clients import ClientData
from raysim.engine.dp import CLIP_KEY, privatize_client
from raysim.engine.exact_sum import ExactSum
from raysim.engine.flat import get_flat, num_params, set_flat, state_size
from raysim.engine.local import ClientResult, client_rng, train_client
from raysim.engine.partial import Partial
from raysim.engine.worker_spec import WorkerSpec
from raysim.registry import STRATEGIES, TASKS
from raysim.tasks.base import ClientContext

log = logging.getLogger(__name__)


def rejection_reason(result: ClientResult) -> str | None:
    """Why a client's update must be rejected (a non-finite value), or None."""
    if not np.isfinite(result.delta).all():
        return "non-finite model update"
    for name, vec in result.extra.items():
        if not np.isfinite(vec).all():
            return f"non-finite {name}"
    if not np.isfinite(result.loss_sum):
        return "non-finite training loss"
    return None


class ClientWorker:
    """Holds a model, the task and the population's data source; trains clients."""

    def __init__(self, spec: WorkerSpec, clients: ClientData):
        """`clients` is `spec.clients`, read from the object store by the actor."""
        torch.set_num_threads(spec.torch_threads)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.task = TASKS.build(spec.task, spec.info)
        self.model = self.task.build_model().to(self.device)
        self.local = spec.local
        self.strategy = STRATEGIES.build(spec.strategy, num_params(self.model), len(clients))
        self.clients = clients
        self.seed = spec.seed
        self.privacy = spec.privacy
        self._warm_up()

    def initial_state(self) -> tuple[np.ndarray, int]:
        """The run's initial global state, seeded by the run's seed (identical on
        every worker), and the length of its gradient-bearing prefix."""
        torch.random.default_generator.manual_seed(self.seed)  # CPU init, as everywhere
        model = self.task.build_model()
        return get_flat(model), num_params(model)

    def preload_evaluation(self) -> None:
        """Import what evaluation needs (e.g. torchmetrics, ~1 s) now, as part of
        start-up, rather than inside a round: round times then mean training."""
        self.task.preload_evaluation()

    def evaluate(self, global_vec: np.ndarray, data: dict[str, np.ndarray]) -> dict[str, float]:
        """Metrics of the global state on held-out data (the server's evaluation)."""
        set_flat(self.model, global_vec)
        return self.task.evaluate(self.model, data)

    def evaluate_clients(self, global_vec: np.ndarray, client_ids: list[int]) -> dict[str, float]:
        """Metrics of the global state on the listed clients' training data, pooled."""
        parts = [self.clients.get(c) for c in client_ids]
        data = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        return self.evaluate(global_vec, data)

    def _warm_up(self) -> None:
        """One throwaway step on client 0, so first-call costs (lazy imports, autograd
        and optimizer set-up) are paid at start-up rather than inside round 1."""
        if len(self.clients) == 0:
            return
        ctx = ClientContext(0, 0, self.seed, client_rng(self.seed, 0, 0), self.device)
        one_step = self.local.model_copy(update={"steps": 1, "epochs": 1})
        start = np.zeros(state_size(self.model), np.float32)
        payload = self.strategy.broadcast()
        train_client(
            self.task, self.model, self.strategy, one_step, 1e-3, start, payload,
            self.clients.get(0), None, ctx,
        )  # fmt: skip

    def train(
        self,
        round_idx: int,
        lr: float,
        global_vec: np.ndarray,
        payload: dict[str, np.ndarray],
        client_ids: list[int],
        states: dict[int, dict[str, np.ndarray]],
        scales: dict[int, float] | None = None,
    ) -> Partial:
        """Train each client from the global weights; sum their contributions exactly.
        `scales[cid]` multiplies a client's update (FedBuff's staleness weight)."""
        partial = Partial(sums={})
        for cid in client_ids:
            ctx = ClientContext(
                cid, round_idx, self.seed, client_rng(self.seed, round_idx, cid), self.device
            )
            result = train_client(
                self.task, self.model, self.strategy, self.local, lr, global_vec, payload,
                self.clients.get(cid), states.get(cid), ctx,
            )  # fmt: skip
            counters = {f"metric/{k}": np.array([v]) for k, v in result.metrics.items()}
            if result.steps == 0:
                # nothing to learn from (e.g. no labelled rows): a zero update would only
                # dilute the others', so the client is counted idle and not aggregated
                partial.idle += 1
                self._add(partial, {k: ExactSum.of(v) for k, v in counters.items()})
                if result.state is not None:
                    partial.states[cid] = result.state
                continue
            reason = rejection_reason(result)
            contrib: dict[str, np.ndarray] = {}
            if reason is None:
                w = self.strategy.client_weight(result.n_samples)
                weighted = self.strategy.weighted_extras
                delta, extra = result.delta.astype(np.float64), result.extra
                if self.privacy is not None:  # clipped (and noised, local DP); w is 1
                    clip = float(payload[CLIP_KEY][0])
                    delta, dp_extra = privatize_client(
                        delta, self.privacy, clip, self.seed, round_idx, cid
                    )
                    extra = {**extra, **dp_extra}
                if scales is not None:  # deterministic per client: sums stay exact
                    delta = delta * scales[cid]
                contrib = {
                    "delta": w * delta,  # exact: integer × float32
                    # the scalars share one sum, laid out as STATS
                    "stats": np.array([w, 1.0, result.loss_sum, float(result.n_samples)]),
                    **{k: w * v if k in weighted else v for k, v in extra.items()},
                    **counters,
                }
                try:
                    images = {k: ExactSum.of(v) for k, v in contrib.items()}
                except ValueError:
                    reason = "update magnitude beyond the exact-summation range"
            if reason is not None:
                log.warning("round %d: client %d rejected: %s", round_idx, cid, reason)
                partial.rejected.append((cid, reason))
                continue
            self._add(partial, images)
            if result.state is not None:
                partial.states[cid] = result.state
        return partial

    def train_buckets(
        self,
        round_idx: int,
        lr: float,
        global_vec: np.ndarray,
        payload: dict[str, np.ndarray],
        client_ids: list[int],
        states: dict[int, dict[str, np.ndarray]],
        buckets: dict[int, tuple[int, float]],
    ) -> dict[int, Partial]:
        """Train the clients as :meth:`train` does, summing each into the partial of the
        server update it lands in, ``buckets[cid] = (update, staleness weight)``
        (`raysim.system.fedbuff`): still one message for all of them."""
        out = {}
        for update in sorted({u for u, _ in buckets.values()}):
            ids = [c for c in client_ids if buckets[c][0] == update]
            scales = {c: buckets[c][1] for c in ids}
            out[update] = self.train(round_idx, lr, global_vec, payload, ids, states, scales)
        return out

    @staticmethod
    def _add(partial: Partial, images: dict[str, ExactSum]) -> None:
        for k, img in images.items():
            if k in partial.sums:
                partial.sums[k].add(img)
            else:
                partial.sums[k] = img
