"""The in-process half of bench_queue: claimers straight on `Queue` (no worker around them), each with its own
Engine and host name, on fresh databases of one PostgreSQL server. Figures 1, 3, 4 and 5 of issue 19; the
fleet of real `benchd worker` processes (figure 2) and the summary are in bench_queue.py."""

from __future__ import annotations

import multiprocessing as mp
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from pgkit import PgServer
from psycopg.errors import ExclusionViolation

from daemon.store import pgschema
from daemon.store.postgres import Engine
from daemon.store.queue import NOTIFY_CHANNEL, BoardSighting, Claim, NewJob, NewRun, Queue

LONG_TTL = 60.0  # leases that never lapse while a claim + finish is measured


def one_job_run(run_id: str, model: str, labels: tuple[str, ...] = ("host",), attempts: int = 2) -> NewRun:
    return NewRun(run_id, f"{model}.tflite", model, 1000, "bench.yml", "0" * 64,
                  (NewJob("build", 0, (), labels),), max_attempts=attempts)


class Databases:
    """One fresh database per figure on one server; every one is checked for duplicates at the end."""

    def __init__(self, server: PgServer) -> None:
        self.server, self.urls = server, []

    def new(self, name: str) -> str:
        self.server.create_database(name)
        url = self.server.url(name)
        engine = Engine(url)
        try:
            pgschema.migrate(engine)
        finally:
            engine.close()
        self.urls.append(url)
        return url


def with_queue(url: str, fn: Callable[[Queue], Any]) -> Any:
    queue = Queue(Engine(url))
    try:
        return fn(queue)
    finally:
        queue.engine.close()


# -- 1. claims per second ---------------------------------------------------------------------------------
def claimer_process(url: str, host: str, ready: Any, go: Any, out: Any) -> None:
    queue = Queue(Engine(url, max_size=1))
    with queue.engine.transaction() as cur:  # connected before the clock starts
        cur.execute("SELECT 1")
    ready.put(host)
    go.wait()
    done, end = 0, time.time()
    while (claim := queue.claim(host, ["host"], LONG_TTL)) is not None:
        queue.finish(claim, "success", {}, None)
        done, end = done + 1, time.time()
    queue.engine.close()
    out.put((host, done, end))


def bench_claims(dbs: Databases, claimers: Sequence[int], jobs: int) -> dict[int, float]:
    """Claimers as processes: a claim + finish cycle is mostly Python (psycopg, the pool), which threads would
    run one at a time under the GIL."""
    rates: dict[int, float] = {}
    ctx = mp.get_context("spawn")
    for n in claimers:
        url = dbs.new(f"claims_{n}")
        with_queue(url, lambda q: [q.submit(one_job_run(f"r{i}", f"m{i % 20}")) for i in range(jobs)])
        ready, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=claimer_process, args=(url, f"claimer-{n}-{i}", ready, go, out))
                 for i in range(n)]
        for p in procs:
            p.start()
        for _ in procs:
            ready.get(timeout=60)
        start = time.time()
        go.set()
        results = [out.get(timeout=300) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        claimed = sum(r[1] for r in results)
        assert claimed == jobs, f"{claimed} of {jobs} jobs claimed by {n} claimer(s)"
        rates[n] = claimed / (max(r[2] for r in results) - start)
        spread = "/".join(str(r[1]) for r in sorted(results))
        print(f"  {n} claimer(s): {rates[n]:7.0f} claim+finish/s   ratio to 1 claimer "
              f"{rates[n] / rates[1]:4.2f}   (jobs per claimer {spread})", flush=True)
    return rates


# -- 3. submit -> claim: NOTIFY vs polling ------------------------------------------------------------------
def bench_wakeup(dbs: Databases, mode: str, submits: int, poll_s: float) -> list[float]:
    """Submit -> claim of one idle claimer, woken by NOTIFY (`notify`) or only by its poll (`poll`)."""
    url = dbs.new(f"wakeup_{mode}")
    claimed: dict[str, float] = {}
    seen = threading.Condition()
    stop = threading.Event()
    listening = threading.Event()

    def claimer() -> None:
        queue = Queue(Engine(url))
        listener = queue.engine.listener(NOTIFY_CHANNEL) if mode == "notify" else None
        if listener is not None:
            listener.wait(0.01)  # LISTEN now, before the first submit
        listening.set()
        try:
            while not stop.is_set():
                claim = queue.claim("idle", ["host"], LONG_TTL)
                if claim is None:  # idle as a worker's slot: woken by a NOTIFY, else after poll_s
                    listener.wait(poll_s) if listener is not None else stop.wait(poll_s)
                    continue
                at = time.monotonic()
                queue.finish(claim, "success", {}, None)
                with seen:
                    claimed[str(claim.run_id)] = at
                    seen.notify_all()
        finally:
            if listener is not None:
                listener.close()
            queue.engine.close()

    thread = threading.Thread(target=claimer)
    thread.start()
    listening.wait(30)
    latencies = []
    rng = random.Random(19)
    submitter = Queue(Engine(url))
    try:
        for i in range(submits):
            time.sleep(rng.uniform(0, poll_s))  # any phase of the poller's sleep
            run_id = f"w{i}"
            t0 = time.monotonic()
            submitter.submit(one_job_run(run_id, "m"))
            with seen:
                if not seen.wait_for(lambda r=run_id: r in claimed, timeout=poll_s + 10):
                    raise SystemExit(f"{mode}: run {run_id} not claimed")
            latencies.append(claimed[run_id] - t0)
    finally:
        stop.set()
        thread.join()
        submitter.engine.close()
    return latencies


# -- 4. fairness -------------------------------------------------------------------------------------------
def bench_fairness(dbs: Databases, flood: int, late: int) -> dict[str, Any]:
    """Two claimers (threads, as two worker slots; the order of claims is measured, not their rate) work
    through A's flood of `flood` runs; once they have claimed 20 of them, B submits `late` runs.

    B's position: among the claims that returned after its submit committed (1: the next one; a claim
    already under way in the other slot may come first). Its wait: from calling submit to its claim.

    The window where both have ready jobs: from B's first submit's commit to the claim of B's last job (A's backlog
    lasts past it). x_A, x_B = the jobs of each model claimed (and finished) in that window, by the time
    each claim returned; Jain's index = (x_A + x_B)^2 / (2 (x_A^2 + x_B^2)): 1 when both got the same
    number, 0.5 when one got everything. Only meaningful with a few of B's runs: with one, the window
    holds one B claim and 0 to 2 A claims (whether the other claimer's claim landed in it), an index of
    0.5 to 1 by a coin toss, so the one-run round reports B's wait and the 20-run round the index.
    """
    url = dbs.new(f"fair_{late}")
    with_queue(url, lambda q: [q.submit(one_job_run(f"a{i}", "model-A")) for i in range(flood)])
    log: list[tuple[float, str]] = []  # (claim returned, model), in the order the claims returned
    lock = threading.Lock()
    go = threading.Event()

    def claimer(host: str) -> None:
        queue = Queue(Engine(url))
        try:
            go.wait()
            while (claim := queue.claim(host, ["host"], LONG_TTL)) is not None:
                at = time.monotonic()
                queue.finish(claim, "success", {}, None)
                with lock:
                    log.append((at, str(claim.run_id)))
        finally:
            queue.engine.close()

    threads = [threading.Thread(target=claimer, args=(f"slot-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    submitter = Queue(Engine(url))
    try:
        go.set()
        while len(log) < 20:
            time.sleep(0.001)
        b_at = time.monotonic()
        for i in range(late):
            submitter.submit(one_job_run(f"b{i}", "model-B"))
            if i == 0:
                b_ready = time.monotonic()  # committed: claimable from here
    finally:
        for t in threads:
            t.join()
        submitter.engine.close()
    order = sorted(log)
    after = [run for at, run in order if at >= b_ready]
    b_claims = [i for i, run in enumerate(after) if run.startswith("b")]
    first_b = next(at for at, run in order if run.startswith("b"))
    last_b = max(at for at, run in order if run.startswith("b"))
    window = Counter(run[0] for at, run in order if b_ready <= at <= last_b)
    x = [window["a"], window["b"]]
    return {"position": b_claims[0] + 1, "wait_s": first_b - b_at, "x": x,
            "jain": sum(x) ** 2 / (len(x) * sum(v * v for v in x)),
            "fifo_position": sum(run.startswith("a") for run in after) + 1}


# -- 5. boards: no double booking, no job finished twice --------------------------------------------------
def bench_boards(dbs: Databases) -> dict[str, int]:
    """Two hosts with two boards each and three slots each (more slots than boards); 1 in 20 claims is
    abandoned (its lease lapses, the reaper requeues the job and sends the board to a health check) and
    finished late, after its lease: that finish must be refused.

    A claim that picks a board another slot of its host leased a moment ago (the board query's NOT EXISTS reads
    a snapshot taken before that lease committed, and the board row itself was only locked, not changed, so
    the lock does not re-check it) is stopped by the exclusion constraint: no double booking, but the claim
    raises psycopg's ExclusionViolation, which is counted here and retried."""
    url = dbs.new("boards")
    ttl = 0.4
    labels = ("board:esp32c3", "sensor=mic")

    def setup(queue: Queue) -> None:
        for h in ("h1", "h2"):
            queue.sync_boards(h, [BoardSighting(f"{h}-b{i}", f"/dev/sim{i}", labels, True) for i in range(2)])
            for i in range(2):
                queue.set_health(f"{h}-b{i}", "good", "bench")
        for i in range(200):
            queue.submit(one_job_run(f"r{i}", f"m{i % 5}", labels=("board:esp32c3",), attempts=4))

    with_queue(url, setup)
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def slot(host: str, seed: int) -> None:
        rng = random.Random(seed)
        queue = Queue(Engine(url))
        late: list[tuple[float, Claim]] = []
        try:
            idle_since = time.monotonic()
            while time.monotonic() - idle_since < 3 * ttl + 1:  # nothing left, even after the reaper
                try:
                    claim = queue.claim(host, [], ttl)
                except ExclusionViolation:  # two slots of one host raced for one board: see bench_boards
                    with lock:
                        counts["claims refused by the exclusion constraint"] += 1
                    continue
                if claim is None:
                    time.sleep(0.02)
                    continue
                idle_since = time.monotonic()
                if claim.health_check_of is not None:
                    queue.finish_health_check(claim, True, "bench: a simulated board is fine")
                    continue
                if rng.random() < 0.05:
                    late.append((time.monotonic(), claim))
                    continue
                time.sleep(rng.uniform(0, 0.003))  # on the board for a moment
                queue.finish(claim, "success", {}, None)
            for _, claim in late:  # long after their leases: refused, or it is a duplicate
                with lock:
                    counts["late finish accepted" if queue.finish(claim, "success", {}, None)
                           else "late finish refused"] += 1
        finally:
            queue.engine.close()

    def reaper() -> None:
        queue = Queue(Engine(url))
        try:
            while not stop.wait(0.1):
                with lock:
                    counts["reaped"] += len(queue.reap())
        finally:
            queue.engine.close()

    reaping = threading.Thread(target=reaper)
    reaping.start()
    slots = [threading.Thread(target=slot, args=(h, 10 * n + i)) for n, h in enumerate(("h1", "h2"))
             for i in range(3)]
    for t in slots:
        t.start()
    for t in slots:
        t.join()
    stop.set()
    reaping.join()

    def outcomes(queue: Queue) -> Counter[str]:
        with queue.engine.transaction() as cur:
            cur.execute("SELECT state, status, count(*) AS n FROM jobs WHERE run_id IS NOT NULL GROUP BY 1, 2")
            return Counter({f"jobs {r['state']} {r['status']}": r["n"] for r in cur.fetchall()})

    return {**counts, **with_queue(url, outcomes)}


def duplicates(url: str) -> int:
    """Jobs with more than one attempt that finished `success`."""
    def count(queue: Queue) -> int:
        with queue.engine.transaction() as cur:
            cur.execute("""SELECT count(*) AS n FROM (SELECT job_id FROM attempts WHERE outcome = 'success'
                                                      GROUP BY job_id HAVING count(*) > 1) twice""")
            return int(cur.fetchone()["n"])
    return int(with_queue(url, count))


