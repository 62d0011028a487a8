/**
 * The dashboard's stylesheet and icon, served by the node itself (/dashboard.css, /favicon.svg): no web
 * fonts, no images from elsewhere. System fonts; light and dark follow the browser's preference; colours
 * meet WCAG AA contrast, and every coloured label also says what it means in words.
 */

export const DASHBOARD_CSS = `:root {
  color-scheme: light dark;
  --bg: #f7f7f5; --fg: #1d1f21; --muted: #5a6068; --card: #ffffff; --line: #d9dcdf; --accent: #1f5fa8;
  --ok-bg: #dff3e4; --ok-fg: #14532d; --bad-bg: #fde2e1; --bad-fg: #8a1c17; --warn-bg: #fff1cc; --warn-fg: #6b4500;
  --info-bg: #dde9f8; --info-fg: #163f70; --none-bg: #eceef0; --none-fg: #3b4149;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #16181b; --fg: #e6e8ea; --muted: #a3aab2; --card: #1f2226; --line: #353a40; --accent: #8cb8ee;
    --ok-bg: #173b24; --ok-fg: #b5ecc4; --bad-bg: #4a1d1b; --bad-fg: #ffc6c2; --warn-bg: #45360f; --warn-fg: #ffe08f;
    --info-bg: #1b3150; --info-fg: #c4dcfa; --none-bg: #2c3036; --none-fg: #d2d6db;
  }
}
* { box-sizing: border-box; }
html { font-size: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 0.95rem/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
}
a { color: var(--accent); }
a:focus-visible, summary:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
code, .peer, .hash, .nevra { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.9em; }
.skip { position: absolute; left: -999px; top: 0; background: var(--card); padding: 0.5rem; }
.skip:focus { left: 0.5rem; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
header.top { background: var(--card); border-bottom: 1px solid var(--line); padding: 0.75rem 1.25rem; }
.bar { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1.25rem; }
.brand { font-weight: 700; letter-spacing: 0.02em; }
.logo { width: 1.4rem; height: 1.4rem; background: url("/favicon.svg") center / contain no-repeat; }
nav { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; }
nav a { text-decoration: none; padding: 0.15rem 0; }
nav a[aria-current="page"] { font-weight: 700; border-bottom: 2px solid var(--accent); }
.summary h1 { font-size: 1.35rem; margin: 0.6rem 0 0.3rem; }
main { padding: 0.5rem 1.25rem 1rem; display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(min(100%, 34rem), 1fr)); align-items: start; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 0.75rem 1rem; min-width: 0; }
section#alerts, section#jobs, section#verdicts, section#leaders, section#nodes, section#contributors { grid-column: 1 / -1; }
h2 { font-size: 1.1rem; margin: 0 0 0.5rem; }
h3 { font-size: 0.95rem; margin: 0.9rem 0 0.4rem; color: var(--muted); }
dl.facts { display: flex; flex-wrap: wrap; gap: 0.35rem 1.5rem; margin: 0.25rem 0; }
dl.facts div { min-width: 7rem; }
dl.facts dt { font-size: 0.8rem; color: var(--muted); }
dl.facts dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
ul.plain { list-style: none; padding: 0; margin: 0; font-weight: 400; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.35rem 0.6rem 0.35rem 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 0.8rem; color: var(--muted); font-weight: 600; }
th.n, td.n { text-align: right; font-variant-numeric: tabular-nums; }
td .nevra { overflow-wrap: anywhere; }
.muted { color: var(--muted); }
.empty { color: var(--muted); font-style: italic; margin: 0.25rem 0; }
.empty.ok { font-style: normal; }
.error { color: var(--bad-fg); overflow-wrap: anywhere; }
.peer, .hash, .progress, time, .nowrap { white-space: nowrap; }
.peer.self { font-weight: 700; }
td code { overflow-wrap: anywhere; }
.final { font-size: 0.8rem; color: var(--muted); }
.badge { display: inline-block; padding: 0.05rem 0.45rem; border-radius: 0.7rem; font-size: 0.8rem; font-weight: 600; background: var(--none-bg); color: var(--none-fg); white-space: nowrap; }
.b-agreed, .b-built, .b-good, .b-yes { background: var(--ok-bg); color: var(--ok-fg); }
.b-disputed, .b-failed, .b-flagged, .b-halt, .b-dissent, .b-refused, .b-no { background: var(--bad-bg); color: var(--bad-fg); }
.b-no-consensus, .b-blocked, .b-throttle, .b-throttled, .b-partly, .b-probation, .b-omission { background: var(--warn-bg); color: var(--warn-fg); }
.b-pending, .b-queued, .b-fetching, .b-building { background: var(--info-bg); color: var(--info-fg); }
.banner { margin: 0.6rem 0 0.2rem; padding: 0.6rem 0.8rem; border-radius: 6px; }
.banner.halt { background: var(--bad-bg); color: var(--bad-fg); border: 2px solid currentColor; }
ul.alerts { list-style: none; padding: 0; margin: 0; }
ul.alerts li { padding: 0.35rem 0; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
ul.warnings { margin: 0.3rem 0; color: var(--warn-fg); }
progress { width: 7rem; height: 0.8rem; vertical-align: middle; accent-color: var(--accent); }
footer { padding: 0 1.25rem 1.25rem; color: var(--muted); font-size: 0.85rem; }
footer p { margin: 0.2rem 0; }
.conn:not(:empty) { color: var(--bad-fg); font-weight: 600; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr)); gap: 0.8rem; }
figure.chart { margin: 0; }
figure.chart figcaption { font-size: 0.85rem; color: var(--muted); }
svg.spark { width: 100%; height: 5rem; display: block; }
svg.spark .line { fill: none; stroke: var(--accent); stroke-width: 1.5; }
svg.spark .dot { fill: var(--accent); }
svg.spark .axis { stroke: var(--line); stroke-width: 1; }
`

/** A small skyline: three buildings and a link between their roofs */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<rect width="32" height="32" rx="6" fill="#1f5fa8"/>
<path d="M5 27V15h6v12zM13 27V8h6v19zM21 27V12h6v15z" fill="#fff"/>
<path d="M8 15l8-7 8 4" stroke="#9fd0ff" stroke-width="1.6" fill="none"/>
</svg>
`
