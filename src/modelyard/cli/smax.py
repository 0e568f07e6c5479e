"""`modelyard smax`: measure, calibrate, predict and validate RocksDB S_max models.

Profiles and validation tables are stored in the registry (see `_smax_store`), with a JSON copy
under `$MODELYARD_HOME/smax/` (default `./.modelyard/smax/`).

Every db_bench run obeys one budget (`--nice`, `--cpus`, `--write-limit`): calibrate, the CPU
sample a prediction may use, and the measurement all run under it, so a profile describes the
"machine" the budget makes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import signal
import statistics as st
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from modelyard.cli import _smax_store
from modelyard.perfmodels import (
    FORMULA_KINDS,
    DbBenchArgsError,
    DbBenchConfig,
    MissingCompressionError,
    Profile,
    parse_db_bench_args,
)

app = typer.Typer(
    name="smax",
    help="RocksDB S_max: measure (Luo & Carey), calibrate, predict and validate the models.",
    no_args_is_help=True,
)
console = Console(stderr=True)

MODEL_KINDS = ["smax_resource", "smax_v1", "smax_v2_1", "smax_v3", "smax_v4", "smax_v5"]
PRIMARY = "smax_resource"
PROFILE_ONLY = "smax_resource@profile_cpu"
NO_PROFILE_HINT = (
    "no S_max profile {name!r} here: make one with `modelyard smax calibrate --name {name} "
    "--nice=-10` (about 5 minutes, needs db_bench), or load the recorded one with "
    "`modelyard demo`."
)


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
    from modelyard.cli._context import NoDatabase

    try:
        stored = _smax_store.load_profile(name_or_path)
    except NoDatabase as error:  # no database: say so (exit 6), then how to get a profile
        raise NoDatabase(
            f"{error} Without one there is no S_max profile: `modelyard demo` loads the "
            f"recorded one, `modelyard smax calibrate` measures one."
        ) from None
    if stored is None:
        console.print(f"[red]{NO_PROFILE_HINT.format(name=name_or_path)}[/red]", soft_wrap=True)
        raise typer.Exit(2)
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


def _config(args: str) -> DbBenchConfig:
    """The configuration, or exit 2 with the one sentence saying what is wrong."""
    try:
        return parse_db_bench_args(args)
    except DbBenchArgsError as error:
        console.print(f"[red]{error}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None


def _require_db_bench() -> None:
    """Exit with the install hint when db_bench is missing; make SIGTERM unwind (and so stop
    the db_bench child this process started) instead of killing Python outright."""
    from modelyard.targets.dbbench.runner import DbBenchMissingError, find_db_bench

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    try:
        find_db_bench()
    except DbBenchMissingError as error:
        console.print(f"[red]{error}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None


def _probe_line(probe: Any) -> str:
    target = probe.target_ops_per_sec
    head = "closed" if target == 0 else f"{target:,.0f}/s"
    verdict = "[green]sustainable[/green]" if probe.sustainable else "[red]not[/red]"
    cpu = probe.cpu
    load = f"load {probe.loadavg[0]:.1f} " if probe.loadavg else ""
    return (
        f"{head:>12} -> {probe.achieved_ops_per_sec:>9,.0f} ops/s {verdict} "
        f"cv={probe.cv_second_half:.1%} stall={probe.stall_fraction:.1%} L0max={probe.l0_max_files} "
        f"{load}cores used={cpu['own_cores']:.2f} other={cpu['other_cores']:.2f} "
        f"{'; '.join(probe.reasons)}"
    )


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?)?(?:/s)?\s*$", re.IGNORECASE)


def _bytes_per_sec(text: str | None) -> int | None:
    if text is None:
        return None
    match = _SIZE.match(text)
    if match is None:
        raise typer.BadParameter(f"{text!r} is not a rate: use bytes/s, e.g. 25000000 or 24MiB")
    unit = (match.group(2) or "").lower().rstrip("b").rstrip("i")
    factor = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[unit]
    return int(float(match.group(1)) * factor)


def _budget(nice: int, cpus: str | None, write_limit: str | None) -> Any:
    from modelyard.targets.dbbench.budget import Budget

    if cpus is not None and not re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*", cpus):
        raise typer.BadParameter(f"--cpus {cpus!r} is not a CPU list such as 1 or 0-1")
    return Budget(nice=nice, cpus=cpus, write_bytes_per_sec=_bytes_per_sec(write_limit))


# -- options ---------------------------------------------------------------------------------
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
CpusOption = Annotated[
    str | None,
    typer.Option("--cpus", help="Run db_bench on these CPUs only (taskset list, e.g. 1)."),
]
WriteLimitOption = Annotated[
    str | None,
    typer.Option(
        "--write-limit",
        help="Block-device write limit for db_bench (cgroup io.max or blkio), e.g. 24MiB.",
    ),
]
WorkdirOption = Annotated[
    Path | None,
    typer.Option("--workdir", help="Where db_bench's databases go (default: the temp dir)."),
]
ProfileOption = Annotated[
    str, typer.Option("--profile", help="Profile name in the registry, or a JSON file path.")
]


# -- commands --------------------------------------------------------------------------------
@app.command()
def measure(
    db_bench_args: DbBenchArgs,
    max_probes: Annotated[int, typer.Option(help="Bisection probes after the closed run.")] = 5,
    nice: NiceOption = 0,
    cpus: CpusOption = None,
    write_limit: WriteLimitOption = None,
    workdir: WorkdirOption = None,
    as_json: JsonFlag = False,
    out: OutFile = None,
) -> None:
    """Measure S_max with a closed run then a bisection on --benchmark_write_rate_limit."""
    config = _config(db_bench_args)
    budget = _budget(nice, cpus, write_limit)
    _require_db_bench()
    from modelyard.targets.dbbench.measure import measure_smax

    result = measure_smax(
        config,
        max_probes=max_probes,
        budget=budget,
        workdir=workdir,
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
    repeats: Annotated[
        int, typer.Option(min=1, help="Times each calibration run is repeated (spread).")
    ] = 2,
    fio: Annotated[bool, typer.Option(help="Measure the device envelope with fio.")] = True,
    nice: NiceOption = 0,
    cpus: CpusOption = None,
    write_limit: WriteLimitOption = None,
    workdir: WorkdirOption = None,
    as_json: JsonFlag = False,
    out: OutFile = None,
) -> None:
    """Measure this machine (fio envelope, writer/flush/compaction CPU costs, CPU availability
    and their spread over repeated runs) and store the profile."""
    budget = _budget(nice, cpus, write_limit)
    _require_db_bench()
    from modelyard.targets.dbbench.calibrate import calibrate as run_calibration

    profile = run_calibration(
        name=name,
        repeats=repeats,
        with_fio=fio,
        budget=budget,
        workdir=workdir,
        on_run=lambda item: console.print(
            f"{' '.join(item.run.config.to_args())}: {item.run.ops_per_sec:,.0f} ops/s, "
            f"writer {item.run.cpu.thread_cpu_sec.get('db_bench', 0) / max(item.run.operations, 1) * 1e6:.2f} µs/put, "
            f"cores before {item.availability.cores:.2f} used {item.run.cpu.own_cores:.2f}, "
            f"load {item.availability.loadavg[0]:.1f}"
        ),
    )
    data = profile.model_dump()
    where = _save_profile(name, data)
    console.print(f"stored profile {name!r} in the registry as {where}")
    table = Table(title=f"profile {name} ({budget.label})")
    table.add_column("parameter")
    table.add_column("value", justify="right")
    table.add_row("writer CPU per put", f"{profile.foreground_cpu_sec_per_op * 1e6:.2f} µs")
    table.add_row("  + per byte", f"{profile.foreground_cpu_sec_per_byte * 1e9:.3f} ns")
    table.add_row(
        "  + per memtable doubling",
        f"{profile.foreground_cpu_sec_per_memtable_doubling * 1e9:.0f} ns",
    )
    table.add_row("  x per extra writer thread", f"{1 + profile.foreground_concurrency_factor:.2f}")
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
    for key, fraction in profile.compressed_fraction.items():
        table.add_row(f"value bytes kept ({key})", f"{fraction:.2f}")
    if profile.availability is not None:
        a = profile.availability
        table.add_row(
            "cores available (p10 / median / p90)",
            f"{a.p10_cores:.2f} / {a.median_cores:.2f} / {a.p90_cores:.2f}",
        )
    s = profile.spread
    table.add_row(
        "cost spread (writer / flush / compaction)",
        f"{s.writer:.1%} / {s.flush:.1%} / {s.compaction:.1%}",
    )
    console.print(table)
    _emit(data, as_json, out)


def _predict_kinds(
    profile: dict[str, Any],
    db_bench_args: str,
    kinds: list[str],
    cores: float | None = None,
    speed: float | None = None,
    single: float | None = None,
) -> dict[str, Any]:
    features: dict[str, Any] = {"db_bench_args": db_bench_args}
    if cores is not None:
        features["cpu_available_cores"] = cores
    if speed is not None:
        features["cpu_speed_ns_per_iteration"] = speed
    if single is not None:
        features["cpu_single_thread_cores"] = single
    return {
        kind: FORMULA_KINDS[kind]({"profile": profile}, features).model_dump() for kind in kinds
    }


@app.command()
def predict(
    db_bench_args: DbBenchArgs,
    profile: ProfileOption = "default",
    model: Annotated[
        str, typer.Option(help=f"One of {', '.join(MODEL_KINDS)}, or 'all'.")
    ] = PRIMARY,
    cpu_available_cores: Annotated[
        float | None,
        typer.Option(help="Cores db_bench can get (default: the profile's median sample)."),
    ] = None,
    sample_cpu: Annotated[
        bool,
        typer.Option(
            "--sample-cpu",
            help="Sample the cores and CPU speed available now (2 s, at --nice/--cpus) and "
            "predict for them.",
        ),
    ] = False,
    nice: NiceOption = 0,
    cpus: CpusOption = None,
    out: OutFile = None,
) -> None:
    """Predict S_max (with p10/p90) and the closed-loop maximum; print JSON."""
    kinds = MODEL_KINDS if model == "all" else [model]
    for kind in kinds:
        if kind not in FORMULA_KINDS:
            raise typer.BadParameter(f"unknown model {kind!r}; known: {', '.join(MODEL_KINDS)}")
    config = _config(db_bench_args)
    data_profile = _load_profile(profile)
    speed = single = None
    if sample_cpu:
        from modelyard.targets.dbbench.cpu import sample_availability

        sample = sample_availability(nice=nice, cpus=cpus)
        cpu_available_cores, speed = sample.cores, sample.ns_per_iteration
        single = sample.single_thread_cores
        console.print(
            f"sampled {sample.cores:.2f} cores, {sample.ns_per_iteration:.1f} ns/iteration, "
            f"load {sample.loadavg[0]:.1f}"
        )
    try:
        data = _predict_kinds(
            data_profile, db_bench_args, kinds, cpu_available_cores, speed, single
        )
    except MissingCompressionError as error:
        console.print(f"[red]{error}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    if config.unmodelled_flags:
        console.print(
            "[yellow]not modelled (the prediction ignores them): "
            + ", ".join(f"--{f}" for f in config.unmodelled_flags)
            + "[/yellow]"
        )
    result = data[kinds[0]] if len(kinds) == 1 else data
    _emit(result, True, out)


# -- validation ------------------------------------------------------------------------------
def _prediction_record(
    profile: dict[str, Any],
    args: str,
    cores: float | None,
    speed: float | None,
    single: float | None = None,
) -> dict[str, Any]:
    """Every model's prediction from the CPU sample, and the resource model's from the profile
    alone (no sample), as stored before a measurement."""
    models = _predict_kinds(profile, args, MODEL_KINDS, cores, speed, single)
    models[PROFILE_ONLY] = _predict_kinds(profile, args, [PRIMARY])[PRIMARY]
    return {"models": models}


def _err(predicted: float | None, measured: float | None) -> float | None:
    if predicted is None or not measured:
        return None
    return (predicted - measured) / measured


def validation_table(
    matrix: list[tuple[str, str]],
    measurements: dict[str, dict[str, Any]],
    profile: dict[str, Any],
    kinds: list[str] | None = None,
) -> dict[str, Any]:
    """Measured against predicted, for every configuration that was measured.

    A measurement that carries the prediction stored before it (`validate` writes one) is scored
    on that; otherwise the prediction is made now from the profile, the arguments and the CPU
    sample taken before the measurement (never anything measured during it; none for older
    measurements without a sample).
    """
    kinds = kinds or MODEL_KINDS
    rows: list[dict[str, Any]] = []
    for name, args in matrix:
        measured = measurements.get(name)
        if measured is None:
            continue
        smax = measured.get("smax_ops_per_sec")
        closed = measured["closed"]["achieved_ops_per_sec"]
        before = measured.get("availability_before") or {}
        stored = measured.get("prediction")
        if stored is not None and set(kinds) <= set(stored["models"]):
            models = stored["models"]
            made = "before the measurement"
        else:
            models = _prediction_record(
                profile,
                args,
                before.get("cores"),
                before.get("ns_per_iteration"),
                before.get("single_thread_cores"),
            )["models"]
            made = "at scoring, from the sample taken before the measurement"
        loads = [
            p["loadavg"][0] for p in [measured["closed"], *measured["probes"]] if p.get("loadavg")
        ]
        row: dict[str, Any] = {
            "name": name,
            "db_bench_args": args,
            "measured_ops_per_sec": smax,
            "bracket": measured.get("bracket"),
            "closed_max_ops_per_sec": closed,
            "cpu_available_cores": before.get("cores"),
            "cpu_speed_ns_per_iteration": before.get("ns_per_iteration"),
            "loadavg": [min(loads), max(loads)] if loads else None,
            "measured_at": measured.get("measured_at"),
            "prediction_made": made,
            "predictions": {},
        }
        for kind in [*kinds, PROFILE_ONLY]:
            p = models.get(kind)
            if p is None:
                continue
            entry: dict[str, Any] = {
                "smax_ops_per_sec": p["smax_ops_per_sec"],
                "binding": p["binding"],
                "error": _err(p["smax_ops_per_sec"], smax),
            }
            if p.get("closed_loop_ops_per_sec") is not None:
                entry["closed_loop_ops_per_sec"] = p["closed_loop_ops_per_sec"]
                entry["closed_error"] = _err(p["closed_loop_ops_per_sec"], closed)
            if p.get("p10_ops_per_sec") is not None and smax:
                entry["p10_ops_per_sec"] = p["p10_ops_per_sec"]
                entry["p90_ops_per_sec"] = p["p90_ops_per_sec"]
                entry["inside"] = p["p10_ops_per_sec"] <= smax <= p["p90_ops_per_sec"]
            row["predictions"][kind] = entry
        rows.append(row)
    summary: dict[str, dict[str, float | None]] = {}
    for kind in [*kinds, PROFILE_ONLY]:
        entries = [r["predictions"][kind] for r in rows if kind in r["predictions"]]
        errors = [abs(e["error"]) for e in entries if e["error"] is not None]
        closed_errors = [
            abs(e["closed_error"]) for e in entries if e.get("closed_error") is not None
        ]
        inside = [e["inside"] for e in entries if "inside" in e]
        above_closed = [
            e
            for e in entries
            if e.get("closed_loop_ops_per_sec") is not None
            and e["smax_ops_per_sec"] > e["closed_loop_ops_per_sec"] * (1 + 1e-9)
        ]
        summary[kind] = {
            "n": float(len(errors)),
            "mape": st.fmean(errors) if errors else None,
            "max_abs_error": max(errors) if errors else None,
            "within_25pct": float(sum(e <= 0.25 for e in errors)) if errors else None,
            "closed_mape": st.fmean(closed_errors) if closed_errors else None,
            "closed_max_abs_error": max(closed_errors) if closed_errors else None,
            "interval_coverage": sum(inside) / len(inside) if inside else None,
            "above_predicted_closed": float(len(above_closed)),
        }
    loads = [x for r in rows if r["loadavg"] for x in r["loadavg"]]
    return {
        "kind": "smax_validation",
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "profile": profile.get("name"),
        "profile_sha256": hashlib.sha256(json.dumps(profile, sort_keys=True).encode()).hexdigest()[
            :16
        ],
        "loadavg": [min(loads), max(loads)] if loads else None,
        "rows": rows,
        "summary": summary,
    }


def _pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.0%}" if signed else f"{value:.1%}"


def _print_table(table: dict[str, Any]) -> None:
    view = Table(title=f"S_max: measured vs predicted (profile {table['profile']})")
    for column in (
        "configuration",
        "load",
        "cores",
        "measured",
        "predicted (err)",
        "p10-p90",
        "closed meas.",
        "closed pred. (err)",
        "binding",
        "profile CPU (err)",
    ):
        view.add_column(column, justify="left" if column == "configuration" else "right")
    for row in table["rows"]:
        p = row["predictions"].get(PRIMARY, {})
        side = row["predictions"].get(PROFILE_ONLY, {})
        measured = row["measured_ops_per_sec"]
        view.add_row(
            row["name"],
            f"{row['loadavg'][0]:.1f}-{row['loadavg'][1]:.1f}" if row["loadavg"] else "-",
            f"{row['cpu_available_cores']:.2f}" if row["cpu_available_cores"] else "-",
            f"{measured:,.0f}" if measured else "none sustainable",
            f"{p['smax_ops_per_sec']:,.0f} ({_pct(p['error'], True)})" if p else "-",
            (
                f"{p['p10_ops_per_sec']:,.0f}-{p['p90_ops_per_sec']:,.0f}"
                + (" ✓" if p.get("inside") else " ✗")
                if "p10_ops_per_sec" in p
                else "-"
            ),
            f"{row['closed_max_ops_per_sec']:,.0f}",
            (
                f"{p['closed_loop_ops_per_sec']:,.0f} ({_pct(p['closed_error'], True)})"
                if p.get("closed_loop_ops_per_sec")
                else "-"
            ),
            p.get("binding", "-"),
            f"{side['smax_ops_per_sec']:,.0f} ({_pct(side['error'], True)})" if side else "-",
        )
    console.print(view)
    summary = Table(title="summary")
    for column in ("model", "n", "MAPE", "max |err|", "≤25%", "closed MAPE", "80% coverage"):
        summary.add_column(column, justify="right")
    for kind, s in table["summary"].items():
        summary.add_row(
            kind,
            f"{s['n']:.0f}",
            _pct(s["mape"]),
            _pct(s["max_abs_error"]),
            f"{s['within_25pct']:.0f}" if s["within_25pct"] is not None else "-",
            _pct(s["closed_mape"]),
            _pct(s["interval_coverage"]),
        )
    console.print(summary)


@app.command()
def validate(
    profile: ProfileOption = "default",
    matrix: Annotated[
        Path | None, typer.Option("--matrix", help="JSON matrix of configurations.")
    ] = None,
    sample: Annotated[
        int | None,
        typer.Option(
            "--sample", min=1, help="Draw this many configurations with the seeded sampler."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="The sampler's seed.")] = 1,
    max_seconds: Annotated[
        int,
        typer.Option(
            help="Longest run the sampler draws: --duration 20 to this, --num runs in proportion."
        ),
    ] = 120,
    measurements: Annotated[
        Path,
        typer.Option(help="Directory of measurements (<name>.json), reused when present."),
    ] = Path(".modelyard/smax/measurements"),
    remeasure: Annotated[bool, typer.Option(help="Measure again even when cached.")] = False,
    max_probes: Annotated[int, typer.Option(help="Bisection probes per configuration.")] = 4,
    tolerance: Annotated[float, typer.Option(help="Stop bisecting within this bracket.")] = 0.04,
    nice: NiceOption = 0,
    cpus: CpusOption = None,
    write_limit: WriteLimitOption = None,
    workdir: WorkdirOption = None,
    as_json: JsonFlag = False,
    out: OutFile = None,
) -> None:
    """Predict, then measure, every configuration of a matrix (or a seeded sample); score.

    Each configuration's prediction is made from the profile, the arguments and a CPU sample
    taken just before its measurement, and written down before db_bench starts.
    """
    if (matrix is None) == (sample is None):
        raise typer.BadParameter("give either --matrix FILE or --sample N (with --seed)")
    profile_data = _load_profile(profile)
    Profile.model_validate(profile_data)
    budget = _budget(nice, cpus, write_limit)
    if matrix is not None:
        spec = json.loads(matrix.read_text())
        entries = [(c["name"], c["db_bench_args"]) for c in spec["configurations"]]
    else:
        from modelyard.perfmodels import sample_configurations, space_for

        space = space_for(max_seconds)
        drawn = sample_configurations(sample or 0, seed=seed, space=space)
        entries = [(c.name, c.db_bench_args) for c in drawn]
        spec = {
            "seed": seed,
            "space": space.model_dump(),
            "configurations": [c.model_dump() for c in drawn],
        }
    configs = [(n, _config(a)) for n, a in entries]
    missing = [n for n, _ in entries if remeasure or not (measurements / f"{n}.json").exists()]
    if missing:
        _require_db_bench()
        measurements.mkdir(parents=True, exist_ok=True)
        (measurements / "matrix.json").write_text(
            json.dumps(
                spec
                | {
                    "budget": budget.to_dict(),
                    "profile": profile_data.get("name"),
                    "profile_created_at": profile_data.get("created_at"),
                },
                indent=1,
            )
        )
    from modelyard.targets.dbbench.measure import measure_matrix

    def predict_first(name: str, config: DbBenchConfig, sample: Any) -> dict[str, Any]:
        args = dict(entries)[name]
        record = _prediction_record(
            profile_data, args, sample.cores, sample.ns_per_iteration, sample.single_thread_cores
        )
        p = record["models"][PRIMARY]
        console.print(
            f"{name}: predicted {p['smax_ops_per_sec']:,.0f} ops/s "
            f"({p['p10_ops_per_sec']:,.0f}-{p['p90_ops_per_sec']:,.0f}), closed "
            f"{p['closed_loop_ops_per_sec']:,.0f}, {p['binding']}; {sample.cores:.2f} cores "
            f"sampled, load {sample.loadavg[0]:.1f}"
        )
        return record

    measured = measure_matrix(
        configs,
        measurements,
        remeasure=remeasure,
        max_probes=max_probes,
        tolerance=tolerance,
        budget=budget,
        predict=predict_first,
        workdir=workdir,
        on_probe=lambda n, p: console.print(f"{n}: {_probe_line(p)}"),
    )
    table = validation_table(entries, measured, profile_data)
    table["matrix"] = str(matrix) if matrix is not None else f"sample of {sample}, seed {seed}"
    table["budget"] = budget.to_dict()
    stored = _save_validation(table, profile_data)
    _print_table(table)
    console.print(
        f"stored as dataset {stored['dataset']!r} with evaluations "
        + ", ".join(f"{kind}: {eid}" for kind, eid in stored["evaluations"].items())
    )
    _emit(table, as_json, out)


if __name__ == "__main__":
    app()
