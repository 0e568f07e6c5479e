"""`modelyard smax` commands that need no db_bench: predict and validate on stored measurements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelyard.cli import smax
from modelyard.perfmodels import CpuCost, Profile

runner = CliRunner()


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    profile = Profile(
        name="unit",
        cores=2,
        cpu_available_cores=1.8,
        foreground_cpu_sec_per_op=8e-6,
        flush_costs={
            kind: CpuCost(cpu_sec_per_record=0.5e-6, cpu_sec_per_byte=1e-9)
            for kind in ("none", "snappy")
        },
        compaction_costs={
            kind: CpuCost(cpu_sec_per_record=1e-6, cpu_sec_per_byte=1e-9)
            for kind in ("none", "snappy")
        },
    )
    path = tmp_path / "unit.json"
    path.write_text(profile.model_dump_json())
    return path


def test_help_lists_the_commands() -> None:
    result = runner.invoke(smax.app, ["--help"])
    assert result.exit_code == 0
    for command in ("measure", "calibrate", "predict", "validate"):
        assert command in result.output


def test_predict_prints_json(profile_file: Path) -> None:
    args = "--value_size=400 --num=100000 --compression_type=none"
    result = runner.invoke(
        smax.app, ["predict", "--db-bench-args", args, "--profile", str(profile_file)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["smax_ops_per_sec"] > 0
    assert data["binding"] in data["bounds"]
    assert data["p10_ops_per_sec"] < data["smax_ops_per_sec"] < data["p90_ops_per_sec"]
    assert data["smax_ops_per_sec"] <= data["closed_loop_ops_per_sec"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            "--value_sz=400 --num=100000",
            "--value_sz is not a db_bench flag (did you mean --value_size?)",
        ),
        ("--value_size=abc", "--value_size=abc is not valid: --value_size takes an integer."),
        ("--compression_type=lzma", "--compression_type=lzma is not a compression type"),
    ],
)
def test_predict_refuses_bad_arguments_in_one_sentence(
    profile_file: Path, args: str, message: str
) -> None:
    result = runner.invoke(
        smax.app, ["predict", "--db-bench-args", args, "--profile", str(profile_file)]
    )
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_predict_refuses_a_compression_the_profile_has_not_measured(profile_file: Path) -> None:
    result = runner.invoke(
        smax.app,
        ["predict", "--db-bench-args", "--compression_type=zstd", "--profile", str(profile_file)],
    )
    assert result.exit_code == 2
    assert "no costs for compression 'zstd'" in " ".join(result.output.split())


def test_predict_without_a_profile_says_how_to_make_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelyard.cli._context import NoDatabase
    from modelyard.kit import migrate

    home = tmp_path / "home"
    monkeypatch.setenv("MODELYARD_HOME", str(home))
    monkeypatch.delenv("MODELYARD_DATABASE_URL", raising=False)
    result = runner.invoke(smax.app, ["predict", "--db-bench-args", "--num=100000"])
    assert isinstance(result.exception, NoDatabase)  # the CLI prints it as one line, exit 6
    assert "modelyard demo" in str(result.exception)

    home.mkdir()
    migrate.upgrade(f"sqlite:///{home / 'modelyard.db'}")
    result = runner.invoke(smax.app, ["predict", "--db-bench-args", "--num=100000"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, lines  # one line, whatever the terminal's width
    assert "modelyard smax calibrate --name default --nice=-10" in lines[0]
    assert "Traceback" not in result.output


def test_predict_all_models(profile_file: Path) -> None:
    result = runner.invoke(
        smax.app,
        [
            "predict",
            "--db-bench-args",
            "--num=100000 --compression_type=none",
            "--profile",
            str(profile_file),
            "--model",
            "all",
        ],
    )
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)) == set(smax.MODEL_KINDS)


def test_profiles_are_stored_and_loaded_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile_file: Path
) -> None:
    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path / "home"))
    smax._save_profile("mine", json.loads(profile_file.read_text()))
    assert smax._load_profile("mine")["name"] == "unit"
    assert (tmp_path / "home" / "smax" / "profiles" / "mine.json").exists()


def test_validate_on_stored_measurements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile_file: Path
) -> None:
    """Scoring reuses the measurements: the prediction comes from the profile, the arguments and
    the CPU sample taken before the measurement, never from what the probes had."""
    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path / "home"))
    args = "--value_size=400 --num=100000 --compression_type=none"
    matrix = tmp_path / "matrix.json"
    matrix.write_text(json.dumps({"configurations": [{"name": "c1", "db_bench_args": args}]}))
    measurements = tmp_path / "measurements"
    measurements.mkdir()
    probe = {
        "target_ops_per_sec": 50_000.0,
        "sustainable": True,
        "loadavg": [3.0, 3.0, 3.0],
        "cpu": {"available_cores": 0.2, "steal_fraction": 0.01, "other_cores": 1.8},
    }
    (measurements / "c1.json").write_text(
        json.dumps(
            {
                "smax_ops_per_sec": 50_000.0,
                "bracket": [50_000.0, 55_000.0],
                "availability_before": {"cores": 1.8, "ns_per_iteration": None},
                "closed": {
                    "achieved_ops_per_sec": 90_000.0,
                    "loadavg": [2.0, 2.0, 2.0],
                    "cpu": {"available_cores": 0.1},
                },
                "probes": [probe],
            }
        )
    )
    invoke = [
        "validate",
        "--matrix",
        str(matrix),
        "--profile",
        str(profile_file),
        "--measurements",
        str(measurements),
        "--json",
    ]
    result = runner.invoke(smax.app, invoke)
    assert result.exit_code == 0, result.output
    table = json.loads(result.stdout)
    row = table["rows"][0]
    assert row["measured_ops_per_sec"] == 50_000.0
    assert row["cpu_available_cores"] == 1.8  # the sample before, not the probes' 0.2
    assert row["loadavg"] == [2.0, 3.0]
    resource = row["predictions"]["smax_resource"]
    assert resource["error"] == pytest.approx((resource["smax_ops_per_sec"] - 50_000) / 50_000)
    assert resource["closed_error"] == pytest.approx(
        (resource["closed_loop_ops_per_sec"] - 90_000) / 90_000
    )
    assert resource["smax_ops_per_sec"] <= resource["closed_loop_ops_per_sec"]
    assert "smax_resource@profile_cpu" in row["predictions"]
    summary = table["summary"]["smax_resource"]
    assert summary["mape"] == pytest.approx(abs(resource["error"]))
    assert summary["interval_coverage"] in (0.0, 1.0)
    assert summary["above_predicted_closed"] == 0
    assert list((tmp_path / "home" / "smax" / "validations").glob("*.json"))
    # a prediction stored before the measurement is what gets scored
    stored = {"models": {k: dict(resource, smax_ops_per_sec=40_000.0) for k in smax.MODEL_KINDS}}
    data = json.loads((measurements / "c1.json").read_text())
    (measurements / "c1.json").write_text(json.dumps(data | {"prediction": stored}))
    again = json.loads(runner.invoke(smax.app, invoke).stdout)
    assert again["rows"][0]["predictions"]["smax_resource"]["error"] == pytest.approx(-0.2)
    assert again["rows"][0]["prediction_made"] == "before the measurement"


RECORDED = Path(smax.__file__).parent / "demo_data" / "smax"
# the recorded validation's figures as docs/smax.md states them
RECORDED_N = 20
RECORDED_MAPE = 0.269


@pytest.mark.slow
def test_recorded_validation_reproduces_the_documented_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorded validation in docs/smax.md, recomputed from the recorded measurements and
    profile (the predictions come from the CPU sample stored with each measurement)."""
    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path / "home"))
    matrix = Path(__file__).parents[2] / "bench" / "smax_matrix.json"
    result = runner.invoke(
        smax.app,
        [
            "validate",
            "--matrix",
            str(matrix),
            "--profile",
            str(RECORDED / "profile_default.json"),
            "--measurements",
            str(RECORDED / "measurements"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    table = json.loads(result.stdout)
    resource = table["summary"]["smax_resource"]
    assert resource["n"] == RECORDED_N
    assert resource["mape"] == pytest.approx(RECORDED_MAPE, abs=0.002)
    assert resource["above_predicted_closed"] == 0


def test_validation_is_stored_as_a_dataset_and_evaluations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile_file: Path
) -> None:
    """The table lands in the registry: a dataset of the measurements and, per model kind, a
    formula version and an evaluation whose MAPE matches the table's."""
    import sqlalchemy as sa

    from modelyard.config import Settings
    from modelyard.kit.db import Database
    from modelyard.models import Dataset, Evaluation

    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MODELYARD_DATABASE_URL", raising=False)
    profile = json.loads(profile_file.read_text())
    rows = [
        {
            "name": f"c{i}",
            "db_bench_args": f"--value_size={v} --num=100000",
            "cpu_available_cores": 1.5,
            "measured_ops_per_sec": m,
            "predictions": {
                "smax_resource": {"smax_ops_per_sec": p, "error": (p - m) / m},
                "smax_v1": {"smax_ops_per_sec": 10 * m, "error": 9.0},
            },
        }
        for i, (v, m, p) in enumerate([(100, 80_000.0, 84_000.0), (1000, 30_000.0, 27_000.0)])
    ]
    table = {
        "created_at": "2026-11-22T01:00:00+00:00",
        "profile": "unit",
        "cpu_from": "smax_probe",
        "rows": rows,
        "summary": {"smax_resource": {}, "smax_v1": {}, "smax_resource@closed_cpu": {}},
    }
    stored = smax._save_validation(table, profile)
    assert set(stored["evaluations"]) == {"smax_resource", "smax_v1"}

    db = Database(Settings().resolved_database_url)
    try:
        with db.session() as session:
            dataset = session.scalar(sa.select(Dataset).where(Dataset.name == stored["dataset"]))
            assert dataset is not None and dataset.row_count == 2
            resource = session.get(Evaluation, stored["evaluations"]["smax_resource"])
            assert resource is not None and resource.status == "succeeded"
            assert resource.model_name == "smax-resource"
            assert resource.metrics["mape"] == pytest.approx(100 * (0.05 + 0.10) / 2)
            v1 = session.get(Evaluation, stored["evaluations"]["smax_v1"])
            assert v1 is not None and v1.metrics["mape"] == pytest.approx(900.0)
    finally:
        db.dispose()


def test_profile_is_a_registry_version_with_current_alias(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile_file: Path
) -> None:
    from modelyard.cli import _smax_store

    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MODELYARD_DATABASE_URL", raising=False)
    profile = json.loads(profile_file.read_text())
    assert smax._save_profile("box", profile) == "smax-profile.box/1 (@current)"
    assert (
        smax._save_profile("box", profile) == "smax-profile.box/1 (@current)"
    )  # unchanged: no new version
    changed = profile | {"cpu_available_cores": 1.2}
    assert smax._save_profile("box", changed) == "smax-profile.box/2 (@current)"
    assert _smax_store.load_profile("box") == changed
    assert _smax_store.load_profile("other") is None
