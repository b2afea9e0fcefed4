"""benchmarks/thesis_study.py: the run order, the tracked results (format, resuming from them alone) and the
report's coverage. The fast tests train nothing; the end-to-end one (slow) trains two tiny models."""
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).parents[1]


@pytest.fixture
def S(monkeypatch):
    spec = importlib.util.spec_from_file_location("thesis_study", ROOT / "benchmarks" / "thesis_study.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "thesis_study", module)   # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_full_grid_runs_the_most_valuable_first(S):
    grid = S.runs(S.PROFILES["full"])
    assert len(grid) == len(set(grid))
    first = grid[:12]   # Fashion-MNIST SEQ 7, the thesis's four cells on [0, 1] pixels, seeds 0, 1, 2
    assert {(r.dataset, r.seq, r.scaling) for r in first} == {("fashion-mnist", 7, "01")}
    assert {(r.cell, r.seed) for r in first} == {(c, s) for c in ("shallow", "deep", "deepv2", "convdeep")
                                                  for s in (0, 1, 2)}
    assert [r.seed for r in first[:4]] == [0] * 4            # every cell of seed 0 before seed 1
    seven = [i for i, r in enumerate(grid) if r.dataset == "mnist5k" and r.seq == 7]
    others = [i for i, r in enumerate(grid) if r.seq != 7]
    assert max(i for i, r in enumerate(grid) if r.dataset == "fashion-mnist" and r.seq == 7) < min(seven)
    assert max(seven) < min(others)
    # the whole grid of the issue: 4 x SEQ on the digits, 3 x SEQ on Fashion-MNIST, 3 seeds at SEQ 7
    keys = {(r.dataset, r.seq, r.seed) for r in grid}
    assert {(d, s) for d, s, _ in keys} == {("mnist5k", s) for s in (1, 4, 7, 14)} | {
        ("fashion-mnist", s) for s in (1, 4, 7)}
    assert {seed for d, s, seed in keys if s == 7} == {0, 1, 2}


def test_records_are_rounded_and_one_key_per_line(S):
    record = {"accuracy": 0.876543219, "finished": 1796183040, "methods": {"zbeta": {"emd": 2.123456789,
              "steps": [0.1234567, 1e-9]}}, "seed": 0}
    text = S.dumps(S.rounded(record))
    back = json.loads(text)
    assert back == {"accuracy": 0.8765, "finished": 1796183040,
                    "methods": {"zbeta": {"emd": 2.123, "steps": [0.1235, 1e-9]}}, "seed": 0}
    lines = text.splitlines()
    assert '   "emd": 2.123,' in lines and '   "steps": [0.1235,1e-09]' in lines and lines[0] == "{"


def test_the_wall_time_counts_overlapping_runs_once_and_not_the_days_between_sessions(S):
    def record(finished, train, measure, trained=True):
        return {"finished": finished, "train_seconds": train, "measure_seconds": measure, "trained": trained}
    day = 86400
    records = [record(600, 500, 100), record(900, 600, 60),           # 0-600 and 240-900 overlap: 900 s
               record(900 + 3 * day, 60, 60, trained=False),         # 60 s measuring, three days later
               record(960 + 3 * day, 60, 60, trained=False)]         # starting as that one ends: 60 s more
    assert S.wall_minutes(records) == pytest.approx((900 + 60 + 60) / 60)
    assert S.wall_minutes([]) == 0


def test_example_heatmaps_are_stored_as_percent_of_their_maximum(S):
    import torch
    heat = torch.randn(3, 28, 28) * torch.tensor([1e-3, 1.0, 50.0])[:, None, None]
    enc = S.encode_examples(heat)
    assert {type(v) for row in enc["examples"][0] for v in row} == {int}
    assert max(abs(v) for img in enc["examples"] for row in img for v in row) == 100
    back = S.decode_examples(json.loads(json.dumps(enc)))
    top = heat.abs().reshape(3, -1).max(1).values.numpy()
    assert (abs(back - heat.numpy()).max(axis=(1, 2)) <= 0.005 * top + 1e-9).all()
    assert S.decode_examples({}) is None


def test_coverage_counts_a_run_only_with_both_models(S):
    profile = S.Profile("tiny", (("mnist5k", 7, (0, 1)),), {"mnist5k": 1}, "1e-3", 10, 1)
    rec = lambda cell, seed, trained, scaling="01": {"dataset": "mnist5k", "seq": 7, "cell": cell,  # noqa: E731
                                                     "seed": seed, "scaling": scaling, "trained": trained}
    records = [rec("shallow", 0, True), rec("shallow", 0, False), rec("shallow", 1, True),
               rec("deep", 0, True, "pm1"), rec("deep", 0, False, "pm1")]
    lines, done, total = S.coverage_table(profile, records)
    assert (done, total) == (2, 2 * 2 * len(S.CELLS))
    row = lines[2].split(" | ")
    assert row[3:5] == ["1 / 0", "0 / 1"] and row[5] == "pending"


def test_a_class_without_relevance_is_left_out_of_the_emd(S):
    import torch
    ink = torch.tensor([0.25, 0.25, 0.5])
    shares = {0: torch.tensor([0.25, 0.25, 0.5]), 1: torch.zeros(3), 2: torch.tensor([0.0, 0.0, 2.0])}
    assert S.class_emds(shares, {0: ink, 1: ink, 2: ink}) == pytest.approx([0.0, 0.75])


def test_emds_measured_before_the_rule_are_redone_where_no_training_is_needed(S, tmp_path):
    import torch

    from reference.thesis import data, faithfulness

    test = data.load("mnist5k")["test"]
    idx = S.stratified(test.labels, 20)
    x, y = torch.as_tensor(test.images[idx]), test.labels[idx]
    net = faithfulness.randomized_model("shallow", 7, 3)
    heat, _ = S.explain_method("zbeta", net, S.Scaled(net, 0.0, 1.0).eval(), x, torch.as_tensor(y), 7)
    last = float(faithfulness.step_shares(heat, 7)[-1])
    base = {"dataset": "mnist5k", "seq": 7, "cell": "shallow", "seed": 3, "scaling": "01", "n_eval": 20}
    records = {
        "untrained": {**base, "trained": False, "methods": {"zbeta": {"emd": 99.0, "last": last}}},
        "other-model": {**base, "trained": False, "methods": {"zbeta": {"emd": 99.0, "last": last + 0.5}}},
        "trained": {**base, "trained": True, "methods": {"zbeta": {"emd": 1.5, "last": 0.5, "explained": 0.95},
                                                         "zplus": {"emd": 1.5, "last": 0.5, "explained": 0.9},
                                                         "ig": {"emd": 1.5, "last": 0.5}}},
    }
    for name, record in records.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(record))
    said = []
    S.remeasure_emd(tmp_path, said.append)
    back = {name: json.loads((tmp_path / f"{name}.json").read_text())["methods"] for name in records}
    zbeta = back["untrained"]["zbeta"]
    shares = {int(c): faithfulness.step_shares(heat[torch.as_tensor(y) == c], 7) for c in np.unique(y)}
    pixels = {int(c): faithfulness.step_shares(x[torch.as_tensor(y) == c], 7) for c in np.unique(y)}
    emds = S.class_emds(shares, pixels)
    assert zbeta["emd_classes"] == len(emds) and zbeta["emd"] == pytest.approx(np.mean(emds), abs=1e-3)   # stored rounded
    assert back["other-model"]["zbeta"] == records["other-model"]["methods"]["zbeta"]   # not the same model
    assert len(said) == 1 and "not the same model" in said[0]
    # 1 of 20 images unexplained: no class (2 images) can be all zero; 2 of 20 could be one whole class
    assert back["trained"]["zbeta"]["emd_classes"] == 10 and back["trained"]["zbeta"]["emd"] == 1.5
    assert "emd_classes" not in back["trained"]["zplus"] and "emd_classes" not in back["trained"]["ig"]
    text = S.before_the_rule([{**records["trained"], "methods": back["trained"]}])
    assert text.startswith("2 EMDs here (trained ig 1, trained zplus 1) were measured before that rule")


def _rows(last):
    """Rows of :func:`thesis_study.method_rows` with only what the verdict reads: ``last[(cell, rule, trained)]``
    is one value per seed."""
    return [{"cell": c, "method": rule, "trained": t, "seed": k, "last": v}
            for (c, rule, t), values in last.items() for k, v in enumerate(values)]


def test_a_model_with_no_image_explained_leaves_the_factor_analysis_and_the_seeds_defined(S):
    rows = [{"cell": c, "rule": rule, "method": rule, "trained": t, "seed": 0, "emd": e + (2.0 if c == "shallow" else 0),
             "last": 0.5} for c in ("shallow", "deep") for rule in ("zbeta", "zplus") for t, e in ((True, 1.0), (False, 0.0))]
    rows.append(dict(rows[-1], seed=1, emd=float("nan")))     # dead untrained model: EMD undefined
    _, shares = S.factor_analysis(rows, ("shallow", "deep"))
    assert shares["emd"]["cell"] > 0.5 and shares["emd"]["residual"] < 0.5
    assert S.by_seed(rows[-2:], "emd") == {0: 0.0}


def test_the_rule_dependence_is_said_in_words_from_the_numbers(S):
    last = {("shallow", "zbeta", True): [0.62, 0.64, 0.66], ("deep", "zbeta", True): [0.02, 0.03, 0.02],
            ("shallow", "zplus", True): [0.01, 0.02, 0.01], ("deep", "zplus", True): [0.02, 0.03, 0.02],
            ("shallow", "zbeta", False): [0.5, 0.52, 0.51], ("shallow", "zplus", False): [0.01, 0.01, 0.02]}
    text = S.rule_dependence(_rows(last))
    assert "clearly positive under zbeta and not under zplus" in text and "interaction" in text
    assert "Deep's per-step shares are the same" in text and "before training (untrained of trained: zbeta 0.51" in text
    one_seed = S.rule_dependence([r for r in _rows(last) if r["seed"] == 0])
    assert "no rule's difference counts as clear" in one_seed and "clearly positive under" not in one_seed
    last[("shallow", "zplus", True)] = [0.4, 0.45, 0.5]
    last[("deep", "zplus", True)] = [0.1, 0.1, 0.1]
    text = S.rule_dependence(_rows(last))
    assert "clearly positive under every rule" in text and "Deep's per-step shares are the same" not in text


def _flip_rows(ratios: dict) -> list[dict]:
    """Trained rows with a flip count of ``8 * ratio`` against a random order of 8, per (cell, method)."""
    return [{"cell": cell, "method": method, "trained": True, "seed": seed, "flips/zero/most": 8 * ratio,
             "random/flips/zero/random": 8.0, "ratio/flips/zero/most": ratio}
            for (cell, method), rs in ratios.items() for seed, ratio in enumerate(rs)]


def test_the_flip_counts_are_set_beside_the_thesis_codes_with_the_verdict_from_the_numbers(S):
    ratios = {("shallow", "zbeta"): [0.98, 0.99], ("deep", "zbeta"): [0.57, 0.6], ("deepv2", "zbeta"): [1.0, 1.02],
              ("convdeep", "zbeta"): [0.4, 0.42], ("shallow", "zbeta-pm1"): [0.85, 0.86]}
    lines = S.flips_beside_thesis(_flip_rows(ratios))
    shallow = next(line for line in lines if line.startswith("| shallow"))
    assert "8.70 vs 5.25 (1.66)" in shallow and "no: more flips than random there, about random here" in shallow
    assert "(0.98 ± 0.01)" in shallow and "(0.85 ± 0.01)" in shallow
    deepv2 = next(line for line in lines if line.startswith("| deepv2"))
    assert "yes: about random there, about random here" in deepv2
    assert "The level agrees for 1 of 4 cells (deepv2)" in lines[-1]
    assert "thesis code deepv2, deep, convdeep, shallow; here (zbeta) convdeep, deep, shallow, deepv2" in lines[-1]
    assert "both put Shallow last" not in lines[-1]
    ratios[("deepv2", "zbeta")] = [0.5, 0.5]
    assert "both put Shallow last" in S.flips_beside_thesis(_flip_rows(ratios))[-1]
    assert S.flips_beside_thesis([]) == []


def test_the_step_figure_keeps_the_trained_lines_readable_when_an_untrained_one_runs_off(monkeypatch, tmp_path):
    from reference.thesis import report

    figures = []
    monkeypatch.setattr(report, "_save", lambda fig, path: figures.append(fig) or Path(path))
    pixels = [0.1, 0.3, 0.4, 0.2]
    shares = {("ig", "deep", True): [[0.1, 0.2, 0.3, 0.4]], ("ig", "deep", False): [[40.0, -39.0, 0.5, -0.5]],
              ("zbeta", "deep", True): [[0.0, 0.1, 0.2, 0.7]], ("zbeta", "deep", False): [[0.2, 0.3, 0.3, 0.2]]}
    report.study_steps(np.asarray(pixels), shares, tmp_path / "steps.png")
    ig, zbeta = figures[0].axes
    assert ig.get_ylim()[1] < 1.2 and ig.get_ylim()[0] > -0.2 and ig.get_title() == "ig (untrained cut off)"
    assert zbeta.get_title() == "zbeta"


def test_tracked_results_are_complete_records():
    """Every committed result parses, sits in its profile's folder under its own key, and has the measures
    the report reads."""
    paths = sorted((ROOT / "benchmarks" / "results" / "thesis-study").glob("*/*.json"))
    for p in paths:
        r = json.loads(p.read_text())
        key = f"{r['dataset']}-{r['cell']}-{r['seq']}-s{r['seed']}-{r['scaling']}"
        assert p.name == f"{key}-{'trained' if r['trained'] else 'untrained'}.json", p
        assert p.parent.name == r["profile"], p
        assert 0 <= r["accuracy"] <= 1 and r["n_eval"] > 0, p
        assert "methods" in r or "error" in r, p
        for method, m in r.get("methods", {}).items():
            assert {"emd", "last", "steps", "lag", "faith"} <= set(m), (p, method)
            assert len(m["steps"]) == r["seq"], (p, method)
            assert ("examples" in m) == (r["seed"] == 0), (p, method)   # the figures show seed 0
            if "examples" in m:   # encoded: percent of each heatmap's maximum
                assert len(m["examples"]) == len(m["examples_max"]) and all(
                    isinstance(v, int) and -100 <= v <= 100 for img in m["examples"] for row in img for v in row), p


@pytest.mark.slow
def test_the_study_script_runs_resumes_from_tracked_results_and_stays_pending_with_one_seed(S, tmp_path,
                                                                                            monkeypatch):
    """End to end on a tiny grid (minutes): the results alone resume the study (the checkpoints are gone,
    as in a fresh checkout) and write the report; one seed cannot confirm anything."""
    monkeypatch.setattr(S, "CELLS", ("shallow", "deep"))
    monkeypatch.setattr(S, "OUT", tmp_path / "out")
    monkeypatch.setattr(S, "FIGURES", tmp_path / "out" / "results")
    profile = S.Profile("tiny", (("mnist5k", 7, (0,)),), {"mnist5k": 1}, "1e-3", 10, 1)
    build, results = tmp_path / "build", tmp_path / "results"
    assert all(S.do_run(run, profile, build, results, {}, print) for run in S.runs(profile))
    paths = sorted(results.glob("*.json"))
    assert len(paths) == 8
    stamps = [p.read_text() for p in paths]
    shutil.rmtree(build)   # a fresh checkout: no checkpoint, only the tracked results
    assert not any(S.do_run(run, profile, build, results, {}, print) for run in S.runs(profile))
    assert [p.read_text() for p in paths] == stamps
    assert not (build / "checkpoints").exists()
    text = S.write_results(profile, results, S.machine(), 1.0).read_text()
    assert ": pending.**" in text and "confirmed" not in text.replace("not confirmed", "").replace("confirmed only", "")
    assert "4 of the profile's 4 runs done" in text
    assert len(list((tmp_path / "out" / "results").glob("study-*.png"))) == 3
