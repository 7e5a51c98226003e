"""Differential privacy for federated runs: the ``privacy:`` config section and its
accounting (DP-FedAvg, McMahan et al., ICLR 2018; adaptive clipping, Andrew et al.,
NeurIPS 2021).

Central DP (``mechanism: central``): every client update is clipped to L2 norm C, the
clients' updates are summed with uniform weights, and the aggregator adds Gaussian
noise N(0, σ²C²) to the sum before dividing by the number of clients asked to report.
One round is a Poisson-subsampled Gaussian mechanism on the unit of privacy (a client,
or a speaker whose several clients all count as one), composed over the rounds.

Local DP (``mechanism: local``): each client adds N(0, σ²C²) to its own clipped update.
The server sees every released update and knows who took part, so there is no
amplification by sampling, and the sensitivity of a release is 2C (any two clipped
updates differ by at most 2C): the same σ buys a much larger ε than central DP, and the
noise on the mean is √n times larger (n clients per round).

Accounting is Google's ``dp-accounting`` (RDP or PLD); this module only builds its
events. Give two of ``epsilon``, ``delta`` and ``noise_multiplier``: the third is
solved for the planned rounds and sampling rate when the run starts (the population and
its speakers are known then), before any actor starts.

Sampling is fixed-size without replacement (``sampling.fraction`` or
``clients_per_round``); it is accounted as Poisson sampling at the same rate q = k/N,
the approximation TensorFlow Privacy and TFF make. Client availability < 1 only removes
participants and is not credited.

What the guarantee covers: the model updates the server aggregates. The per-round
diagnostics a simulation records (training loss, task counters, the ``reporting``,
``rejected`` and ``idle`` counts) are measured on the clients' data and are not noised:
a deployment would not collect them, or would noise them too.

Torch-free; ``dp_accounting`` is imported only when a plan is made.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

#: rounds at which ε is accounted at most; between them a round reports the ε of the
#: next accounted round (an upper bound: ε never decreases)
MAX_ACCOUNTED_ROUNDS = 64
#: PLD discretisation: 1e-3 keeps a composition of hundreds of rounds under 0.1 s and
#: moves ε by < 1e-4 relative to the library's default 1e-4
PLD_DISCRETIZATION = 1e-3


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def invalid(title: str, problems: list[tuple[str, str, Any]]) -> ValidationError:
    """A validation error of `problems` (dotted key below the model, message, value),
    located at the keys, for a model validator to raise."""
    return ValidationError.from_exception_data(
        title,
        [
            {
                "type": PydanticCustomError("privacy", "{msg}", {"msg": msg}),
                "loc": tuple(key.split(".")),
                "input": value,
            }
            for key, msg, value in problems
        ],
    )


class AdaptiveClipConfig(_Section):
    """Adaptive quantile clipping (Andrew et al., NeurIPS 2021, Algorithm 1):
    C ← C · exp(−η_C (b̃ − γ)), b̃ the noised share of clients whose update norm was at
    most C. The count's noise (σ_b) costs privacy: the update noise becomes
    z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2), so that the two releases together are accounted as z."""

    target_quantile: float = Field(0.5, gt=0, lt=1, description="γ: share of updates unclipped")
    learning_rate: float = Field(0.2, gt=0, description="η_C, geometric step of C per round")
    count_noise: float | None = Field(
        None,
        gt=0,
        description="σ_b, std of the noise on the unclipped count (default: the expected "
        "cohort / 20, the paper's choice)",
    )


class PrivacyConfig(_Section):
    """Differential privacy (see :mod:`raysim.privacy`). Give two of epsilon, delta and
    noise_multiplier; the third is solved when the run starts."""

    mechanism: Literal["central", "local"] = Field(
        "central", description="central: the aggregator noises the sum; local: each client"
    )
    epsilon: float | None = Field(
        None, gt=0, description="target ε over the whole run (.inf: clipping, no noise)"
    )
    delta: float | None = Field(None, gt=0, lt=1, description="δ")
    noise_multiplier: float | None = Field(None, ge=0, description="σ: noise std / C")
    clip: float = Field(1.0, gt=0, description="C: L2 bound of a client update (initial C)")
    adaptive_clip: AdaptiveClipConfig | None = Field(None, description="quantile clipping")
    accountant: Literal["rdp", "pld"] = "rdp"
    unit: Literal["client", "speaker"] = Field(
        "client",
        description="whose participation ε protects: a client, or a speaker (all the "
        "clients holding a speaker's data counted as one unit)",
    )
    sample_by: Literal["client", "speaker"] = Field(
        "client",
        description="speaker: sampling.fraction / clients_per_round choose speakers, and "
        "all their clients train",
    )

    @model_validator(mode="after")
    def _two_of_three(self) -> PrivacyConfig:
        keys = ("epsilon", "delta", "noise_multiplier")
        given = [k for k in keys if getattr(self, k) is not None]
        problems = []
        if len(given) != 2:
            problems.append((
                given[0] if len(given) == 1 else "epsilon",
                "give exactly two of privacy.epsilon, privacy.delta and privacy.noise_multiplier "
                f"(got {', '.join(given) or 'none'}): the third is solved for the planned rounds",
                getattr(self, given[0]) if len(given) == 1 else None,
            ))  # fmt: skip
        elif self.epsilon is not None and math.isinf(self.epsilon) and self.delta is None:
            problems.append(("epsilon", "inf (no noise) needs privacy.delta", self.epsilon))
        if self.adaptive_clip is not None and self.mechanism == "local":
            problems.append((
                "adaptive_clip",
                "needs privacy.mechanism=central (got local): the clipped-count estimate is "
                "noised by a trusted aggregator",
                self.mechanism,
            ))  # fmt: skip
        if problems:
            raise invalid("privacy", problems)
        return self


def config_problems(cfg: Any) -> list[tuple[str, str, Any]]:
    """Why `cfg` (a SimulationConfig with a privacy section) cannot run privately, as
    (dotted key, message, value); empty when it can."""
    problems = []
    strategy = cfg.strategy.name
    if strategy == "scaffold":
        why = (
            "cannot run with privacy: SCAFFOLD's control variates (Δc, built from a "
            "client's gradients) are sent unclipped and without noise and leak its data; "
            "use fedavg or fedprox (with any server_optimizer)"
        )
    elif strategy == "fednova":
        why = (
            "cannot run with privacy: its per-step updates and step counts τ_i are "
            "released without clipping or noise; use fedavg or fedprox"
        )
    else:
        why = None if strategy in ("fedavg", "fedprox") else "only fedavg and fedprox are DP"
    if why:
        problems.append(("strategy.name", why, strategy))
    if cfg.strategy.weighting == "samples":
        problems.append((
            "strategy.weighting",
            "samples cannot run with privacy: a client's weight would grow with its data, "
            "so its influence on the sum (the sensitivity) is no longer bounded by the clip "
            "norm privacy.clip; DP-FedAvg weighs clients uniformly (leave it unset or uniform)",
            "samples",
        ))  # fmt: skip
    return problems


@dataclass
class PrivacyPlan:
    """The resolved privacy of a run: what the engine applies and what it reports.

    ``noise_multiplier`` is the accounted z; ``update_noise`` the multiplier of the noise
    actually added to the update sum (z, or z_Δ with adaptive clipping); the noise std
    is ``update_noise × C``. ``sampling_rate`` is the unit's per-round rate q,
    ``group_size`` the most clients one unit holds (its sensitivity is group_size × C).
    ``epsilons[t]`` is ε spent after round t + 1.
    """

    mechanism: str
    unit: str
    accountant: str
    epsilon: float
    delta: float
    noise_multiplier: float
    update_noise: float
    count_noise: float | None
    clip: float
    sampling_rate: float
    group_size: int
    rounds: int
    epsilons: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The plan without the per-round curve (for logs and federation.json)."""
        out = asdict(self)
        out.pop("epsilons")
        return out

    def describe(self) -> str:
        eps = "inf" if math.isinf(self.epsilon) else f"{self.epsilon:.3g}"
        return (
            f"{self.mechanism} DP, ({eps}, {self.delta:.3g})-DP per {self.unit} over "
            f"{self.rounds} rounds [{self.accountant}]: z={self.noise_multiplier:.4g}, "
            f"C={self.clip:g}, q={self.sampling_rate:.4g}, {self.group_size} client(s) per unit"
        )


def epsilon_text(epsilon: float, unit: str | None = None) -> str:
    """ε for tables and the live view: '2.99 per client', '∞ per speaker' (NaN: '–')."""
    if math.isnan(epsilon):
        return "–"
    text = "∞" if math.isinf(epsilon) else f"{epsilon:.3g}"
    return f"{text} per {unit}" if unit else text


# -- units and sampling rates ---------------------------------------------------------
def speaker_units(client_speakers: list[list[str]]) -> list[list[int]]:
    """Clients grouped into units: clients sharing a speaker are one unit (connected
    components, so a speaker spread over clients that also hold others joins them)."""
    parent = list(range(len(client_speakers)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for c, speakers in enumerate(client_speakers):
        for s in speakers:
            if s in owner:
                parent[root(c)] = root(owner[s])
            else:
                owner[s] = c
    groups: dict[int, list[int]] = {}
    for c in range(len(client_speakers)):
        groups.setdefault(root(c), []).append(c)
    return sorted(groups.values(), key=lambda g: g[0])


def cohort_size(sampling: Any, population: int) -> int:
    """How many of `population` (clients or units) a round samples (`UniformSampler`'s k)."""
    if sampling.clients_per_round is not None:
        return int(sampling.clients_per_round)
    return max(1, int(round(sampling.fraction * population)))


def _any_of_group_sampled(k: int, n: int, m: int) -> float:
    """P(at least one of m given items is among k drawn without replacement from n)."""
    if k + m > n:
        return 1.0
    none = 1.0
    for i in range(m):
        none *= (n - k - i) / (n - i)
    return 1.0 - none


# -- accounting -----------------------------------------------------------------------
def _quiet_absl() -> None:
    # the RDP accountant logs a warning per fractional order it cannot evaluate
    logging.getLogger("absl").setLevel(logging.ERROR)


def _event(z_eff: float, q: float, rounds: int, local: bool):
    import dp_accounting as dpa

    if z_eff == 0:
        return dpa.NonPrivateDpEvent()
    one = dpa.GaussianDpEvent(z_eff)
    if not local and q < 1:
        one = dpa.PoissonSampledDpEvent(q, one)
    return dpa.SelfComposedDpEvent(one, rounds)


def _accountant(kind: str):
    _quiet_absl()
    from dp_accounting import pld, rdp

    if kind == "pld":
        return pld.PLDAccountant(value_discretization_interval=PLD_DISCRETIZATION)
    return rdp.RdpAccountant()


def epsilon_for(kind: str, z_eff: float, q: float, rounds: int, delta: float, local=False):
    """ε of `rounds` rounds of the (subsampled) Gaussian mechanism with effective noise
    multiplier `z_eff` (noise std / sensitivity) at rate `q`, at `delta`."""
    if z_eff == 0:
        return math.inf
    acc = _accountant(kind)
    acc.compose(_event(z_eff, q, rounds, local))
    return float(acc.get_epsilon(delta))


def delta_for(kind: str, z_eff: float, q: float, rounds: int, epsilon: float, local=False):
    """δ of the same mechanism at `epsilon`."""
    if z_eff == 0:
        return 1.0
    acc = _accountant(kind)
    acc.compose(_event(z_eff, q, rounds, local))
    return float(acc.get_delta(epsilon))


def noise_for(kind: str, epsilon: float, delta: float, q: float, rounds: int, local=False):
    """The smallest effective noise multiplier reaching (ε, δ) (dp-accounting's
    calibration); 0 for ε = inf."""
    if math.isinf(epsilon):
        return 0.0
    import dp_accounting as dpa

    _quiet_absl()
    bracket = dpa.LowerEndpointAndGuess(1e-3, 1.0)
    if kind == "pld":
        # PLD is slow at tiny noise: bracket it by RDP's answer (PLD's ε is the tighter,
        # so it needs no more noise than RDP's), halving the lower end until it fits
        high = noise_for("rdp", epsilon, delta, q, rounds, local)
        low = high / 2
        while epsilon_for("pld", low, q, rounds, delta, local) <= epsilon:
            high, low = low, low / 2
        bracket = dpa.ExplicitBracketInterval(low, high)
    return float(
        dpa.calibrate_dp_mechanism(
            lambda: _accountant(kind),
            lambda z: _event(z, q, rounds, local),
            epsilon,
            delta,
            bracket,
            tol=1e-4,
        )
    )


def epsilon_curve(kind: str, z_eff: float, q: float, rounds: int, delta: float, local=False):
    """ε spent after each round 1..rounds. At most MAX_ACCOUNTED_ROUNDS rounds are
    accounted (evenly spread, always the last); the rounds between them take the next
    accounted round's ε, an upper bound."""
    if z_eff == 0:
        return [math.inf] * rounds
    marks = np.unique(np.linspace(1, rounds, min(rounds, MAX_ACCOUNTED_ROUNDS)).round())
    values = {int(t): epsilon_for(kind, z_eff, q, int(t), delta, local) for t in marks}
    out, nxt = [], iter(sorted(values))
    mark = next(nxt)
    for t in range(1, rounds + 1):
        while t > mark:
            mark = next(nxt)
        out.append(values[mark])
    return out


def plan_privacy(
    cfg: Any, population: int, client_speakers: list[list[str]] | None, curve: bool = True
) -> tuple[PrivacyPlan, list[list[int]] | None]:
    """Resolve `cfg.privacy` for this population: (the plan, the speaker units when the
    run samples by speaker, else None). ValueError naming the keys when it cannot.
    Without `curve` the per-round ε (``epsilons``, the slower part) is left empty."""
    p: PrivacyConfig = cfg.privacy
    units = None
    if p.unit == "speaker" or p.sample_by == "speaker":
        if client_speakers is None:
            key = "privacy.unit" if p.unit == "speaker" else "privacy.sample_by"
            raise ValueError(f"{key}=speaker: the data names no speakers for its clients")
        units = speaker_units(client_speakers)
    local = p.mechanism == "local"
    if p.sample_by == "speaker":
        k = cohort_size(cfg.sampling, len(units))
        if k > len(units):
            raise ValueError(
                f"sampling.clients_per_round={k} speakers with privacy.sample_by=speaker, "
                f"but the data has {len(units)} speakers"
            )
        q = k / len(units)  # a unit (or any client) is in the round with this rate
        expected_clients = k * population / len(units)
    else:
        k = cohort_size(cfg.sampling, population)
        q = k / population
        expected_clients = k
    group = max(len(u) for u in units) if p.unit == "speaker" else 1
    if p.unit == "speaker" and p.sample_by == "client":
        q = _any_of_group_sampled(k, population, group)
    # a unit moves the sum by at most group × C (group × 2C for a local release)
    scale = group * (2 if local else 1)
    rounds = cfg.rounds
    eps, delta, z = p.epsilon, p.delta, p.noise_multiplier
    if z is None:
        z = noise_for(p.accountant, eps, delta, q, rounds, local) * scale
    elif eps is None:
        eps = epsilon_for(p.accountant, z / scale, q, rounds, delta, local)
    else:
        delta = delta_for(p.accountant, z / scale, q, rounds, eps, local)
    count_noise, update_noise = None, z
    if p.adaptive_clip is not None:
        a = p.adaptive_clip
        count_noise = a.count_noise if a.count_noise is not None else expected_clients / 20
        if z > 0:
            if 2 * count_noise <= z:
                raise ValueError(
                    f"privacy.adaptive_clip.count_noise={count_noise:g} must exceed "
                    f"noise_multiplier/2 = {z / 2:g} (Andrew et al.: z_Δ = "
                    "(z⁻² − (2σ_b)⁻²)^(−1/2)); raise it or the noise"
                )
            update_noise = (z**-2 - (2 * count_noise) ** -2) ** -0.5
        else:
            count_noise = 0.0
    plan = PrivacyPlan(
        mechanism=p.mechanism,
        unit=p.unit,
        accountant=p.accountant,
        epsilon=float(eps),
        delta=float(delta),
        noise_multiplier=float(z),
        update_noise=float(update_noise),
        count_noise=count_noise,
        clip=p.clip,
        sampling_rate=float(q),
        group_size=group,
        rounds=rounds,
    )
    if curve:
        plan.epsilons = epsilon_curve(p.accountant, z / scale, q, rounds, plan.delta, local)
    return plan, units if p.sample_by == "speaker" else None
