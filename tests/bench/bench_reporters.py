"""Reporter benchmarks (issue 5), measured side by side in one run.

- report(): durable enqueue into the outbox vs writing result.json (what the run already pays)
- delivery: posting through the outbox (claim, post, mark) vs a bare httpx POST to the same receiver
- dashboard: GET /api/runs (30 of 1,000 runs) and /api/runs/<id>, p50 over 200 requests
- idle delivery worker: CPU used over 3 s with nothing due (it must sleep, not poll)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "reporters")]

from report_fixtures import make_run, record_of, sample_result  # noqa: E402

from daemon.reporters.delivery import DeliveryWorker  # noqa: E402
from daemon.reporters.files import write_json  # noqa: E402
from daemon.reporters.reporter import RunInfo  # noqa: E402
from daemon.reporters.webhook import WebhookReporter, webhook_lanes  # noqa: E402
from daemon.settings import DashboardSettings, Settings, WebhookSettings  # noqa: E402
from daemon.store.db import Store  # noqa: E402
from daemon.store.outbox import Outbox  # noqa: E402
from daemon.web.server import DashboardServer  # noqa: E402

N = 50 if "--quick" in sys.argv else 200
ENV = {"BENCHD_WEBHOOK_SECRET": "bench"}


def p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


class Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    from daemon import log

    log.configure("warning")  # one line per delivered run would bury the figures
    work = Path(tempfile.mkdtemp(prefix="bench-reporters-"))
    store = Store(work / "benchd.sqlite3")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    result = sample_result("r")

    enqueue, files = [], []
    reporter = WebhookReporter(WebhookSettings(url=url), store, ENV)
    for i in range(N):
        t = time.perf_counter()
        reporter.report(RunInfo(f"run-{i}", "m.tflite", "ab", work), record_of({**result, "run_id": f"run-{i}"}))
        enqueue.append(time.perf_counter() - t)
        t = time.perf_counter()
        write_json(work / "files" / f"{i}.json", result)
        files.append(time.perf_counter() - t)
    print(f"report() enqueue p50 {p50(enqueue):.2f} ms = {p50(enqueue) / p50(files):.1f}x writing result.json")

    worker = DeliveryWorker(store, webhook_lanes([WebhookSettings(url=url)], ENV))
    t = time.perf_counter()
    worker.drain(60)
    outbox_s = (time.perf_counter() - t) / N
    body = Outbox(store).all()[0].body
    with httpx.Client() as client:
        t = time.perf_counter()
        for _ in range(N):
            client.post(url, content=body)
        bare_s = (time.perf_counter() - t) / N
    worker.stop()
    delivered = sum(d.state == "delivered" for d in Outbox(store).all())
    print(f"delivery {outbox_s * 1000:.2f} ms each ({delivered}/{N} delivered) = {outbox_s / bare_s:.1f}x a bare POST")

    for i in range(1000 if N == 200 else 200):
        make_run(store, work / "results", "success", model=f"m{i}.tflite")
    dash = DashboardServer(Settings(results=work / "results", dashboard=DashboardSettings(port=0)), store, env={})
    dash.start()
    run_id = store.recent_runs(1)[0].id
    with httpx.Client(base_url=dash.url) as client:
        for path in ("/api/runs", f"/api/runs/{run_id}"):
            samples = []
            for _ in range(N):
                t = time.perf_counter()
                client.get(path).raise_for_status()
                samples.append(time.perf_counter() - t)
            print(f"dashboard GET {path.replace(run_id, '<id>')} p50 {p50(samples):.2f} ms")
    dash.stop()

    idle = DeliveryWorker(store, webhook_lanes([WebhookSettings(url=url)], ENV)).start()
    t_cpu, t_wall = time.process_time(), time.perf_counter()
    time.sleep(3)
    used = (time.process_time() - t_cpu) / (time.perf_counter() - t_wall)
    idle.stop()
    print(f"idle delivery worker: {used * 100:.2f} % of one core")
    server.shutdown()
    store.close()


if __name__ == "__main__":
    main()
