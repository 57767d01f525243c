"""The dashboard page: static HTML and CSS kept as strings so they ship inside the wheel (the script is in
script.py).

One page, four views chosen by the address's hash: `#run=ID` (a run: jobs, steps, log, figures, controls),
`#model=NAME` (every run of a model and its trend), `#board=ID` (flash history, health), `#compare=A,B`.
"""

from daemon.reporters.dashboard.script import APP_JS

__all__ = ["APP_JS", "INDEX_HTML", "STYLE_CSS"]

INDEX_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>benchd</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="style.css"></head>
<body>
<header><h1><a href="#">benchd</a></h1><span id="live" class="pill">connecting…</span>
  <span id="notice" role="status"></span></header>
<main>
  <section id="runs-pane"><h2>Recent runs</h2>
    <table id="runs"><thead><tr><th>status</th><th>model</th><th>pipeline</th><th>jobs</th><th>time</th>
    <th>started</th></tr></thead><tbody></tbody></table></section>
  <section id="detail-pane"><h2 id="detail-title">No run selected</h2><div id="detail"></div>
    <div id="log-pane"><h3>Log <span id="log-name"></span></h3><pre id="log"></pre></div></section>
  <section id="boards-pane"><h2>Boards</h2>
    <table id="boards"><thead><tr><th>board</th><th>chip</th><th>port</th><th>last result</th>
    <th>cycles/inference</th><th>flash</th><th>run</th></tr></thead><tbody></tbody></table></section>
</main>
<script src="app.js"></script></body></html>
"""

STYLE_CSS = """
body { font: 14px system-ui, sans-serif; margin: 0; color: #1d2330; background: #f5f6f8; }
header { display: flex; gap: 1em; align-items: center; padding: .5em 1em; background: #1d2330; color: #fff; }
header a { color: #fff; text-decoration: none; }
a { color: #2455c3; } a:hover { text-decoration: underline; }
h1 { font-size: 18px; margin: 0; } h2 { font-size: 15px; margin: .2em 0 .5em; } h3 { font-size: 14px; }
main { display: grid; grid-template-columns: minmax(420px, 1fr) 1.5fr; gap: 1em; padding: 1em; }
main.wide { grid-template-columns: minmax(300px, .6fr) 2fr; }  /* model, board, compare: room for tables */
main.wide #runs th:nth-child(3), main.wide #runs td:nth-child(3), main.wide #runs th:nth-child(5),
main.wide #runs td:nth-child(5) { display: none; }
#runs-pane { overflow-x: auto; }
section { background: #fff; border-radius: 6px; padding: .8em; box-shadow: 0 1px 2px #0002; min-width: 0; }
#detail { overflow-x: auto; }
#boards-pane { grid-column: 1 / 3; }
table { border-collapse: collapse; width: 100%; }
td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eee; white-space: nowrap; vertical-align: top; }
th { font-weight: 600; color: #555; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
#runs tbody tr { cursor: pointer; } #runs tbody tr.selected { background: #e6efff; }
.pill { border-radius: 9px; padding: 1px 8px; font-size: 12px; background: #ddd; color: #222; }
.success, .ok { background: #c9f1d3; } .failure, .error { background: #fbd0d0; } .running { background: #ffe9a8; }
.queued, .skipped, .cancelled, .pending { background: #e4e4e4; } .delivered { background: #c9f1d3; }
.bar { display: inline-block; height: 8px; background: #7aa2f7; border-radius: 2px; vertical-align: middle; }
.job table, .figures { width: auto; } .job td, .figures td { padding-right: 1.5em; }
.job h3 { margin: .8em 0 .2em; }
.step { cursor: pointer; } .step:hover { background: #f0f4ff; }
td.wrap, .wrap { white-space: pre-wrap; overflow-wrap: anywhere; min-width: 12em; }
pre#log { background: #10131a; color: #d6deeb; padding: .6em; height: 260px; overflow: auto; margin: 0;
  font: 12px ui-monospace, monospace; white-space: pre-wrap; }
.muted { color: #777; } .err { color: #a00; }
.skip { color: #555; background: #f1f1f1; border-left: 3px solid #aaa; padding: 2px 8px; margin: 2px 0; }
.warn { color: #6b4a00; background: #fff6dc; border-left: 3px solid #e0a800; padding: 2px 8px; margin: 2px 0; }
.dup { background: #eef3ff; border-left: 3px solid #7aa2f7; padding: 4px 8px; }
.actions { display: flex; gap: .5em; margin: .4em 0 .8em; flex-wrap: wrap; }
button { font: inherit; padding: 3px 12px; border-radius: 4px; border: 1px solid #99a; background: #fff;
  cursor: pointer; }
button:hover { background: #eef3ff; } button.danger { border-color: #c66; color: #a00; }
button:disabled { opacity: .5; cursor: default; }
#notice { margin-left: auto; font-size: 13px; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
.trends { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 400px)); gap: .8em;
  margin-bottom: 1em; }
figure.trend { margin: 0; border: 1px solid #e4e6eb; border-radius: 6px; padding: .4em .6em; }
figure.trend figcaption { font-size: 13px; display: flex; justify-content: space-between; gap: 1em; }
figure.trend figcaption b { font-variant-numeric: tabular-nums; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart .axis { stroke: #ccd; stroke-width: 1; } svg.chart .grid { stroke: #eef; stroke-width: 1; }
svg.chart .line { fill: none; stroke: #2f6fdf; stroke-width: 2; }
svg.chart .dot { fill: #2f6fdf; stroke: #fff; stroke-width: 1.5; cursor: pointer; }
svg.chart .dot.last { fill: #1d2330; }
svg.chart text { font: 11px system-ui, sans-serif; fill: #666; }
.better { color: #087a2c; } .worse { color: #b00020; }
.diff { background: #fff3f3; }
code.vec { font: 12px ui-monospace, monospace; white-space: pre-wrap; overflow-wrap: anywhere; }
"""
