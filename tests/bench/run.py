"""`make bench`: run every tests/bench/bench_*.py in turn (or those named: `run.py codegen`); each prints its
figures as ratios."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    # `run.py codegen --quick`: words pick the benchmarks whose names contain one of them (none: all);
    # options go to every benchmark.
    words = [a for a in sys.argv[1:] if not a.startswith("-")]
    options = [a for a in sys.argv[1:] if a.startswith("-")]
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        if words and not any(w in script.stem for w in words):
            continue
        print(f"\n=== {script.stem}", flush=True)
        code = subprocess.call([sys.executable, str(script), *options], cwd=HERE.parent.parent)
        if code:
            failed.append(script.stem)
    if failed:
        print(f"\nbenchmarks that could not run: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
