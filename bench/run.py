"""`make bench`: run every bench/bench_*.py, print their lines, and gather their results.

Each benchmark script writes its own JSON to bench/results/<name>.json; this collects them into
bench/results/latest.json. Benchmarks measure; tests never assert timings. Among them:
bench_faults (the faulted sessions of issue 9: duplicates, lost, silent; docs/reliability.md) and
bench_upsync_initial (calls, and Firestore commits, per saved item).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def main() -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if not scripts:
        print("no benchmarks yet")
        return 0
    failed = []
    for index, script in enumerate(scripts, start=1):
        print(f"[{index}/{len(scripts)}] {script.stem}", flush=True)
        module = f"bench.{script.stem}"
        if subprocess.run([sys.executable, "-m", module], cwd=HERE.parent).returncode != 0:
            failed.append(script.stem)
    gathered = {
        path.stem: json.loads(path.read_text())
        for path in sorted(RESULTS.glob("*.json"))
        if path.name != "latest.json"
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(gathered, indent=2) + "\n")
    print(f"results: {RESULTS.relative_to(HERE.parent)}/latest.json")
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
