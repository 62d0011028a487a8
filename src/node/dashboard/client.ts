/**
 * /dashboard.js: the view functions (view.ts, shipped as their own source) and `clientMain`, which polls
 * the node's JSON every 2 s (/api/status and /api/stats on the dashboard, and /api/traffic every 30 s;
 * /api/stats on the leaderboard)
 * and replaces each part of the page whose content changed. Elements are built with createElement,
 * setAttribute (names checked by `safeAttr`) and text nodes, never innerHTML. Polling pauses while the
 * tab is hidden; a node that stops answering is reported in the footer and polled again.
 */
import { VIEW_FUNCTIONS } from './view.ts'
import { TRAFFIC_VIEW_FUNCTIONS } from './traffic-view.ts'

// browser globals, for this file only (the project compiles without the DOM library)
declare const document: any
declare function dashboardParts (...args: any[]): any
declare function leaderboardParts (...args: any[]): any
declare function safeAttr (name: string, value: string): boolean
declare function withTraffic (...args: any[]): any

/** Runs in the browser, from its source text: uses only browser globals and the view functions */
export function clientMain (): void {
  const POLL_MS = 2000
  const page = document.body.getAttribute('data-page')
  const shown = new Map()

  // an <svg> and everything in it are SVG elements (charts), made in the SVG namespace
  function toDom (n: any, ns?: string): any {
    if (typeof n === 'string') return document.createTextNode(n)
    const space = n.t === 'svg' ? 'http://www.w3.org/2000/svg' : ns
    const el = space !== undefined ? document.createElementNS(space, n.t) : document.createElement(n.t)
    if (n.a !== null) for (const k of Object.keys(n.a)) if (typeof n.a[k] === 'string' && safeAttr(k, n.a[k])) el.setAttribute(k, n.a[k])
    append(el, n.c, space)
    return el
  }
  function append (el: any, children: any[], ns?: string): void {
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue
      if (Array.isArray(c)) append(el, c, ns)
      else el.appendChild(toDom(c, ns))
    }
  }
  function apply (parts: any): void {
    if (document.title !== parts.title) document.title = parts.title
    const main = document.getElementById('app')
    const ids = new Set()
    for (const part of [parts.summary].concat(parts.sections)) {
      const id = part.a.id
      ids.add(id)
      const key = JSON.stringify(part)
      const old = document.getElementById(id)
      if (old !== null && shown.get(id) === key) continue
      shown.set(id, key)
      const el = toDom(part)
      if (old !== null) old.replaceWith(el)
      else main.appendChild(el)
    }
    for (const el of Array.from(main.children) as any[]) if (el.id !== '' && !ids.has(el.id)) el.remove()
  }
  function say (id: string, text: string): void {
    const el = document.getElementById(id)
    if (el !== null && el.textContent !== text) el.textContent = text
  }
  async function get (path: string): Promise<any> {
    const res = await fetch(path, { cache: 'no-store', headers: { accept: 'application/json' } })
    if (!res.ok) throw new Error(path + ' answered HTTP ' + res.status)
    return res.json()
  }
  // the traffic log changes once a minute: read every TRAFFIC_MS, kept in between
  const TRAFFIC_MS = 30000
  let traffic: any = null
  let trafficAt = 0
  async function trafficTick (): Promise<void> {
    if (Date.now() - trafficAt < TRAFFIC_MS) return
    trafficAt = Date.now()
    traffic = await get('/api/traffic').catch(function () { return traffic })
  }
  async function tick (): Promise<void> {
    if (document.hidden === true) return
    try {
      if (page === 'leaderboard') {
        apply(leaderboardParts(await get('/api/stats'), Date.now()))
      } else {
        const [status, stats] = await Promise.all([get('/api/status'), get('/api/stats').catch(function () { return null }), trafficTick()])
        apply(withTraffic(dashboardParts(status, stats, Date.now()), traffic))
      }
      say('conn', '')
      say('updated', 'Updated ' + new Date().toLocaleTimeString() + '; refreshes every ' + POLL_MS / 1000 + ' s.')
    } catch (err: any) {
      say('conn', 'Cannot reach the node (' + String(err !== null && err !== undefined && err.message !== undefined ? err.message : err) + '); trying again every ' + POLL_MS / 1000 + ' s.')
    }
  }
  async function loop (): Promise<void> {
    await tick()
    setTimeout(loop, POLL_MS)
  }
  document.addEventListener('visibilitychange', function () { if (document.hidden !== true) void tick() })
  void loop()
}

export const DASHBOARD_JS: string = [
  '// Skyline dashboard: polls this node\'s JSON every 2 s and renders it with DOM methods.',
  '(function () {',
  '\'use strict\'',
  ...VIEW_FUNCTIONS.map(f => f.toString()),
  ...TRAFFIC_VIEW_FUNCTIONS.map(f => f.toString()),
  clientMain.toString(),
  'clientMain()',
  '})()',
  ''
].join('\n')
