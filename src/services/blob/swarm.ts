/**
 * One fetch of one blob from a swarm of peers (BitTorrent-style, with the DHT as tracker).
 *
 * - Peers come from the caller, from peers that ask us for the same blob (they are fetching it too), and
 *   from DHT provider records. A swarmed blob (`swarmMinChunks` or more) is provided by its fetchers and
 *   looked up at once, then again after 2, 4, 8 … s (up to `findProvidersMaxInterval`) until
 *   `SWARM_MAX_PEERS` peers are known. A smaller blob is looked up only while no known peer serves it.
 * - The hash list comes from any peer and is trusted only if it matches the reference's chunk root.
 * - Each peer's HAVE bitfield is refreshed every `haveInterval`. A peer that held the whole blob when first
 *   seen is a "seed" (the original seeder, as far as we can tell); every other peer is a "leecher".
 * - Leechers get up to `peerSlots` parallel chunk requests, rarest chunk first (rarity among leechers).
 * - Seeds get `seedSlots` requests, and only when the leechers cannot keep us busy, and only for chunks no
 *   leecher holds, picked at random so that simultaneous fetchers pull different chunks from the seed and
 *   then trade them. That keeps a seeder's upload near one copy of the blob however many fetch at once.
 * - Every chunk is verified before it is written (PartialBlob.writeChunk); a peer sending bad bytes is
 *   reported (and banned by the service), dropped from this fetch, and the chunk is fetched elsewhere.
 */
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Logger, PeerId, PeerInfo, Stream } from '@libp2p/interface'
import * as C from './constants.ts'
import { decodeResponse, encodeRequest, type Response } from './wire.ts'
import { chunkCount, manifestMatches, splitHashes, type BlobRef, type Manifest } from './manifest.ts'
import { hasBit, validBitfield, countBits } from './bitfield.ts'
import { BlobProtocolError, ChunkHashMismatchError, NoProvidersError } from './errors.ts'
import type { BlobStore, PartialBlob } from './store.ts'
import type { BlobProgressEvent, BlobServiceInit, Severity } from './index.ts'

export interface SwarmInit {
  ref: BlobRef
  store: BlobStore
  self: PeerId
  log: Logger
  init: Required<Omit<BlobServiceInit, 'directory'>>
  signal: AbortSignal
  onProgress?: (evt: BlobProgressEvent) => void
  openStream: (peer: PeerId, signal: AbortSignal) => Promise<Stream>
  findProviders: (signal: AbortSignal) => AsyncIterable<PeerInfo>
  provide: () => void
  isBanned: (peer: PeerId) => boolean
  misbehaved: (peer: PeerId, reason: string, severity: Severity) => void
  downloaded: (peer: PeerId, bytes: number) => void
}

interface SwarmPeer {
  id: PeerId
  key: string
  have: Uint8Array | undefined
  /** held the whole blob when first seen */
  seed: boolean
  seenIncomplete: boolean
  /** the bitfield currently counted in `rarity` */
  counted: Uint8Array | undefined
  /** current HAVE polling interval: grows while the peer's bitfield does not change */
  interval: number
  inflight: number
  workers: number
  failures: number
  dropped: boolean
  /** when it joined this fetch (ms) */
  joined: number
}

/** A request/response channel on one stream */
class Channel {
  readonly stream: Stream
  private readonly lp: LengthPrefixedStream<Stream>

  constructor (stream: Stream) {
    this.stream = stream
    this.lp = lpStream(stream, { maxDataLength: C.MAX_RESPONSE_BYTES, maxBufferSize: C.MAX_RESPONSE_BYTES + 64 * 1024 })
  }

  async request (type: number, sha256: string, index: number, signal: AbortSignal): Promise<Response> {
    await this.lp.write(encodeRequest({ type, sha256, index }), { signal })
    return decodeResponse(await this.lp.read({ signal }), type)
  }

  close (): void {
    this.stream.close().catch(() => {})
  }

  abort (err: Error): void {
    this.stream.abort(err)
  }
}

export class Swarm {
  private readonly s: SwarmInit
  private readonly ref: BlobRef
  private readonly log: Logger
  private readonly peers = new Map<string, SwarmPeer>()
  private readonly controller = new AbortController()
  private readonly signal: AbortSignal
  private manifest: Manifest | undefined
  private partial: PartialBlob | undefined
  private rarity: Uint16Array = new Uint16Array(0)
  /** chunk indices not yet held (refreshed lazily) */
  private missing: number[] = []
  private missingDirty = false
  private readonly inflight = new Set<number>()
  private inflightLeech = 0
  private waiters: Array<() => void> = []
  private done = false
  private lastUseful = Date.now()
  private readonly result = Promise.withResolvers<string>()
  /** whether fetchers of this blob provide it and find each other in the DHT (SWARM_MIN_CHUNKS) */
  private readonly swarming: boolean

  constructor (init: SwarmInit) {
    this.s = init
    this.ref = init.ref
    this.swarming = chunkCount(init.ref.size, init.ref.chunkSize) >= init.init.swarmMinChunks
    this.log = init.log
    this.signal = AbortSignal.any([init.signal, this.controller.signal])
    this.result.promise.catch(() => {})
  }

  async run (): Promise<string> {
    const onAbort = (): void => { this.fail(this.signal.reason ?? new Error('aborted')) }
    this.signal.addEventListener('abort', onAbort, { once: true })
    try {
      const resumed = await this.s.store.partialManifest(this.ref)
      if (resumed !== undefined) await this.setManifest(resumed)
      if (this.ref.size === 0) {
        await this.setManifest({ ...this.ref, chunkHashes: [] })
      }
      if (this.swarming) this.s.provide()
      void this.discover()
      void this.watchdog()
      return await this.result.promise
    } finally {
      this.signal.removeEventListener('abort', onAbort)
      this.done = true
      this.controller.abort()
      this.notify()
      if (this.partial !== undefined && !this.partial.complete) await this.partial.close().catch(() => {})
    }
  }

  private fail (err: Error): void {
    if (this.done) return
    this.done = true
    this.result.reject(err)
    this.notify()
  }

  addPeers (peers: PeerId[]): void {
    for (const id of peers) this.addPeer(id)
  }

  private addPeer (id: PeerId): void {
    if (this.done || id.equals(this.s.self) || this.s.isBanned(id)) return
    const key = id.toString()
    if (this.peers.has(key)) return
    const p: SwarmPeer = { id, key, have: undefined, counted: undefined, interval: this.s.init.haveInterval, seed: false, seenIncomplete: false, inflight: 0, workers: 0, failures: 0, dropped: false, joined: Date.now() }
    this.peers.set(key, p)
    this.log('peer %p joins', id)
    void this.runPeer(p)
  }

  dropPeer (id: PeerId, reason: string): void {
    const p = this.peers.get(id.toString())
    if (p === undefined || p.dropped) return
    this.log('dropping %p: %s', id, reason)
    p.dropped = true
    this.updateHave(p)
    this.notify()
  }

  private notify (): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  /** Waits for a change of state (a HAVE, a chunk, a peer) or `ms` */
  private async changed (ms: number): Promise<void> {
    await new Promise<void>(resolve => {
      const t = setTimeout(resolve, ms)
      this.waiters.push(() => { clearTimeout(t); resolve() })
    })
  }

  /**
   * Looks for providers in the DHT while the fetch needs more: a swarmed blob until SWARM_MAX_PEERS live
   * peers are known, a small one only while no known peer serves it. Each lookup is followed by a wait
   * twice as long as the last (from `findProvidersInterval` to `findProvidersMaxInterval`).
   */
  private async discover (): Promise<void> {
    let interval = this.s.init.findProvidersInterval
    while (!this.done) {
      if (!this.wantsProviders()) {
        await this.changed(this.s.init.findProvidersInterval)
        continue
      }
      try {
        const signal = AbortSignal.any([this.signal, AbortSignal.timeout(10_000)])
        for await (const info of this.s.findProviders(signal)) {
          this.addPeer(info.id)
          if (this.done) break
        }
      } catch (err) {
        if (!this.done) this.log('findProviders - %e', err)
      }
      await this.changedUntilDone(interval)
      interval = Math.min(interval * 2, this.s.init.findProvidersMaxInterval)
    }
  }

  private wantsProviders (): boolean {
    let live = 0
    const now = Date.now()
    for (const p of this.peers.values()) {
      if (p.dropped) continue
      live++
      if (this.swarming) continue
      // a peer that advertises a chunk still missing, or one just met that has not answered yet
      if (p.have !== undefined ? this.missing.some(i => hasBit(p.have!, i)) : !p.seenIncomplete && now - p.joined < this.s.init.findProvidersInterval) return false
    }
    return this.swarming ? live < C.SWARM_MAX_PEERS : true
  }

  private async changedUntilDone (ms: number): Promise<void> {
    const end = Date.now() + ms
    while (!this.done && Date.now() < end) await this.changed(end - Date.now())
  }

  private async watchdog (): Promise<void> {
    while (!this.done) {
      await this.changed(1_000)
      // useful: a live peer that advertises a chunk we still need (chunks received also count, in worker())
      const usable = [...this.peers.values()].some(p => !p.dropped && p.have !== undefined && this.missing.some(i => hasBit(p.have!, i)))
      if (usable) this.lastUseful = Date.now()
      if (Date.now() - this.lastUseful > this.s.init.noProvidersTimeout) {
        this.fail(new NoProvidersError(`no usable provider of ${this.ref.sha256} for ${this.s.init.noProvidersTimeout} ms`))
      }
    }
  }

  private async setManifest (m: Manifest): Promise<void> {
    if (this.manifest !== undefined) return
    this.manifest = m
    this.rarity = new Uint16Array(m.chunkHashes.length)
    try {
      this.partial = await this.s.store.openPartial(m)
    } catch (err: any) {
      this.fail(err)
      return
    }
    this.missing = Array.from({ length: m.chunkHashes.length }, (_, i) => i).filter(i => !this.partial!.has(i))
    for (const p of this.peers.values()) this.updateHave(p)
    this.progress()
    await this.maybeFinish()
    this.notify()
  }

  private progress (): void {
    if (this.partial === undefined) return
    this.s.onProgress?.({ type: 'blob:fetch:progress', detail: { sha256: this.ref.sha256, done: this.partial.bytes, total: this.ref.size } })
  }

  private async maybeFinish (): Promise<void> {
    if (this.partial === undefined || !this.partial.complete || this.done) return
    try {
      const path = await this.partial.finish()
      this.done = true
      this.result.resolve(path)
    } catch (err: any) {
      this.fail(err)
    }
    this.notify()
  }

  /**
   * Records a peer's bitfield (or, with no argument, re-evaluates whether it counts), keeping the rarity
   * counts in step: rarity[i] is the number of live leechers holding chunk i.
   */
  private updateHave (p: SwarmPeer, have: Uint8Array | undefined = p.have): void {
    if (have !== undefined) p.have = have
    const next = this.manifest !== undefined && !p.seed && !p.dropped ? p.have : undefined
    const old = p.counted
    if (old === next) return
    const n = this.rarity.length
    for (let byte = 0; byte < Math.ceil(n / 8); byte++) {
      const a = old?.[byte] ?? 0
      const b = next?.[byte] ?? 0
      if (a === b) continue
      for (let bit = 0; bit < 8; bit++) {
        const i = byte * 8 + bit
        if (i >= n) break
        const mask = 0x80 >> bit
        if ((a & mask) !== (b & mask)) this.rarity[i] += (b & mask) !== 0 ? 1 : -1
      }
    }
    p.counted = next
  }

  private async openChannel (p: SwarmPeer): Promise<Channel> {
    const stream = await this.s.openStream(p.id, AbortSignal.any([this.signal, AbortSignal.timeout(this.s.init.requestTimeout)]))
    return new Channel(stream)
  }

  private requestSignal (): AbortSignal {
    return AbortSignal.any([this.signal, AbortSignal.timeout(this.s.init.requestTimeout)])
  }

  private failure (p: SwarmPeer, err: any): void {
    if (this.done) return
    p.failures++
    this.log('request to %p failed (%d) - %e', p.id, p.failures, err)
    if (err instanceof BlobProtocolError) {
      this.s.misbehaved(p.id, `protocol violation: ${err.message}`, 'mid')
      this.dropPeer(p.id, err.message)
    } else if (p.failures >= C.MAX_PEER_FAILURES) {
      this.dropPeer(p.id, 'too many failures')
    }
  }

  /** The control loop of one peer: manifest (if needed), then HAVE every haveInterval; starts chunk workers */
  private async runPeer (p: SwarmPeer): Promise<void> {
    let ch: Channel | undefined
    while (!this.done && !p.dropped) {
      try {
        ch ??= await this.openChannel(p)
        if (this.manifest === undefined) {
          const res = await ch.request(C.MSG_MANIFEST, this.ref.sha256, 0, this.requestSignal())
          if (res.status === C.STATUS_OK) {
            const hashes = splitHashes(res.chunkHashes)
            if (manifestMatches(this.ref, res.size, res.chunkSize, hashes)) {
              await this.setManifest({ ...this.ref, chunkHashes: hashes })
            } else if (res.size === this.ref.size && res.chunkSize === this.ref.chunkSize) {
              this.s.misbehaved(p.id, 'manifest does not match the chunk root', 'high')
              this.dropPeer(p.id, 'bad manifest')
              break
            } else {
              this.dropPeer(p.id, 'chunked differently')
              break
            }
          }
        }
        if (this.manifest !== undefined) {
          const res = await ch.request(C.MSG_HAVE, this.ref.sha256, 0, this.requestSignal())
          if (res.status === C.STATUS_OK) {
            const n = this.manifest.chunkHashes.length
            if (!validBitfield(res.bitfield, n)) throw new BlobProtocolError('bitfield of the wrong length')
            if (p.have !== undefined && Buffer.from(p.have).equals(res.bitfield)) {
              p.interval = Math.min(p.interval * 1.5, this.s.init.haveInterval * 5)
            } else {
              p.interval = this.s.init.haveInterval
              const full = countBits(res.bitfield, n) === n
              if (p.have === undefined && !p.seenIncomplete && full) {
                p.seed = true
              } else if (!full && !p.seenIncomplete) {
                p.seenIncomplete = true
                p.seed = false // a peer that was complete and is no longer counts as a leecher from now
              }
              this.updateHave(p, Uint8Array.from(res.bitfield))
              this.ensureWorkers(p)
              this.notify()
            }
          } else if (res.status === C.STATUS_NOT_FOUND) {
            p.seenIncomplete = true
          }
        } else {
          p.seenIncomplete = true
        }
        p.failures = 0
      } catch (err: any) {
        ch?.abort(err)
        ch = undefined
        this.failure(p, err)
      }
      // a peer holding every chunk has nothing new to tell: ask it rarely
      const complete = p.have !== undefined && this.manifest !== undefined && countBits(p.have, this.manifest.chunkHashes.length) === this.manifest.chunkHashes.length
      await this.changedUntilDone(this.manifest === undefined ? this.s.init.haveInterval * 2 : complete ? this.s.init.haveInterval * 25 : p.interval)
    }
    ch?.close()
  }

  private ensureWorkers (p: SwarmPeer): void {
    const want = p.seed ? Math.max(this.s.init.seedSlots, this.s.init.peerSlots) : this.s.init.peerSlots
    while (p.workers < want && !p.dropped && !this.done) {
      p.workers++
      void this.worker(p).finally(() => { p.workers-- })
    }
  }

  /** Chooses the next chunk to request from `p`, or undefined */
  private pick (p: SwarmPeer): number | undefined {
    const partial = this.partial
    if (partial === undefined || p.have === undefined || p.dropped) return undefined
    if (this.inflight.size >= this.s.init.maxInflight) return undefined
    if (this.missingDirty) {
      this.missing = this.missing.filter(i => !partial.has(i))
      this.missingDirty = false
    }
    const missing = this.missing
    const n = missing.length
    if (n === 0) return undefined
    if (p.seed) {
      // the seeder only fills what leechers cannot: leechers are not keeping us busy, and nobody else has it
      if (this.inflightLeech >= this.s.init.peerSlots) return undefined
      // seed slots: `seedSlots` while other fetchers (leechers) are around to trade with, else as a normal peer
      if (p.inflight >= (this.hasLeechers() ? this.s.init.seedSlots : this.s.init.peerSlots)) return undefined
      const candidates: number[] = []
      for (const i of missing) {
        if (this.rarity[i] === 0 && !this.inflight.has(i) && hasBit(p.have, i)) candidates.push(i)
      }
      if (candidates.length === 0) return undefined
      return candidates[Math.floor(Math.random() * candidates.length)]
    }
    let best = -1
    let bestRarity = Infinity
    let ties = 0
    const start = Math.floor(Math.random() * n)
    for (let k = 0; k < n; k++) {
      const i = missing[(start + k) % n]
      if (!hasBit(p.have, i) || this.inflight.has(i) || partial.has(i)) continue
      const r = this.rarity[i]
      if (r < bestRarity) { best = i; bestRarity = r; ties = 1 } else if (r === bestRarity && Math.random() * ++ties < 1) best = i
    }
    return best >= 0 ? best : undefined
  }

  private hasLeechers (): boolean {
    for (const q of this.peers.values()) if (!q.dropped && !q.seed && q.have !== undefined) return true
    return false
  }

  /** One chunk-request loop on its own stream */
  private async worker (p: SwarmPeer): Promise<void> {
    let ch: Channel | undefined
    while (!this.done && !p.dropped) {
      const index = this.pick(p)
      if (index === undefined) {
        await this.changed(this.s.init.haveInterval)
        continue
      }
      this.inflight.add(index)
      p.inflight++
      if (!p.seed) this.inflightLeech++
      try {
        ch ??= await this.openChannel(p)
        const res = await ch.request(C.MSG_CHUNK, this.ref.sha256, index, this.requestSignal())
        if (res.status === C.STATUS_OK) {
          if (res.index !== index) throw new BlobProtocolError(`answered chunk ${res.index} to a request for ${index}`)
          try {
            if (await this.partial!.writeChunk(index, res.data)) {
              this.missingDirty = true
              this.s.downloaded(p.id, res.data.byteLength)
              this.lastUseful = Date.now()
              this.progress()
            }
          } catch (err) {
            if (err instanceof ChunkHashMismatchError) {
              this.s.misbehaved(p.id, `bad chunk ${index}: ${err.message}`, 'high')
              this.dropPeer(p.id, 'sent a bad chunk')
            } else {
              throw err
            }
          }
        } else if (res.status === C.STATUS_NOT_HAVE || res.status === C.STATUS_NOT_FOUND) {
          // it advertised the chunk but cannot serve it (e.g. it failed its own re-verification): forget the bit
          if (p.have !== undefined && hasBit(p.have, index)) {
            const copy = Uint8Array.from(p.have)
            copy[index >> 3] &= ~(0x80 >> (index & 7))
            this.updateHave(p, copy)
            p.interval = this.s.init.haveInterval
          }
        } else if (res.status === C.STATUS_BUSY) {
          await this.changed(this.s.init.haveInterval)
        }
      } catch (err: any) {
        ch?.abort(err)
        ch = undefined
        this.failure(p, err)
      } finally {
        this.inflight.delete(index)
        p.inflight--
        if (!p.seed) this.inflightLeech--
      }
      this.notify()
      if (this.partial?.complete === true) await this.maybeFinish()
    }
    ch?.close()
  }
}
