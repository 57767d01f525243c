"""The dashboard page: static HTML, CSS and JS kept as strings so they ship inside the wheel.

The page polls the JSON API about once a second (simpler than SSE, and nothing to hold open at shutdown)
and builds the DOM with textContent only: model names and logs are never parsed as HTML.
"""

INDEX_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>benchd</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="style.css"></head>
<body>
<header><h1>benchd</h1><span id="live" class="pill">connecting…</span></header>
<main>
  <section id="runs-pane"><h2>Recent runs</h2>
    <table id="runs"><thead><tr><th>status</th><th>model</th><th>pipeline</th><th>jobs</th><th>time</th>
    <th>started</th></tr></thead><tbody></tbody></table></section>
  <section id="detail-pane"><h2 id="detail-title">No run selected</h2><div id="detail"></div>
    <h3>Log <span id="log-name"></span></h3><pre id="log"></pre></section>
  <section id="boards-pane"><h2>Boards</h2>
    <table id="boards"><thead><tr><th>board</th><th>chip</th><th>port</th><th>last result</th>
    <th>cycles/inference</th><th>flash</th><th>run</th></tr></thead><tbody></tbody></table></section>
</main>
<script src="app.js"></script></body></html>
"""

STYLE_CSS = """
body { font: 14px system-ui, sans-serif; margin: 0; color: #1d2330; background: #f5f6f8; }
header { display: flex; gap: 1em; align-items: center; padding: .5em 1em; background: #1d2330; color: #fff; }
h1 { font-size: 18px; margin: 0; } h2 { font-size: 15px; margin: .2em 0 .5em; } h3 { font-size: 14px; }
main { display: grid; grid-template-columns: minmax(420px, 1fr) 1.3fr; gap: 1em; padding: 1em; }
section { background: #fff; border-radius: 6px; padding: .8em; box-shadow: 0 1px 2px #0002; }
#boards-pane { grid-column: 1 / 3; }
table { border-collapse: collapse; width: 100%; }
td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eee; white-space: nowrap; }
#runs tbody tr { cursor: pointer; } #runs tbody tr.selected { background: #e6efff; }
.pill { border-radius: 9px; padding: 1px 8px; font-size: 12px; background: #ddd; color: #222; }
.success { background: #c9f1d3; } .failure, .error { background: #fbd0d0; } .running { background: #ffe9a8; }
.queued, .skipped, .cancelled, .pending { background: #e4e4e4; } .delivered { background: #c9f1d3; }
.bar { display: inline-block; height: 8px; background: #7aa2f7; border-radius: 2px; vertical-align: middle; }
.job table, #host-metrics { width: auto; } .job td, #host-metrics td { padding-right: 1.5em; }
.step { cursor: pointer; } .step:hover { background: #f0f4ff; }
pre#log { background: #10131a; color: #d6deeb; padding: .6em; height: 260px; overflow: auto; margin: 0;
  font: 12px ui-monospace, monospace; white-space: pre-wrap; }
.muted { color: #777; } .err { color: #a00; }
"""

APP_JS = r"""
"use strict";
const state = { selected: null, runs: [], log: { key: null, offset: 0, pinned: false } };
const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "onclick") n.onclick = v; else n.setAttribute(k, v);
  }
  for (const k of kids) n.append(k instanceof Node ? k : document.createTextNode(k == null ? "" : String(k)));
  return n;
}
function bar(px) {  // CSSOM, not a style attribute: the CSP forbids inline styles
  const b = el("span", { class: "bar" });
  b.style.width = Math.round(px) + "px";
  return b;
}
const pill = (s) => el("span", { class: "pill " + s, "data-status": s }, s);
const secs = (s) => (s == null ? "-" : s < 60 ? s.toFixed(1) + " s" : (s / 60).toFixed(1) + " min");
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "-");
async function get(path) {
  const r = await fetch(path, { cache: "no-store", credentials: "same-origin" });
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}
function renderRuns(runs) {
  const body = $("runs").tBodies[0];
  body.replaceChildren(...runs.map((r) => {
    const tr = el("tr", { "data-run": r.id, class: r.id === state.selected ? "selected" : "" },
      el("td", {}, pill(r.status)), el("td", {}, r.model), el("td", {}, r.pipeline),
      el("td", {}, r.jobs.success + "/" + r.jobs.total), el("td", {}, secs(r.duration_s)),
      el("td", {}, when(r.started_at || r.created_at)));
    tr.onclick = () => { location.hash = "run=" + encodeURIComponent(r.id); };
    return tr;
  }));
}
function metricsTable(obj) {
  const rows = Object.entries(obj || {}).map(([k, v]) =>
    el("tr", {}, el("td", {}, k), el("td", {}, typeof v === "object" ? JSON.stringify(v) : v)));
  return rows.length ? el("table", { id: "host-metrics" }, ...rows) : el("p", { class: "muted" }, "none yet");
}
function renderDetail(d) {
  $("detail-title").textContent = d.model + " · " + d.pipeline;
  const longest = Math.max(1, ...d.jobs.flatMap((j) => j.steps.map((s) => s.duration_s || 0)));
  const jobs = d.jobs.map((j) => el("div", { class: "job", "data-job": j.id },
    el("h3", {}, pill(j.status), " ", j.id, " ", el("span", { class: "muted" },
      (j.executor || "") + (j.image_ref ? " · " + j.image_ref : "") + " · " + secs(j.duration_s))),
    el("table", {}, ...j.steps.map((s) => {
      const tr = el("tr", { class: "step", "data-step": s.id },
        el("td", {}, pill(s.status)), el("td", {}, s.id),
        el("td", {}, bar(120 * (s.duration_s || 0) / longest)),
        el("td", {}, secs(s.duration_s)), el("td", { class: "err" }, s.error || ""));
      tr.onclick = () => followLog(d.id, j.id, s.idx, s.id, true);
      return tr;
    }))));
  const errors = d.errors.map((e) => el("li", { class: "err" }, e.where + ": " + e.message));
  const deliveries = d.deliveries.map((w) => el("li", {}, pill(w.state), " ", w.endpoint,
    " · " + w.attempts + " attempt(s)", w.last_error ? " · " + w.last_error : ""));
  $("detail").replaceChildren(
    el("p", {}, pill(d.status), " run ", el("code", {}, d.id), " · " + secs(d.duration_s) + " · sha256 ",
      el("code", {}, (d.sha256 || "").slice(0, 12))),
    ...jobs, el("h3", {}, "Host metrics"), metricsTable(d.metrics.host),
    ...(errors.length ? [el("h3", {}, "Errors"), el("ul", {}, ...errors)] : []),
    ...(deliveries.length ? [el("h3", {}, "Webhook deliveries"), el("ul", {}, ...deliveries)] : []));
  if (!state.log.pinned) {
    const running = d.jobs.flatMap((j) => j.steps.filter((s) => s.status === "running").map((s) => [j, s]))[0];
    const last = d.jobs.flatMap((j) => j.steps.filter((s) => s.has_log).map((s) => [j, s])).pop();
    const pick = running || last;
    if (pick) followLog(d.id, pick[0].id, pick[1].idx, pick[1].id, false);
  }
}
function followLog(run, job, idx, name, pinned) {
  const key = run + "\u0000" + job + "\u0000" + idx;
  if (pinned) state.log.pinned = true;
  if (state.log.key === key) return;
  Object.assign(state.log, { key, run, job, idx, offset: 0 });
  $("log-name").textContent = job + " / " + name;
  $("log").textContent = "";
}
async function pollLog() {
  const l = state.log;
  if (!l.key) return;
  const key = l.key;
  const q = "?job=" + encodeURIComponent(l.job) + "&idx=" + l.idx + "&offset=" + l.offset;
  const t = await get("api/runs/" + encodeURIComponent(l.run) + "/log" + q);
  if (key !== state.log.key || !t.text) return;
  const pre = $("log"), atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.append(document.createTextNode(t.text));
  if (pre.textContent.length > 400000) pre.textContent = pre.textContent.slice(-200000);
  l.offset = t.offset;
  if (atEnd) pre.scrollTop = pre.scrollHeight;
}
function renderBoards(boards) {
  $("boards").tBodies[0].replaceChildren(...(boards.length ? boards.map((b) => el("tr", { "data-board": b.id },
    el("td", {}, b.id), el("td", {}, b.chip || "-"), el("td", {}, b.port || "-"),
    el("td", {}, pill(b.error || b.ok === false ? "failure" : (b.run_status || "success"))),
    el("td", {}, b.cycles_per_inference ?? "-"), el("td", {}, secs(b.flash_s)), el("td", {}, b.run_id)))
    : [el("tr", {}, el("td", { colspan: "7", class: "muted" }, "no board results yet"))]));
}
let ticks = 0;
async function tick() {
  try {
    const m = /run=([^&]+)/.exec(location.hash);
    state.runs = await get("api/runs");
    const chosen = m ? decodeURIComponent(m[1]) : (state.runs[0] && state.runs[0].id);
    if (chosen !== state.selected) { state.selected = chosen; state.log = { key: null, offset: 0, pinned: false }; }
    renderRuns(state.runs);
    if (state.selected) renderDetail(await get("api/runs/" + encodeURIComponent(state.selected)));
    await pollLog();
    const seen = state.runs.map((r) => r.id + r.status).join();
    if (ticks++ % 5 === 0 || seen !== state.seen) renderBoards(await get("api/boards"));  // a run ended
    state.seen = seen;
    $("live").textContent = "live · " + new Date().toLocaleTimeString();
    $("live").className = "pill success";
  } catch (e) {
    $("live").textContent = "disconnected: " + e.message;
    $("live").className = "pill error";
  }
  setTimeout(tick, 1000);
}
window.addEventListener("hashchange", () => { ticks = 0; });
tick();
"""
