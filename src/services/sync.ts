/**
 * Sync (docs/protocols/sync.md): a node that starts late, restarts, or comes back after a partition
 * fetches the announcements, control messages, attestations and equivocation proofs it missed from peers
 * it connects to, and checks each exactly as if it had come by gossip. This module is the policy: whom
 * to ask, when, and from where (cursors, times); one exchange on the wire is src/services/sync-wire.ts.
 *
 * A node asks only when it has a reason: SYNC_PEERS peers when it starts (or restarts), every other peer
 * it meets in its first REJOIN_WINDOW_MS, up to REJOIN_PEERS (for what is new since it started: one that restarted with it
 * may hold an attestation of its own that nobody else has yet), a peer that lost every connection and
 * came back (a partition healed, the peer restarted), a few peers when an item points at something it
 * does not hold (`gap()`), and one peer every ANTI_ENTROPY_MS. A second exchange with the same peer
 * sends only what that peer stored since the first.
 *
 * @example
 * const sync = new SyncService({ libp2p, store, log, sink: { ingest: async (kind, bytes) => node.ingest(kind, bytes) } })
 * await sync.start()
 * sync.gap() // an attestation came for a job this node never saw announced
 */
import type { Connection, Logger, PeerId, Stream } from '@libp2p/interface'
import type { SkylineLibp2p } from './components.ts'
import type { Store } from '../store/store.ts'
import { STORE_LIST, SYNC_PROTOCOL, SYNC_TIMEOUT_MS, answer, askOnce, storeHolds, type SyncKind } from './sync-wire.ts'
import { JOIN_GRACE_MS, TRIM_CHECK_MS } from './connection-trim.ts'

export { SYNC_PROTOCOL, SYNC_KIND, MAX_ITEMS_PER_KIND, MAX_ITEM_BYTES, SYNC_TIMEOUT_MS, SyncProtocolError, type SyncKind } from './sync-wire.ts'

/** @default 7 days: how far back a node that knows nothing asks */
export const SYNC_HORIZON_MS = 7 * 24 * 60 * 60 * 1000
/** @default 3: peers asked for everything when the node starts */
export const SYNC_PEERS = 3
/** @default 2: peers asked for what is new when an item points at something missing */
export const GAP_PEERS = 2
/** @default 10 s: a suspected gap makes the node ask at most this often */
export const GAP_INTERVAL_MS = 10_000
/** @default 5 min: one peer is asked for what is new this often, in case gossip lost something */
export const ANTI_ENTROPY_MS = 5 * 60_000
/** @default 500 ms: each ask waits a random time up to this, so peers that connect together spread out */
export const SYNC_JITTER_MS = 500
/**
 * @default 2 min: after it starts, a node asks every peer it meets (beyond the start round) for what is
 * new since it started: seen from a node that was down, every peer is one that came back
 */
export const REJOIN_WINDOW_MS = 120_000
/**
 * @default 8: peers asked in that window beyond the start round. A node that starts into a large mesh
 * meets many peers; a peer restarted with it is among the first it meets (both dial their bootstrap
 * list), and its own attestations are gossiped again once it has topic peers (republish.ts)
 */
export const REJOIN_PEERS = 8
/** @default 5 s: a peer that disconnected and came back is asked again after at least this long */
const RECONNECT_RESYNC_MS = 5_000
/**
 * @default 8 s: a peer that came back is asked only once its connection has lasted this long, past the
 * trimmer's grace for a connection beyond the limit (JOIN_GRACE_MS + TRIM_CHECK_MS, connection-trim.ts):
 * a connection opened for a moment (a seeder checking a candidate, a newcomer learning peers) and closed
 * within it started an exchange each way for nothing, since the peer reaches this node through the mesh
 */
export const RECONNECT_SETTLE_MS = JOIN_GRACE_MS + TRIM_CHECK_MS + 1_000
/**
 * @default 30 s: returning peers this node holds no cursor from (never asked, so their first answer is a
 * whole time window) are asked at most SYNC_PEERS per this window; returning peers with a cursor always
 */
const RECONNECT_BURST_MS = 30_000
/** @default 4: syncs from different peers at once */
const MAX_CONCURRENT_SYNCS = 4
/** @default 10 min: a time-based `since` starts this much earlier (the two clocks may differ) */
const SINCE_MARGIN_MS = 10 * 60 * 1000
/** @default 8: follow-up requests when an answer stopped at MAX_ITEMS_PER_KIND */
const MAX_CONTINUATIONS = 8
/** @default 10,000 peers remembered in each per-peer map */
const MAX_PEERS_REMEMBERED = 10_000

/** Why a peer is asked (counted in `stats.reasons`) */
export type SyncReason = 'start' | 'rejoin' | 'reconnect' | 'gap' | 'periodic' | 'manual'

export interface SyncSink {
  /** takes one item; returns whether it was new (throws nothing for bad items: they are counted) */
  ingest: (kind: SyncKind, envelope: Uint8Array) => Promise<boolean>
}

export interface SyncInit {
  libp2p: SkylineLibp2p
  store: Store
  sink: SyncSink
  log: Logger
  /** @default SYNC_PEERS */
  peers?: number
  /** @default SYNC_JITTER_MS */
  jitterMs?: number
  /** @default GAP_INTERVAL_MS */
  gapIntervalMs?: number
  /** @default ANTI_ENTROPY_MS (0: never) */
  antiEntropyMs?: number
  /** @default REJOIN_PEERS */
  rejoinPeers?: number
  /** @default RECONNECT_SETTLE_MS */
  reconnectSettleMs?: number
}

export class SyncService {
  private readonly libp2p: SkylineLibp2p
  private readonly store: Store
  private readonly sink: SyncSink
  private readonly log: Logger
  private readonly peers: number
  private readonly jitterMs: number
  private readonly gapIntervalMs: number
  private readonly reconnectSettleMs: number
  private readonly antiEntropyMs: number
  private readonly rejoinPeers: number
  /** peers asked in the rejoin window so far */
  private rejoinAsked = 0
  /** per peer: the cursor of its last complete answer (sent back next time), and when that was */
  private readonly cursors = new Map<string, Uint8Array>()
  private readonly lastComplete = new Map<string, number>()
  /** per peer: when it was last asked (a peer that flaps is not asked more often than RECONNECT_RESYNC_MS) */
  private readonly lastAsked = new Map<string, number>()
  /** peers that lost their last connection to this node, and when: asked again once they are back */
  private readonly disconnectedAt = new Map<string, number>()
  /** connected peers that speak sync (identify said so) */
  private readonly syncPeers = new Map<string, PeerId>()
  /** asks waiting for a free slot (at most MAX_CONCURRENT_SYNCS run at once) */
  private readonly queue = new Map<string, { peer: PeerId, reason: SyncReason, from?: number, due: boolean }>()
  /** peers still to ask in the start round; peers met since the start (asked once each in REJOIN_WINDOW_MS) */
  private startWanted = 0
  private readonly metSinceStart = new Set<string>()
  private startedAt = 0
  /** when the first complete answer came (this node is caught up to about then); 0: not yet */
  private caughtUpAt = 0
  private lastGap = -Infinity
  /** a gap that came inside GAP_INTERVAL_MS of the last ask: asked about when the interval ends */
  private gapPending = false
  /** when returning peers without a cursor were asked (RECONNECT_BURST_MS) */
  private coldReconnects: number[] = []
  private running = 0
  private started = false
  private shutdown = new AbortController()
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private antiEntropyTimer: ReturnType<typeof setInterval> | undefined
  /** counts for status, tests and bench/sync-cost.ts */
  readonly stats = {
    /** exchanges this node started, and those that ended with the end marker */
    asked: 0,
    syncs: 0,
    /** items offered by id to this node, and those it asked for (the rest it held) */
    offered: 0,
    wanted: 0,
    /** items received, those skipped as already held (not checked again), those new */
    received: 0,
    skipped: 0,
    accepted: 0,
    /** requests answered, items and item bytes sent */
    answered: 0,
    served: 0,
    bytesServed: 0,
    reasons: { start: 0, rejoin: 0, reconnect: 0, gap: 0, periodic: 0, manual: 0 } satisfies Record<SyncReason, number>,
    /** reconnect asks not made: the peer's connection closed within RECONNECT_SETTLE_MS */
    settleDropped: 0
  }

  constructor (init: SyncInit) {
    this.libp2p = init.libp2p
    this.store = init.store
    this.sink = init.sink
    this.log = init.log
    this.peers = init.peers ?? SYNC_PEERS
    this.jitterMs = init.jitterMs ?? SYNC_JITTER_MS
    this.gapIntervalMs = init.gapIntervalMs ?? GAP_INTERVAL_MS
    this.reconnectSettleMs = init.reconnectSettleMs ?? RECONNECT_SETTLE_MS
    this.antiEntropyMs = init.antiEntropyMs ?? ANTI_ENTROPY_MS
    this.rejoinPeers = init.rejoinPeers ?? REJOIN_PEERS
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.shutdown = new AbortController()
    await this.libp2p.handle(SYNC_PROTOCOL, this.serve, { maxInboundStreams: 4, maxOutboundStreams: 4 })
    this.libp2p.addEventListener('peer:identify', this.onIdentify)
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    // a node that starts knows nothing recent for sure: its first peers are asked for the whole horizon
    this.startWanted = this.peers
    this.metSinceStart.clear()
    this.rejoinAsked = 0
    this.startedAt = Date.now()
    if (this.antiEntropyMs > 0) {
      this.antiEntropyTimer = setInterval(() => { this.askSome(1, 'periodic') }, this.antiEntropyMs)
      this.antiEntropyTimer.unref()
    }
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.shutdown.abort()
    clearInterval(this.antiEntropyTimer)
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.gapPending = false
    this.queue.clear()
    this.libp2p.removeEventListener('peer:identify', this.onIdentify)
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    await this.libp2p.unhandle(SYNC_PROTOCOL)
  }

  /**
   * Something points at items this node does not hold (an attestation of a job it never saw announced):
   * GAP_PEERS peers are asked for what is new, peers with a cursor first, at most every GAP_INTERVAL_MS. A
   * gap inside the interval is not dropped but asked about once when it ends: the last ask may have gone out
   * before its peers held the item (jobs announced a second apart each leave a gap).
   */
  gap (): void {
    if (!this.started) return
    const wait = this.lastGap + this.gapIntervalMs - Date.now()
    if (wait > 0) {
      if (this.gapPending) return
      this.gapPending = true
      const t = setTimeout(() => {
        this.timers.delete(t)
        this.gapPending = false
        this.gap()
      }, wait)
      this.timers.add(t)
      return
    }
    this.lastGap = Date.now()
    this.askSome(GAP_PEERS, 'gap')
  }

  /**
   * Asks up to n connected peers that speak sync, peers with a cursor (a short answer) first: for a gap
   * the most recently asked, for anti-entropy any at random
   */
  private askSome (n: number, reason: SyncReason): void {
    const peers = [...this.syncPeers.entries()].map(([id, peer]) => ({ peer, key: this.cursors.has(id) ? (reason === 'gap' ? this.lastComplete.get(id) ?? 1 : 1 + Math.random()) : Math.random() - 1 }))
    peers.sort((a, b) => b.key - a.key)
    for (const { peer } of peers.slice(0, n)) this.enqueue(peer, reason)
  }

  /**
   * A peer identified: asked if it came back after losing every connection, if the start round wants one
   * more, or once if this node started less than REJOIN_WINDOW_MS ago
   */
  private readonly onIdentify = (evt: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void => {
    const { peerId, protocols } = evt.detail
    if (!protocols.includes(SYNC_PROTOCOL)) return
    const id = peerId.toString()
    this.syncPeers.set(id, peerId)
    const gone = this.disconnectedAt.get(id)
    if (gone !== undefined) {
      // it may hold what it could not send while it was gone (a partition, an outage, a restart), though
      // a peer that flaps is asked at most every RECONNECT_RESYNC_MS, and only once its connection has
      // lasted RECONNECT_SETTLE_MS (onDisconnect drops the ask of one closed before)
      this.disconnectedAt.delete(id)
      if (this.cursors.has(id) || this.coldReconnectAllowed()) {
        const wait = RECONNECT_RESYNC_MS - (Date.now() - (this.lastAsked.get(id) ?? 0))
        this.enqueue(peerId, 'reconnect', gone, Math.max(wait, this.reconnectSettleMs))
        return
      }
    }
    if (this.metSinceStart.has(id)) return
    this.metSinceStart.add(id)
    bound(this.metSinceStart)
    if (this.startWanted > 0) {
      this.startWanted--
      this.enqueue(peerId, 'start', 0)
    } else if (Date.now() - this.startedAt < REJOIN_WINDOW_MS && this.rejoinAsked < this.rejoinPeers) {
      this.rejoinAsked++
      // the start round's peers answered with what they held then; a peer that came back with this node
      // (both restarted) may hold what it made just before, an attestation of its own that never got out:
      // asked for what is new since this node started (less the margin), a short answer
      this.enqueue(peerId, 'rejoin', this.startedAt)
    }
  }

  private coldReconnectAllowed (): boolean {
    const now = Date.now()
    this.coldReconnects = this.coldReconnects.filter(t => now - t < RECONNECT_BURST_MS)
    if (this.coldReconnects.length >= this.peers) return false
    this.coldReconnects.push(now)
    return true
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    if (this.libp2p.getConnections(evt.detail).length > 0) return
    this.syncPeers.delete(id)
    if (this.queue.get(id)?.reason === 'reconnect') {
      this.queue.delete(id)
      this.stats.settleDropped++
    }
    this.disconnectedAt.set(id, Date.now())
    bound(this.disconnectedAt)
  }

  /**
   * Queues an ask of `peer` after `delay` and a random jitter; `from` is the time to ask from when it
   * has no cursor
   */
  private enqueue (peer: PeerId, reason: SyncReason, from?: number, delay = 0): void {
    const id = peer.toString()
    if (this.queue.has(id)) return
    const ask = { peer, reason, from, due: false }
    this.queue.set(id, ask)
    const t = setTimeout(() => { this.timers.delete(t); ask.due = true; this.pump() }, delay + Math.random() * this.jitterMs)
    t.unref?.()
    this.timers.add(t)
  }

  private pump (): void {
    for (const [id, ask] of this.queue) {
      if (!this.started || this.running >= MAX_CONCURRENT_SYNCS) return
      if (!ask.due) continue // its own timer comes
      this.queue.delete(id)
      this.stats.reasons[ask.reason]++
      this.syncFrom(ask.peer, { from: ask.from })
        .catch(err => {
          this.log('sync from %p failed: %e', ask.peer, err)
          // a start ask that failed is given to the next peer that identifies
          if (ask.reason === 'start') this.startWanted++
        })
        .finally(() => { this.pump() })
    }
  }

  /**
   * The `since` of a request (the answerer applies it on top of the cursor): `from` less a margin (0: the
   * whole horizon); without `from`, the whole horizon when the peer's cursor bounds the answer, else from
   * this peer's last complete answer or from when this node was first caught up, less a margin.
   */
  private since (peer: string, from?: number): number {
    const horizon = Math.max(Date.now() - SYNC_HORIZON_MS, 0)
    const t = from ?? (this.cursors.has(peer) ? 0 : this.lastComplete.get(peer) ?? this.caughtUpAt)
    return t === 0 ? horizon : Math.max(horizon, t - SINCE_MARGIN_MS)
  }

  /**
   * Asks one peer for what it has that this node may not: what it stored after the cursor of its last
   * complete answer, or, without one, what is newer than `since`. Follows up while answers stop at
   * MAX_ITEMS_PER_KIND. Returns how many items were new.
   */
  async syncFrom (peer: PeerId, opts: { from?: number, signal?: AbortSignal } = {}): Promise<number> {
    const id = peer.toString()
    let fresh = 0
    for (let round = 0; round <= MAX_CONTINUATIONS; round++) {
      const r = await this.exchange(peer, this.since(id, opts.from), opts.signal)
      fresh += r.fresh
      if (!r.truncated || !this.cursors.has(id)) break
    }
    if (fresh > 0) this.log('synced %d new items from %p', fresh, peer)
    return fresh
  }

  /** One request and its answer; the items this node does not hold go to the sink */
  private async exchange (peer: PeerId, since: number, outer?: AbortSignal): Promise<{ fresh: number, truncated: boolean }> {
    const id = peer.toString()
    const asked = Date.now()
    this.lastAsked.set(id, asked)
    bound(this.lastAsked)
    this.running++
    this.stats.asked++
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(SYNC_TIMEOUT_MS), ...(outer !== undefined ? [outer] : [])])
    let fresh = 0
    try {
      // ids first: the answerer offers, this node asks only for what it does not hold
      const holds = (kind: SyncKind, prefix: string): boolean => this.store.holdsIdPrefix(STORE_LIST[kind], prefix)
      const end = await askOnce(this.libp2p, peer, { since, cursor: this.cursors.get(id), holds }, signal, async (kind, envelope) => {
        this.stats.received++
        if (envelope.byteLength === 0) return
        // an item this node holds already is not checked again (a signature check each, for nothing)
        if (storeHolds(this.store, kind, envelope)) { this.stats.skipped++; return }
        if (await this.sink.ingest(kind, envelope)) fresh++
      })
      this.stats.accepted += fresh
      this.stats.offered += end.offered
      this.stats.wanted += end.wanted
      this.stats.syncs++
      if (end.cursor.byteLength > 0) this.cursors.set(id, end.cursor)
      else this.cursors.delete(id)
      this.lastComplete.set(id, asked)
      bound(this.cursors)
      bound(this.lastComplete)
      // once one peer has answered in full, this node is caught up to then: peers asked later without a
      // cursor are asked for what is newer (less a margin), not for the whole horizon again
      if (this.caughtUpAt === 0) this.caughtUpAt = asked
      return { fresh, truncated: end.truncated }
    } finally {
      this.running--
    }
  }

  private readonly serve = async (stream: Stream, connection: Connection): Promise<void> => {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(SYNC_TIMEOUT_MS)])
    try {
      await answer(stream, this.store, signal, this.stats)
    } catch (err: any) {
      this.log('serving sync to %p failed: %e', connection.remotePeer, err)
      stream.abort(err)
    }
  }
}

/** Drops the oldest entries of a per-peer map or set beyond MAX_PEERS_REMEMBERED */
function bound (m: Map<string, unknown> | Set<string>): void {
  while (m.size > MAX_PEERS_REMEMBERED) m.delete(m.keys().next().value!)
}
