// The dashboard's script. It polls the JSON API about once a second (simpler than SSE, and nothing to hold
// open at shutdown) and builds the DOM with textContent only: model names, errors and logs are never parsed
// as HTML. Charts are SVG elements made with createElementNS, coloured by the stylesheet (the CSP forbids
// inline styles). The two controls POST with the CSRF token read once from `api/session`.
"use strict";
const state = { selected: null, runs: [], log: { key: null, offset: 0, pinned: false }, shown: null, pick: [],
  csrf: null };
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
function el(tag, attrs, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "onclick" || k === "onchange") n[k] = v; else if (v != null) n.setAttribute(k, v);
  }
  for (const k of kids) n.append(k instanceof Node ? k : document.createTextNode(k == null ? "" : String(k)));
  return n;
}
function svg(tag, attrs, ...kids) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
  for (const k of kids) n.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return n;
}
function bar(px) {  // CSSOM, not a style attribute: the CSP forbids inline styles
  const b = el("span", { class: "bar" });
  b.style.width = Math.round(px) + "px";
  return b;
}
const pill = (s) => el("span", { class: "pill " + s, "data-status": s }, s);
const secs = (s) => (s == null ? "—" : s < 60 ? s.toFixed(1) + " s" : (s / 60).toFixed(1) + " min");
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
const short = (iso) => (iso ? new Date(iso).toLocaleDateString(undefined, { month: "short", day: "numeric" }) +
  " " + new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }) : "");
const link = (hash, text) => el("a", { href: "#" + hash }, text);
const runLink = (id) => link("run=" + encodeURIComponent(id), id);
const modelLink = (name) => link("model=" + encodeURIComponent(name), name);
const boardLink = (id) => link("board=" + encodeURIComponent(id), id);
function fmt(v, unit) {
  if (v == null) return "—";
  if (typeof v !== "number") return String(v);
  if (unit === "B") return v >= 10240 ? (v / 1024).toFixed(1) + " KiB" : v.toLocaleString("en") + " B";
  if (unit === "ms") return v.toFixed(v < 10 ? 3 : 1) + " ms";
  if (Number.isInteger(v)) return v.toLocaleString("en");
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4);
}
async function get(path) {
  const r = await fetch(path, { cache: "no-store", credentials: "same-origin" });
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}
async function post(path) {
  if (!state.csrf) state.csrf = (await get("api/session")).csrf;
  const r = await fetch(path, { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": state.csrf } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || path + ": HTTP " + r.status);
  return body;
}
function notice(text, kind) {
  $("notice").replaceChildren(el("span", { class: "pill " + (kind || "") }, text));
}
function view() {  // which page the address names; none: the index (models, recent runs, boards)
  const h = location.hash.replace(/^#/, "");
  const m = /^(run|model|board|compare)=(.*)$/.exec(h);
  return m ? { kind: m[1], arg: decodeURIComponent(m[2]) } : { kind: "index", arg: null };
}
function renderRuns(runs) {
  const body = $("runs").tBodies[0];
  body.replaceChildren(...(runs.length ? runs.map((r) => {
    const tr = el("tr", { "data-run": r.id },
      el("td", {}, pill(r.status)), el("td", { class: "name" }, modelLink(r.model)), el("td", {}, runLink(r.id)),
      el("td", {}, r.pipeline), el("td", {}, r.jobs.success + "/" + r.jobs.total),
      el("td", { class: "num" }, secs(r.duration_s)),
      el("td", { title: when(r.started_at || r.created_at) }, short(r.started_at || r.created_at)));
    tr.onclick = (e) => { if (e.target.tagName !== "A") location.hash = "run=" + encodeURIComponent(r.id); };
    return tr;
  }) : [el("tr", {}, el("td", { colspan: "7", class: "muted" },
    "no runs yet: drop a .tflite into the inbox, or run `benchd run MODEL`"))]));
}
const isSimulated = (b) => b.instructions != null && b.cycles_per_inference == null;  // executed under QEMU
function perInference(b) {  // a simulated board counts instructions, a real one cycles
  if (b.cycles_per_inference != null) return fmt(b.cycles_per_inference) + " cycles";
  if (b.instructions != null) return fmt(b.instructions) + " instructions";
  return "—";
}
function spark(s) {  // a model's last runs as a small line, oldest on the left; the newest point is marked
  const pts = s.points || [];
  if (!pts.length) return el("span", { class: "muted" }, "—");
  const W = 100, H = 22, P = 3, vals = pts.map((p) => p.value);
  const lo = Math.min(...vals), hi = Math.max(...vals), n = pts.length;
  const x = (i) => (n === 1 ? W / 2 : P + i * (W - 2 * P) / (n - 1));
  const y = (v) => (hi === lo ? H / 2 : P + (hi - v) * (H - 2 * P) / (hi - lo));
  const label = (s.key === "instructions" ? "instructions / inference" : "max diff") + " over the last " + n +
    " runs: " + vals.map((v) => fmt(v)).join(" → ");
  return svg("svg", { class: "spark", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label,
    "data-series": s.key }, svg("title", {}, label),
  svg("polyline", { class: "line", points: pts.map((p, i) => x(i) + "," + y(p.value)).join(" ") }),
  svg("circle", { class: "last", cx: x(n - 1), cy: y(vals[n - 1]), r: 2.5 }));
}
function renderModels(models) {
  $("models").tBodies[0].replaceChildren(...(models.length ? models.map((m) => {
    const boards = m.boards_total ? el("span", { class: m.boards_ok < m.boards_total ? "err" : "" },
      m.boards_ok + "/" + m.boards_total) : "—";
    const tr = el("tr", { "data-model": m.model },
      el("td", { class: "name" }, modelLink(m.model)), el("td", {}, pill(m.status)),
      el("td", { class: "num" }, m.top1_agreement == null ? "—" : (100 * m.top1_agreement).toFixed(0) + " %"),
      el("td", { class: "num" }, fmt(m.max_abs_diff)), el("td", { class: "num" }, fmt(m.instructions)),
      el("td", { class: "num" }, fmt(m.arena_bytes, "B")), el("td", { class: "num" }, fmt(m.rom_bytes, "B")),
      el("td", { class: "num" }, boards), el("td", {}, spark(m.spark)),
      el("td", { title: when(m.at) }, runLink(m.run_id), " · " + short(m.at)));
    tr.onclick = (e) => { if (e.target.tagName !== "A") location.hash = "model=" + encodeURIComponent(m.model); };
    return tr;
  }) : [el("tr", {}, el("td", { colspan: "10", class: "muted" }, "no models yet"))]));
}
const HOST = { latency_ms: ["latency (median)", "ms"], latency_p95_ms: ["latency (p95)", "ms"],
  max_abs_diff: ["max |diff| vs TFLite", ""], top1_agreement: ["top-1 agreement", "%"],
  reference_latency_ms: ["TFLite latency", "ms"], samples: ["samples", ""] };
const THRESHOLD = { max_abs_diff: "passes if max |diff| ≤", min_top1: "passes if top-1 ≥" };
function hostRows(host) {  // [label, value, key]: one row a figure; thresholds (and any other object) a row each
  return Object.entries(host).flatMap(([key, v]) => {
    if (v != null && typeof v === "object")
      return Object.entries(v).map(([k, t]) => [(key === "thresholds" && THRESHOLD[k]) || key + " " + k,
        typeof t === "number" ? String(t) : JSON.stringify(t), key + "." + k]);
    const [label, unit] = HOST[key] || [key, key.endsWith("_ms") ? "ms" : ""];
    return [[label, unit === "%" && typeof v === "number" ? (100 * v).toFixed(1) + " %" : fmt(v, unit), key]];
  });
}
function boardsTable(boards) {
  const head = ["board", "kind", "backend", "result", "per inference", "bit-exact", "ROM", "RAM", "flash"];
  const rows = boards.flatMap((b) => {
    const ok = !b.error && b.ok !== false && [null, undefined, "ok", "success"].includes(b.status);
    const row = el("tr", { "data-board": String(b.id) }, el("td", {}, boardLink(String(b.id))),
      el("td", {}, isSimulated(b) ? "simulated" : "board"), el("td", {}, b.backend || "—"),
      el("td", {}, pill(ok ? "ok" : "failure")), el("td", { class: "num" }, perInference(b)),
      el("td", { class: "num" }, b.bit_exact != null ? b.bit_exact + (b.vectors != null ? " of " + b.vectors : "") : "—"),
      el("td", { class: "num" }, fmt(b.rom_bytes, "B")), el("td", { class: "num" }, fmt(b.ram_bytes, "B")),
      el("td", { class: "num" }, secs(b.flash_s)));
    return b.error ? [row, el("tr", {}, el("td", { colspan: "9", class: "err wrap" }, b.error))] : [row];
  });
  return el("table", { id: "run-boards", class: "figures boards" },
    el("thead", {}, el("tr", {}, ...head.map((t, i) => el("th", { class: i >= 4 ? "num" : null }, t)))),
    el("tbody", {}, ...rows));
}
function skipNote(j) {  // one line; the whole reason behind a disclosure when it says more
  const line = "skipped: " + (j.skip_brief || j.skip_reason);
  if (!j.skip_brief || j.skip_brief === j.skip_reason) return el("div", { class: "skip wrap" }, line);
  return el("details", { class: "skip" }, el("summary", { title: j.skip_reason }, line),
    el("div", { class: "full" }, j.skip_reason));
}
function table(rows, attrs) {  // rows: [label, value, key?]; absent values are left out
  const kept = rows.filter(([, v]) => v != null && v !== "");
  return kept.length ? el("table", attrs || { class: "figures" }, ...kept.map(([k, v, key]) =>
    el("tr", { "data-key": key || null }, el("td", {}, k),
      el("td", { class: "num" }, v instanceof Node ? v : String(v)))))
    : el("p", { class: "muted" }, "none yet");
}
function figuresOf(m) {  // cards: host, reference C, virtual core; the boards below at full width
  const host = m.host || {};
  const cards = [el("div", {}, el("h3", {}, "Host (compiled module vs TFLite)"), table(hostRows(host),
    { id: "host-metrics", class: "figures" }))];
  const ref = m.reference_c;
  if (ref) cards.push(el("div", {}, el("h3", {}, "Reference C backend"), table([
    ["arena", fmt(ref.arena_bytes, "B")], ["arena lower bound", fmt(ref.arena_lower_bound_bytes, "B")],
    ["constants", fmt(ref.constants_bytes, "B")], ["operators", fmt(ref.operators)]],
  { id: "reference-c", class: "figures" })));
  const v = m.virtual;
  if (v) cards.push(el("div", {}, el("h3", {}, "Virtual ESP32-C3 (" + (v.backend || "?") + ")"), table([
    ["instructions / inference", fmt(v.instructions)], ["ROM", fmt(v.rom_bytes, "B")], ["RAM", fmt(v.ram_bytes, "B")],
    ["arena", fmt(v.arena_bytes, "B")],
    ["bit-exact", v.bit_exact != null ? v.bit_exact + " of " + (v.vectors ?? "?") + " vectors" : null],
    ...(v.toolchain != null && typeof v.toolchain === "object"  // which compiler and QEMU made the figures
      ? Object.entries(v.toolchain).map(([name, version]) => [name, version, "toolchain." + name])
      : [["toolchain", v.toolchain]])],
  { id: "virtual", class: "figures" })));
  const parts = [el("div", { class: "cards" }, ...cards)];
  if ((m.boards || []).length) parts.push(el("h3", {}, "Boards"), boardsTable(m.boards));
  return parts;
}
function controls(d) {
  const box = el("div", { class: "actions" });
  if (d.can_rerun) {
    const b = el("button", { id: "rerun", title: "queue this model again with the same pipeline" }, "Re-run");
    b.onclick = async () => {
      b.disabled = true;
      try {
        const r = await post("api/runs/" + encodeURIComponent(d.id) + "/rerun");
        notice((r.queued ? "queued " : "already queued: ") + r.run_id, "success");
        location.hash = "run=" + encodeURIComponent(r.run_id);
      } catch (e) { notice(e.message, "error"); } finally { b.disabled = false; }
    };
    box.append(b);
  }
  if (!d.done) {
    const c = el("button", { id: "cancel", class: "danger" }, "Cancel");
    c.onclick = async () => {
      c.disabled = true;
      try { await post("api/runs/" + encodeURIComponent(d.id) + "/cancel"); notice("cancel requested", "success"); }
      catch (e) { notice(e.message, "error"); } finally { c.disabled = false; }
    };
    box.append(c);
  }
  const at = state.runs.findIndex((r) => r.id === d.id);
  const prev = at < 0 ? null : state.runs.slice(at + 1).find((r) => r.model === d.model && !r.duplicate_of &&
    r.status !== "queued" && r.status !== "running");
  if (prev) box.append(link("compare=" + encodeURIComponent(prev.id) + "," + encodeURIComponent(d.id),
    "compare with the previous run"));
  box.append(link("model=" + encodeURIComponent(d.model), "all runs of " + d.model));
  return box;
}
function renderDetail(d) {
  $("detail-title").replaceChildren(modelLink(d.model), " · " + d.pipeline);
  const longest = Math.max(1, ...d.jobs.flatMap((j) => j.steps.map((s) => s.duration_s || 0)));
  const jobs = d.jobs.map((j) => el("div", { class: "job", "data-job": j.id },
    el("h3", {}, pill(j.status), " ", j.id, " ", el("span", { class: "muted" },
      (j.executor || "") + (j.image_ref ? " · " + j.image_ref : "") + " · " + secs(j.duration_s))),
    ...(j.skip_reason ? [skipNote(j)] : []),
    ...(j.warning ? [el("div", { class: "warn wrap" }, "warning: " + j.warning)] : []),
    el("table", {}, ...j.steps.map((s) => {
      const tr = el("tr", { class: "step", "data-step": s.id },
        el("td", {}, pill(s.status)), el("td", {}, s.id),
        el("td", {}, bar(120 * (s.duration_s || 0) / longest)),
        el("td", { class: "num" }, secs(s.duration_s)), el("td", { class: "err wrap" }, s.error || ""));
      tr.onclick = () => followLog(d.id, j.id, s.idx, s.id, true);
      return tr;
    }))));
  const notes = (list, cls) => el("ul", {}, ...list.map((e) =>
    el("li", { class: cls + " wrap" }, e.where + ": " + e.message)));
  const deliveries = d.deliveries.map((w) => el("li", {}, pill(w.state), " ", w.endpoint,
    " · " + w.attempts + " attempt(s)", w.last_error ? " · " + w.last_error : ""));
  $("detail").replaceChildren(
    el("p", {}, pill(d.status), " run ", el("code", { id: "run-id" }, d.id), " · " + secs(d.duration_s) +
      " · sha256 ", el("code", {}, (d.sha256 || "").slice(0, 12))),
    ...(d.duplicate_of ? [el("p", { class: "dup", id: "duplicate" }, "Same content and pipeline as run ",
      runLink(d.duplicate_of), ": not run again. Its figures are that run's.")] : []),
    controls(d),
    ...(d.errors.length ? [el("h3", {}, "Errors"), notes(d.errors, "err")] : []),
    ...(d.warnings.length ? [el("h3", {}, "Warnings"), notes(d.warnings, "warn")] : []),
    ...figuresOf(d.metrics), el("h3", {}, "Jobs"), ...jobs,
    ...(deliveries.length ? [el("h3", {}, "Webhook deliveries"), el("ul", {}, ...deliveries)] : []));
  if (!state.log.pinned) {
    const running = d.jobs.flatMap((j) => j.steps.filter((s) => s.status === "running").map((s) => [j, s]))[0];
    const last = d.jobs.flatMap((j) => j.steps.filter((s) => s.has_log).map((s) => [j, s])).pop();
    const pick = running || last;
    if (pick) followLog(d.id, pick[0].id, pick[1].idx, pick[1].id, false);
  }
  $("log-pane").hidden = !state.log.key;  // no empty log pane: it shows once there is a step to follow
}
function tickLabel(v, unit) {  // three significant digits: axis labels only place the line
  const r = Number(v.toPrecision(3));
  if (unit === "B") return fmt(Math.round(r), "B");
  return r.toLocaleString("en", { maximumSignificantDigits: 3 }) + (unit ? " " + unit : "");
}
function trend(series) {  // one small line chart: a point per run, oldest on the left
  const W = 340, H = 130, L = 58, R = 12, T = 10, B = 24, pts = series.points, n = pts.length;
  const vals = pts.map((p) => p.value);
  let lo = Math.min(...vals), hi = Math.max(...vals);
  if (lo === hi) { const pad = Math.abs(lo) * 0.1 || 1; lo -= pad; hi += pad; }
  else { const pad = (hi - lo) * 0.12; lo -= pad; hi += pad; }
  if (Math.min(...vals) >= 0 && lo < 0) lo = 0;
  const x = (i) => L + (n === 1 ? (W - L - R) / 2 : i * (W - L - R) / (n - 1));
  const y = (v) => T + (hi - v) * (H - T - B) / (hi - lo);
  const g = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": series.label + " across " + n + " runs", "data-series": series.key });
  for (const v of [lo, (lo + hi) / 2, hi]) {
    g.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }),
      svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, tickLabel(v, series.unit)));
  }
  g.append(svg("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }),
    svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }),
    svg("text", { x: L, y: H - 6, "text-anchor": n === 1 ? "middle" : "start", dx: n === 1 ? (W - L - R) / 2 : 0 },
      short(pts[0].at)));
  if (n > 1) g.append(svg("text", { x: W - R, y: H - 6, "text-anchor": "end" }, short(pts[n - 1].at)));
  g.append(svg("polyline", { class: "line", points: pts.map((p, i) => x(i) + "," + y(p.value)).join(" ") }));
  pts.forEach((p, i) => {
    const dot = svg("circle", { class: "dot" + (i === n - 1 ? " last" : ""), cx: x(i), cy: y(p.value), r: 4,
      "data-run": p.run }, svg("title", {}, p.run + " · " + fmt(p.value, series.unit)));
    dot.addEventListener("click", () => { location.hash = "run=" + encodeURIComponent(p.run); });
    g.append(dot);
  });
  const last = pts[n - 1].value, prev = n > 1 ? pts[n - 2].value : null;
  const change = prev != null && prev !== 0 && last !== prev
    ? " (" + (last > prev ? "+" : "") + (100 * (last - prev) / Math.abs(prev)).toFixed(1) + " %)" : "";
  return el("figure", { class: "trend", "data-series": series.key },
    el("figcaption", {}, el("span", {}, series.label), el("b", {}, fmt(last, series.unit) + change)), g);
}
function renderModel(h) {
  $("log-pane").hidden = true;
  $("detail-title").replaceChildren("Model ", el("code", {}, h.model), el("span", { class: "muted" },
    " · " + h.runs.length + " run(s)"));
  const pick = state.pick;
  const compareBtn = el("button", { id: "compare-picked", disabled: pick.length === 2 ? null : "" },
    "Compare the two picked");
  compareBtn.onclick = () => { location.hash = "compare=" + pick.map(encodeURIComponent).join(","); };
  const rows = h.runs.map((r, i) => {
    const box = el("input", { type: "checkbox", "aria-label": "pick " + r.id });
    box.checked = pick.includes(r.id);
    box.onchange = () => {
      const at = pick.indexOf(r.id);
      if (at >= 0) pick.splice(at, 1); else { pick.push(r.id); if (pick.length > 2) pick.shift(); }
      renderModel(state.data);  // the picks and the compare button at once
    };
    const older = h.runs.slice(i + 1).find((o) => !o.duplicate_of && o.status !== "error");
    const v = r.virtual || {};
    const note = r.duplicate_of ? el("div", { class: "muted" }, "duplicate of ", runLink(r.duplicate_of))
      : older ? el("div", {}, link("compare=" + encodeURIComponent(older.id) + "," + encodeURIComponent(r.id),
        "vs previous")) : "";
    return el("tr", { "data-run": r.id }, el("td", {}, box), el("td", {}, pill(r.status)),
      el("td", {}, runLink(r.id), note, r.error && !r.duplicate_of ? el("div", { class: "err wrap" }, r.error) : ""),
      el("td", {}, short(r.started_at || r.created_at)),
      el("td", { class: "num" }, fmt(r.figures.latency_ms, "ms")),
      el("td", { class: "num" }, fmt(r.figures.max_abs_diff)),
      el("td", { class: "num" }, fmt(r.top1_agreement)),
      el("td", { class: "num" }, fmt(r.figures.instructions)),
      el("td", { class: "num" }, fmt(r.figures.arena_bytes, "B")),
      el("td", { class: "num" }, fmt(v.rom_bytes, "B")), el("td", { class: "num" }, fmt(v.ram_bytes, "B")),
      el("td", { class: "num" }, v.bit_exact != null ? v.bit_exact + "/" + (v.vectors ?? "?") : "—"));
  });
  const head = ["", "status", "run", "started", "latency", "max diff", "top-1", "instr./inf.", "arena", "ROM", "RAM",
    "bit-exact"].map((t, i) => el("th", { class: i >= 4 && i <= 11 ? "num" : null }, t));
  $("detail").replaceChildren(
    h.series.length ? el("div", { class: "trends", id: "trends" }, ...h.series.map(trend))
      : el("p", { class: "muted" }, "no figures yet: the trend appears once a run has measured something"),
    el("div", { class: "actions" }, compareBtn),
    el("table", { id: "model-runs" }, el("thead", {}, el("tr", {}, ...head)), el("tbody", {}, ...rows)));
}
function renderBoard(b) {
  $("log-pane").hidden = true;
  $("detail-title").replaceChildren("Board ", el("code", {}, b.id));
  const h = b.health || {}, latest = b.flashes[0] || {};
  const seen = b.seen || { chip: latest.chip, port: latest.port, mac: latest.mac };
  const quarantine = h.consecutive_failures ? h.consecutive_failures + " failed in a row" : "none";
  $("detail").replaceChildren(
    el("div", { class: "grid2" },
      el("div", {}, el("h3", {}, "Health"), table([["chip", seen.chip], ["port", seen.port], ["MAC", seen.mac],
        ["attached", seen.present == null ? null
          : seen.present ? "yes" : "no (last seen " + when(seen.last_seen) + ")"],
        ["runs", h.runs], ["flash failures", h.flash_failures], ["run failures", h.run_failures],
        ["failure streak", quarantine],
        ["last error", h.last_error ? el("span", { class: "err wrap" }, h.last_error) : null]],
        { id: "board-health", class: "figures" }),
        b.health ? "" : el("p", { class: "muted" }, "no health record yet: flash results come from result.json only")),
      el("div", {}, el("h3", {}, "Last good run"), b.last_good ? table([["run", runLink(b.last_good.run_id)],
        ["model", modelLink(b.last_good.model)], ["finished", when(b.last_good.finished_at)],
        ["per inference", perInference(b.last_good)],
        ["flash", secs(b.last_good.flash_s)]], { id: "last-good", class: "figures" })
        : el("p", { class: "muted", id: "last-good" }, "no good run yet"))),
    el("h3", {}, "Flash history"),
    el("table", { id: "flashes" }, el("thead", {}, el("tr", {}, ...["finished", "run", "model", "result", "flash",
      "per inference", "bit-exact"].map((t) => el("th", {}, t)))),
      el("tbody", {}, ...(b.flashes.length ? b.flashes.map((f) => el("tr", { "data-run": f.run_id },
        el("td", {}, short(f.finished_at)), el("td", {}, runLink(f.run_id)), el("td", { class: "name" }, modelLink(f.model)),
        el("td", {}, pill(f.error || f.ok === false ? "failure" : f.run_status)),
        el("td", { class: "num" }, secs(f.flash_s)),
        el("td", { class: "num" }, perInference(f)),
        el("td", { class: "num" }, f.bit_exact ?? "—")))
        : [el("tr", {}, el("td", { colspan: "7", class: "muted" }, "no flashes recorded"))]))),
    ...(b.events.length ? [el("h3", {}, "Health events"), el("ul", {}, ...b.events.map((e) => el("li",
      { class: e.ok ? "" : "err wrap" }, when(e.at) + " · " + e.kind + (e.ok ? " ok" : " failed") +
      (e.message ? ": " + e.message : ""), e.run_id ? el("span", {}, " · ", runLink(e.run_id)) : "")))] : []));
}
const LOWER_IS_BETTER = /latency|max_abs_diff|instructions|bytes|duration/;
function renderCompare(c) {
  $("log-pane").hidden = true;
  $("detail-title").replaceChildren("Compare ", runLink(c.a.id), " → ", runLink(c.b.id));
  const side = (r, tag) => el("div", { class: "side" }, el("h3", {}, tag + " ", pill(r.status), " ", runLink(r.id)),
    el("p", {}, modelLink(r.model), " · " + when(r.started_at || r.created_at) + " · sha256 ",
      el("code", {}, (r.sha256 || "").slice(0, 12))));
  const metricRows = c.metrics.map((m) => {
    const better = m.delta == null || m.delta === 0 ? "" :
      ((m.delta < 0) === LOWER_IS_BETTER.test(m.figure) ? "better" : "worse");
    return el("tr", { "data-figure": m.figure, class: m.delta ? "diff" : "" }, el("td", {}, m.figure),
      el("td", { class: "num" }, fmt(m.a)), el("td", { class: "num" }, fmt(m.b)),
      el("td", { class: "num " + better }, m.delta == null ? "—" : (m.delta > 0 ? "+" : "") + fmt(m.delta)),
      el("td", { class: "num " + better }, m.pct == null ? "" : (m.pct > 0 ? "+" : "") + m.pct + " %"));
  });
  const vec = (v) => el("code", { class: "vec" }, v == null ? "—" : "[" + v.join(", ") + "]");
  $("detail").replaceChildren(el("div", { class: "grid2" }, side(c.a, "A"), side(c.b, "B")),
    el("h3", {}, "Figures"),
    el("table", { id: "compare-metrics" }, el("thead", {}, el("tr", {}, ...["figure", "A", "B", "Δ", "Δ %"].map(
      (t, i) => el("th", { class: i ? "num" : null }, t)))), el("tbody", {}, ...metricRows)),
    el("h3", {}, "Outputs"),
    c.outputs.length ? el("table", { id: "compare-outputs" }, el("thead", {}, el("tr", {}, el("th", {}, "where"),
      el("th", {}, "A"), el("th", {}, "B"))), el("tbody", {}, ...c.outputs.map((o) => el("tr", { class: "diff" },
      el("td", {}, o.where), el("td", { class: "wrap" }, vec(o.a)), el("td", { class: "wrap" }, vec(o.b))))))
      : el("p", { class: "muted", id: "compare-outputs" }, c.outputs_same ? "all " + c.outputs_same +
        " recorded outputs are the same" : "no outputs recorded"),
    el("h3", {}, "Jobs"),
    el("table", { id: "compare-jobs" }, el("tbody", {}, ...c.jobs.map((j) => el("tr",
      { "data-job": j.id, class: j.a !== j.b ? "diff" : "" },
      el("td", {}, j.id), el("td", {}, j.a ? pill(j.a) : "—"), el("td", {}, j.b ? pill(j.b) : "—"))))));
}
function followLog(run, job, idx, name, pinned) {
  const key = run + "\u0000" + job + "\u0000" + idx;
  if (pinned) state.log.pinned = true;
  $("log-pane").hidden = false;
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
    el("td", {}, boardLink(b.id)), el("td", {}, isSimulated(b) ? "simulated" : "board"), el("td", {}, b.chip || "—"),
    el("td", {}, b.port || "—"),
    el("td", {}, pill(b.error || b.ok === false ? "failure" : (b.run_status || "success"))),
    el("td", { class: "num" }, perInference(b)), el("td", { class: "num" }, secs(b.flash_s)),
    el("td", {}, runLink(b.run_id))))
    : [el("tr", {}, el("td", { colspan: "8", class: "muted" }, "no board results yet"))]));
}
const ago = (s) => (s == null ? "—" : s < 60 ? Math.round(s) + " s ago" : s < 3600 ? Math.round(s / 60) + " min ago"
  : s < 86400 ? Math.round(s / 3600) + " h ago" : Math.round(s / 86400) + " d ago");
const health = (h, title) => el("span", { class: "pill health-" + h, "data-health": h, title }, h);
function renderFleet(f) {  // the shared queue's hosts and boards; a board's recent health, newest first
  $("fleet-hosts").tBodies[0].replaceChildren(...(f.hosts.length ? f.hosts.map((h) => el("tr", { "data-host": h.name },
    el("td", {}, h.name), el("td", {}, h.labels.join(", ") || "—"), el("td", { title: when(h.last_seen) },
      ago(h.last_seen_s)), el("td", { class: "num" }, h.running)))
    : [el("tr", {}, el("td", { colspan: "4", class: "muted" }, "no hosts yet: start `benchd worker` on a bench"))]));
  $("fleet-boards").tBodies[0].replaceChildren(...(f.boards.length ? f.boards.map((b) => el("tr",
    { "data-board": b.id }, el("td", {}, b.id), el("td", {}, b.host), el("td", {}, health(b.health)),
    el("td", { class: "wrap" }, b.health_reason), el("td", {}, b.lease ? "job " + b.lease.job_id + " on " +
      b.lease.host : "—"), el("td", { title: when(b.last_check) }, b.last_check ? short(b.last_check) : "never"),
    el("td", {}, b.present ? "yes" : "absent"), el("td", { class: "history" }, ...b.history.slice(0, 6).map((e) =>
      health(e.health, when(e.at) + ": " + e.reason)))))
    : [el("tr", {}, el("td", { colspan: "8", class: "muted" }, "no boards in the queue yet"))]));
}
async function pollFleet() {  // 404: no [queue] url, the pane stays hidden and is not asked again
  const r = await fetch("api/fleet", { cache: "no-store", credentials: "same-origin" });
  const body = await r.json().catch(() => ({}));
  state.fleet = r.status !== 404;
  $("fleet-pane").hidden = !state.fleet;
  $("fleet-error").textContent = r.ok ? "" : body.error || "api/fleet: HTTP " + r.status;
  if (r.ok) renderFleet(body);
}
async function show(v) {  // fetch the view's data; redraw only when it changed (keeps focus and picks)
  let path, draw;
  if (v.kind === "model") { path = "api/model?name=" + encodeURIComponent(v.arg); draw = renderModel; }
  else if (v.kind === "board") { path = "api/board?id=" + encodeURIComponent(v.arg); draw = renderBoard; }
  else if (v.kind === "compare") {
    const [a, b] = v.arg.split(",");
    path = "api/compare?a=" + encodeURIComponent(a || "") + "&b=" + encodeURIComponent(b || ""); draw = renderCompare;
  } else if (state.selected) { path = "api/runs/" + encodeURIComponent(state.selected); draw = renderDetail; }
  else return;
  const r = await fetch(path, { cache: "no-store", credentials: "same-origin" });
  if (r.status === 404) {
    $("log-pane").hidden = true;
    $("detail-title").textContent = "Not found";
    $("detail").replaceChildren(el("p", { class: "muted" }, (await r.json()).error));
    state.shown = null;
    return;
  }
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  const text = await r.text(), key = path + "\u0000" + text;
  if (key !== state.shown) { state.shown = key; state.data = JSON.parse(text); draw(state.data); }
}
let ticks = 0, timer = null, busy = false;
async function tick() {
  if (busy) return;  // a poll is under way: the next one comes within a second
  busy = true;
  clearTimeout(timer);
  try {
    const v = view(), index = v.kind === "index";
    for (const pane of document.querySelectorAll("section.index")) pane.hidden = !index;
    $("fleet-pane").hidden = !index || !state.fleet;
    $("detail-pane").hidden = index;
    state.runs = await get("api/runs");
    const chosen = v.kind === "run" ? v.arg : null;
    if (chosen !== state.selected) { state.selected = chosen; state.log = { key: null, offset: 0, pinned: false }; }
    if (index) {
      renderRuns(state.runs.slice(0, 15));
      renderModels(await get("api/models"));
      const seen = state.runs.map((r) => r.id + r.status).join();
      if (ticks++ % 5 === 0 || seen !== state.seen) renderBoards(await get("api/boards"));  // a run ended
      state.seen = seen;
      if (state.fleet !== false && ticks % 5 === 1) await pollFleet();
    } else {
      await show(v);
      if (v.kind === "run") await pollLog();
    }
    $("live").textContent = "live · " + new Date().toLocaleTimeString();
    $("live").className = "pill success";
  } catch (e) {
    $("live").textContent = "disconnected: " + e.message;
    $("live").className = "pill error";
  } finally {
    busy = false;
    timer = setTimeout(tick, 1000);
  }
}
window.addEventListener("hashchange", () => { ticks = 0; state.shown = null; window.scrollTo(0, 0); tick(); });
tick();
