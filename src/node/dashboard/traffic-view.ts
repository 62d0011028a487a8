/**
 * The dashboard's traffic section (/api/traffic, src/node/traffic.ts): charts of the node's bytes on the
 * wire, builds and credit per day (inline SVG, drawn by these functions on the server and again by the
 * page's own script), and a table of bytes per day by protocol. The same rules as view.ts: functions that
 * use only their arguments, shared globals and the view functions (client.ts ships their source).
 */
import { h, num, section, table, type Child, type Parts, type VNode } from './view.ts'
import type { TrafficDay, TrafficReport } from '../traffic.ts'

export type { TrafficReport }

/** A byte count in B, KB, MB or GB (binary multiples) */
export function bytes (n: number): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–'
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let v = n
  let i = 0
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v = v / 1024; i++ }
  return num(v, i === 0 ? 0 : 1) + ' ' + units[i]
}

/** A protocol as the table shows it: 'global' is every byte through the node's connections */
export function protocolName (protocol: string): string {
  return protocol === 'global' ? 'all, on the wire (encrypted, with framing)' : protocol
}

/**
 * A line chart of one series over the days: an SVG polyline, a dot per day with its value on hover, and
 * the day range and maximum in the caption. The y axis runs from 0 to the series' maximum.
 */
export function lineChart (id: string, label: string, days: string[], values: number[], format: (n: number) => string): VNode {
  const W = 300
  const H = 80
  const PAD = 4
  let max = 0
  for (const v of values) if (v > max) max = v
  const step = values.length > 1 ? (W - 2 * PAD) / (values.length - 1) : 0
  const xy = values.map(function (v, i) {
    const x = PAD + i * step
    const y = H - PAD - (max > 0 ? (v / max) * (H - 2 * PAD) : 0)
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10]
  })
  const summary = label + ' per day, ' + days[0] + ' to ' + days[days.length - 1] + ': at most ' + format(max) + ', ' + format(values[values.length - 1]) + ' today'
  return h('figure', { id, class: 'chart' },
    h('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': summary, class: 'spark' },
      h('line', { class: 'axis', x1: String(PAD), y1: String(H - PAD), x2: String(W - PAD), y2: String(H - PAD) }),
      h('polyline', { class: 'line', points: xy.map(function (p) { return p[0] + ',' + p[1] }).join(' ') }),
      xy.map(function (p, i) { return h('circle', { class: 'dot', cx: String(p[0]), cy: String(p[1]), r: '2' }, h('title', null, days[i] + ': ' + format(values[i]))) })),
    h('figcaption', null, h('strong', null, label), ' per day · max ' + format(max) + ' · today ' + format(values[values.length - 1])))
}

/** Bytes per day by protocol, newest day first, the busiest protocol first within a day */
export function trafficTable (t: TrafficReport): VNode {
  const rows = t.protocols.slice().sort(function (a, b) {
    return a.day < b.day ? 1 : a.day > b.day ? -1 : (b.sent + b.received) - (a.sent + a.received)
  })
  return table('Bytes per day by protocol, newest day first', ['Day (UTC)', 'Protocol', '#Sent', '#Received'], rows.map(function (r) {
    return [r.day, r.protocol === 'global' ? h('strong', null, protocolName(r.protocol)) : h('code', null, r.protocol), bytes(r.sent), bytes(r.received)]
  }), 'No traffic recorded yet.', 'traffic-protocols')
}

/** The traffic section: charts of wire bytes, builds and credit per day, then bytes per day by protocol */
export function trafficView (t: TrafficReport | null): VNode {
  if (t === null || t === undefined) return section('traffic', 'Traffic, builds and credit', h('p', { class: 'empty' }, 'The traffic log is not available right now.'))
  const days = t.daily.map(function (d: TrafficDay) { return d.day })
  const wire = t.daily.map(function (d: TrafficDay) { return d.sent + d.received })
  const charts: Child[] = [
    lineChart('chart-traffic', 'Traffic', days, wire, bytes),
    lineChart('chart-builds', 'Builds', days, t.daily.map(function (d: TrafficDay) { return d.builds }), function (n: number) { return num(n, 0) }),
    lineChart('chart-credit', 'Credit', days, t.daily.map(function (d: TrafficDay) { return d.credit }), function (n: number) { return num(n, 2) })
  ]
  return section('traffic', 'Traffic, builds and credit',
    h('p', { class: 'muted' }, 'The last ' + t.daily.length + ' days (UTC), from this node\'s own byte counters and its attestations.'),
    h('div', { class: 'charts' }, charts),
    h('h3', null, 'Bytes per day by protocol'),
    trafficTable(t))
}

/** The dashboard's parts with the traffic section after this node's record (or at the end) */
export function withTraffic (parts: Parts, t: TrafficReport | null): Parts {
  const sections = parts.sections.slice()
  let at = sections.length
  for (let i = 0; i < sections.length; i++) if (sections[i].a !== null && sections[i].a!.id === 'record') at = i + 1
  sections.splice(at, 0, trafficView(t))
  return { title: parts.title, summary: parts.summary, sections }
}

/** The functions above, shipped to the browser after view.ts's */
export const TRAFFIC_VIEW_FUNCTIONS: Array<(...args: any[]) => unknown> = [bytes, protocolName, lineChart, trafficTable, trafficView, withTraffic]
