/**
 * The scale simulation's bytes by protocol (bench/lib/scale-sim.ts): libp2p's
 * `libp2p_data_transfer_bytes_total` counters ("<protocol> sent", "<protocol> received", and "global
 * sent/received" for every byte through the node's connections) summed over nodes, grouped by protocol,
 * and the framing (Noise, Yamux, multistream-select: the global bytes less every stream's payload), of
 * which the liveness service's Yamux PINGs are estimated (they are no stream, so no counter has them).
 */
import { LIVENESS_INTERVAL_MS } from '../../src/services/liveness.ts'

/** label ("<protocol> sent|received") → bytes, summed over nodes */
export type Counters = Record<string, number>

/** The protocol groups of the breakdown; `framing` is the global bytes less every stream's payload */
export const BYTE_GROUPS = ['gossip', 'dht', 'identify', 'ping', 'sync', 'builder', 'blob', 'other', 'framing'] as const
export type ByteGroup = typeof BYTE_GROUPS[number]

/** One direction's bytes by group, and the control bytes (every group but blob) */
export type Directed = Record<ByteGroup, number> & { control: number }

/** Bytes by group, sent and received */
export interface ByteBreakdown {
  sent: Directed
  received: Directed
}

/**
 * One Yamux PING frame (12 bytes) in one Noise transport message (2 bytes of length, 16 of tag), each
 * way; both ends of a connection ping it every LIVENESS_INTERVAL_MS: 4 such messages per connection per
 * interval, half of them sent by each end
 */
const PING_MESSAGE_BYTES = 2 + 12 + 16

/** The estimated liveness-PING bytes, each way, of `connectionSeconds` connection-seconds */
export function livenessBytes (connectionSeconds: number): number {
  return connectionSeconds / (LIVENESS_INTERVAL_MS / 1000) * 2 * PING_MESSAGE_BYTES
}

function groupOf (protocol: string): ByteGroup {
  if (protocol.startsWith('/skyline/blob/')) return 'blob'
  if (protocol.startsWith('/meshsub/')) return 'gossip'
  if (protocol.startsWith('/skyline/kad/')) return 'dht'
  if (protocol.startsWith('/ipfs/id/')) return 'identify'
  if (protocol.startsWith('/ipfs/ping/')) return 'ping'
  if (protocol.startsWith('/skyline/sync/')) return 'sync'
  if (protocol.startsWith('/skyline/builder/')) return 'builder'
  return 'other'
}

const emptyDirected = (): Directed => ({ gossip: 0, dht: 0, identify: 0, ping: 0, sync: 0, builder: 0, blob: 0, other: 0, framing: 0, control: 0 })

/** The counters grouped by protocol, each direction apart */
export function breakdown (c: Counters): ByteBreakdown {
  const b: ByteBreakdown = { sent: emptyDirected(), received: emptyDirected() }
  const global = { sent: 0, received: 0 }
  for (const [label, value] of Object.entries(c)) {
    const m = /^(.*) (sent|received)$/.exec(label)
    if (m === null) continue
    const dir = m[2] as 'sent' | 'received'
    if (m[1] === 'global') global[dir] += value
    else b[dir][groupOf(m[1])] += value
  }
  for (const dir of ['sent', 'received'] as const) {
    const streams = BYTE_GROUPS.reduce((a, g) => g === 'framing' ? a : a + b[dir][g], 0)
    b[dir].framing = global[dir] - streams
    b[dir].control = global[dir] - b[dir].blob
  }
  return b
}

/** Control bytes (global less blob, both directions) of the counters */
export function controlBytes (c: Counters): number {
  const b = breakdown(c)
  return b.sent.control + b.received.control
}

/** a + k × b, label by label */
export function addCounters (a: Counters, b: Counters, k = 1): Counters {
  const out: Counters = { ...a }
  for (const [label, value] of Object.entries(b)) out[label] = (out[label] ?? 0) + k * value
  return out
}

/** Every figure of a breakdown times `k` */
export function scaleBreakdown (b: ByteBreakdown, k: number): ByteBreakdown {
  const scale = (d: Directed): Directed => Object.fromEntries(Object.entries(d).map(([g, v]) => [g, v * k])) as Directed
  return { sent: scale(b.sent), received: scale(b.received) }
}

/** Connections opened and closed over a window, and the connection-seconds held (for the PING estimate) */
export interface ConnectionChurn {
  opened: number
  /** of those opened, the ones it dialed */
  outbound: number
  closed: number
  /** open connections summed over the window's seconds (sampled at its start and end) */
  connectionSeconds: number
}

/** One role's (the seeder's, or the builders' per node) bytes and connections over the idle and the job windows */
export interface RoleBytes {
  /** per second of the idle mesh */
  idlePerS: ByteBreakdown
  /** per job, over the job window */
  perJob: ByteBreakdown
  /** per job, over the job window less the idle rate over its length */
  netPerJob: ByteBreakdown
  /** the estimated liveness PINGs per job (each way; part of `perJob`'s framing) */
  livenessPerJob: number
  idleChurn: ConnectionChurn
  jobChurn: ConnectionChurn
  /** sync counts per node over each window (asked, by reason, answered, items and bytes served) */
  idleSync: Counters
  jobSync: Counters
  /** what its gossipsub sent, by part (RPCs, message copies, ids in IHAVE, IWANT, IDONTWANT), per node per job and per idle second */
  jobGossip: Counters
  idleGossip: Counters
}

/** The bytes of one role over both windows; counters and churn summed over `nodes` nodes of it */
export function roleBytes (w: { idle: Counters, job: Counters, idleS: number, jobS: number, jobs: number, nodes: number, idleChurn: ConnectionChurn, jobChurn: ConnectionChurn, idleSync: Counters, jobSync: Counters, idleGossip: Counters, jobGossip: Counters }): RoleBytes {
  const idlePerS = scaleBreakdown(breakdown(w.idle), 1 / w.idleS / w.nodes)
  const perJob = scaleBreakdown(breakdown(w.job), 1 / w.jobs / w.nodes)
  const net = scaleBreakdown(breakdown(addCounters(w.job, w.idle, -w.jobS / w.idleS)), 1 / w.jobs / w.nodes)
  const per = (c: ConnectionChurn): ConnectionChurn => ({ opened: c.opened / w.nodes, outbound: c.outbound / w.nodes, closed: c.closed / w.nodes, connectionSeconds: c.connectionSeconds / w.nodes })
  const perNode = (c: Counters, f = 1): Counters => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== 0).map(([k, v]) => [k, v * f / w.nodes]))
  return { idlePerS, perJob, netPerJob: net, livenessPerJob: livenessBytes(w.jobChurn.connectionSeconds / w.nodes) / w.jobs, idleChurn: per(w.idleChurn), jobChurn: per(w.jobChurn), idleSync: perNode(w.idleSync), jobSync: perNode(w.jobSync), jobGossip: perNode(w.jobGossip, 1 / w.jobs), idleGossip: perNode(w.idleGossip, 1 / w.idleS) }
}

function countsText (c: Counters): string {
  const entries = Object.entries(c)
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(1)}`).join(', ')
}

/** A markdown table of one role's bytes by group: sent / received per job (KB), idle per second (B), net per job (KB) */
export function describeRoleBytes (name: string, r: RoleBytes): string {
  const kb = (x: number): string => (x / 1024).toFixed(1)
  const pair = (b: ByteBreakdown, g: ByteGroup | 'control', f: (x: number) => string): string => `${f(b.sent[g])} / ${f(b.received[g])}`
  const rows = [...BYTE_GROUPS, 'control' as const].map(g =>
    `| ${g === 'control' ? '**control (all but blob)**' : g} | ${pair(r.perJob, g, kb)} | ${pair(r.idlePerS, g, x => x.toFixed(0))} | ${pair(r.netPerJob, g, kb)} |`)
  const churn = (c: ConnectionChurn): string => `${c.opened.toFixed(1)} opened (${c.outbound.toFixed(1)} dialed by it), ${c.closed.toFixed(1)} closed`
  return [
    `| ${name}: sent / received | per job, job window (KB) | idle mesh (B/s) | per job less idle (KB) |`,
    '| --- | --- | --- | --- |',
    ...rows,
    `| of framing: liveness PINGs (estimate, each way) | ${kb(r.livenessPerJob)} | | |`,
    `| connections | job window: ${churn(r.jobChurn)} | idle window: ${churn(r.idleChurn)} | |`,
    `| sync | job window: ${countsText(r.jobSync)} | idle window: ${countsText(r.idleSync)} | |`,
    `| gossip sent, by part (per node, per job in the job window; per second idle) | ${countsText(r.jobGossip)} | idle: ${countsText(r.idleGossip)} | |`
  ].join('\n')
}
