"""`modelyard smax`: measure, calibrate, predict and validate RocksDB S_max models.

Profiles and validation tables are stored in the registry (see `_smax_store`), with a JSON copy
under `$MODELYARD_HOME/smax/` (default `./.modelyard/smax/`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import statistics as st
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from modelyard.cli import _smax_store
from modelyard.perfmodels import FORMULA_KINDS, Profile, parse_db_bench_args

app = typer.Typer(
    name="smax",
    help="RocksDB S_max: measure (Luo & Carey), calibrate, predict and validate the models.",
    no_args_is_help=True,
)
console = Console(stderr=True)

MODEL_KINDS = ["smax_resource", "smax_v1", "smax_v2_1", "smax_v3", "smax_v4", "smax_v5"]


# -- storage: the registry (see _smax_store), with a JSON copy under $MODELYARD_HOME/smax/ ----
def _home() -> Path:
    return Path(os.environ.get("MODELYARD_HOME", ".modelyard")) / "smax"


def _save_profile(name: str, profile: dict[str, Any]) -> str:
    path = _home() / "profiles" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(profile, indent=1))
    return _smax_store.save_profile(name, profile)


def _load_profile(name_or_path: str) -> dict[str, Any]:
    """A profile by registry name (``smax-profile.<name>@current``), or from a JSON file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".json" or candidate.exists():
        if not candidate.exists():
            raise typer.BadParameter(f"no profile file {candidate}")
        data: dict[str, Any] = json.loads(candidate.read_text())
        return data
    stored = _smax_store.load_profile(name_or_path)
    if stored is None:
        raise typer.BadParameter(
            f"no profile named {name_or_path!r} in the registry "
            "(run `modelyard smax calibrate --name NAME` first, or pass a profile JSON file)"
        )
    return stored


def _save_validation(table: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any]:
    stamp = table.get("created_at", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    path = _home() / "validations" / f"{stamp.replace(':', '')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, indent=1))
    return _smax_store.save_validation(table, profile) | {"file": str(path)}


def _emit(data: Any, as_json: bool, out: Path | None) -> None:
    text = json.dumps(data, indent=1, default=str)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        console.print(f"wrote {out}")
    if as_json:
        typer.echo(text)


def _require_db_bench() -> None:
    """Exit with the install hint when db_bench is missing; make SIGTERM unwind (and so stop
    the db_bench child this process started) instead of killing Python outright."""
    from modelyard.targets.dbbench.runner import DbBenchMissingError, find_db_bench

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    try:
        find_db_bench()
    except DbBenchMissingError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None


def _probe_line(probe: Any) -> str:
    target = probe.target_ops_per_sec
    head = "closed" if target == 0 else f"{target:,.0f}/s"
    verdict = "[green]sustainable[/green]" if probe.sustainable else "[red]not[/red]"
    cpu = probe.cpu
    return (
        f"{head:>12} -> {probe.achieved_ops_per_sec:>9,.0f} ops/s {verdict} "
        f"cv={probe.cv_second_half:.1%} stall={probe.stall_fraction:.1%} L0max={probe.l0_max_files} "
        f"cpu avail={cpu['available_cores']:.2f} steal={cpu['steal_fraction']:.0%} "
        f"other={cpu['other_cores']:.2f} {'; '.join(probe.reasons)}"
    )


# -- commands --------------------------------------------------------------------------------
DbBenchArgs = Annotated[
    str,
    typer.Option(
        "--db-bench-args",
        help='db_bench arguments, including --num or --duration, e.g. "--value_size=400 '
        '--write_buffer_size=8388608 --duration=15"',
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
OutFile = Annotated[Path | None, typer.Option("--out", help="Also write the JSON to this file.")]
NiceOption = Annotated[
    int,
    typer.Option(
        "--nice",
        help="Scheduling priority for db_bench (e.g. -10, needs root): its own session and "
        "autogroup nice, so a shared machine's other work takes less of its CPU.",
    ),
]
ProfileOption = Annotated[
    str, typer.Option("--profile", help="Profile name in the registry, or a JSON file path.")
]


@app.command()
def measure(
    db_bench_args: DbBenchArgs,
    max_probes: Annotated[int, typer.Option(help="Bisection probes after the closed run.")] = 6,
    nice: NiceOption = 0,
    as_json: JsonFlag = False,
    out: OutFile = None,
) -> None:
    """Measure S_max with a closed run then a bisection on --benchmark_write_rate_limit."""
    _require_db_bench()
    from modelyard.targets.dbbench.measure import measure_smax

    config = parse_db_bench_args(db_bench_args)
    result = measure_smax(
        config,
        max_probes=max_probes,
        nice=nice,
        on_probe=lambda p: console.print(_probe_line(p)),
    )
    smax = result.smax_ops_per_sec
    console.print(
        f"S_max = [bold]{smax:,.0f}[/bold] ops/s (bracket {result.bracket[0]:,.0f} - "
        f"{result.bracket[1]:,.0f}), closed maximum {result.closed.achieved_ops_per_sec:,.0f}"
        if smax is not None
        else "[red]no sustainable rate found[/red]"
    )
    _emit(result.to_dict(), as_json, out)


@app.command()
def calibrate(
    name: Annotated[str, typer.Option(help="Profile name to store.")] = "default",
    fio: Annotated[bool, typer.Option(help="Measure the device envelope with fio.")] = True,
    nice: NiceOption = 0,
    as_json: JsonFlag = False,
    out: OutFile = None,
) -> None:
    """Measure this machine once (fio envelope, compaction/flush/writer CPU costs); store it."""
    _require_db_bench()
    from modelyard.targets.dbbench.calibrate import calibrate as run_calibration

    profile = run_calibration(
        name=name,
        with_fio=fio,
        nice=nice,
        on_run=lambda r: console.print(
            f"{' '.join(r.config.to_args())}: {r.ops_per_sec:,.0f} ops/s, "
            f"cpu {r.cpu_sec_total:.1f} s, avail {r.cpu.available_cores:.2f}"
        ),
    )
    data = profile.model_dump()
    where = _save_profile(name, data)
    console.print(f"stored profile {name!r} in the registry as {where}")
    table = Table(title=f"profile {name}")
    table.add_column("parameter")
    table.add_column("value", justify="right")
    table.add_row("foreground CPU per put", f"{profile.foreground_cpu_sec_per_op * 1e6:.2f} µs")
    table.add_row("  + per byte", f"{profile.foreground_cpu_sec_per_byte * 1e9:.3f} ns")
    for key, cost in profile.compaction_costs.items():
        table.add_row(
            f"compaction ({key})",
            f"{cost.cpu_sec_per_record * 1e9:.0f} ns/record + {cost.cpu_sec_per_byte * 1e9:.3f} ns/B",
        )
    for key, cost in profile.flush_costs.items():
        table.add_row(
            f"flush ({key})",
            f"{cost.cpu_sec_per_record * 1e9:.0f} ns/record + {cost.cpu_sec_per_byte * 1e9:.3f} ns/B",
        )
    table.add_row("compaction blocked", f"{profile.compaction_io_sec_per_byte * 1e9:.3f} ns/B")
    table.add_row("CPU available", f"{profile.cpu_available_cores:.2f} cores")
    console.print(table)
    _emit(data, as_json, out)


def _predict_all(
    profile: dict[str, Any],
    db_bench_args: str,
    cores: float | None,
    kinds: list[str],
    burst_cores: float | None = None,
) -> dict[str, Any]:
    features: dict[str, Any] = {"db_bench_args": db_bench_args}
    if cores is not None:
        features["cpu_available_cores"] = cores
    if burst_cores is not None:
        features["cpu_burst_cores"] = burst_cores
    return {
        kind: FORMULA_KINDS[kind]({"profile": profile}, features).model_dump() for kind in kinds
    }


@app.command()
def predict(
    db_bench_args: DbBenchArgs,
    profile: ProfileOption = "default",
    model: Annotated[
        str, typer.Option(help=f"One of {', '.join(MODEL_KINDS)}, or 'all'.")
    ] = "smax_resource",
    cpu_available_cores: Annotated[
        float | None, typer.Option(help="Cores db_bench can use (default: the profile's).")
    ] = None,
    out: OutFile = None,
) -> None:
    """Predict S_max for a configuration on a profiled machine; print JSON."""
    kinds = MODEL_KINDS if model == "all" else [model]
    for kind in kinds:
        if kind not in FORMULA_KINDS:
            raise typer.BadParameter(f"unknown model {kind!r}; known: {', '.join(MODEL_KINDS)}")
    data = _predict_all(_load_profile(profile), db_bench_args, cpu_available_cores, kinds)
    result = data[kinds[0]] if len(kinds) == 1 else data
    _emit(result, True, out)


CPU_SOURCES = ("closed", "smax_probe", "profile")
SIDE_KIND = "smax_resource@closed_cpu"


def _cores_for(measured: dict[str, Any], source: str) -> float | None:
    """The CPU the prediction is given: what the closed (CPU-saturated) run had, what the S_max
    probe had, or the profile's typical value (None)."""
    if source == "closed":
        value = measured.get("closed", {}).get("cpu", {}).get("available_cores")
        return float(value) if value is not None else None
    if source == "smax_probe":
        value = measured.get("cpu_available_cores_at_smax")
        return float(value) if value is not None else None
    return None


def validation_table(
    matrix: list[tuple[str, str]],
    measurements: dict[str, dict[str, Any]],
    profile: dict[str, Any],
    kinds: list[str],
    cpu_from: str = "smax_probe",
) -> dict[str, Any]:
    """Measured vs every model's prediction, errors, MAPE.

    By default every model is given the cores the S_max probe actually had (cores x (1 - steal)
    minus what other processes used: the average CPU db_bench got while sustaining S_max), and
    the resource model also the cores the closed run had as its burst capacity (all threads
    wanting CPU, as when compactions and the writer run at once). The resource model given only
    the closed run's CPU is shown beside (`smax_resource@closed_cpu`).
    """
    rows: list[dict[str, Any]] = []
    for name, args in matrix:
        measured = measurements[name]
        smax = measured.get("smax_ops_per_sec")
        cores = _cores_for(measured, cpu_from)
        closed_cores = _cores_for(measured, "closed")
        burst = closed_cores if cpu_from == "smax_probe" else None
        best = [p for p in measured["probes"] if p["sustainable"]]
        probe = max(best, key=lambda p: p["target_ops_per_sec"]) if best else None
        predictions = _predict_all(profile, args, cores, kinds, burst)
        row: dict[str, Any] = {
            "name": name,
            "db_bench_args": args,
            "measured_ops_per_sec": smax,
            "bracket": measured.get("bracket"),
            "closed_max_ops_per_sec": measured["closed"]["achieved_ops_per_sec"],
            "cpu_available_cores": cores,
            "cpu_available_cores_at_smax": measured.get("cpu_available_cores_at_smax"),
            "cpu_burst_cores": burst,
            "steal_fraction": probe["cpu"]["steal_fraction"] if probe else None,
            "other_cores": probe["cpu"]["other_cores"] if probe else None,
            "measured_at": measured.get("measured_at"),
            "predictions": {},
        }
        if cpu_from != "closed" and closed_cores is not None:
            # the same model given the CPU the closed run had, shown beside for transparency
            predictions[SIDE_KIND] = _predict_all(profile, args, closed_cores, ["smax_resource"])[
                "smax_resource"
            ]
        for kind, prediction in predictions.items():
            value = prediction["smax_ops_per_sec"]
            row["predictions"][kind] = {
                "smax_ops_per_sec": value,
                "binding": prediction["binding"],
                "error": (value - smax) / smax if smax else None,
            }
        rows.append(row)
    summary: dict[str, dict[str, float | None]] = {}
    shown = [
        *kinds,
        *([SIDE_KIND] if any(SIDE_KIND in r["predictions"] for r in rows) else []),
    ]
    for kind in shown:
        errors = [
            abs(r["predictions"][kind]["error"])
            for r in rows
            if kind in r["predictions"] and r["predictions"][kind]["error"] is not None
        ]
        summary[kind] = {
            "mape": st.fmean(errors) if errors else None,
            "max_abs_error": max(errors) if errors else None,
            "n": float(len(errors)),
        }
    return {
        "kind": "smax_validation",
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "profile": profile.get("name"),
        "cpu_from": cpu_from,
        "rows": rows,
        "summary": summary,
    }


def _print_table(table: dict[str, Any], kinds: list[str]) -> None:
    kinds = [k for k in table["summary"] if k in kinds or k == SIDE_KIND]
    view = Table(title="S_max: measured vs predicted (error)")
    view.add_column("configuration")
    view.add_column("measured", justify="right")
    view.add_column("CPU", justify="right")
    for kind in kinds:
        view.add_column(kind.removeprefix("smax_"), justify="right")
    for row in table["rows"]:
        cells = [
            row["name"],
            f"{row['measured_ops_per_sec']:,.0f}" if row["measured_ops_per_sec"] else "-",
            f"{row['cpu_available_cores']:.2f}" if row["cpu_available_cores"] else "-",
        ]
        for kind in kinds:
            p = row["predictions"].get(kind)
            if p is None:
                cells.append("-")
                continue
            err = p["error"]
            cells.append(
                f"{p['smax_ops_per_sec']:,.0f} ({err:+.0%})"
                if err is not None
                else f"{p['smax_ops_per_sec']:,.0f}"
            )
        view.add_row(*cells)
    mape = ["MAPE", "", ""]
    worst = ["max |error|", "", ""]
    for kind in kinds:
        s = table["summary"][kind]
        mape.append(f"{s['mape']:.1%}" if s["mape"] is not None else "-")
        worst.append(f"{s['max_abs_error']:.1%}" if s["max_abs_error"] is not None else "-")
    view.add_row(*mape)
    view.add_row(*worst)
    console.print(view)


@app.command()
def validate(
    matrix: Annotated[Path, typer.Option("--matrix", help="JSON matrix of configurations.")],
    profile: ProfileOption = "default",
    measurements: Annotated[
        Path,
        typer.Option(help="Directory of measurements (<name>.json), reused when present."),
    ] = Path(".modelyard/smax/measurements"),
    remeasure: Annotated[bool, typer.Option(help="Measure again even when cached.")] = False,
    max_probes: Annotated[int, typer.Option(help="Bisection probes per configuration.")] = 5,
    nice: NiceOption = 0,
    cpu_from: Annotated[
        str,
        typer.Option(
            help="CPU given to the predictions: 'smax_probe' (what the S_max probe had), "
            "'closed' (what the CPU-saturated closed run had) or 'profile'."
        ),
    ] = "smax_probe",
    as_json: JsonFlag = False,
    out: OutFile = None,
) -> None:
    """Measure (or reuse) and predict a matrix of configurations; store the table."""
    if cpu_from not in CPU_SOURCES:
        raise typer.BadParameter(f"--cpu-from must be one of {', '.join(CPU_SOURCES)}")
    spec = json.loads(matrix.read_text())
    entries = [(c["name"], c["db_bench_args"]) for c in spec["configurations"]]
    missing = [n for n, _ in entries if remeasure or not (measurements / f"{n}.json").exists()]
    if missing:
        _require_db_bench()
    from modelyard.targets.dbbench.measure import measure_matrix

    measured = measure_matrix(
        [(n, parse_db_bench_args(a)) for n, a in entries],
        measurements,
        remeasure=remeasure,
        max_probes=max_probes,
        nice=nice,
        on_probe=lambda n, p: console.print(f"{n}: {_probe_line(p)}"),
    )
    profile_data = _load_profile(profile)
    Profile.model_validate(profile_data)
    table = validation_table(entries, measured, profile_data, MODEL_KINDS, cpu_from)
    table["matrix"] = str(matrix)
    stored = _save_validation(table, profile_data)
    _print_table(table, MODEL_KINDS)
    console.print(
        f"stored as dataset {stored['dataset']!r} with evaluations "
        + ", ".join(f"{kind}: {eid}" for kind, eid in stored["evaluations"].items())
    )
    _emit(table, as_json, out)


if __name__ == "__main__":
    app()
