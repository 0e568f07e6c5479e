"""Leaderboards rank versions by their latest evaluation on a dataset."""

from __future__ import annotations

from tests.conftest import Api
from tests.evaluations.test_api import SMALL_CSV, dataset, evaluate, linear_model, wait_for


def _evaluated(api: Api, model: str, dataset_id: int) -> dict:  # type: ignore[type-arg]
    created = evaluate(api, model=model, dataset=dataset_id, target="y")
    done = wait_for(api, created["id"])
    assert done["status"] == "succeeded", done
    return done


def test_leaderboard_ranks_by_metric_direction(editor: Api, viewer: Api, unique: str) -> None:
    data = dataset(editor, f"lb-{unique}", SMALL_CSV)
    good, bad = f"lb-good-{unique}", f"lb-bad-{unique}"
    linear_model(editor, good, 3.0, 1.2)
    linear_model(editor, bad, 0.0, 0.5)
    linear_model(editor, good, 2.0, 2.0)  # version 2 of the good model: worse than version 1
    scores = {
        (good, 1): _evaluated(editor, f"{good}/1", data)["metrics"],
        (bad, 1): _evaluated(editor, f"{bad}/1", data)["metrics"],
        (good, 2): _evaluated(editor, f"{good}/2", data)["metrics"],
    }

    board = viewer.get(
        "/analytics/leaderboard", params={"dataset": f"lb-{unique}", "metric": "mae"}
    ).json()
    assert board["direction"] == "lower"
    ranked = [(e["model"], e["version"]) for e in board["entries"]]
    assert ranked == sorted(scores, key=lambda key: scores[key]["mae"])
    assert [e["rank"] for e in board["entries"]] == [1, 2, 3]
    assert board["entries"][0]["value"] == scores[ranked[0]]["mae"]

    r2 = viewer.get("/analytics/leaderboard", params={"dataset": data, "metric": "r2"}).json()
    assert [(e["model"], e["version"]) for e in r2["entries"]] == sorted(
        scores, key=lambda k: -scores[k]["r2"]
    )


def test_unrankable_metric_and_unknown_dataset(viewer: Api) -> None:
    r = viewer.get("/analytics/leaderboard", params={"dataset": "nope-none", "metric": "mae"})
    assert r.status_code == 404
    r = viewer.get("/analytics/leaderboard", params={"dataset": "nope-none", "metric": "banana"})
    assert r.status_code == 400 and "cannot be ranked" in r.json()["detail"]
