/**
 * Server-side rendering of the dashboard's element trees (view.ts) to HTML: every text and attribute
 * value is escaped, attribute names outside `safeAttr` are dropped, tag names are checked. The page shell
 * links only the node's own assets (/dashboard.css, /dashboard.js, /favicon.svg); without JavaScript the
 * page reloads itself every 10 s.
 */
import { safeAttr, type Child, type Parts } from './view.ts'

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
const TAG_RE = /^[a-z][a-z0-9]{0,15}$/
const VOID = new Set(['br', 'hr', 'img', 'input', 'meta', 'link', 'wbr'])

export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, c => ESCAPES[c])
}

export function toHtml (node: Child): string {
  if (node === null || node === undefined || node === false) return ''
  if (typeof node === 'string') return escapeHtml(node)
  if (Array.isArray(node)) return node.map(toHtml).join('')
  if (!TAG_RE.test(node.t)) throw new Error(`bad tag name ${JSON.stringify(node.t)}`)
  let out = '<' + node.t
  for (const [k, v] of Object.entries(node.a ?? {})) {
    if (typeof v === 'string' && safeAttr(k, v)) out += ` ${k}="${escapeHtml(v)}"`
  }
  out += '>'
  if (VOID.has(node.t)) return out
  return out + node.c.map(toHtml).join('') + `</${node.t}>`
}

export type PageName = 'dashboard' | 'leaderboard'

const NAV: Array<[PageName | 'json', string, string]> = [
  ['dashboard', '/', 'Dashboard'],
  ['leaderboard', '/leaderboard', 'Leaderboard'],
  ['json', '/api/status', 'status JSON'],
  ['json', '/api/stats', 'stats JSON'],
  ['json', '/metrics', 'metrics']
]

/** The whole page: shell, navigation, the server-rendered parts, and the script that keeps them fresh */
export function renderPage (name: PageName, parts: Parts, renderedAt: number): string {
  const nav = NAV.map(([p, href, text]) => `<a href="${href}"${p === name ? ' aria-current="page"' : ''}>${text}</a>`).join('\n')
  const stamp = new Date(renderedAt).toISOString().replace('T', ' ').slice(0, 19) + ' UTC'
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(parts.title)}</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
<noscript><meta http-equiv="refresh" content="10"></noscript>
</head>
<body data-page="${name}">
<a class="skip" href="#app">Skip to the content</a>
<header class="top">
<div class="bar"><span class="logo" aria-hidden="true"></span><span class="brand">Skyline</span>
<nav aria-label="Pages">
${nav}
</nav></div>
${toHtml(parts.summary)}
</header>
<main id="app">
${parts.sections.map(toHtml).join('\n')}
</main>
<footer>
<p id="conn" role="status" class="conn"></p>
<p id="updated">Rendered by the node at ${escapeHtml(stamp)}.<noscript> JavaScript is off: this page reloads every 10 s.</noscript></p>
</footer>
</body>
</html>
`
}
