"""The report's stylesheet, inlined into every ``report.html``.

Light theme, system fonts only (no web fonts: the page must work offline), a
single readable column like a documentation page, and print rules so the
report prints (or saves as PDF) without cut figures or tables.
"""

from __future__ import annotations

CSS = """
:root {
  --fg: #1f2328;
  --muted: #59636e;
  --faint: #818b98;
  --bg: #f6f8fa;
  --card: #ffffff;
  --border: #d8dee4;
  --border-soft: #e8ecf0;
  --accent: #3b5bdb;
  --accent-soft: #edf2ff;
  --code-bg: #f3f5f8;
  --ok: #1a7f37;
  --ok-bg: #dafbe1;
  --warn: #9a6700;
  --warn-bg: #fff8c5;
  --bad: #cf222e;
  --bad-bg: #ffebe9;
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans",
          "Liberation Sans", "DejaVu Sans", Arial, sans-serif;
  --mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono",
          "DejaVu Sans Mono", monospace;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0;
  background: var(--bg);
  color: var(--fg);
  font: 16px/1.6 var(--sans);
}
.page {
  max-width: 960px;
  margin: 0 auto;
  padding: 40px 28px 56px;
}
.masthead {
  padding-bottom: 22px;
  margin-bottom: 28px;
  border-bottom: 1px solid var(--border);
}
.eyebrow {
  font-size: 12px;
  font-weight: 600;
  letter-spacing: .08em;
  text-transform: uppercase;
  color: var(--accent);
}
h1 {
  font-size: 32px;
  line-height: 1.2;
  font-weight: 700;
  letter-spacing: -.01em;
  margin: 6px 0 12px;
}
h2 {
  font-size: 21px;
  line-height: 1.3;
  font-weight: 650;
  margin: 0 0 14px;
}
h3 {
  font-size: 13px;
  font-weight: 600;
  letter-spacing: .04em;
  text-transform: uppercase;
  color: var(--muted);
  margin: 20px 0 8px;
}
h3:first-of-type { margin-top: 0; }
.meta {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 6px 18px;
  color: var(--muted);
  font-size: 14px;
}
.meta b { color: var(--fg); font-weight: 600; }
.status {
  display: inline-block;
  padding: 1px 10px;
  border-radius: 999px;
  font-size: 12px;
  font-weight: 600;
  letter-spacing: .03em;
  text-transform: uppercase;
}
.status-finished { color: var(--ok); background: var(--ok-bg); }
.status-running, .status-interrupted { color: var(--warn); background: var(--warn-bg); }
.status-failed { color: var(--bad); background: var(--bad-bg); }
.callout {
  border: 1px solid var(--border);
  border-left: 4px solid var(--warn);
  background: var(--warn-bg);
  border-radius: 6px;
  padding: 12px 16px;
  margin: 0 0 28px;
  font-size: 15px;
}
.callout.bad { border-left-color: var(--bad); background: var(--bad-bg); }
.callout code { font-family: var(--mono); font-size: 13px; }
section { margin: 0 0 36px; }
.card {
  background: var(--card);
  border: 1px solid var(--border);
  border-radius: 10px;
  padding: 20px 22px;
}
.metrics {
  display: grid;
  grid-template-columns: repeat(auto-fill, minmax(180px, 1fr));
  gap: 14px;
}
.metric {
  background: var(--card);
  border: 1px solid var(--border);
  border-radius: 10px;
  padding: 14px 16px 12px;
}
.metric-label {
  font-size: 13px;
  color: var(--muted);
  line-height: 1.35;
  overflow-wrap: anywhere;
}
.metric-value {
  font-size: 26px;
  font-weight: 650;
  line-height: 1.25;
  margin-top: 4px;
  font-variant-numeric: tabular-nums;
  overflow-wrap: anywhere;
}
.toc {
  font-size: 14px;
  margin: 0 0 32px;
  color: var(--muted);
}
.toc ol {
  margin: 6px 0 0;
  padding: 0;
  list-style: none;
  display: flex;
  flex-wrap: wrap;
  gap: 6px 8px;
}
.toc a {
  display: inline-block;
  color: var(--accent);
  background: var(--accent-soft);
  border-radius: 999px;
  padding: 2px 12px;
  text-decoration: none;
}
.toc a:hover { text-decoration: underline; }
pre {
  margin: 0;
  font: 13.5px/1.55 var(--mono);
  background: var(--code-bg);
  border: 1px solid var(--border-soft);
  border-radius: 8px;
  padding: 12px 16px;
  white-space: pre-wrap;
  overflow-wrap: anywhere;
  tab-size: 4;
}
pre.cmd { background: #1f2328; color: #f0f3f6; border-color: #1f2328; }
pre.cmd .prompt { color: #8c959f; user-select: none; }
.table-wrap { overflow-x: auto; }
table {
  border-collapse: collapse;
  width: 100%;
  font-size: 14px;
  font-variant-numeric: tabular-nums;
}
th, td {
  padding: 7px 12px;
  border-bottom: 1px solid var(--border-soft);
  text-align: left;
  vertical-align: top;
}
thead th {
  font-size: 12.5px;
  font-weight: 600;
  color: var(--muted);
  border-bottom: 1.5px solid var(--border);
  white-space: nowrap;
}
tbody tr:nth-child(even) td { background: #fafbfc; }
tbody tr:last-child td { border-bottom: 0; }
td.num, th.num { text-align: right; }
td.num { white-space: nowrap; }
td.empty { color: var(--faint); }
table.kv th {
  width: 34%;
  font-weight: 500;
  font-family: var(--mono);
  font-size: 13px;
  color: var(--fg);
  border-bottom: 1px solid var(--border-soft);
  overflow-wrap: anywhere;
}
table.kv td { font-family: var(--mono); font-size: 13px; overflow-wrap: anywhere; }
table.kv tbody tr:nth-child(even) td { background: none; }
table.kv tbody tr:last-child th { border-bottom: 0; }
.caption {
  margin: 12px 2px 0;
  font-size: 14px;
  color: var(--muted);
}
.caption .label { color: var(--fg); font-weight: 600; }
figure { margin: 0; }
figure .frame { text-align: center; }
figure img {
  display: inline-block;
  max-width: 100%;
  height: auto;
  vertical-align: middle;
}
.missing {
  border: 1.5px dashed var(--bad);
  background: var(--bad-bg);
  color: var(--bad);
  border-radius: 8px;
  padding: 26px 16px;
  text-align: center;
  font-size: 14px;
}
.missing code { font-family: var(--mono); }
.note { color: var(--muted); font-size: 14px; margin: 0; }
ul.files { list-style: none; margin: 0; padding: 0; }
ul.files li {
  display: flex;
  flex-wrap: wrap;
  gap: 2px 14px;
  align-items: baseline;
  padding: 9px 0;
  border-bottom: 1px solid var(--border-soft);
}
ul.files li:last-child { border-bottom: 0; }
ul.files a, ul.files .fname {
  font-family: var(--mono);
  font-size: 14px;
  font-weight: 600;
  color: var(--accent);
  text-decoration: none;
}
ul.files .size { font-size: 13px; color: var(--faint); }
ul.files .desc { flex-basis: 100%; font-size: 14px; color: var(--muted); }
ul.files .gone { color: var(--bad); font-size: 13px; }
footer {
  margin-top: 44px;
  padding-top: 18px;
  border-top: 1px solid var(--border);
  font-size: 13px;
  color: var(--muted);
}
footer p { margin: 4px 0; }
footer code {
  font-family: var(--mono);
  font-size: 12.5px;
  background: var(--code-bg);
  border-radius: 4px;
  padding: 1px 5px;
}
@media (max-width: 640px) {
  .page { padding: 24px 14px 40px; }
  h1 { font-size: 26px; }
  .card { padding: 14px; }
  .metrics { grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
  .metric-value { font-size: 22px; }
  table.kv th { width: auto; }
}
@media print {
  @page { margin: 14mm 12mm; }
  body { background: #fff; font-size: 11pt; }
  .page { max-width: none; padding: 0; }
  .toc { display: none; }
  .card, .metric { border-color: #c8ced4; }
  .metric-value { font-size: 18px; }
  section { break-inside: auto; }
  figure, .metric, tr, pre.cmd, .callout { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  pre.cmd { background: var(--code-bg); color: var(--fg); border-color: var(--border); }
  pre.cmd .prompt { color: var(--faint); }
  tbody tr:nth-child(even) td { background: none; }
  a { color: inherit; }
}
"""
