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
 * - Sources are scored by progress (sources.ts): stalling ones stop holding the seeds back and are
 *   dropped after MAX_PEER_STRIKES; the seeder named by the caller always stays. A fetch that receives no
 *   verified chunk for `noProvidersTimeout` fails with NoProvidersError.
 */
import type { Logger, PeerId, PeerInfo, Stream } from '@libp2p/interface'
import * as C from './constants.ts'
import { chunkCount, chunkLength, manifestMatches, splitHashes, type BlobRef, type Manifest } from './manifest.ts'
import type { Bandwidth } from './bandwidth.ts'
import { hasBit, validBitfield, countBits } from './bitfield.ts'
import { BlobProtocolError, ChunkHashMismatchError, NoProvidersError } from './errors.ts'
import { Channel } from './channel.ts'
import { ChunkPicker } from './picker.ts'
import { Wakeup } from './wakeup.ts'
import { discoverProviders, needsProviders } from './discovery.ts'
import { cutRequests, newSource, refuseChunk, withoutRefused, type SwarmPeer } from './sources.ts'
import type { BlobStore } from './store.ts'
import type { PartialBlob } from './partial.ts'
import type { BlobProgressEvent, BlobServiceInit, Severity } from './types.ts'

export interface SwarmInit {
  ref: BlobRef
  /** the node's download cap, shared by all fetches */
  download: Bandwidth
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
  /**
   * Whether a hash list or chunk from `peer` that contradicts the reference's root is its own fault:
   * always when the root is signed by a trusted key (an announcement), only for the peers that signed it
   * otherwise (a result's agreeing builders). Anyone else is only dropped from the fetch.
   */
  blameable: (peer: PeerId) => boolean
  misbehaved: (peer: PeerId, reason: string, severity: Severity) => void
  downloaded: (peer: PeerId, bytes: number) => void
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
  private readonly picker = new ChunkPicker()
  private readonly wake = new Wakeup()
  private done = false
  private lastUseful = Date.now()
  private readonly result = Promise.withResolvers<string>()
  /** whether fetchers of this blob provide it and find each other in the DHT (SWARM_MIN_CHUNKS) */
  private readonly swarming: boolean
  /** peers made sources when the fetch first wants more (FetchOptions.fallback), by discovery */
  private readonly fallback: PeerId[] = []

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
      void discoverProviders({
        intervals: this.s.init,
        signal: this.signal,
        wakeup: this.wake,
        log: this.log,
        done: () => this.done,
        wants: () => needsProviders(this.peers.values(), () => this.picker.missing(), this.partial?.complete === true, this.swarming, this.s.init.findProvidersInterval),
        findProviders: this.s.findProviders,
        fallback: this.fallback,
        addPeer: id => { this.addPeer(id, false) }
      })
      void this.watchdog()
      return await this.result.promise
    } finally {
      this.signal.removeEventListener('abort', onAbort)
      this.done = true
      this.controller.abort()
      this.wake.notify()
      if (this.partial !== undefined && !this.partial.complete) await this.partial.close().catch(() => {})
    }
  }

  private fail (err: Error): void {
    if (this.done) return
    this.done = true
    this.result.reject(err)
    this.wake.notify()
  }

  /**
   * Adds sources; `seeder` marks the blob's origin, which stays a source whatever it does short of lying;
   * `fallback` peers become sources when the fetch first wants more than it knows (before its DHT lookup)
   */
  addPeers (peers: PeerId[], seeder?: PeerId, fallback: PeerId[] = []): void {
    if (seeder !== undefined) this.addPeer(seeder, true)
    for (const id of peers) this.addPeer(id, false)
    this.fallback.push(...fallback)
  }

  private addPeer (id: PeerId, seeder: boolean): void {
    if (this.done || id.equals(this.s.self) || this.s.isBanned(id)) return
    const key = id.toString()
    const known = this.peers.get(key)
    if (known !== undefined) {
      if (seeder && !known.dropped) known.seeder = true
      return
    }
    const p = newSource(id, this.s.init.haveInterval, { seeder, blameable: this.s.blameable(id) })
    this.peers.set(key, p)
    this.log('peer %p joins', id)
    void this.runPeer(p)
  }

  dropPeer (id: PeerId, reason: string): void {
    const p = this.peers.get(id.toString())
    if (p === undefined || p.dropped) return
    this.log('dropping %p: %s', id, reason)
    p.dropped = true
    cutRequests(p, new Error(`dropped: ${reason}`))
    this.updateHave(p)
    this.wake.notify()
  }

  /**
   * Scores the sources every half second (stalling ones are cut), and fails the fetch when no verified
   * chunk has arrived for `noProvidersTimeout`: progress counts, not what peers advertise.
   */
  private async watchdog (): Promise<void> {
    const tick = Math.min(500, this.s.init.chunkTimeout / 4)
    let next = Date.now() + tick
    while (!this.done) {
      await this.wake.changed(Math.max(1, next - Date.now()))
      if (Date.now() < next) continue
      next = Date.now() + tick
      // paused transfers (a metered link) are no fault of the sources, and no reason to give up
      if (this.s.download.isPaused) { this.lastUseful = Date.now(); continue }
      for (const p of this.peers.values()) if (!p.dropped) this.score(p)
      if (Date.now() - this.lastUseful > this.s.init.noProvidersTimeout) {
        this.fail(new NoProvidersError(`no provider of ${this.ref.sha256} delivered a chunk for ${this.s.init.noProvidersTimeout} ms`))
      }
    }
  }

  /** Judges one source by its progress: one asked for chunks that delivered none for half the deadline stalls */
  private score (p: SwarmPeer): void {
    const waited = p.waitingSince === undefined ? 0 : Date.now() - p.waitingSince
    const stalling = p.strikes > 0 || waited > this.s.init.chunkTimeout / 2
    if (stalling !== p.stalling) {
      p.stalling = stalling
      this.updateHave(p)
      this.wake.notify()
    }
    if (waited <= this.s.init.chunkTimeout / 2 || p.seeder) return
    p.waitingSince = Date.now()
    if (p.inflight > 0) cutRequests(p, new Error(`no chunk delivered for ${waited} ms`))
    else this.strike(p, `delivered no chunk for ${waited} ms`)
  }

  /** A stall or a refusal: the source is dropped and reported at MAX_PEER_STRIKES, unless it is the seeder */
  private strike (p: SwarmPeer, why: string): void {
    if (this.done || p.dropped) return
    p.strikes++
    this.log('%p: strike %d - %s', p.id, p.strikes, why)
    if (!p.stalling) {
      p.stalling = true
      this.updateHave(p)
    }
    if (p.strikes >= C.MAX_PEER_STRIKES && !p.seeder) {
      this.s.misbehaved(p.id, `stalled a fetch: ${why}`, 'low')
      this.dropPeer(p.id, `stalled: ${why}`)
    }
  }

  private async setManifest (m: Manifest): Promise<void> {
    if (this.manifest !== undefined) return
    this.manifest = m
    try {
      this.partial = await this.s.store.openPartial(m)
    } catch (err: any) {
      this.fail(err)
      return
    }
    this.picker.reset(this.partial, m.chunkHashes.length)
    for (const p of this.peers.values()) this.updateHave(p)
    this.progress()
    await this.maybeFinish()
    this.wake.notify()
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
    this.wake.notify()
  }

  /** Records a peer's bitfield (or, with no argument, re-evaluates whether it counts towards rarity) */
  private updateHave (p: SwarmPeer, have: Uint8Array | undefined = p.have): void {
    if (have !== undefined) p.have = have
    this.picker.count(p)
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
    } else if (p.failures >= C.MAX_PEER_FAILURES && !p.seeder) {
      this.dropPeer(p.id, 'too many failures')
    }
  }

  /** A hash list or chunk that contradicts the root: the peer's fault if it is blameable, else only dropped */
  private contradicted (p: SwarmPeer, reason: string, dropReason: string): void {
    if (p.blameable) this.s.misbehaved(p.id, reason, 'high')
    this.dropPeer(p.id, dropReason)
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
              this.contradicted(p, 'manifest does not match the chunk root', 'bad manifest')
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
            const { have, readvertised } = withoutRefused(p, res.bitfield)
            if (readvertised) this.strike(p, 'advertised again chunks it refused')
            if (p.have !== undefined && Buffer.from(p.have).equals(have)) {
              p.interval = Math.min(p.interval * 1.5, this.s.init.haveInterval * 5)
            } else {
              p.interval = this.s.init.haveInterval
              const full = countBits(have, n) === n
              if (p.have === undefined && !p.seenIncomplete && full) {
                p.seed = true
              } else if (!full && !p.seenIncomplete) {
                p.seenIncomplete = true
                p.seed = false // a peer that was complete and is no longer counts as a leecher from now
              }
              this.updateHave(p, have)
              this.ensureWorkers(p)
              this.wake.notify()
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
      await this.wake.until(this.manifest === undefined ? this.s.init.haveInterval * 2 : complete ? this.s.init.haveInterval * 25 : p.interval, () => this.done)
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

  /** One chunk-request loop on its own stream */
  private async worker (p: SwarmPeer): Promise<void> {
    let ch: Channel | undefined
    while (!this.done && !p.dropped) {
      const index = this.picker.pick(p, this.peers.values(), this.s.init)
      if (index === undefined) {
        await this.wake.changed(this.s.init.haveInterval)
        continue
      }
      this.picker.inflight.add(index)
      p.inflight++
      if (this.s.download.limited && !await this.waitForDownload(index)) {
        this.picker.inflight.delete(index)
        p.inflight--
        break
      }
      p.waitingSince ??= Date.now()
      const deadline = AbortSignal.timeout(this.s.init.chunkTimeout)
      const cut = p.requests.signal
      try {
        ch ??= await this.openChannel(p)
        const res = await ch.request(C.MSG_CHUNK, this.ref.sha256, index, AbortSignal.any([this.signal, cut, deadline]))
        if (res.status === C.STATUS_OK) {
          if (res.index !== index) throw new BlobProtocolError(`answered chunk ${res.index} to a request for ${index}`)
          await this.received(p, index, res.data)
        } else if (res.status === C.STATUS_NOT_HAVE || res.status === C.STATUS_NOT_FOUND) {
          // it advertised the chunk and cannot serve it: the chunk stays refused for this fetch
          if (p.have !== undefined && hasBit(p.have, index)) {
            this.updateHave(p, refuseChunk(p, index, this.picker.chunks))
            this.strike(p, `refused chunk ${index} it advertised`)
          }
        } else if (res.status === C.STATUS_BUSY) {
          await this.wake.changed(this.s.init.haveInterval)
        }
      } catch (err: any) {
        ch?.abort(err)
        ch = undefined
        if ((deadline.aborted || cut.aborted) && !this.signal.aborted) this.strike(p, `held chunk ${index}: ${deadline.aborted ? `no answer in ${this.s.init.chunkTimeout} ms` : (cut.reason as Error).message}`)
        else this.failure(p, err)
      } finally {
        this.picker.inflight.delete(index)
        p.inflight--
      }
      this.wake.notify()
      if (this.partial?.complete === true) await this.maybeFinish()
    }
    ch?.close()
  }

  /** Waits for the download cap to allow chunk `index`; false when the fetch ended meanwhile */
  private async waitForDownload (index: number): Promise<boolean> {
    try {
      await this.s.download.take(chunkLength(this.ref, index), this.signal)
      return true
    } catch {
      return false
    }
  }

  /** A chunk from `p`: verified and written, or its sender blamed (if blameable) and dropped */
  private async received (p: SwarmPeer, index: number, data: Uint8Array): Promise<void> {
    try {
      if (await this.partial!.writeChunk(index, data)) {
        this.picker.written()
        this.s.downloaded(p.id, data.byteLength)
        this.lastUseful = Date.now()
        this.progress()
      }
      p.waitingSince = p.inflight > 1 ? Date.now() : undefined
      if (p.stalling && p.strikes === 0) {
        p.stalling = false
        this.updateHave(p)
      }
    } catch (err) {
      if (!(err instanceof ChunkHashMismatchError)) throw err
      this.contradicted(p, `bad chunk ${index}: ${err.message}`, 'sent a bad chunk')
    }
  }
}
