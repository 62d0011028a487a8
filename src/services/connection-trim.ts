/**
 * Connection limits that never shut a newcomer out. libp2p refuses an inbound connection once a node
 * holds its maximum, so a mesh whose bootstrap nodes are full can no longer grow: a newcomer that
 * knows only them stays alone. Instead the node admits up to JOIN_HEADROOM more than its limit (libp2p's
 * own, hard limit is set to limit + headroom), long enough for the newcomer to identify it and run its
 * DHT self-query (which returns the peers closest to the newcomer, who then dials them). A trimmer,
 * running as a libp2p service, then closes connections past their grace period until the node is back
 * at its low-water mark, which leaves room for the next newcomers.
 *
 * What is closed first keeps the mesh healthy: the peers of least value (the sum of their peer-store
 * tags: gossipsub mesh membership, kad-dht routing table, bootstrap), the peers kad-dht keeps alive (its
 * closest peers) last, and among equals the connection with the fewest streams, inbound before outbound,
 * newest first. A kept-alive peer is closed only when a node's limit is smaller than kad-dht's closest
 * set (20 peers); its keep-alive tag is removed first, or libp2p would redial it at once.
 */
import { KEEP_ALIVE } from '@libp2p/interface'
import type { ComponentLogger, Connection, Logger, PeerId, PeerStore, Startable } from '@libp2p/interface'

/** @default 10 s: a connection younger than this is never trimmed (a newcomer's identify and self-query) */
export const JOIN_GRACE_MS = 10_000
/** @default 2 s between checks of the connection count */
export const TRIM_CHECK_MS = 2_000
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

/** The limits for a configured maximum: room for newcomers of a tenth of it, at least 4 */
export function connectionLimits (max: number): ConnectionLimits {
  const headroom = Math.max(4, Math.ceil(max / 10))
  return { max, lowWater: Math.max(1, Math.floor(max * LOW_WATER_FRACTION)), hard: max + headroom }
}

export interface ConnectionTrimComponents {
  connectionManager: { getConnections: () => Connection[] }
  peerStore: PeerStore
  logger: ComponentLogger
}

export interface ConnectionTrimInit {
  limits: ConnectionLimits
  /** @default JOIN_GRACE_MS */
  graceMs?: number
  /** @default TRIM_CHECK_MS */
  checkMs?: number
}

/** Keeps a node's connections at or below its limit, sparing young connections and valued peers */
export class ConnectionTrim implements Startable {
  private readonly components: ConnectionTrimComponents
  private readonly limits: ConnectionLimits
  private readonly graceMs: number
  private readonly checkMs: number
  private readonly log: Logger
  private timer: ReturnType<typeof setInterval> | undefined
  private running = false

  constructor (components: ConnectionTrimComponents, init: ConnectionTrimInit) {
    this.components = components
    this.limits = init.limits
    this.graceMs = init.graceMs ?? JOIN_GRACE_MS
    this.checkMs = init.checkMs ?? TRIM_CHECK_MS
    this.log = components.logger.forComponent('skyline:connection-trim')
  }

  readonly [Symbol.toStringTag] = 'skyline/connection-trim'

  start (): void {
    this.timer = setInterval(() => {
      this.trim().catch(err => { this.log.error('trimming connections failed: %e', err) })
    }, this.checkMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
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
      await Promise.all(victims.map(async c => this.close(c)))
    } finally {
      this.running = false
    }
  }

  /** The connections to close to get down to the low-water mark, least valuable first */
  private async choose (connections: Connection[], now: number): Promise<Connection[]> {
    const values = new Map<string, number>()
    for (const c of connections) {
      const key = c.remotePeer.toString()
      if (!values.has(key)) values.set(key, await this.value(c.remotePeer))
    }
    const eligible = connections.filter(c => now - c.timeline.open >= this.graceMs)
    eligible.sort((a, b) =>
      (values.get(a.remotePeer.toString())! - values.get(b.remotePeer.toString())!) ||
      (a.streams.length - b.streams.length) ||
      (direction(a) - direction(b)) ||
      (b.timeline.open - a.timeline.open))
    return eligible.slice(0, Math.max(0, connections.length - this.limits.lowWater))
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

/** The trimmer as a libp2p service (it needs the connection manager, which libp2p does not export) */
export function connectionTrim (init: ConnectionTrimInit): (components: ConnectionTrimComponents) => ConnectionTrim {
  return components => new ConnectionTrim(components, init)
}
