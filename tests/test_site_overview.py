"""The overview's static figures (site/comparator_site/views/overview.py), without a browser: the gaps
against values computed by hand from the settings, the Pareto front on hand-made points (ties and NaN
included), the sensitivity axes, and the document's overview models."""

from __future__ import annotations

import math

import pytest

from comparator_site import build_document
from comparator_site.data import load
from comparator_site.views import overview

from site_fixtures import write_experiment

nan = math.nan


def num(v):
    return nan if v is None else v


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tables = write_experiment(
        tmp_path_factory.mktemp("tables"), forget_classes=2, models_per_class=12, per_class=10, seeds=[0, 1]
    )
    return load(tables)


def test_pareto_front_minimises_both_and_keeps_ties():
    xs = [0.1, 0.2, 0.1, 0.3, 0.05, 0.2, nan, 0.05]
    ys = [0.5, 0.2, 0.5, 0.1, 0.9, 0.3, 0.0, 0.9]
    # 0 and 2 tie (both on the front), 4 and 7 tie; 5 is dominated by 1; the NaN point is never on it
    assert overview.pareto_front(xs, ys) == [True, True, True, True, True, False, False, True]
    assert overview.pareto_front([1, 1, 2], [1, 2, 1]) == [True, False, False]  # weakly dominated: off
    assert overview.pareto_front([], []) == []


def test_the_gaps_are_those_to_the_forget_sets_retrained_model(data):
    facts = overview.setting_facts(data)
    assert len(facts["ugap"]) == len(data.settings)
    for k, s in enumerate(data.settings):
        r = next(x for x in data.settings if x["fs"] == s["fs"] and x["type"] == "retrained")
        if s["status"] != "ok":
            assert math.isnan(facts["ugap"][k]) and math.isnan(facts["cost"][k])
            continue
        assert facts["ugap"][k] == pytest.approx(abs(s["UA"] - r["UA"]))
        assert facts["util"][k] == pytest.approx((abs(s["RA"] - r["RA"]) + abs(s["TA"] - r["TA"])) / 2)
        assert facts["priv"][k] == pytest.approx(abs(s["PS"] - r["PS"]))  # no audit: the PS gap
        assert facts["cost"][k] == pytest.approx(nan if s["RTE"] is None else s["RTE"], nan_ok=True)
        assert facts["ugap_sd"][k] == pytest.approx(num(s["UA_std"]), nan_ok=True)
        assert facts["util_sd"][k] == pytest.approx((num(s["RA_std"]) + num(s["TA_std"])) / 2, nan_ok=True)
        if s["type"] == "retrained":
            assert facts["ugap"][k] == 0 and facts["util"][k] == 0


def test_the_pareto_flags_are_the_front_of_each_forget_sets_unlearned_settings(data):
    facts = overview.setting_facts(data)
    for fs in range(len(data.sets)):
        rows = [
            k
            for k, s in enumerate(data.settings)
            if s["fs"] == fs and s["status"] == "ok" and s["type"] not in ("original", "retrained")
        ]
        front = overview.pareto_front([facts["ugap"][k] for k in rows], [facts["util"][k] for k in rows])
        assert [bool(facts["f1"][k]) for k in rows] == front
        assert any(front)
    refs = [k for k, s in enumerate(data.settings) if s["type"] in ("original", "retrained")]
    assert not any(facts["f1"][k] or facts["f2"][k] for k in refs)


def test_hyperparameters_and_sensitivity_axes():
    s = {"epochs": 5, "lr": 0.01, "batch_size": 64, "hyperparameters": '{"alpha": 0.5, "seed": 3, "x": "a"}'}
    assert overview.hyperparameters(s) == {"epochs": 5, "lr": 0.01, "batch_size": 64, "alpha": 0.5}
    grid = [
        {"epochs": 5, "lr": 0.1, "batch_size": 64, "hyperparameters": '{"alpha": 0.5, "beta": 1}'},
        {"epochs": 8, "lr": 0.001, "batch_size": 64, "hyperparameters": '{"alpha": 0.1, "beta": 1}'},
        {"epochs": 5, "lr": 0.01, "batch_size": 64, "hyperparameters": '{"alpha": 50, "beta": 1, "seed": 1}'},
    ]
    # what varies: epochs (linear), lr (log), alpha (spans 500x: log); batch size and beta do not
    assert overview.sensitivity_axes(grid) == [
        {"key": "epochs", "log": False},
        {"key": "lr", "log": True},
        {"key": "alpha", "log": True},
    ]
    assert overview.sensitivity_axes(grid[:1]) == []  # a single grid point
    assert overview.sensitivity_axes([{"epochs": 1, "hyperparameters": "not json"}] * 2) == []


def test_the_document_provides_the_overview(data):
    doc = build_document(data)
    tabs = doc.get_model_by_name("ov_tabs")
    assert [t.title for t in tabs.tabs] == [
        "Trade-off",
        "Best of each method",
        "Sensitivity",
        "Across forget sets",
    ]
    assert tabs.width <= 1240
    assert doc.get_model_by_name("ov_brush") is doc.get_model_by_name("ov_src").selected
    info = overview.info(data)
    assert info["methods"] == [mid for mid, _ in data.methods]
    assert len(info["axes"]) == len(data.sets)
    assert info["audit"] is False
