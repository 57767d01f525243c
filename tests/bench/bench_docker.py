"""Docker executor figures, measured side by side with the local executor in one run (no timed asserts).

    python tests/bench/bench_docker.py [--repeat N]

1. per-step overhead of the same 10-step job, docker vs local (goal: <= 0.5 s per step)
2. time to first step: container create + start + a trivial step, vs the local executor
3. image resolution when the image is present (goal: <= 0.2 s)
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import structlog

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from daemon.errors import BenchdError  # noqa: E402
from daemon.executors import images  # noqa: E402
from daemon.executors.base import JobSpec, StepCommand  # noqa: E402
from daemon.executors.container import DockerExecutor, connect  # noqa: E402
from daemon.executors.local import LocalExecutor  # noqa: E402
from daemon.settings import DockerSettings  # noqa: E402

STEPS = 10
STEP = 'echo "step $N" ; printf "n=%s\\n" "$N" >> "$BENCHD_OUTPUT"\n'


def _workspace(root: Path, name: str) -> tuple[Path, Path]:
    ws = root / name
    (ws / ".benchd").mkdir(parents=True)
    (ws / ".benchd" / "step.sh").write_text(STEP)
    model = root / "model.tflite"
    model.write_bytes(b"model")
    return ws, model


def _command(ws: Path, n: int) -> StepCommand:
    env = {"N": str(n), "BENCHD_WORKSPACE": str(ws), "BENCHD_OUTPUT": str(ws / ".benchd" / "out")}
    return StepCommand(("bash", "-e", str(ws / ".benchd" / "step.sh")), env, ws, ws / "logs" / f"{n}.log", 60)


def job(executor: object, ws: Path, model: Path, image: str | None) -> tuple[float, float, float]:
    """(open, first step, mean of the other steps) in seconds for one 10-step job."""
    t0 = time.perf_counter()
    session = executor.open_job(JobSpec("bench", "job", ws, model, image=image))  # type: ignore[attr-defined]
    t1 = time.perf_counter()
    try:
        times = []
        for n in range(STEPS):
            start = time.perf_counter()
            outcome = session.run_step(_command(ws, n))
            times.append(time.perf_counter() - start)
            if outcome.exit_code != 0:
                raise SystemExit(f"step {n} failed: {outcome}")
    finally:
        session.close()
    return t1 - t0, times[0], statistics.mean(times[1:])


def median_of(repeat: int, fn: Callable[[], tuple[float, ...]]) -> tuple[float, ...]:
    runs = [fn() for _ in range(repeat)]
    return tuple(statistics.median(column) for column in zip(*runs, strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # figures only
    try:
        client = connect(timeout=10)
        images.resolve(images.BASE_REF, client, images.default_docker_dir(), DockerSettings())
    except BenchdError as exc:
        print(f"cannot measure the docker executor: {exc}")
        return 2
    docker_ex, local_ex = DockerExecutor(DockerSettings()), LocalExecutor()
    with tempfile.TemporaryDirectory(prefix="benchd-bench-") as tmp:
        counter = iter(range(10**6))

        def run(executor: object, image: str | None) -> tuple[float, float, float]:
            ws, model = _workspace(Path(tmp), f"ws{next(counter)}")
            return job(executor, ws, model, image)

        local = median_of(args.repeat, lambda: run(local_ex, None))
        docker = median_of(args.repeat, lambda: run(docker_ex, images.BASE_REF))
    resolve = []
    for _ in range(10):
        start = time.perf_counter()
        images.resolve(images.BASE_REF, client, images.default_docker_dir(), DockerSettings())
        resolve.append(time.perf_counter() - start)
    docker_ex.close()
    client.close()

    per_step = docker[2] - local[2]
    first_docker, first_local = docker[0] + docker[1], local[0] + local[1]
    res = statistics.median(resolve)
    print(f"{'figure':<44} {'local':>9} {'docker':>9} {'ratio':>7}  goal")
    print(f"{'step time, steps 2-10 (mean, s)':<44} {local[2]:>9.3f} {docker[2]:>9.3f} "
          f"{docker[2] / local[2]:>6.1f}x")
    print(f"{'per-step overhead docker - local (s)':<44} {'':>9} {per_step:>9.3f} "
          f"{per_step / 0.5:>6.2f}x  <= 0.5 s ({'met' if per_step <= 0.5 else 'NOT met'})")
    print(f"{'open job: container create + start (s)':<44} {local[0]:>9.3f} {docker[0]:>9.3f}")
    print(f"{'time to first step done (s)':<44} {first_local:>9.3f} {first_docker:>9.3f} "
          f"{first_docker / first_local:>6.1f}x")
    print(f"{'image resolution, image present (s)':<44} {'':>9} {res:>9.3f} "
          f"{res / 0.2:>6.2f}x  <= 0.2 s ({'met' if res <= 0.2 else 'NOT met'})")
    print(f"(median of {args.repeat} jobs of {STEPS} steps each; ratio columns: docker/local, or figure/goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
