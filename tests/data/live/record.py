"""Records the embedded target's intervals to a JSON file (see README.md)."""

import dataclasses
import json
import sys
import time
from pathlib import Path

from modelyard.targets.embedded import EmbeddedRocksDbTarget, WorkloadSpec

spec = WorkloadSpec.model_validate(
    {
        "phases": [
            {"name": "steady 4000/s", "duration_seconds": 20, "rate": 4000, "value_size": 100},
            {"name": "open loop", "duration_seconds": 15, "rate": None, "value_size": 100},
        ],
        "then": "stop",
        "options": {"write_buffer_size": 4 << 20, "compression": "none"},
    }
)
t = EmbeddedRocksDbTarget(spec, Path("/tmp/live-rec/db"), interval_seconds=1.0)
t.start()
out = []
try:
    while True:
        try:
            ivs = t.collect()
        except Exception as exc:
            print("end:", exc)
            break
        for iv in ivs:
            out.append(dataclasses.asdict(iv))
        time.sleep(0.5)
finally:
    t.stop()
Path(sys.argv[1]).write_text(json.dumps(out))
print(len(out))
