"""Semi-FedSER: supervision masks, pseudo-label rules, local standardisation, the
partition (unit tests, no Ray), and one tiny simulation on the shared Ray."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

import raysim
from raysim.config import LocalConfig
from raysim.data.clients import ArrayClients
from raysim.data.partition import semi_fedser
from raysim.data.sources import SourceData
from raysim.engine.flat import get_flat
from raysim.engine.local import client_rng, train_client
from raysim.registry import STRATEGIES, TASKS
from raysim.run_checks import RunWarning
from raysim.ser.masks import client_is_labelled, label_mask
from raysim.ser.pseudo_labels import select
from raysim.tasks.base import ClientContext
from raysim.tasks.semi_ser import LABELS, LAST_ROUND, ROWS

K, DIM = 4, 6
LOCAL = LocalConfig.model_validate(
    {"optimizer": {"name": "adam", "lr": 1e-3}, "batch_size": 8, "epochs": 2}
)


def make_task(**params):
    return TASKS.build(
        TASKS.parse({"name": "semi_ser", "hidden": [16], **params}),
        {"input_dim": DIM, "num_classes": K},
    )


def client_data(n: int = 60, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    centres = rng.normal(0, 3, (K, DIM))
    x = centres[y] * rng.uniform(0.5, 4, DIM) + rng.normal(0, 1, (n, DIM)) + 10
    return {"x": x.astype(np.float32), "y": y.astype(np.int64), "group": np.zeros(n, np.int64)}


def confident_model(task, seed: int = 0):
    """A model whose softmax saturates, so views agree (std ≈ 0) and pass every test."""
    torch.manual_seed(seed)
    model = task.build_model()
    with torch.no_grad():
        model[-1].weight.mul_(1e3)
    return model


def ctx(cid: int = 3, rnd: int = 5, seed: int = 7) -> ClientContext:
    return ClientContext(cid, rnd, seed, client_rng(seed, rnd, cid))


def trained_before(rnd: int = 4) -> dict[str, np.ndarray]:
    empty = np.zeros(0, np.int64)
    return {ROWS: empty, LABELS: empty, LAST_ROUND: np.array([rnd])}


def train(task, model, data, state, c):
    x0 = get_flat(model)
    strategy = STRATEGIES.make(dict(name="scaffold"), len(x0), 10)
    payload = {"c": np.zeros(len(x0), np.float32)}
    return train_client(task, model, strategy, LOCAL, 1e-3, x0, payload, data, state, c)


# -- supervision masks ------------------------------------------------------------------
def test_label_mask_is_seeded_stable_across_rounds_and_near_the_rate():
    task = make_task(label_rate=0.2)
    masks = [task.label_mask(200, ctx(cid=3, rnd=r)) for r in (0, 1, 9)]
    assert all(np.array_equal(masks[0], m) for m in masks)
    assert not np.array_equal(masks[0], task.label_mask(200, ctx(cid=4)))
    rates = [label_mask(10, 0.2, 0, c).mean() for c in range(2000)]
    assert abs(np.mean(rates) - 0.2) < 0.01  # stochastic rounding: exact in expectation
    labelled = [client_is_labelled(0.3, 1, c) for c in range(2000)]
    assert abs(np.mean(labelled) - 0.3) < 0.03
    assert not make_task(labelled_client_fraction=0.0).label_mask(50, ctx()).any()


def test_floor_rounding_labels_floor_of_rate_times_n_as_the_authors_code():
    floor = make_task(label_rate=0.2, label_rounding="floor")
    for n in (4, 9, 10, 59, 61):
        assert floor.label_mask(n, ctx(cid=n)).sum() == int(0.2 * n)
    rates = [label_mask(9, 0.2, 0, c, "floor").mean() for c in range(200)]
    assert np.allclose(rates, 1 / 9)  # floor(1.8) = 1 row: biased below the rate


def _all_tensors(local) -> dict[str, torch.Tensor]:
    """A client's training tensors, the pseudo-labelled rows of a paired set included."""
    aux = getattr(local, "aux", None)
    return {**local.tensors, **({f"aux_{k}": t for k, t in aux.tensors.items()} if aux else {})}


@pytest.mark.parametrize(
    "mode,batches",
    [("semi", "pooled"), ("semi", "paired"), ("labelled_only", "pooled"), ("fixmatch", "pooled")],
)
def test_masked_labels_never_reach_training(mode, batches):
    task = make_task(
        mode=mode,
        label_rate=0.3,
        std_bound=1.0,
        threshold_start=0.0,
        fixmatch_threshold=0.0,
        pseudo_label_batches=batches,
    )
    data = client_data()
    c = ctx()
    mask = task.label_mask(len(data["y"]), c)
    assert 0 < mask.sum() < len(mask)
    scrambled = {**data, "y": np.where(mask, data["y"], (data["y"] + 1) % K)}
    local = task.local_data(confident_model(task), data, trained_before(), ctx())
    n_lab = int(mask.sum())
    assert torch.equal(local.tensors["y"][:n_lab], torch.from_numpy(data["y"][mask]))
    # the masked labels are invisible: changing them changes neither tensors nor training
    other = task.local_data(confident_model(task), scrambled, trained_before(), ctx())
    tensors, other_tensors = _all_tensors(local), _all_tensors(other)
    assert tensors.keys() == other_tensors.keys()
    for key, tensor in tensors.items():
        assert torch.equal(tensor, other_tensors[key]), key
    a = train(task, confident_model(task), data, trained_before(), ctx())
    b = train(task, confident_model(task), scrambled, trained_before(), ctx())
    assert np.array_equal(a.delta, b.delta)
    if mode != "labelled_only":
        assert len(tensors["y"]) + len(tensors.get("aux_y", [])) > n_lab  # pseudo-labels added


def test_paired_batches_keep_labelled_steps_and_add_pseudo_labelled_loss_terms():
    """The authors' structure: labelled rows alone set the steps; the pseudo-labelled
    rows ride along with the first batches, and weigh by their share of a batch."""
    data, c = client_data(n=200), ctx()
    kw = dict(label_rate=0.3, std_bound=1.0, threshold_start=0.0, per_class_cap=10)
    paired = make_task(pseudo_label_batches="paired", **kw)
    local = paired.local_data(confident_model(paired), data, trained_before(), c)
    n_lab, n_pl = len(local), len(local.aux)
    assert n_lab == paired.label_mask(200, c).sum() and 0 < n_pl < n_lab
    batches = list(local.batches(8))
    assert len(batches) == -(-n_lab // 8)  # steps: the labelled rows' batches only
    riding = [b for b in batches if "aux_x" in b]
    assert sum(len(b["aux_y"]) for b in riding) == n_pl
    assert [float(b["aux_share"]) for b in riding] == [len(b["aux_y"]) / 8 for b in riding]
    assert all(torch.all(b["aux_sigma"] == paired.params.sfa_strong_sigma) for b in riding)
    # class weights from the labelled rows only, summing to the number of classes
    counts = np.bincount(data["y"][paired.label_mask(200, c)], minlength=K)
    cw = local.tensors["cw"][0]
    assert torch.allclose(cw.sum(), torch.tensor(float(K)))
    assert np.allclose(cw.numpy() * counts, (cw[0] * counts[0]).item())
    # the pseudo-labelled rows change the update but not the number of steps
    a = train(paired, confident_model(paired), data, trained_before(), ctx())
    only = make_task(mode="labelled_only", pseudo_label_batches="paired", **kw)
    b = train(only, confident_model(only), data, trained_before(), ctx())
    assert a.steps == b.steps == 2 * len(batches)  # 2 local epochs
    assert not np.array_equal(a.delta, b.delta)


@pytest.mark.parametrize("batches", ["pooled", "paired"])
def test_semi_without_pseudo_labels_trains_exactly_as_labelled_only(batches):
    # T = 1e4 flattens every softmax: the rows are scored but none passes the threshold
    semi = make_task(temperature=1e4, threshold_start=0.9, pseudo_label_batches=batches)
    data, c = client_data(), ctx()
    a = train(semi, confident_model(semi), data, trained_before(), c)
    assert c.metrics["pseudo_new"] == 0 and c.metrics["unlabelled"] > 0
    only = make_task(mode="labelled_only", pseudo_label_batches=batches)
    b = train(only, confident_model(only), data, trained_before(), ctx())
    assert np.array_equal(a.delta, b.delta)  # scoring drew from its own random stream


# -- consistency training (mode consistency) --------------------------------------------
@pytest.mark.parametrize("batches", ["pooled", "paired"])
def test_consistency_hides_masked_labels_and_trains_on_unlabelled_rows(batches):
    kw = dict(label_rate=0.3, consistency_threshold=0.0, pseudo_label_batches=batches)
    task = make_task(mode="consistency", **kw)
    data, c = client_data(), ctx()
    mask = task.label_mask(len(data["y"]), c)
    scrambled = {**data, "y": np.where(mask, data["y"], (data["y"] + 1) % K)}
    local = task.local_data(confident_model(task), data, trained_before(), ctx())
    other = task.local_data(confident_model(task), scrambled, trained_before(), ctx())
    tensors, other_tensors = _all_tensors(local), _all_tensors(other)
    for key, tensor in tensors.items():
        assert torch.equal(tensor, other_tensors[key]), key
    a = train(task, confident_model(task), data, trained_before(), ctx())
    b = train(task, confident_model(task), scrambled, trained_before(), ctx())
    assert np.array_equal(a.delta, b.delta)
    # threshold 0: every unlabelled row is trained on, with the teacher's target
    n_unlabelled = int((~mask).sum())
    rows = len(local.aux) if batches == "paired" else len(local) - int(mask.sum())
    assert rows == n_unlabelled
    only = make_task(mode="labelled_only", **kw)
    c_only = train(only, confident_model(only), data, trained_before(), ctx())
    assert not np.array_equal(a.delta, c_only.delta)
    if batches == "pooled":  # unlabelled rows add steps; paired, they ride along
        assert a.steps > c_only.steps
    else:
        assert a.steps == c_only.steps


@pytest.mark.parametrize("batches", ["pooled", "paired"])
def test_consistency_at_zero_weight_trains_exactly_as_labelled_only(batches):
    """λ_u = 0 (here: the first round of a ramp) leaves labelled_only's update intact
    (its labelled term is labelled_only's default, pooled, in either structure)."""
    task = make_task(mode="consistency", consistency_weight_ramp=10, pseudo_label_batches=batches)
    task.params = task.params.for_rounds(100, "task")
    data = client_data()
    a = train(task, confident_model(task), data, trained_before(), ctx(rnd=0))
    only = make_task(mode="labelled_only")
    b = train(only, confident_model(only), data, trained_before(), ctx(rnd=0))
    assert np.array_equal(a.delta, b.delta)
    later = train(task, confident_model(task), data, trained_before(), ctx(rnd=5))
    b_later = train(only, confident_model(only), data, trained_before(), ctx(rnd=5))
    assert not np.array_equal(later.delta, b_later.delta)


def test_consistency_weight_ramp_given_as_a_fraction_scales_with_the_run():
    params = make_task(mode="consistency", consistency_weight_ramp=0.5).params
    assert params.for_rounds(300, "task").consistency_weight_ramp_rounds == 150
    assert params.for_rounds(40, "task").consistency_weight_ramp_rounds == 20
    assert (
        make_task(mode="consistency").params.for_rounds(300, "task").consistency_weight_ramp_rounds
        == 0
    )


def test_all_labelled_trains_on_every_true_label():
    data = client_data()
    local = make_task(mode="all_labelled").local_data(None, data, None, ctx())
    assert torch.equal(local.tensors["y"], torch.from_numpy(data["y"]))


# -- pseudo-label rules -----------------------------------------------------------------
def _views(centre: list[float], spread: float, views: int = 10) -> torch.Tensor:
    """(views, K) probabilities around `centre`; the first class varies by ±spread."""
    p = torch.tensor(centre, dtype=torch.float64).repeat(views, 1)
    wiggle = spread * torch.tensor([(-1) ** v for v in range(views)], dtype=torch.float64)
    p[:, 0] += wiggle
    p[:, 1] -= wiggle
    return p


def test_select_obeys_threshold_std_bound_and_per_class_cap():
    rows = [
        _views([0.95, 0.05, 0, 0], 0.001),  # 0: kept (class 0, std 0.001)
        _views([0.95, 0.05, 0, 0], 0.0005),  # 1: class 0, lower std: wins the cap
        _views([0.85, 0.15, 0, 0], 0.0),  # 2: below the threshold
        _views([0.95, 0.05, 0, 0], 0.01),  # 3: std above the bound
        _views([0.02, 0.98, 0, 0], 0.001),  # 4: class 1
        _views([0.02, 0.02, 0.96, 0], 0.0),  # 5: class 2
    ]
    probs = torch.stack(rows, dim=1)  # (views, N, K)
    sel = select(probs, threshold=0.9, std_bound=0.005, per_class_cap=1)
    assert sel.rows.tolist() == [1, 4, 5]
    assert sel.labels.tolist() == [0, 1, 2]
    no_cap = select(probs, threshold=0.9, std_bound=0.005)
    assert no_cap.rows.tolist() == [0, 1, 4, 5]
    single_view = select(probs[:1], threshold=0.9)  # FixMatch-style: confidence only
    assert single_view.rows.tolist() == [0, 1, 3, 4, 5]


def test_select_rules_hold_on_random_probabilities():
    gen = torch.Generator().manual_seed(0)
    logits = 6 * torch.randn(1, 500, K, generator=gen) + 0.05 * torch.randn(
        10, 500, K, generator=gen
    )
    probs = torch.softmax(logits, -1)
    sel = select(probs, threshold=0.7, std_bound=0.005, per_class_cap=2)
    mean, std = probs.mean(0), probs.std(0, unbiased=False)
    assert len(sel.rows) > 0
    assert (mean[sel.rows].argmax(1).numpy() == sel.labels).all()
    assert (mean[sel.rows, sel.labels] >= 0.7).all()
    assert (std[sel.rows, sel.labels] < 0.005).all()
    assert np.bincount(sel.labels, minlength=K).max() <= 2


def test_pseudo_labels_accumulate_in_state_capped_per_class_per_round():
    task = make_task(threshold_start=0.9, threshold_ramp_rounds=0)
    data, model = client_data(n=80), confident_model(task)
    state = None
    for rnd in range(6):
        c = ctx(rnd=rnd)
        task.local_data(model, data, state, c)
        new = c.state_updates
        assert new[LAST_ROUND].tolist() == [rnd]
        held = 0 if state is None else len(state[ROWS])
        added_labels = new[LABELS][held:]
        if state is None:  # first round: the client has not trained before
            assert len(new[ROWS]) == 0
        else:
            assert np.array_equal(new[ROWS][:held], state[ROWS])  # kept across rounds
            assert np.array_equal(new[LABELS][:held], state[LABELS])
            assert 0 < len(added_labels) <= K
            assert np.bincount(added_labels, minlength=K).max() <= 1
        assert not task.label_mask(80, c)[new[ROWS]].any()  # only unlabelled rows
        assert len(np.unique(new[ROWS])) == len(new[ROWS])
        state = new
    assert c.metrics["pseudo_labels"] == len(state[ROWS])


def test_threshold_gates_pseudo_labels():
    task = make_task(threshold_start=0.99, threshold_end=0.99, temperature=1e4, std_bound=1.0)
    c = ctx()
    local = task.local_data(confident_model(task), client_data(), trained_before(), c)
    assert c.metrics["pseudo_new"] == 0  # T = 1e4 flattens every softmax below 0.99
    assert len(local) == c.metrics["labelled"]


def _kept_state(task, model, data, c, wrong_every: int = 2) -> dict[str, np.ndarray]:
    """A state holding the unlabelled rows far from the model's decision boundaries
    (top-2 logit margin above the median, so no SFA view changes their class) with the
    model's prediction as pseudo-label, except every `wrong_every`-th, which holds
    another class."""
    rows = np.flatnonzero(~task.label_mask(len(data["y"]), c))
    with torch.no_grad():
        logits = model.eval()(torch.from_numpy(task.standardize(data["x"])[rows]))
    model.train()
    top2 = logits.topk(2, dim=1).values
    margin = (top2[:, 0] - top2[:, 1]).numpy()
    far = margin > np.median(margin)
    rows, pred = rows[far], logits.argmax(1).numpy()[far]
    labels = np.where(np.arange(len(rows)) % wrong_every == 0, (pred + 1) % K, pred)
    return {ROWS: rows, LABELS: labels.astype(np.int64), LAST_ROUND: np.array([4])}


def test_rescore_expires_kept_labels_the_rule_no_longer_gives():
    task = make_task(
        pseudo_label_refresh="rescore", threshold_start=0.9, threshold_ramp_rounds=0, std_bound=1.0
    )  # the std bound is select()'s, tested above; here the threshold and the label decide
    data, model, c = client_data(n=80), confident_model(task), ctx()
    state = _kept_state(task, model, data, c)
    task.local_data(model, data, state, c)
    rows, labels = c.state_updates[ROWS], c.state_updates[LABELS]
    old = dict(zip(state[ROWS].tolist(), state[LABELS].tolist(), strict=True))
    survivors = [(r, k) for r, k in zip(rows, labels, strict=True) if r in old]
    assert all(old[r] == k for r, k in survivors)  # relabelled rows expire, never flip
    wrong = state[ROWS][::2]
    assert not np.isin(wrong, [r for r, _ in survivors]).any()
    assert len(survivors) >= 0.8 * (len(old) - len(wrong))  # confident, agreeing: kept
    assert c.metrics["pseudo_dropped"] == len(old) - len(survivors)
    assert len(survivors) < len(rows)  # new ones come from rows that were never kept
    assert not np.isin(rows[len(survivors) :], state[ROWS]).any()  # expired: next round
    # the paper's rule keeps every label once made, right or wrong
    keep = make_task(threshold_start=0.9, threshold_ramp_rounds=0, std_bound=1.0)
    c = ctx()
    keep.local_data(model, data, state, c)
    held = len(state[ROWS])
    assert np.array_equal(c.state_updates[ROWS][:held], state[ROWS])
    assert np.array_equal(c.state_updates[LABELS][:held], state[LABELS])
    assert c.metrics["pseudo_dropped"] == 0


def test_rescore_drops_everything_when_nothing_passes_the_threshold():
    task = make_task(
        pseudo_label_refresh="rescore", threshold_start=0.99, threshold_end=0.99, temperature=1e4
    )
    data, model, c = client_data(), confident_model(task), ctx()
    state = _kept_state(task, model, data, c, wrong_every=10**9)  # all agree with the model
    local = task.local_data(model, data, state, c)
    assert len(c.state_updates[ROWS]) == 0
    assert c.metrics["pseudo_dropped"] == len(state[ROWS]) > 0
    assert len(local) == c.metrics["labelled"]


@pytest.mark.parametrize("mode", ["semi", "fixmatch"])
def test_pseudo_labels_only_take_classes_the_client_holds_labelled_rows_of(mode):
    rule = {"threshold_start": 0.9, "threshold_ramp_rounds": 0, "std_bound": 1.0}
    rule |= {"per_class_cap": 100, "fixmatch_threshold": 0.5}
    data, c = client_data(n=80), ctx()
    lab = make_task(**rule).label_mask(80, c)
    data["y"][lab] %= 2  # the client's labelled rows hold classes 0 and 1 only
    labels = {}
    for classes in ["any", "labelled"]:
        task = make_task(mode=mode, pseudo_label_classes=classes, **rule)
        c = ctx()
        local = task.local_data(confident_model(task), data, trained_before(), c)
        n_lab = int(c.metrics["labelled"])
        labels[classes] = local.tensors["y"][n_lab:].numpy()
    assert set(labels["any"]) - {0, 1}  # the model does predict classes 2 and 3
    assert len(labels["labelled"]) > 0 and set(labels["labelled"]) <= {0, 1}
    # the other classes' pseudo-labels are untouched
    assert np.sum(labels["any"] < 2) == len(labels["labelled"])
    with pytest.raises(Exception, match="pseudo_label_classes"):
        make_task(pseudo_label_classes="seen")


def test_pseudo_label_refresh_is_validated_by_name():
    with pytest.raises(Exception, match="pseudo_label_refresh"):
        make_task(pseudo_label_refresh="forever")


# -- standardisation stays local -----------------------------------------------------------
def test_standardization_statistics_never_leave_the_client():
    task = make_task(std_bound=1.0, threshold_end=0.5)
    data = client_data()
    rng = np.random.default_rng(1)
    scale, shift = rng.uniform(0.1, 50, DIM), rng.normal(0, 100, DIM)
    moved = {**data, "x": (data["x"] * scale + shift).astype(np.float32)}
    a = train(task, confident_model(task), data, trained_before(), ctx())
    b = train(task, confident_model(task), moved, trained_before(), ctx())
    # everything that leaves the client is the same for any local mean and scale
    np.testing.assert_allclose(a.delta, b.delta, atol=1e-5)
    assert a.state.keys() == b.state.keys() == {ROWS, LABELS, LAST_ROUND, "c_i"}
    for key in (ROWS, LABELS, LAST_ROUND):
        assert np.array_equal(a.state[key], b.state[key])
    assert a.metrics == b.metrics
    assert a.n_samples == b.n_samples
    x = make_task(mode="all_labelled").local_data(None, data, None, ctx()).tensors["x"]
    np.testing.assert_allclose(x.mean(0), 0, atol=1e-5)  # standardised with its own statistics
    np.testing.assert_allclose(x.std(0, unbiased=False), 1, atol=1e-5)


def test_evaluation_standardizes_each_speaker_with_its_own_statistics():
    task = make_task()
    a, b = client_data(seed=1), client_data(seed=2)
    data = {k: np.concatenate([a[k], b[k]]) for k in a}
    data["group"] = np.r_[np.zeros(60), np.ones(60)].astype(np.int64)
    moved = {**data, "x": data["x"].copy()}
    moved["x"][60:] = moved["x"][60:] * 7 - 30  # speaker 1 recorded louder and offset
    model = confident_model(task)
    assert task.evaluate(model, data) == pytest.approx(task.evaluate(model, moved), abs=1e-4)


# -- partition -----------------------------------------------------------------------------
def test_semi_fedser_partition_client_j_lacks_class_j_and_holds_a_third_of_others():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(3), 120)
    labels = rng.integers(0, K, len(groups))
    part = semi_fedser(labels, groups, k=4, seed=0)
    assert part.n_clients == 12
    everything = np.concatenate(part.indices)
    assert np.array_equal(np.sort(everything), np.arange(len(labels)))  # disjoint cover
    for c, idx in enumerate(part.indices):
        speaker, j = divmod(c, 4)
        assert (groups[idx] == speaker).all()
        hist = np.bincount(labels[idx], minlength=K)
        own = np.bincount(labels[groups == speaker], minlength=K)
        assert hist[j] == 0
        for cls in set(range(K)) - {j}:
            assert abs(hist[cls] - own[cls] / 3) <= 1
    again = semi_fedser(labels, groups, k=4, seed=0)
    assert all(np.array_equal(p, q) for p, q in zip(part.indices, again.indices, strict=True))


# -- one tiny simulation on Ray ------------------------------------------------------------------
def _tiny_source() -> SourceData:
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 2, (K, DIM))
    groups = np.repeat(np.arange(5), 32)
    y = np.tile(np.arange(K), 40)
    x = centres[y] + rng.normal(0, 1, (len(y), DIM)) + rng.normal(0, 5, (5, DIM))[groups]
    x = x.astype(np.float32)
    train, test = groups < 3, groups >= 3
    part = semi_fedser(y[train], groups[train], k=4, seed=0)
    arrays = {"x": x[train], "y": y[train], "group": groups[train]}
    clients = ArrayClients.from_partition(arrays, part.indices)
    eval_data = {"x": x[test], "y": y[test], "group": groups[test]}
    return SourceData(clients, eval_data, {"input_dim": DIM, "num_classes": K})


def test_simulation_pseudo_labels_and_is_identical_for_1_and_2_workers(ray_session):
    cfg = {
        "seed": 1,
        "rounds": 4,
        "task": {"name": "semi_ser", "hidden": [16], "label_rate": 0.3, "std_bound": 1.0,
                 "threshold_start": 0.3, "threshold_end": 0.3},
        "sampling": {"fraction": 0.5},
        "local": {"optimizer": {"name": "adam", "lr": 1e-2}, "batch_size": 8},
        "strategy": {"name": "scaffold"},
        "eval": {"every": 2},
    }  # fmt: skip
    results = []
    for workers in (1, 2):
        engine = {"num_workers": workers, "worker_cpus": 0.5}
        sim = raysim.Simulation({**cfg, "engine": engine}, data=_tiny_source())
        results.append(sim.run(progress=False))
    one, two = results
    assert np.array_equal(one.weights, two.weights)
    keys = ("labelled", "pseudo_labels", "pseudo_new", "pseudo_correct")
    assert [[r[k] for k in keys] for r in one.history] == [
        [r[k] for k in keys] for r in two.history
    ]
    assert sum(r["pseudo_new"] for r in one.history) > 0
    assert "pseudo_accuracy" in one.history[-1]
    assert 0 <= one.metrics["uar"] <= 1 and "f1" in one.metrics


def test_run_without_pseudo_labels_warns_and_stays_quiet_otherwise():
    params = make_task().params
    none = [{"round": r, "pseudo_new": 0.0} for r in (1, 2, 3)]
    (message,) = params.run_warnings(none)
    assert "0 pseudo-labels in 3 rounds" in message and "labelled_only" in message
    assert params.run_warnings([*none, {"round": 4, "pseudo_new": 1.0}]) == []
    assert make_task(mode="labelled_only").params.run_warnings(none) == []


def test_semi_fedser_table_says_a_run_without_pseudo_labels_is_labelled_only():
    path = Path(__file__).parents[1] / "experiments" / "semi_fedser.py"
    spec = importlib.util.spec_from_file_location("semi_fedser_cli", path)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    run = {"strategy": "fedavg", "seed": 0, "uar": 0.5, "pseudo_made": 0,
           "pseudo_accuracy": None, "pseudo_in_use_accuracy": None}  # fmt: skip
    rows = [{**run, "mode": m, "variant": m} for m in ("semi", "labelled_only")]
    lines = cli.table(rows, [0]).splitlines()
    assert lines[2].endswith("| 0 pseudo-labels: same as labelled-only")
    assert lines[3].endswith("| -")
    made = {**run, "mode": "semi", "variant": "semi", "pseudo_made": 3, "pseudo_accuracy": 2 / 3}
    assert cli.table([made], [0]).splitlines()[2].endswith("| 3 / 66.7 / -")


def test_simulation_warns_of_stuck_metrics_and_of_no_pseudo_labels(ray_session):
    cfg = {
        "rounds": 4,
        "task": {"name": "semi_ser", "hidden": [16], "threshold_start": 1.0,
                 "threshold_end": 1.0},  # nothing can pass: no pseudo-label
        "sampling": {"fraction": 0.5},
        "local": {"optimizer": {"name": "sgd", "lr": 1e-12}},  # predictions never change
        "engine": {"num_workers": 1, "worker_cpus": 0.5},
        "eval": {"every": 1, "stuck_rounds": 2},
    }  # fmt: skip
    with pytest.warns(RunWarning) as caught:
        result = raysim.Simulation(cfg, data=_tiny_source()).run(progress=False)
    assert [str(w.message) for w in caught] == result.warnings
    stuck, no_pl = result.warnings
    assert stuck.startswith("round 3:") and "eval_uar = " in stuck and "since round 1" in stuck
    assert "0 pseudo-labels in 4 rounds" in no_pl
