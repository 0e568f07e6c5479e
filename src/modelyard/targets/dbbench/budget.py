"""The machine budget a db_bench run gets: priority, CPUs and a device write limit.

A `Budget` makes one machine look like a smaller one, the same way for calibration, for the
CPU availability sample a prediction may use and for the measurement:

- `nice`: db_bench runs in a session of its own whose autogroup nice (and task nice) is set;
  the kernel's autogroup scheduling shares CPU between sessions first, so a plain `nice` would
  do nothing against other users' work;
- `cpus`: a taskset CPU list ("1"): db_bench and all its threads on those CPUs only;
- `write_bytes_per_sec`: a block-device write limit on the disk under the work directory,
  through cgroup v2 `io.max` where the io controller is enabled, else cgroup v1
  `blkio.throttle.write_bps_device`. Writes the process submits itself are limited (flushes'
  and compactions' SST files, written back when RocksDB fsyncs them at file close); the WAL's
  buffered writes reach the disk later through the kernel's writeback, outside the limit.

`Budget.cgroups()` creates (or reuses) the cgroup and returns the directories db_bench must join;
creating one needs root, and the error says so.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Budget", "BudgetError"]

CGROUP_ROOT = Path("/sys/fs/cgroup")


class BudgetError(RuntimeError):
    """The budget cannot be set up on this machine (no root, no controller)."""


def _disk_of(path: Path) -> str:
    """'major:minor' of the whole disk holding `path` (a partition's parent disk)."""
    dev = path.stat().st_dev
    major, minor = os.major(dev), os.minor(dev)
    sys_dev = Path(f"/sys/dev/block/{major}:{minor}")
    if (sys_dev / "partition").exists():
        parent = (sys_dev / "..").resolve() / "dev"
        return parent.read_text().strip()
    return f"{major}:{minor}"


def _v2_io_root() -> Path | None:
    for root in (CGROUP_ROOT, CGROUP_ROOT / "unified"):
        controllers = root / "cgroup.controllers"
        if controllers.exists() and "io" in controllers.read_text().split():
            return root
    return None


@dataclass(frozen=True)
class Budget:
    """How db_bench is run: priority, CPU list and device write limit (None = unlimited)."""

    nice: int = 0
    cpus: str | None = None
    write_bytes_per_sec: int | None = None

    @property
    def label(self) -> str:
        parts = [f"cpus={self.cpus}" if self.cpus else "all-cpus"]
        if self.write_bytes_per_sec:
            parts.append(f"write={self.write_bytes_per_sec / 2**20:.0f}MiB/s")
        parts.append(f"nice={self.nice}")
        return " ".join(parts)

    @property
    def cpu_count(self) -> int | None:
        """CPUs in the taskset list, or None for the whole machine."""
        if self.cpus is None:
            return None
        count = 0
        for part in self.cpus.split(","):
            low, _, high = part.partition("-")
            count += int(high or low) - int(low) + 1
        return count

    def cgroups(self, workdir: Path) -> tuple[Path, ...]:
        """The cgroup directories db_bench joins (created here; needs root)."""
        if not self.write_bytes_per_sec:
            return ()
        disk = _disk_of(workdir)
        name = f"modelyard-write-{self.write_bytes_per_sec}"
        try:
            root = _v2_io_root()
            if root is not None:
                group = root / name
                group.mkdir(exist_ok=True)
                (group / "io.max").write_text(f"{disk} wbps={self.write_bytes_per_sec}\n")
                return (group,)
            blkio = CGROUP_ROOT / "blkio"
            if not (blkio / "blkio.throttle.write_bps_device").exists():
                raise BudgetError(
                    "no block-device write limit here: neither cgroup v2 io.max nor "
                    "cgroup v1 blkio.throttle is available"
                )
            group = blkio / name
            group.mkdir(exist_ok=True)
            (group / "blkio.throttle.write_bps_device").write_text(
                f"{disk} {self.write_bytes_per_sec}\n"
            )
            return (group,)
        except PermissionError as error:
            raise BudgetError(f"a device write limit needs root: {error}") from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
