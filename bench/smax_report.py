"""Markdown tables from `modelyard smax validate --out TABLE.json` files (docs/smax.md, README).

    .venv/bin/python bench/smax_report.py bench/out/smax/A-2cpu-table.json [...]

Per table: one row per configuration (load over its probes, the cores sampled before it, the
measured S_max and closed-loop maximum, the stored prediction with its error, p10-p90 and whether
the measurement fell inside, the predicted closed-loop maximum, the binding resource, and the
same model given the profile's CPU instead of the sample), then a summary line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PRIMARY = "smax_resource"
PROFILE_ONLY = "smax_resource@profile_cpu"


def _pct(value: float | None, signed: bool = True) -> str:
    if value is None:
        return "-"
    return f"{value:+.0%}" if signed else f"{value:.1%}"


def rows(table: dict[str, Any]) -> list[str]:
    out = [
        "| configuration | load | cores sampled | measured S_max | predicted (error) | p10-p90 |"
        " measured closed | predicted closed (error) | binding | profile CPU only (error) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in table["rows"]:
        p = row["predictions"].get(PRIMARY, {})
        side = row["predictions"].get(PROFILE_ONLY, {})
        measured = row["measured_ops_per_sec"]
        load = row.get("loadavg")
        inside = p.get("inside")
        out.append(
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                row["name"],
                f"{load[0]:.0f}-{load[1]:.0f}" if load else "-",
                f"{row['cpu_available_cores']:.2f}" if row.get("cpu_available_cores") else "-",
                f"{measured:,.0f}" if measured else "none sustainable",
                f"{p['smax_ops_per_sec']:,.0f} ({_pct(p.get('error'))})" if p else "-",
                (
                    f"{p['p10_ops_per_sec']:,.0f}-{p['p90_ops_per_sec']:,.0f} "
                    + ("in" if inside else "out")
                    if "p10_ops_per_sec" in p
                    else "-"
                ),
                f"{row['closed_max_ops_per_sec']:,.0f}",
                (
                    f"{p['closed_loop_ops_per_sec']:,.0f} ({_pct(p.get('closed_error'))})"
                    if p.get("closed_loop_ops_per_sec")
                    else "-"
                ),
                p.get("binding", "-"),
                f"{side['smax_ops_per_sec']:,.0f} ({_pct(side.get('error'))})" if side else "-",
            )
        )
    return out


def summary(table: dict[str, Any]) -> str:
    s = table["summary"][PRIMARY]
    side = table["summary"].get(PROFILE_ONLY, {})
    unmeasured = sum(1 for r in table["rows"] if not r["measured_ops_per_sec"])
    return (
        f"n = {s['n']:.0f} (+{unmeasured} with nothing sustainable); S_max MAPE "
        f"{_pct(s['mape'], False)}, worst {_pct(s['max_abs_error'], False)}, "
        f"{s['within_25pct']:.0f} within 25%; closed-loop MAPE {_pct(s['closed_mape'], False)} "
        f"(worst {_pct(s['closed_max_abs_error'], False)}); 80% interval coverage "
        f"{_pct(s['interval_coverage'], False)}; S_max above the predicted closed-loop maximum: "
        f"{s['above_predicted_closed']:.0f}; profile CPU only: MAPE "
        f"{_pct(side.get('mape'), False)}, worst {_pct(side.get('max_abs_error'), False)}; "
        f"load {table['loadavg'][0]:.0f}-{table['loadavg'][1]:.0f}"
    )


def main() -> None:
    for name in sys.argv[1:]:
        table = json.loads(Path(name).read_text())
        stamps = sorted(r["measured_at"] for r in table["rows"] if r.get("measured_at"))
        print(f"### {Path(name).stem}: {stamps[0]} - {stamps[-1]}, {table.get('matrix')}\n")
        print("\n".join(rows(table)))
        print(f"\n{summary(table)}\n")


if __name__ == "__main__":
    main()
