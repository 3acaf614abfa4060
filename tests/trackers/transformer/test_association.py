"""The association transformer: exact linking, equivariance, any counts, checkpoints."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_mpt import api  # noqa: E402
from napari_mpt.core.data import Detections  # noqa: E402
from napari_mpt.core.errors import CheckpointError  # noqa: E402
from napari_mpt.core.params import AssociationTrainParams, TransformerParams  # noqa: E402
from napari_mpt.trackers.transformer import loading  # noqa: E402
from napari_mpt.trackers.transformer.association.flops import association_flops  # noqa: E402
from napari_mpt.trackers.transformer.association.graph import NeighbourCache, build, sequence  # noqa: E402
from napari_mpt.trackers.transformer.association.infer import scores  # noqa: E402
from napari_mpt.trackers.transformer.association.link import _assign, solve_component, solve_sparse  # noqa: E402
from napari_mpt.trackers.transformer.association.model import AssocConfig, AssociationTransformer  # noqa: E402
from napari_mpt.trackers.transformer.association.training import train_association  # noqa: E402
from napari_mpt.trackers.transformer.common import checkpoint as ckpt  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = AssociationTrainParams(d_model=8, heads=2, ff=8, layers=1, batches=3,
                              experiments_per_batch=2, particles_range=(5.0, 15.0),
                              save_every=1)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("assoc") / "tiny_assoc.pt"
    train_association(TINY, path, progress_bar=False)
    return path


# -- linking: exact -------------------------------------------------------------------

def _brute_force(cost: np.ndarray, death: np.ndarray, birth: np.ndarray) -> float:
    """Minimum of sum(links) + deaths of unlinked rows + births of unlinked columns over
    every partial matching (enumerated)."""
    r, c = cost.shape
    best = death.sum() + birth.sum()
    for k in range(1, min(r, c) + 1):
        for rows in itertools.combinations(range(r), k):
            for cols in itertools.permutations(range(c), k):
                links = cost[list(rows), list(cols)]
                if not np.all(np.isfinite(links)):
                    continue
                total = (links.sum() + death.sum() - death[list(rows)].sum()
                         + birth.sum() - birth[list(cols)].sum())
                best = min(best, total)
    return float(best)


def _objective(pairs, cost, death, birth) -> float:
    rows = [a for a, _ in pairs]
    cols = [b for _, b in pairs]
    assert len(set(rows)) == len(rows) and len(set(cols)) == len(cols)
    return float(sum(cost[a, b] for a, b in pairs) + death.sum() - death[rows].sum()
                 + birth.sum() - birth[cols].sum())


@pytest.mark.parametrize("seed", range(12))
def test_component_solvers_are_optimal_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    r, c = rng.integers(1, 5, size=2)
    cost = rng.uniform(0.0, 3.0, size=(r, c))
    cost[rng.random((r, c)) < 0.3] = np.inf
    death, birth = rng.uniform(0.1, 2.0, r), rng.uniform(0.1, 2.0, c)
    best = _brute_force(cost, death, birth)
    assert _objective(solve_component(cost, death, birth), cost, death, birth) == \
        pytest.approx(best, abs=1e-9)
    rl, cl = np.nonzero(np.isfinite(cost))
    sparse = solve_sparse(rl, cl, cost[rl, cl], death, birth)
    assert _objective(sparse, cost, death, birth) == pytest.approx(best, abs=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_frame_assignment_with_stars_and_components_is_optimal(seed):
    # several independent components (stars, singles, a tangle) in one frame
    rng = np.random.default_rng(100 + seed)
    r, c = 6, 6
    cost = np.full((r, c), np.inf)
    for a, b in [(0, 0), (1, 1), (1, 2), (2, 3), (3, 3), (4, 4), (4, 5), (5, 4), (5, 5)]:
        cost[a, b] = rng.uniform(0.0, 2.0)
    death, birth = rng.uniform(0.5, 2.0, r), rng.uniform(0.5, 2.0, c)
    ra, cb = np.nonzero(np.isfinite(cost))
    useful = cost[ra, cb] < death[ra] + birth[cb]
    ra, cb = ra[useful], cb[useful]
    sel_r, sel_c = _assign(ra, cb, cost[ra, cb], death, birth)
    got = _objective(list(zip(sel_r.tolist(), sel_c.tolist(), strict=True)), cost, death, birth)
    assert got == pytest.approx(_brute_force(cost, death, birth), abs=1e-9)


# -- model ------------------------------------------------------------------------------

def _random_model(**kw) -> AssociationTransformer:
    torch.manual_seed(0)
    cfg = AssocConfig(d_model=16, heads=2, ff=16, layers=2, **kw)
    return AssociationTransformer(cfg).eval()


def test_forward_is_permutation_equivariant_over_the_detections_of_a_frame():
    sim = api.simulate(api.preset_params("receptor-low", frames=6, seed=3, particles=30,
                                         field_of_view=120.0))
    det = sim.detections
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(det))            # rows shuffled (frames stay what they are)
    shuffled = Detections(det.frame[perm], det.coords[perm])
    model = _random_model()
    a, b = scores(model, det), scores(model, shuffled)

    def by_rows(sc, rows):
        r = sc["seq"].rows
        return {(int(rows[r[i]]), int(rows[r[j]])): (round(f, 5), round(p, 5))
                for i, j, f, p in zip(sc["i"], sc["j"], sc["pf"], sc["pb"], strict=True)}

    assert len(a["i"]) > 100
    assert by_rows(a, np.arange(len(det))) == by_rows(b, perm)


def test_graph_neighbours_are_the_k_nearest_per_frame_and_masked_when_fewer():
    det = Detections(np.array([0, 0, 0, 1, 1, 2]),
                     np.array([[0, 0], [0, 5], [0, 20], [0, 1], [0, 30], [0, 2.0]]))
    seq = sequence(det)
    g = build(seq, NeighbourCache(seq, 2), np.array([0]), 3, 2, 10.0)
    assert g.tokens == 6
    # token 0 (frame 0, y=0, x=0): own frame -> itself, then x=5; frame 1 -> x=1, x=30;
    # frame 2 -> x=2 and a masked slot
    assert g.det[g.nbr[0]][g.mask[0]].tolist() == [0, 1, 3, 4, 5]
    assert g.mask[0].tolist() == [True, True, True, True, True, False]
    assert g.dt[0].tolist() == [0, 0, 1, 1, 2, 2]
    np.testing.assert_allclose(g.relin[0, 2, :3], [0.0, 0.1, 0.1])   # dp / scale, |dp|
    assert g.relin[0, 2, 3:].tolist() == [0, 0, 0, 1, 0]             # one-hot dt = +1


def test_flops_count_attention_per_token_by_hand():
    model = _random_model()
    cfg = model.cfg
    d, s, r, ff = cfg.d_model, cfg.window * cfg.neighbours, cfg.rel_width, cfg.ff
    per_token = (s * r * d + s * d * d                               # relative embedding
                 + cfg.layers * (4 * d * d + 2 * s * d + 2 * d * ff)  # q, kv, out; q.k, a.v; ffn
                 + 2 * d * d + s * d + 2 * d)                         # pair head
    fl = association_flops(model, 1000)
    assert fl.value == 2 * per_token * 1000
    assert "matmul" in fl.detail


# -- tracking ---------------------------------------------------------------------------

def test_ragged_counts_and_empty_frames_are_accepted(tiny_checkpoint):
    det = Detections(np.array([0, 0, 1, 1, 1, 3, 3, 4, 6]),
                     np.array([[10, 10], [50, 50], [11, 11], [51, 50], [90, 90], [12, 12],
                               [52, 51], [13, 12], [14, 13.0]]), source="ragged.csv")
    res = api.track(det, TransformerParams(checkpoint=str(tiny_checkpoint), device="cpu"))
    assert sorted(res.tracks.detection.tolist()) == list(range(len(det)))   # each once
    assert res.info["kind"] == "association" and res.flops.value > 0
    for tid in res.tracks.ids():                 # a track never has two detections a frame
        fr = res.tracks.frame[res.tracks.track_id == tid]
        assert len(set(fr.tolist())) == len(fr)


def test_data_of_another_ndim_is_refused(tiny_checkpoint):
    sim = api.simulate(api.SimulationParams(particles=3, frames=4, ndim=3, seed=1))
    with pytest.raises(CheckpointError, match=r"built for 2D coordinates but the data is 3D"):
        api.track(sim.detections, TransformerParams(checkpoint=str(tiny_checkpoint),
                                                    device="cpu"))


def test_checkpoint_round_trip_with_weights_only(tiny_checkpoint, tmp_path):
    data = torch.load(tiny_checkpoint, weights_only=True)
    assert data["kind"] == "association" and data["format"] == ckpt.FORMAT
    model, config = loading.load_checkpoint(tiny_checkpoint)
    assert isinstance(model, AssociationTransformer) and config["kind"] == "association"
    for k, v in model.state_dict().items():
        assert torch.equal(v, data["state_dict"][k])
    assert "any number of detections per frame" in config["description"]
    data["state_dict"].pop("head.score.bias")
    bad = tmp_path / "bad.pt"
    ckpt.save(bad, {k: v for k, v in data.items() if k not in ("format", "format_version")})
    with pytest.raises(CheckpointError, match=r"bad\.pt: weights do not fit"):
        loading.load_checkpoint(bad)


def test_training_is_deterministic_and_resumes_exactly(tmp_path, monkeypatch):
    from napari_mpt.trackers.transformer.association import training as assoc_train

    whole = torch.load(train_association(TINY, tmp_path / "a.pt", progress_bar=False),
                       weights_only=True)
    real = assoc_train.simulate_batch

    def stop_at_third(params, index):
        if index == 2:
            raise KeyboardInterrupt
        return real(params, index)

    monkeypatch.setattr(assoc_train, "simulate_batch", stop_at_third)
    with pytest.raises(KeyboardInterrupt):
        train_association(TINY, tmp_path / "b.pt", progress_bar=False)
    assert torch.load(tmp_path / "b.pt", weights_only=True)["progress"]["batches_done"] == 2
    monkeypatch.setattr(assoc_train, "simulate_batch", real)
    resumed = torch.load(train_association(TINY, tmp_path / "b.pt", resume=True,
                                           progress_bar=False), weights_only=True)
    assert resumed["progress"]["batches_done"] == 3
    for k in whole["state_dict"]:
        assert torch.equal(whole["state_dict"][k], resumed["state_dict"][k]), k
    assert [r[1] for r in whole["progress"]["loss"]] == [r[1] for r in resumed["progress"]["loss"]]
    with pytest.raises(CheckpointError, match="cannot resume, the settings differ: layers"):
        train_association(TINY.replace(layers=2), tmp_path / "a.pt", resume=True,
                          progress_bar=False)


def test_ctrl_c_leaves_a_checkpoint_that_resumes_exactly(tmp_path):
    """The one loop saves on Ctrl-C for this model too (it used to lose every step since
    the last periodic save); resuming gives the uninterrupted run's weights and curve."""
    p = TINY.replace(save_every=100)
    whole = ckpt.read(train_association(p, tmp_path / "a.pt", progress_bar=False,
                                        log=tmp_path / "a.csv"))

    def stop(done, total, loss):
        assert total == 3
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_association(p, tmp_path / "b.pt", progress_bar=False, on_batch=stop)
    half = ckpt.read(tmp_path / "b.pt")
    assert half["progress"]["batches_done"] == 2 and not half["progress"]["finished"]
    done = ckpt.read(train_association(p, tmp_path / "b.pt", resume=True, progress_bar=False))
    for k in whole["state_dict"]:
        assert torch.equal(whole["state_dict"][k], done["state_dict"][k]), k
    assert done["progress"]["loss"] == whole["progress"]["loss"]
    assert whole["progress"]["loss_columns"] == ["batch", "loss", "lr"]
    assert (tmp_path / "a.csv").read_text().splitlines()[0] == "batch,loss,lr"


def test_the_warm_up_is_the_one_this_model_was_trained_with():
    """The shared schedule with the association's warm-up fraction is its old rule,
    ``min(warmup_steps, batches // 10)`` steps, for every count of batches."""
    from napari_mpt.trackers.transformer.association.training import WARMUP_FRACTION
    from napari_mpt.trackers.transformer.common.training import learning_rate

    p = TINY.replace(warmup_steps=10_000_000, learning_rate=1.0)
    for batches in range(1, 300_001):
        warm = max(1, min(p.warmup_steps, batches // 10))
        assert learning_rate(p, 0, batches, WARMUP_FRACTION) == 1.0 / warm, batches
    for batches in (1, 9, 10, 37, 3000):
        q = AssociationTrainParams(batches=batches)
        warm = max(1, min(100, batches // 10))
        for step in {0, warm - 1, warm, batches // 2, batches - 1}:
            frac = (step - warm) / max(1, batches - warm)
            old = (2e-3 * (step + 1) / warm if step < warm else
                   2e-3 * (0.05 + (1 - 0.05) * 0.5 * (1 + math.cos(math.pi * frac))))
            assert learning_rate(q, step, batches, WARMUP_FRACTION) == old


def test_checkpoint_descriptions_name_what_each_kind_accepts():
    desc = loading.checkpoint_descriptions()
    assert "fixed" not in desc["transformer_150_30"]
    assert "same number of detections in every frame" in desc["transformer_150_30"]


@pytest.mark.slow
def test_shipped_checkpoint_links_a_well_separated_scene_perfectly():
    if "association" not in ckpt.available_checkpoints():
        pytest.skip("no shipped association checkpoint")
    # 40 particles about 60 px apart, births and deaths, particles leaving the field
    sim = api.simulate(api.SimulationParams(particles=40, frames=20, field_of_view=400.0,
                                            process_noise=1.0, measurement_noise=0.3,
                                            survival=0.97, birth_rate=1.0, end_at_edge=True,
                                            seed=4))
    assert len(sim.truth.ids()) > 40
    res = api.track(sim.detections, TransformerParams(checkpoint="association", device="cpu"))
    score = api.evaluate(res.tracks, sim.truth).summary()
    assert score["association_jaccard"] == 1.0


def test_cli_tracks_a_ragged_csv_with_the_shipped_association_checkpoint(tmp_path, capsys):
    from napari_mpt.cli import main

    if "association" not in ckpt.available_checkpoints():
        pytest.skip("no shipped association checkpoint")
    csv = tmp_path / "ragged.csv"
    # two particles 40 px apart, a spurious spot in frame 1, a missed spot in frame 3,
    # frame 2 empty
    csv.write_text("frame,y,x\n0,10,10\n0,50,50\n1,11,11\n1,51,50\n1,90,90\n3,12,12\n"
                   "4,13,12\n4,52,52\n")
    out = tmp_path / "tracks.csv"
    assert main(["track", str(csv), "--method", "transformer", "--checkpoint", "association",
                 "--device", "cpu", "--out", str(out)]) == 0
    assert "association" in capsys.readouterr().out
    rows = out.read_text().splitlines()
    assert rows[0].startswith("track_id,frame,y,x,detection") and len(rows) == 9


def test_cli_train_kind_association_writes_a_checkpoint_and_refuses_foreign_options(tmp_path,
                                                                                    capsys):
    from napari_mpt.cli import main

    out = tmp_path / "a.pt"
    assert main(["train", "--kind", "association", "--batches", "2", "--experiments-per-batch",
                 "1", "--particles-range", "5", "10", "--d-model", "8", "--ff", "8",
                 "--no-progress", "--out", str(out)]) == 0
    assert torch.load(out, weights_only=True)["train"]["batches"] == 2
    assert main(["train", "--kind", "association", "--decoder-lookback", "3", "--out",
                 str(tmp_path / "b.pt")]) == 2
    assert "'decoder_lookback': is not a setting of --kind association" in capsys.readouterr().err


def test_motions_held_out_of_training_are_never_drawn_and_the_default_draw_is_unchanged():
    from napari_mpt.trackers.transformer.association.training import draw_simulation

    only = AssociationTrainParams(motions=("brownian",))
    drawn = {draw_simulation(only, np.random.default_rng([0, k])).motion for k in range(40)}
    assert drawn == {"brownian"}
    # the default list draws the same settings as the shipped checkpoint's protocol did
    # (motion picked by one integer draw among the three, in SIM_MOTIONS' order)
    every = {draw_simulation(AssociationTrainParams(), np.random.default_rng([0, k])).motion
             for k in range(40)}
    assert every == {"brownian", "directed", "switching"}
    a = draw_simulation(AssociationTrainParams(), np.random.default_rng([3, 7]))
    rng = np.random.default_rng([3, 7])
    rng.uniform(size=4)                          # particles, spacing, survival, clutter
    assert a.motion == ("brownian", "directed", "switching")[int(rng.integers(3))]


def test_motions_are_validated_by_name_on_the_cli_and_in_the_model(tmp_path, capsys):
    from napari_mpt.cli import main
    from napari_mpt.core.errors import ParameterError

    with pytest.raises(ParameterError, match=r"motions.*'drift' is not one of"):
        AssociationTrainParams(motions=("brownian", "drift"))
    with pytest.raises(ParameterError, match="motions"):
        AssociationTrainParams(motions=())
    out = tmp_path / "m.pt"
    assert main(["train", "--kind", "association", "--batches", "1", "--experiments-per-batch",
                 "1", "--particles-range", "5", "10", "--d-model", "8", "--ff", "8",
                 "--motions", "brownian", "directed", "--no-progress", "--out", str(out)]) == 0
    assert torch.load(out, weights_only=True)["train"]["motions"] == ["brownian", "directed"]
    with pytest.raises(SystemExit):
        main(["train", "--kind", "association", "--motions", "drift", "--out", str(out)])


def test_a_checkpoint_from_before_the_motions_setting_resumes_with_the_default(tmp_path):
    path = train_association(TINY.replace(batches=2), tmp_path / "old.pt", progress_bar=False)
    data = torch.load(path, weights_only=True)
    del data["train"]["motions"], data["train"]["device"]     # as written before they existed
    data["train"]["batches"] = 3                                # a run stopped after 2 of 3
    data["progress"]["finished"] = False
    torch.save(data, path)
    resumed = torch.load(train_association(TINY, path, resume=True, progress_bar=False),
                         weights_only=True)
    assert resumed["progress"]["batches_done"] == 3
    with pytest.raises(CheckpointError, match="motions"):
        train_association(TINY.replace(batches=4, motions=("brownian",)), path, resume=True,
                          progress_bar=False)
