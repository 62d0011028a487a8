/**
 * `/skyline/sync/1.0.0`: a node that starts late, restarts, or comes back after a partition fetches the
 * announcements, control messages, attestations and equivocation proofs it missed from peers it
 * connects to, and checks each exactly as if it had come by gossip (docs/protocols/sync.md). One
 * request (since T), then length-prefixed items, then an end marker. Bounded: at most MAX_ITEMS_PER_KIND
 * of each kind, each item at most MAX_ITEM_BYTES, a deadline on the whole exchange.
 */
import { lpStream } from '@libp2p/utils'
import type { Connection, Logger, PeerId, Stream } from '@libp2p/interface'
import type { SkylineLibp2p } from './libp2p.ts'
import type { Store } from './store.ts'
import '../protocols/pb/protons-fix.ts'
import { SyncItem, SyncRequest } from '../protocols/pb/sync.ts'

export const SYNC_PROTOCOL = '/skyline/sync/1.0.0'
/** @default 5000 items of each kind per answer */
export const MAX_ITEMS_PER_KIND = 5000
/** @default 68 KiB per item: the largest consensus message, with framing */
export const MAX_ITEM_BYTES = 68 * 1024
/** @default 30 s for a whole exchange */
export const SYNC_TIMEOUT_MS = 30_000
/** @default 7 days: how far back a node that knows nothing asks */
export const SYNC_HORIZON_MS = 7 * 24 * 60 * 60 * 1000
/** @default 60 s: a peer is asked again at most this often */
const RESYNC_INTERVAL_MS = 60_000
/** @default 5 s: a peer that disconnected and came back is asked again after at least this long */
const RECONNECT_RESYNC_MS = 5_000
/** @default 4: syncs from different peers at once */
const MAX_CONCURRENT_SYNCS = 4

export const SYNC_KIND = { end: 0, announcement: 1, control: 2, attestation: 3, equivocation: 4 } as const

/** A peer broke the sync protocol: an undecodable frame, an unknown kind, more than the bounds */
export class SyncProtocolError extends Error {
  static name = 'SyncProtocolError'
  override name = 'SyncProtocolError'
}

function decodeItem (bytes: Parameters<typeof SyncItem.decode>[0]): SyncItem {
  try {
    return SyncItem.decode(bytes)
  } catch (err: any) {
    throw new SyncProtocolError(`undecodable sync item: ${err.message}`)
  }
}

export interface SyncSink {
  /** takes one item; returns whether it was new (throws nothing for bad items: they are counted) */
  ingest: (kind: 'announcement' | 'control' | 'attestation' | 'equivocation', envelope: Uint8Array) => Promise<boolean>
}

export class SyncService {
  private readonly libp2p: SkylineLibp2p
  private readonly store: Store
  private readonly sink: SyncSink
  private readonly log: Logger
  /** when each peer was last asked (rate limit) and last answered completely (the next `since`) */
  private readonly lastSync = new Map<string, number>()
  private readonly lastComplete = new Map<string, number>()
  /** peers that disconnected after they were last asked: asked again as soon as they are back */
  private readonly droppedSince = new Set<string>()
  /** the last moment this node had no connection at all (start counts): it may have missed anything after */
  private lastIsolatedAt = 0
  private running = 0
  private started = false
  private readonly shutdown = new AbortController()
  /** counts for status and tests */
  readonly stats = { syncs: 0, received: 0, accepted: 0, served: 0 }

  constructor (init: { libp2p: SkylineLibp2p, store: Store, sink: SyncSink, log: Logger }) {
    this.libp2p = init.libp2p
    this.store = init.store
    this.sink = init.sink
    this.log = init.log
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    await this.libp2p.handle(SYNC_PROTOCOL, this.serve, { maxInboundStreams: 4, maxOutboundStreams: 4 })
    this.libp2p.addEventListener('peer:identify', this.onIdentify)
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    this.lastIsolatedAt = 0 // a node that starts knows nothing recent for sure: ask for the whole horizon
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.shutdown.abort()
    this.libp2p.removeEventListener('peer:identify', this.onIdentify)
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    await this.libp2p.unhandle(SYNC_PROTOCOL)
  }

  /** A newly identified peer that speaks sync and was not asked recently is asked */
  private readonly onIdentify = (evt: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void => {
    const { peerId, protocols } = evt.detail
    if (!protocols.includes(SYNC_PROTOCOL)) return
    const id = peerId.toString()
    const last = this.lastSync.get(id) ?? 0
    // a peer that was gone may hold what it could not send then (a restart, an outage): ask it again
    // once it is back, though not more often than every RECONNECT_RESYNC_MS if it flaps
    const wait = this.droppedSince.has(id) ? RECONNECT_RESYNC_MS : RESYNC_INTERVAL_MS
    if (Date.now() - last < wait || this.running >= MAX_CONCURRENT_SYNCS) return
    this.droppedSince.delete(id)
    this.syncFrom(peerId).catch(err => this.log('sync from %p failed: %e', peerId, err))
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    if (this.lastSync.has(id) && this.libp2p.getConnections(evt.detail).length === 0) {
      this.droppedSince.add(id)
      if (this.droppedSince.size > 10_000) this.droppedSince.delete(this.droppedSince.values().next().value!)
    }
    if (this.libp2p.getConnections().length === 0) this.lastIsolatedAt = Date.now()
  }

  /**
   * Where to start asking a peer: just before its last complete answer; for a peer never asked, just
   * before this node was last cut off from everyone (or the whole horizon for a node that just started).
   */
  private since (peer: string): number {
    const margin = 10 * 60 * 1000
    const horizon = Date.now() - SYNC_HORIZON_MS
    const from = this.lastComplete.get(peer) ?? (this.lastIsolatedAt === 0 ? horizon : this.lastIsolatedAt)
    return Math.max(horizon, from - margin, 0)
  }

  /** Asks one peer for what it has since `since(peer)`; returns how many items were new */
  async syncFrom (peer: PeerId): Promise<number> {
    const asked = Date.now()
    this.lastSync.set(peer.toString(), asked)
    if (this.lastSync.size > 10_000) this.lastSync.delete(this.lastSync.keys().next().value!)
    this.running++
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(SYNC_TIMEOUT_MS)])
    let stream: Stream | undefined
    let fresh = 0
    try {
      stream = await this.libp2p.dialProtocol(peer, SYNC_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MAX_ITEM_BYTES })
      await lp.write(SyncRequest.encode({ since: BigInt(this.since(peer.toString())) }), { signal })
      const counts = new Map<number, number>()
      while (true) {
        const item = decodeItem(await lp.read({ signal }))
        if (item.kind === SYNC_KIND.end) break
        const n = (counts.get(item.kind) ?? 0) + 1
        counts.set(item.kind, n)
        if (n > MAX_ITEMS_PER_KIND) throw new SyncProtocolError(`peer sent more than ${MAX_ITEMS_PER_KIND} items of kind ${item.kind}`)
        const kind = item.kind === SYNC_KIND.announcement ? 'announcement' : item.kind === SYNC_KIND.control ? 'control' : item.kind === SYNC_KIND.attestation ? 'attestation' : item.kind === SYNC_KIND.equivocation ? 'equivocation' : undefined
        if (kind === undefined) throw new SyncProtocolError(`unknown sync item kind ${item.kind}`)
        this.stats.received++
        // an empty envelope is an invalid item like any other: dropped (the checks below take bytes)
        if (item.envelope.byteLength === 0) continue
        if (await this.sink.ingest(kind, item.envelope)) fresh++
      }
      this.stats.accepted += fresh
      this.stats.syncs++
      this.lastComplete.set(peer.toString(), asked)
      // once one peer has answered in full, this node is caught up to then: peers met later are asked
      // only for what is newer (minus a margin), not for the whole horizon again
      if (this.lastIsolatedAt === 0) this.lastIsolatedAt = asked
      if (this.lastComplete.size > 10_000) this.lastComplete.delete(this.lastComplete.keys().next().value!)
      await stream.close({ signal })
      if (fresh > 0) this.log('synced %d new items from %p', fresh, peer)
      return fresh
    } catch (err: any) {
      stream?.abort(err)
      throw err
    } finally {
      this.running--
    }
  }

  private readonly serve = async (stream: Stream, connection: Connection): Promise<void> => {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(SYNC_TIMEOUT_MS)])
    try {
      const lp = lpStream(stream, { maxDataLength: 64 })
      let req: SyncRequest
      try {
        req = SyncRequest.decode(await lp.read({ signal }))
      } catch (err: any) {
        if (err?.name === 'UnexpectedEOFError' || err?.name === 'InvalidDataLengthError' || err?.name === 'InvalidDataLengthLengthError' || err?.name === 'AbortError' || err?.name === 'TimeoutError') throw err
        throw new SyncProtocolError(`undecodable sync request: ${err.message}`)
      }
      const since = Number(req.since)
      const items = this.store.syncItems(Number.isSafeInteger(since) ? since : 0, MAX_ITEMS_PER_KIND)
      // announcements and control first: attestations are checked against known jobs
      const send = async (kind: number, list: Uint8Array[]): Promise<void> => {
        for (const envelope of list) {
          if (envelope.byteLength + 16 > MAX_ITEM_BYTES) continue
          await lp.write(SyncItem.encode({ kind, envelope: envelope as Uint8Array<ArrayBuffer> }), { signal })
          this.stats.served++
        }
      }
      await send(SYNC_KIND.announcement, items.announcements)
      await send(SYNC_KIND.control, items.controls)
      await send(SYNC_KIND.attestation, items.attestations)
      await send(SYNC_KIND.equivocation, items.proofs)
      await lp.write(SyncItem.encode({ kind: SYNC_KIND.end }), { signal })
      await stream.close({ signal })
    } catch (err: any) {
      this.log('serving sync to %p failed: %e', connection.remotePeer, err)
      stream.abort(err)
    }
  }
}
