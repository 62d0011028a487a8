/**
 * The dashboard's views: pure functions from the node's status and stats to a small element tree
 * (`{ t: tag, a: attributes, c: children }`). The server serializes the tree to HTML with every text and
 * attribute value escaped (html.ts); the browser builds it with createElement, setAttribute and text
 * nodes (client.ts), never innerHTML. Peer IDs, NEVRAs, contributor names and reasons come from the
 * network: they only ever land in text nodes and in attribute values.
 *
 * The same functions run on both sides: client.ts ships their source (Function.prototype.toString) in
 * /dashboard.js. So a function here uses only its arguments, globals that Node and browsers share
 * (Math, Date, JSON, Number, String, Array, Object, Map, Set) and the functions listed in VIEW_FUNCTIONS:
 * no imported values, no module-level constants, no arrow functions at the top level.
 *
 * @example
 * ```ts
 * const { summary, sections } = dashboardParts(node.status(), node.stats(), Date.now())
 * ```
 */
import type { NodeStatus } from '../status.ts'
import type { MeshStats, NodeStats, ContributorStats, StatsRow } from '../../rules/stats.ts'

export interface VNode {
  /** tag name */
  t: string
  /** attributes; names outside `safeAttr` are dropped */
  a: Record<string, string> | null
  c: Child[]
}
export type Child = VNode | string | null | undefined | false | Child[]

/** A verdict as /status carries it (the tally's whole detail: `counts` and `missing` too) */
export type DashVerdict = NodeStatus['verdicts'][number] & { counts?: Record<string, number>, missing?: string[] }
export type DashJob = NodeStatus['jobs'][number]
export type DashStatus = Omit<NodeStatus, 'verdicts' | 'jobs'> & { verdicts: DashVerdict[], jobs: DashJob[] }
export type { MeshStats }

/** What a page shows: `summary` goes in the header, `sections` in main; each has an `id` */
export interface Parts { title: string, summary: VNode, sections: VNode[] }

export function h (t: string, a: Record<string, string> | null, ...c: Child[]): VNode {
  return { t, a, c }
}

/** Whether a view may set this attribute: no event handlers, no style, links only to this node's own paths; SVG geometry for charts */
export function safeAttr (name: string, value: string): boolean {
  if (name === 'href') return /^\/(?!\/)[A-Za-z0-9_\-./?=&#]*$/.test(value)
  return /^(class|id|title|role|scope|datetime|value|max|aria-[a-z]+|data-[a-z]+|viewBox|points|cx|cy|r|x1|y1|x2|y2)$/.test(name)
}

/** A peer ID as shown everywhere: its last 8 characters */
export function shortId (id: string): string {
  return id.length > 12 ? '…' + id.slice(-8) : id
}

/** A peer: the short ID, the full one on hover (and in `data-peer`) */
export function peer (id: string, self: string): VNode {
  return h('span', { class: id === self ? 'peer self' : 'peer', title: id, 'data-peer': id }, shortId(id), id === self ? ' (this node)' : null)
}

/** Peers as a comma-separated list */
export function peers (ids: string[], self: string): Child[] {
  const out: Child[] = []
  ids.forEach(function (id, i) {
    if (i > 0) out.push(', ')
    out.push(peer(id, self))
  })
  return out
}

export function shortHash (hash: string | undefined): Child {
  if (hash === undefined || hash === null || hash === '') return '–'
  return h('code', { class: 'hash', title: hash }, hash.slice(0, 12) + '…')
}

export function duration (seconds: number): string {
  const s = Math.max(0, Math.floor(seconds))
  if (s < 60) return s + ' s'
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s'
  if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min'
  return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h'
}

/** `<time>` with the age as text and the UTC time on hover */
export function when (at: number | null | undefined, now: number): Child {
  if (at === null || at === undefined || !Number.isFinite(at)) return '–'
  const iso = new Date(at).toISOString()
  const age = now - at
  return h('time', { datetime: iso, title: iso.replace('T', ' ').slice(0, 19) + ' UTC' }, age < 1000 ? 'just now' : duration(age / 1000) + ' ago')
}

/** A number with thousands separators and `digits` decimals */
export function num (n: number, digits: number): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–'
  const parts = Math.abs(n).toFixed(digits).split('.')
  const sign = n < 0 && Number(parts.join('.')) !== 0 ? '-' : ''
  return sign + parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (parts.length > 1 ? '.' + parts[1] : '')
}

/** A coloured label that also says what it means in text (colour is never the only signal) */
export function badge (kind: string, text: string): VNode {
  return h('span', { class: 'badge b-' + (/^[a-z-]{1,24}$/.test(kind) ? kind : 'unknown') }, text)
}

export function section (id: string, title: string, ...body: Child[]): VNode {
  return h('section', { id, 'aria-labelledby': id + '-h' }, h('h2', { id: id + '-h' }, title), ...body)
}

/** A table (with `id`, when given); a heading starting with `#` is a numeric (right-aligned) column */
export function table (label: string, head: string[], rows: Child[][], empty: string, id?: string): VNode {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty)
  const numeric = head.map(function (x) { return x.charAt(0) === '#' })
  return h('div', { class: 'scroll' },
    h('table', id !== undefined ? { id } : null,
      h('caption', { class: 'sr-only' }, label),
      h('thead', null, h('tr', null, head.map(function (x, i) { return h('th', numeric[i] ? { scope: 'col', class: 'n' } : { scope: 'col' }, numeric[i] ? x.slice(1) : x) }))),
      h('tbody', null, rows.map(function (r) { return h('tr', null, r.map(function (c, i) { return h('td', numeric[i] ? { class: 'n' } : null, c) })) }))))
}

/** A definition list from [term, description] pairs */
export function facts (pairs: Array<[string, Child]>): VNode {
  return h('dl', { class: 'facts' }, pairs.map(function (p) { return h('div', null, h('dt', null, p[0]), h('dd', null, p[1])) }))
}

/** The header's live part: who this node is, and the halt banner */
export function summaryView (s: DashStatus, now: number): VNode {
  const builder = s.builder.kind !== null ? s.builder.kind : 'none: relays and tallies only' + (s.builder.note !== null && s.builder.note !== '' ? ' (' + s.builder.note + ')' : '')
  return h('div', { id: 'summary', class: 'summary' },
    h('h1', null, 'Skyline node ', h('span', { class: 'peer', title: s.peerId, 'data-peer': s.peerId }, shortId(s.peerId))),
    facts([
      ['Version', s.version],
      ['Uptime', duration(s.uptimeSeconds)],
      ['Builder', builder],
      ['Peers', String(s.connectedPeers)]
    ]),
    s.builder.warnings.length > 0 ? h('ul', { class: 'warnings' }, s.builder.warnings.map(function (w) { return h('li', null, w) })) : null,
    s.halted !== null
      ? h('div', { class: 'banner halt', role: 'alert' },
          h('strong', null, 'Halted'), ' since ', when(s.halted.since, now), ': ', h('q', null, s.halted.reason),
          '. This node takes no new jobs until an announcer signs a resume; builds fall back to Koji.')
      : null)
}

export function alertsView (s: DashStatus, now: number): VNode {
  const items: Child[] = []
  if (s.halted !== null) items.push(h('li', { class: 'alert a-halt' }, badge('halt', 'halted'), ' The mesh is halted: ', h('q', null, s.halted.reason), ' (', when(s.halted.since, now), ')'))
  const t = s.throttle
  if (t.throttled) {
    items.push(h('li', { class: 'alert a-throttle' }, badge('throttle', 'throttled'),
      ' ' + num(t.disputedShare * 100, 0) + '% of the last ' + t.window.size + ' final verdicts were disputed (' + t.window.disputed + ' in ' + duration(t.window.ms / 1000) + '): no new jobs are taken.'))
  }
  if (s.reputation.flagged) items.push(h('li', { class: 'alert a-flagged' }, badge('flagged', 'flagged'), ' This node\'s builds disagreed with the mesh: check its toolchain and builder.'))
  const list = s.alerts.slice().reverse().slice(0, 20)
  for (const a of list) items.push(h('li', { class: 'alert' }, badge(a.kind, a.kind), ' ', a.message, ' ', h('span', { class: 'muted' }, '(', when(a.at, now), ')')))
  return section('alerts', 'Alerts', items.length > 0 ? h('ul', { class: 'alerts' }, items) : h('p', { class: 'empty ok' }, 'No alerts: no dissent from this node, no throttle, no halt.'))
}

/** The row of `stats` for `peerId`, and its rank (1-based) among the nodes */
export function statsRow (stats: MeshStats | null, peerId: string): { row: NodeStats, rank: number } | null {
  if (stats === null) return null
  for (let i = 0; i < stats.nodes.length; i++) if (stats.nodes[i].peerId === peerId) return { row: stats.nodes[i], rank: i + 1 }
  return null
}

export function recordView (s: DashStatus, stats: MeshStats | null, now: number): VNode {
  const rep = s.reputation
  const own = statsRow(stats, s.peerId)
  const pairs: Array<[string, Child]> = [
    ['Standing', rep.flagged ? badge('flagged', 'flagged') : badge('good', 'in good standing')],
    ['Agreement weight', num(rep.agree, 2)],
    ['Dissent weight', num(rep.dissent, 2)]
  ]
  if (own !== null) {
    const r = own.row
    pairs.push(
      ['Rank', '#' + own.rank + ' of ' + stats!.nodes.length + ' builders'],
      ['Contributor', r.contributor !== null ? r.contributor : '(none set)'],
      ['Credit', num(r.credit, 2)],
      ['Recent average credit', num(r.rac, 2) + ' per day'],
      ['Builds', num(r.builds, 0)],
      ['Agreed', num(r.agreed, 0)],
      ['Dissented', num(r.dissented, 0)],
      ['Failed', num(r.failed, 0)],
      ['Pending', num(r.pending, 0)],
      ['Last credit', when(r.lastCreditAt, now)])
  }
  return section('record', 'This node\'s record', facts(pairs),
    stats === null ? h('p', { class: 'empty' }, 'Stats are not available right now.') : own === null ? h('p', { class: 'empty' }, 'This node has no builds on record yet.') : null)
}

export function progressCell (j: DashJob): Child {
  const p = j.progress
  const active = j.state === 'queued' || j.state === 'fetching' || j.state === 'building'
  if (p === undefined || p === null) return active ? h('progress', { 'aria-label': j.state }) : '–'
  const label = p.phase
  if (typeof p.total === 'number' && p.total > 0 && typeof p.done === 'number') {
    const pct = Math.min(100, Math.max(0, Math.floor((p.done / p.total) * 100)))
    return h('span', { class: 'progress' }, h('progress', { value: String(Math.min(p.done, p.total)), max: String(p.total), 'aria-label': label + ' ' + pct + '%' }), ' ' + label + ' ' + pct + '%')
  }
  return h('span', { class: 'progress' }, active ? h('progress', { 'aria-label': label }) : null, ' ' + label + (typeof p.done === 'number' ? ' ' + num(p.done, 0) : ''))
}

/** NEVRA with the job ID on hover; the short job ID when the NEVRA is unknown */
export function pkg (job: string, nevra: string | null | undefined): VNode {
  return h('span', { class: 'nevra', title: 'job ' + job }, nevra !== undefined && nevra !== null && nevra !== '' ? nevra : 'job ' + job.slice(0, 12) + '…')
}

export function jobsView (s: DashStatus, now: number): VNode {
  const order: Record<string, number> = { building: 0, fetching: 1, queued: 2 }
  const jobs = s.jobs.slice().sort(function (a, b) {
    const oa = a.state in order ? order[a.state] : 3
    const ob = b.state in order ? order[b.state] : 3
    return oa - ob || b.updatedAt - a.updatedAt
  })
  const counts: Record<string, number> = {}
  for (const j of jobs) counts[j.state] = (counts[j.state] ?? 0) + 1
  const line = ['building', 'fetching', 'queued', 'built', 'failed', 'refused'].filter(function (k) { return counts[k] !== undefined }).map(function (k) { return counts[k] + ' ' + k })
  const shown = jobs.slice(0, 50)
  return section('jobs', 'Jobs',
    h('p', { class: 'muted' }, jobs.length === 0 ? 'This node has not been assigned a job yet.' : line.join(' · ') + (jobs.length > shown.length ? ' (newest ' + shown.length + ' shown)' : '')),
    jobs.length === 0
      ? null
      : table('Jobs assigned to this node', ['State', 'Package', 'Progress', 'Updated', 'Error'], shown.map(function (j) {
          return [badge(j.state, j.state), pkg(j.job, j.nevra), progressCell(j), when(j.updatedAt, now), j.error !== null && j.error !== '' ? h('span', { class: 'error' }, j.error) : '–']
        }), ''))
}

export function verdictsView (s: DashStatus): VNode {
  const list = s.verdicts.slice().reverse()
  return section('verdicts', 'Verdicts',
    table('Verdicts this node has tallied, newest first', ['Package', 'Verdict', 'Build hash', '#Agreeing', 'Dissenters and failures', 'Reproduces Koji\'s build'], list.map(function (v) {
      const against: Child[] = []
      if (v.dissenters.length > 0) against.push(h('div', null, 'dissent: ', peers(v.dissenters, s.peerId)))
      if (v.failedBuilders.length > 0) against.push(h('div', null, 'failed: ', peers(v.failedBuilders, s.peerId)))
      if (v.equivocators.length > 0) against.push(h('div', null, 'equivocated: ', peers(v.equivocators, s.peerId)))
      return [
        pkg(v.job, v.nevra),
        [h('span', { class: 'nowrap' }, badge(v.verdict, v.verdict), ' ', v.final ? h('span', { class: 'final' }, 'final') : h('span', { class: 'muted' }, 'so far')),
          v.attempt !== undefined && v.retryOf !== undefined ? h('div', { class: 'muted', title: 'a re-announcement of blocked job ' + v.retryOf }, 'attempt ' + v.attempt + ', retries ' + v.retryOf.slice(0, 12) + '…') : null],
        shortHash(v.hash),
        h('span', { title: v.agreeing.join('\n') }, String(v.agreeing.length)),
        against.length > 0 ? against : h('span', { class: 'muted' }, 'none'),
        kojiCell(v)
      ]
    }), 'No verdicts yet: none of the jobs this node has heard of has been tallied.'))
}

/** Whether the agreed outputs reproduce the official (Koji) build, as the agreeing builders claim: yes, or partly / no with the differing packages and header fields */
export function kojiCell (v: DashVerdict): Child {
  const o = v.official
  if (o === undefined || o === null) return h('span', { class: 'muted' }, '–')
  const claimedBy = o.claimedBy + ' of ' + o.of + ' agreeing builders'
  if (o.reproduces === 'yes') return h('span', { title: claimedBy }, badge('yes', 'yes'))
  return h('div', { title: claimedBy }, badge(o.reproduces, o.reproduces),
    h('ul', { class: 'plain' }, o.differences.map(function (d) {
      return h('li', null, h('span', { class: 'nevra' }, d.name), d.fields.length > 0 ? ': ' + d.fields.join(', ') : '')
    })))
}

/** Rules v2: this node's standing (eligible or on probation), escalated jobs and how they ended, ejected builders, omissions */
export function panelsView (s: DashStatus, now: number): VNode {
  const e = s.eligibility
  const p = e.policy
  const me = e.self
  const standing: Child = p === null || me === null
    ? 'no rules-v2 announcement yet'
    : p.builds === 0 || me.eligible
      ? h('span', null, badge('good', 'eligible'), p.builds > 0 ? ' ' + me.counted + ' of ' + p.builds + ' agreed builds counted' : '')
      : h('span', null, badge('probation', 'on probation'), ' ' + me.counted + ' of ' + p.builds + ' agreed builds counted' + (p.days > 0 ? ', the first at least ' + p.days + ' days before' : ''))
  return section('panels', 'Panels',
    facts([
      ['Policy', p === null ? '–' : p.builds === 0 ? 'every listed builder is eligible (K = 0)' : 'K = ' + p.builds + ' agreed builds, first ' + p.days + ' days before; ' + p.probation + ' probation seats'],
      ['This node', standing]
    ]),
    h('h3', null, 'Escalations'),
    table('Jobs whose stage 1 escalated, newest first', ['Package', 'Ended', 'Build hash', 'Losing side'], s.escalations.slice().reverse().map(function (v) {
      return [pkg(v.job, v.nevra), h('span', { class: 'nowrap' }, badge(v.verdict, v.verdict), ' ', v.final ? h('span', { class: 'final' }, 'final') : h('span', { class: 'muted' }, 'so far')), shortHash(v.hash), v.dissenters.length > 0 ? peers(v.dissenters, s.peerId) : h('span', { class: 'muted' }, 'none')]
    }), 'No escalations: every stage 1 was unanimous.', 'escalations'),
    h('h3', null, 'Ejections'),
    table('Builders on the losing side and not back yet', ['Builder', 'Since', '#Agreed builds since'], e.ejections.map(function (x) {
      return [peer(x.builder, s.peerId), when(x.since, now), x.needed > 0 ? x.counted + ' of ' + x.needed : String(x.counted)]
    }), 'No builder is ejected.', 'ejections'),
    e.omissions.length > 0
      ? h('ul', { class: 'alerts' }, e.omissions.slice().reverse().map(function (o) {
          return h('li', { class: 'alert' }, badge('omission', 'omission'), ' job ' + o.job.slice(0, 12) + '… lists none of ', peers(o.builders, s.peerId), ', better ranked and eligible by this node\'s log (', when(o.at, now), ')')
        }))
      : null)
}

export function meshView (s: DashStatus): VNode {
  const conns = s.connections.slice().sort(function (a, b) { return a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0 })
  const topics = Object.keys(s.topics).sort()
  return section('mesh', 'Mesh',
    facts([
      ['Connected peers', String(s.connectedPeers)],
      ['DHT', s.dht.mode + ' mode, ' + s.dht.routingTableSize + (s.dht.routingTableSize === 1 ? ' peer' : ' peers') + ' in the routing table'],
      ['Listening on', s.listenAddresses.length > 0 ? h('ul', { class: 'plain' }, s.listenAddresses.map(function (a) { return h('li', null, h('code', null, a)) })) : 'nothing']
    ]),
    h('h3', null, 'Connections'),
    table('Open connections', ['Peer', 'Direction', 'Address'], conns.map(function (c) {
      return [peer(c.peerId, s.peerId), c.direction, h('code', null, c.address)]
    }), 'No connections: this node is looking for its bootstrap peers.', 'connections'),
    h('h3', null, 'Gossip'),
    table('Gossip mesh per topic', ['Topic', '#Mesh peers', 'Peers', '#Subscribers'], topics.map(function (name) {
      const t = s.topics[name]
      return [h('code', { class: 'nowrap' }, name), String(t.meshPeers.length), t.meshPeers.length > 0 ? peers(t.meshPeers.slice().sort(), s.peerId) : '–', String(t.subscribers)]
    }), 'No topics.', 'topics'))
}

/** A contributor's name; one that stands for a single node without a name is that node's peer ID */
export function contributorName (c: ContributorStats, self: string): Child {
  if (c.nodes.length === 1 && c.nodes[0] === c.contributor) return peer(c.contributor, self)
  return h('span', { class: 'contributor' }, c.contributor)
}

export function statsCells (r: StatsRow): Child[] {
  return [num(r.credit, 2), num(r.rac, 2), num(r.builds, 0), num(r.agreed, 0), num(r.dissented, 0)]
}

export function nodesTable (stats: MeshStats, limit: number, id: string): VNode {
  const rows = stats.nodes.slice(0, limit).map(function (n, i) {
    return ([String(i + 1), peer(n.peerId, stats.self), n.contributor !== null ? h('span', { class: 'contributor' }, n.contributor) : '–'] as Child[]).concat(statsCells(n))
  })
  return table('Builder nodes by credit', ['#Rank', 'Node', 'Contributor', '#Credit', '#RAC', '#Builds', '#Agreed', '#Dissented'], rows, 'No builds on record yet.', id)
}

export function contributorsTable (stats: MeshStats, limit: number, id: string): VNode {
  const rows = stats.contributors.slice(0, limit).map(function (c, i) {
    return ([String(i + 1), contributorName(c, stats.self), String(c.nodes.length)] as Child[]).concat(statsCells(c))
  })
  return table('Contributors by credit', ['#Rank', 'Contributor', '#Nodes', '#Credit', '#RAC', '#Builds', '#Agreed', '#Dissented'], rows, 'No contributors on record yet.', id)
}

export function totalsView (stats: MeshStats): VNode {
  const t = stats.totals
  return facts([
    ['Jobs', num(t.jobs, 0)],
    ['Agreed', num(t.agreed, 0)],
    ['Disputed', num(t.disputed, 0)],
    ['No consensus', num(t.noConsensus, 0)],
    ['Failed', num(t.failed, 0)],
    ['Pending', num(t.pending, 0)],
    ['Credit granted', num(t.credit, 2)]
  ])
}

export function leadersView (stats: MeshStats | null): VNode {
  if (stats === null) return section('leaders', 'Leaderboard', h('p', { class: 'empty' }, 'Stats are not available right now.'))
  return section('leaders', 'Leaderboard',
    h('p', { class: 'muted' }, 'Credit is granted for agreed builds only; RAC is the recent average credit per day (half-life ' + stats.halfLifeDays + ' days). ', h('a', { href: '/leaderboard' }, 'Full leaderboard')),
    h('h3', null, 'Top nodes'), nodesTable(stats, 10, 'top-nodes'),
    h('h3', null, 'Top contributors'), contributorsTable(stats, 10, 'top-contributors'))
}

export function dashboardParts (s: DashStatus, stats: MeshStats | null, now: number): Parts {
  return {
    title: 'Skyline node ' + shortId(s.peerId),
    summary: summaryView(s, now),
    sections: [alertsView(s, now), jobsView(s, now), verdictsView(s), panelsView(s, now), recordView(s, stats, now), meshView(s), leadersView(stats)]
  }
}

export function leaderboardParts (stats: MeshStats | null, now: number): Parts {
  const summary = h('div', { id: 'summary', class: 'summary' },
    h('h1', null, 'Skyline leaderboard'),
    stats === null
      ? h('p', null, 'Stats are not available right now.')
      : h('p', { class: 'muted' }, 'As tallied by node ', peer(stats.self, ''), ', ', when(stats.generatedAt, now),
          '. Credit is granted for agreed builds only; RAC is the recent average credit per day (half-life ' + stats.halfLifeDays + ' days). Every node that holds the same attestations computes the same table.'))
  if (stats === null) return { title: 'Skyline leaderboard', summary, sections: [] }
  return {
    title: 'Skyline leaderboard',
    summary,
    sections: [
      section('totals', 'Mesh totals', totalsView(stats)),
      section('nodes', 'Nodes', nodesTable(stats, 1000, 'all-nodes')),
      section('contributors', 'Contributors', contributorsTable(stats, 1000, 'all-contributors'))
    ]
  }
}

/** Every function the browser needs, in an order where each is defined before the page runs */
export const VIEW_FUNCTIONS: Array<(...args: any[]) => unknown> = [
  h, safeAttr, shortId, peer, peers, shortHash, duration, when, num, badge, section, table, facts,
  summaryView, alertsView, statsRow, recordView, progressCell, pkg, jobsView, kojiCell, verdictsView, panelsView, meshView,
  contributorName, statsCells, nodesTable, contributorsTable, totalsView, leadersView, dashboardParts, leaderboardParts
]
