/**
 * Connection limits that never shut a newcomer out. libp2p refuses an inbound connection once a node
 * holds its maximum, so a mesh whose bootstrap nodes are full can no longer grow: a newcomer that
 * knows only them stays alone. Instead the node admits newcomers past its limit by a time budget rather
 * than a small count: libp2p's own, hard limit is three times the node's (JOIN_HEADROOM_FACTOR), and
 * a connection past the limit is kept only for a short grace (JOIN_GRACE_MS), long enough for what a
 * newcomer needs from it: identify and one Kademlia FIND_NODE answer (its self-query, k peers with their
 * addresses), well under a second on an idle node. (Gossipsub's peer exchange, PX on the PRUNE of a
 * newcomer's GRAFT, was tried, with a newcomer taking PX from its own bootstrap peers: it joined no
 * faster, and the bootstrap node spent twice the CPU (docs/bench.md). libp2p does not tell when a peer has had its answer: its stream middleware would, but
 * libp2p 3.3 appends the protocol handler to the middleware list on every inbound stream, so it is not
 * used; the grace is a time budget instead.) The trimmer, a libp2p service, runs as soon as a
 * connection opens past the limit and again when the first young connection's grace ends, and closes
 * connections past their grace until those are back at the node's low-water mark (young ones do not
 * count, so a burst of newcomers does not flush the node's established peers); the newcomer then dials
 * the peers it learned (and, if it was refused or trimmed before it learned any, redials:
 * src/services/redial.ts). A node at 100 connections thus lets in up to 200 newcomers every 5 s instead
 * of 10 every 10 s; a peer it trimmed twice lately is refused while it is at its limit
 * (JOIN_COOLDOWN_MS), so that joined peers redialling it do not take the newcomers' room.
 *
 * The other side of a refusal: the gater refuses after the Noise handshake (it needs the peer's ID), so
 * to the refused dialer the connection opened and closed at once, and libp2p's reconnect queue redials a
 * kept-alive peer (kad-dht's closest, which a full bootstrap node is for every newcomer at first) at
 * once on every disconnect: a loop of handshakes at both ends, about 17 per newcomer at 80 newcomers
 * (docs/bench.md, "The CPU of a join"). So a peer that closes a connection of this node before its grace
 * ended (a node's trimmer never closes a connection that young: the peer refused it; a close by this node
 * itself does not count) is not dialled for REFUSED_BACKOFF_MS, doubling with each further refusal up to
 * REFUSED_BACKOFF_MAX_MS (libp2p's `denyDialPeer`: such a dial fails at once, no TCP, no handshake); a
 * connection that outlives its grace ends the backoff.
 *
 * What is closed first keeps the mesh healthy: the peers of least value (the sum of their peer-store
 * tags: gossipsub mesh membership, kad-dht routing table, bootstrap), the peers kad-dht keeps alive (its
 * closest peers) last, and among equals the connection with the fewest streams, inbound before outbound,
 * newest first. A kept-alive peer is closed only when a node's limit is smaller than kad-dht's closest
 * set (20 peers); its keep-alive tag is removed first, or libp2p would redial it at once.
 */
import { KEEP_ALIVE } from '@libp2p/interface'
import type { ComponentLogger, Connection, ConnectionGater, Libp2pEvents, Logger, PeerId, PeerStore, Startable, TypedEventTarget } from '@libp2p/interface'

/**
 * @default 5 s: a connection younger than this is never trimmed. A newcomer's identify and self-query
 * take well under a second on an idle node; 5 s leaves room for a loaded one (2 s was too short with
 * many nodes per core: newcomers were trimmed before their self-query), and one that is trimmed before it
 * learned a peer redials.
 */
export const JOIN_GRACE_MS = 5_000
/** @default 2 s between checks of the connection count (besides the check on each new connection) */
export const TRIM_CHECK_MS = 2_000
/**
 * @default 30 s: a peer trimmed JOIN_TURNS times within this time is refused while the node is at its
 * limit (libp2p's connection gater, once the handshake names the peer): it had its turns. A joined peer
 * that keeps the node among its kad-dht closest peers redials it (libp2p's reconnect queue) and would
 * otherwise hold the room meant for newcomers; refused, its redials back off.
 */
export const JOIN_COOLDOWN_MS = 30_000
/** @default 2 graces past the limit per peer and JOIN_COOLDOWN_MS: a newcomer trimmed before it learned a peer (a loaded machine) comes back once */
export const JOIN_TURNS = 2
/** @default 2: room for newcomers past the limit, as a multiple of the limit (at least MIN_JOIN_HEADROOM) */
export const JOIN_HEADROOM_FACTOR = 2
/** @default 4 newcomers past the limit at least, however small the limit */
export const MIN_JOIN_HEADROOM = 4
/**
 * @default 2 s: a peer that closed this node's connection before its grace ended (it refused this node) is
 * not dialled for this long, twice as long after each further refusal, up to REFUSED_BACKOFF_MAX_MS
 */
export const REFUSED_BACKOFF_MS = 2_000
/**
 * @default 10 s, the redial service's longest wait: a refusing node lets the peer in again as soon as it is
 * below its limit, and a newcomer that knows no one else waits for that (a backoff to 30 s gave a join p50
 * of 27-30 s at 80 newcomers against main's 12-28 s: docs/bench.md); a refused handshake per 10 s costs
 * the refusing node little
 */
export const REFUSED_BACKOFF_MAX_MS = 10_000
/** What a kept-alive peer is worth: more than any sum of other tags */
const KEEP_ALIVE_VALUE = 10_000
/** @default 0.8: trimming stops at this fraction of the limit, so that newcomers find free slots again */
export const LOW_WATER_FRACTION = 0.8

/** The limits that follow from the configured maximum (`maxConnections`) */
export interface ConnectionLimits {
  /** the configured maximum: above it, the trimmer closes connections past their grace */
  max: number
  /** where trimming stops */
  lowWater: number
  /** libp2p's own limit: max plus the room kept for newcomers (libp2p refuses inbound connections beyond) */
  hard: number
}

/** The limits for a configured maximum: room for newcomers of JOIN_HEADROOM_FACTOR times it, at least MIN_JOIN_HEADROOM */
export function connectionLimits (max: number): ConnectionLimits {
  const headroom = Math.max(MIN_JOIN_HEADROOM, Math.ceil(max * JOIN_HEADROOM_FACTOR))
  return { max, lowWater: Math.max(1, Math.floor(max * LOW_WATER_FRACTION)), hard: max + headroom }
}

export interface ConnectionTrimComponents {
  connectionManager: { getConnections: () => Connection[] }
  peerStore: PeerStore
  logger: ComponentLogger
  events: TypedEventTarget<Libp2pEvents>
}

export interface ConnectionTrimInit {
  limits: ConnectionLimits
  /** @default JOIN_GRACE_MS */
  graceMs?: number
  /** @default TRIM_CHECK_MS */
  checkMs?: number
  /** @default JOIN_COOLDOWN_MS */
  cooldownMs?: number
  /** @default REFUSED_BACKOFF_MS */
  refusedBackoffMs?: number
}

/** Keeps a node's connections at or below its limit, sparing young connections and valued peers */
export class ConnectionTrim implements Startable {
  private readonly components: ConnectionTrimComponents
  private readonly limits: ConnectionLimits
  private readonly graceMs: number
  private readonly checkMs: number
  private readonly cooldownMs: number
  private readonly refusedBackoffMs: number
  /** peer → when the trimmer first closed it in the current cooldown, and how often since */
  private readonly trimmed = new Map<string, { at: number, times: number }>()
  /** peer → until when it is not dialled, and the backoff that set it (peers that refused this node) */
  private readonly refusedBy = new Map<string, { until: number, backoffMs: number }>()
  /** connections this node closed or aborted itself */
  private readonly closedHere = new WeakSet<Connection>()
  private readonly log: Logger
  private timer: ReturnType<typeof setInterval> | undefined
  /** the trim due when the oldest young connection past the limit ends its grace */
  private due: ReturnType<typeof setTimeout> | undefined
  private running = false

  constructor (components: ConnectionTrimComponents, init: ConnectionTrimInit) {
    this.components = components
    this.limits = init.limits
    this.graceMs = init.graceMs ?? JOIN_GRACE_MS
    this.checkMs = init.checkMs ?? TRIM_CHECK_MS
    this.cooldownMs = init.cooldownMs ?? JOIN_COOLDOWN_MS
    this.refusedBackoffMs = init.refusedBackoffMs ?? REFUSED_BACKOFF_MS
    this.log = components.logger.forComponent('skyline:connection-trim')
    this.onOpen = this.onOpen.bind(this)
  }

  readonly [Symbol.toStringTag] = 'skyline/connection-trim'

  start (): void {
    this.timer = setInterval(() => {
      this.trim().catch(err => { this.log.error('trimming connections failed: %e', err) })
    }, this.checkMs)
    this.timer.unref()
    this.components.events.addEventListener('connection:open', this.onOpen)
  }

  stop (): void {
    clearInterval(this.timer)
    clearTimeout(this.due)
    this.due = undefined
    this.components.events.removeEventListener('connection:open', this.onOpen)
  }

  /**
   * Notes when the node itself closes or aborts the connection (a hang-up, the trimmer, liveness): libp2p's
   * close event does not tell reliably who closed (its `local` flag is set on an abort, also one that follows
   * the peer's refusal, and not on a graceful local close)
   */
  private markLocalCloses (c: Connection): void {
    const { close, abort } = c
    c.close = async options => { this.closedHere.add(c); return close.call(c, options) }
    c.abort = err => { this.closedHere.add(c); abort.call(c, err) }
  }

  /**
   * A connection the peer closed before its grace ended was refused by the peer (no node's trimmer closes
   * one that young): back off dialling the peer. One that outlived its grace ends the backoff.
   */
  private onClose (c: Connection, now = Date.now()): void {
    const peer = c.remotePeer.toString()
    if (now - c.timeline.open >= this.graceMs) {
      this.refusedBy.delete(peer)
      return
    }
    if (this.closedHere.has(c)) return
    for (const [p, { until }] of this.refusedBy) if (until + this.cooldownMs < now) this.refusedBy.delete(p)
    const last = this.refusedBy.get(peer)
    const backoffMs = last === undefined ? this.refusedBackoffMs : Math.min(Math.max(this.refusedBackoffMs, REFUSED_BACKOFF_MAX_MS), last.backoffMs * 2)
    this.refusedBy.set(peer, { until: now + backoffMs, backoffMs })
    this.log('%p closed a connection %d ms old: not dialling it for %d ms', c.remotePeer, now - c.timeline.open, backoffMs)
  }

  /** Whether a dial of this peer is refused: it refused this node lately (libp2p's `denyDialPeer`) */
  backsOffFrom (peer: PeerId, now = Date.now()): boolean {
    const refused = this.refusedBy.get(peer.toString())
    return refused !== undefined && now < refused.until
  }

  /** A connection past the limit: trim now what is past its grace, and again when the next grace ends */
  private onOpen (evt: CustomEvent<Connection>): void {
    const c = evt.detail
    this.markLocalCloses(c)
    c.addEventListener('close', () => { this.onClose(c) }, { once: true })
    if (this.components.connectionManager.getConnections().length <= this.limits.max) return
    this.trim().catch(err => { this.log.error('trimming connections failed: %e', err) })
  }

  /** Whether an inbound connection from this peer is refused: the node is at its limit and trimmed it lately */
  refuses (peer: PeerId, now = Date.now()): boolean {
    if (this.components.connectionManager.getConnections().length < this.limits.max) return false
    const trimmed = this.trimmed.get(peer.toString())
    const refused = trimmed !== undefined && trimmed.times >= JOIN_TURNS && now - trimmed.at < this.cooldownMs
    if (refused) this.log('refusing %p, trimmed %d times since %d ms ago', peer, trimmed.times, now - trimmed.at)
    return refused
  }

  /** Schedules a trim for when the first of the young connections ends its grace, unless one is due already */
  private scheduleAfterGrace (connections: Connection[], now: number): void {
    if (this.due !== undefined) return
    const young = connections.map(c => c.timeline.open + this.graceMs - now).filter(ms => ms > 0)
    if (young.length === 0) return
    this.due = setTimeout(() => {
      this.due = undefined
      this.trim().catch(err => { this.log.error('trimming connections failed: %e', err) })
    }, Math.min(...young) + 10)
    this.due.unref()
  }

  /** Closes the least valuable connections past their grace while the node is above its limit */
  async trim (now = Date.now()): Promise<void> {
    if (this.running) return
    const connections = this.components.connectionManager.getConnections()
    if (connections.length <= this.limits.max) return
    this.running = true
    try {
      const victims = await this.choose(connections, now)
      this.log('%d connections over the limit of %d: closing %d', connections.length, this.limits.max, victims.length)
      if (connections.length - victims.length > this.limits.max) this.scheduleAfterGrace(connections, now)
      this.forgetTrimmed(now)
      for (const c of victims) this.countTrim(c.remotePeer.toString(), now)
      await Promise.all(victims.map(async c => this.close(c)))
    } finally {
      this.running = false
    }
  }

  /** Drops the trimmed peers whose cooldown is over */
  private forgetTrimmed (now: number): void {
    for (const [peer, { at }] of this.trimmed) if (now - at >= this.cooldownMs) this.trimmed.delete(peer)
  }

  /** Counts a trim of the peer in its current cooldown (JOIN_TURNS) */
  private countTrim (peer: string, now: number): void {
    const trimmed = this.trimmed.get(peer)
    if (trimmed === undefined) this.trimmed.set(peer, { at: now, times: 1 })
    else trimmed.times++
  }

  /**
   * The connections past their grace to close to get those down to the low-water mark, least valuable
   * first. Young connections do not count: a burst of newcomers passes through the room past the limit
   * without flushing the node's established peers (counting them, 200 newcomers at a node of 100 peers
   * would have closed all 100).
   */
  private async choose (connections: Connection[], now: number): Promise<Connection[]> {
    const eligible = connections.filter(c => now - c.timeline.open >= this.graceMs)
    if (eligible.length <= this.limits.lowWater) return []
    const values = new Map<string, number>()
    for (const c of eligible) {
      const key = c.remotePeer.toString()
      if (!values.has(key)) values.set(key, await this.value(c.remotePeer))
    }
    eligible.sort((a, b) =>
      (values.get(a.remotePeer.toString())! - values.get(b.remotePeer.toString())!) ||
      (a.streams.length - b.streams.length) ||
      (direction(a) - direction(b)) ||
      (b.timeline.open - a.timeline.open))
    return eligible.slice(0, eligible.length - this.limits.lowWater)
  }

  /** The sum of a peer's tag values, KEEP_ALIVE_VALUE more for a peer kept alive */
  private async value (peer: PeerId): Promise<number> {
    const tags = await this.tags(peer)
    let sum = 0
    for (const [name, tag] of tags) sum += name.startsWith(KEEP_ALIVE) ? KEEP_ALIVE_VALUE : tag.value
    return sum
  }

  private async tags (peer: PeerId): Promise<Map<string, { value: number }>> {
    try {
      return (await this.components.peerStore.get(peer)).tags
    } catch {
      return new Map()
    }
  }

  /** Closes a connection, first removing the peer's keep-alive tags so that libp2p does not redial it */
  private async close (c: Connection): Promise<void> {
    const keepAlive = [...(await this.tags(c.remotePeer)).keys()].filter(name => name.startsWith(KEEP_ALIVE))
    if (keepAlive.length > 0) {
      await this.components.peerStore.merge(c.remotePeer, { tags: Object.fromEntries(keepAlive.map(name => [name, undefined])) }).catch(() => {})
    }
    try {
      await c.close({ signal: AbortSignal.timeout(1_000) })
    } catch (err: any) {
      c.abort(err)
    }
  }
}

/** 0 for inbound connections, 1 for outbound: the node keeps the peers it chose */
function direction (c: Connection): number {
  return c.direction === 'inbound' ? 0 : 1
}

/** The trimmer as a libp2p service, and the connection gater that refuses the peers it trimmed lately */
export interface ConnectionAdmission {
  /** libp2p's `connectionGater` */
  gater: Pick<ConnectionGater, 'denyInboundEncryptedConnection' | 'denyDialPeer'>
  /** the service (it needs the connection manager, which libp2p does not export) */
  trim: (components: ConnectionTrimComponents) => ConnectionTrim
}

/** The admission of newcomers past a node's limit: libp2p's connection gater and the trim service */
export function connectionAdmission (init: ConnectionTrimInit): ConnectionAdmission {
  let trimmer: ConnectionTrim | undefined
  return {
    gater: {
      denyInboundEncryptedConnection: peer => trimmer?.refuses(peer) ?? false,
      denyDialPeer: peer => trimmer?.backsOffFrom(peer) ?? false
    },
    trim: components => (trimmer = new ConnectionTrim(components, init))
  }
}
