"""`make bench`: run every tests/bench/bench_*.py in turn; each prints its figures as ratios."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {script.stem}", flush=True)
        code = subprocess.call([sys.executable, str(script), *sys.argv[1:]], cwd=HERE.parent.parent)
        if code:
            failed.append(script.stem)
    if failed:
        print(f"\nbenchmarks that could not run: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
