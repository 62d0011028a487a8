import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TypedEventEmitter, setMaxListeners, type AbortOptions, type Connection, type Counter, type Logger, type PeerId, type Stream } from '@libp2p/interface'
import { lpStream, RateLimiter } from '@libp2p/utils'
import * as C from './constants.ts'
import { BlobStore } from './store.ts'
import { Swarm } from './swarm.ts'
import { Bandwidth } from './bandwidth.ts'
import { cidForSha256 } from './cid.ts'
import { validateRef, joinHashes, splitHashes, computeRoot, isSha256Hex, checkChunking, chunkCount, type BlobRef, type Manifest } from './manifest.ts'
import { countBits, validBitfield } from './bitfield.ts'
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse, type Request } from './wire.ts'
import { BlobProtocolError, InvalidBlobRefError, ServiceStoppedError } from './errors.ts'
import type { AddOptions, BlobCounters, BlobService, BlobServiceComponents, BlobServiceEvents, BlobServiceInit, BlobStats, FetchOptions, PeerHave, Severity } from './types.ts'

/** A counting semaphore with a FIFO queue */
class Slots {
  private free: number
  private readonly queue: Array<() => void> = []
  constructor (n: number) { this.free = n }
  async acquire (signal: AbortSignal): Promise<void> {
    if (this.free > 0) { this.free--; return }
    await new Promise<void>((resolve, reject) => {
      const go = (): void => { signal.removeEventListener('abort', onAbort); resolve() }
      const onAbort = (): void => {
        const i = this.queue.indexOf(go)
        if (i >= 0) this.queue.splice(i, 1)
        reject(signal.reason)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.queue.push(go)
    })
  }

  release (): void {
    const next = this.queue.shift()
    if (next !== undefined) next()
    else this.free++
  }
}

export class BlobServiceImpl extends TypedEventEmitter<BlobServiceEvents> implements BlobService {
  readonly [Symbol.toStringTag] = '@skyline/blob'
  readonly store: BlobStore
  private readonly components: BlobServiceComponents
  private readonly init: Required<Omit<BlobServiceInit, 'directory'>>
  private readonly log: Logger
  private readonly rateLimiter: RateLimiter
  private readonly uploads: Slots
  private readonly upload: Bandwidth
  private readonly download: Bandwidth
  private readonly streamsPerPeer = new Map<string, number>()
  private readonly bans = new Map<string, number>()
  private readonly swarms = new Map<string, Swarm>()
  private readonly fetches = new Map<string, Promise<string>>()
  private readonly counters: { uploaded: number, downloaded: number, badChunks: number, blobs: Map<string, BlobCounters>, peers: Map<string, BlobCounters> }
  private readonly metrics: { upload?: Counter, download?: Counter, badChunks?: Counter, misbehaved?: Counter }
  private started = false
  private shutdown = new AbortController()

  constructor (components: BlobServiceComponents, init: BlobServiceInit = {}) {
    super()
    this.components = components
    this.log = components.logger.forComponent('skyline:blob')
    this.init = {
      maxBlobSize: init.maxBlobSize ?? C.DEFAULT_MAX_BLOB_SIZE,
      chunkSize: init.chunkSize ?? C.DEFAULT_CHUNK_SIZE,
      provide: init.provide ?? true,
      maxInboundStreams: init.maxInboundStreams ?? C.MAX_INBOUND_STREAMS,
      maxOutboundStreams: init.maxOutboundStreams ?? C.MAX_OUTBOUND_STREAMS,
      maxStreamsPerPeer: init.maxStreamsPerPeer ?? C.MAX_STREAMS_PER_PEER,
      maxRequestsPerSecond: init.maxRequestsPerSecond ?? C.MAX_REQUESTS_PER_SECOND,
      maxConcurrentUploads: init.maxConcurrentUploads ?? C.MAX_CONCURRENT_UPLOADS,
      streamIdleTimeout: init.streamIdleTimeout ?? C.STREAM_IDLE_TIMEOUT,
      requestTimeout: init.requestTimeout ?? C.REQUEST_TIMEOUT,
      chunkTimeout: init.chunkTimeout ?? C.CHUNK_TIMEOUT,
      peerSlots: init.peerSlots ?? C.PEER_SLOTS,
      seedSlots: init.seedSlots ?? C.SEED_SLOTS,
      maxInflight: init.maxInflight ?? C.MAX_INFLIGHT,
      haveInterval: init.haveInterval ?? C.HAVE_INTERVAL,
      findProvidersInterval: init.findProvidersInterval ?? C.FIND_PROVIDERS_INTERVAL,
      findProvidersMaxInterval: init.findProvidersMaxInterval ?? C.FIND_PROVIDERS_MAX_INTERVAL,
      swarmMinChunks: init.swarmMinChunks ?? C.SWARM_MIN_CHUNKS,
      banDuration: init.banDuration ?? C.BAN_DURATION,
      noProvidersTimeout: init.noProvidersTimeout ?? C.NO_PROVIDERS_TIMEOUT,
      maxUpload: init.maxUpload ?? 0,
      maxDownload: init.maxDownload ?? 0
    }
    this.store = new BlobStore({
      directory: init.directory ?? join(tmpdir(), 'skyline-blobs', components.peerId.toString()),
      maxBlobSize: this.init.maxBlobSize,
      chunkSize: this.init.chunkSize
    })
    this.rateLimiter = new RateLimiter({ points: this.init.maxRequestsPerSecond, duration: 1 })
    this.uploads = new Slots(this.init.maxConcurrentUploads)
    this.upload = new Bandwidth(this.init.maxUpload)
    this.download = new Bandwidth(this.init.maxDownload)
    this.counters = { uploaded: 0, downloaded: 0, badChunks: 0, blobs: new Map(), peers: new Map() }
    const m = components.metrics
    this.metrics = {
      upload: m?.registerCounter('skyline_blob_upload_bytes_total', { help: 'Bytes of verified chunks sent to peers' }),
      download: m?.registerCounter('skyline_blob_download_bytes_total', { help: 'Bytes of verified chunks received from peers' }),
      badChunks: m?.registerCounter('skyline_blob_bad_chunks_total', { help: 'Chunks received that did not match their hash' }),
      misbehaved: m?.registerCounter('skyline_blob_peer_misbehaved_total', { help: 'Peers penalised by the blob protocol' })
    }
  }

  async start (): Promise<void> {
    if (this.started) return
    this.store.init()
    this.shutdown = new AbortController()
    setMaxListeners(Infinity, this.shutdown.signal)
    await this.components.registrar.handle(C.PROTOCOL, this.handle, {
      maxInboundStreams: this.init.maxInboundStreams,
      maxOutboundStreams: this.init.maxOutboundStreams
    })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.shutdown.abort(new ServiceStoppedError('blob service stopped'))
    await this.components.registrar.unhandle(C.PROTOCOL)
    await Promise.allSettled([...this.fetches.values()])
    await this.store.close()
  }

  isStarted (): boolean {
    return this.started
  }

  has (sha256: string): boolean {
    return this.store.has(sha256)
  }

  path (sha256: string): string | undefined {
    return this.store.path(sha256)
  }

  async manifest (sha256: string): Promise<Manifest | undefined> {
    return this.store.manifest(sha256)
  }

  async add (input: string | Uint8Array, options: AddOptions = {}): Promise<Manifest> {
    const m = await this.store.add(input)
    options.signal?.throwIfAborted()
    if (options.provide !== false) this.provide(m.sha256)
    return m
  }

  /** Announces a blob in the DHT, in the background */
  provide (sha: string): void {
    if (!this.init.provide || !this.started || !isSha256Hex(sha)) return
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(60_000)])
    this.components.contentRouting.provide(cidForSha256(sha), { signal })
      .then(() => this.log('provided %s', sha))
      .catch(err => this.log('could not provide %s - %e', sha, err))
  }

  async fetch (refIn: BlobRef, options: FetchOptions = {}): Promise<string> {
    if (!this.started) throw new ServiceStoppedError('blob service not started')
    const ref = validateRef(refIn, this.init.maxBlobSize)
    // a blob held is verified by its sha256 already, whatever chunking the reference names
    const held = this.store.path(ref.sha256)
    if (held !== undefined) return held
    if (options.seeder !== undefined && (options.seederAddrs?.length ?? 0) > 0) {
      await this.components.peerStore?.merge(options.seeder, { multiaddrs: options.seederAddrs })
    }
    const running = this.fetches.get(ref.sha256)
    if (running !== undefined) {
      this.swarms.get(ref.sha256)?.addPeers(options.providers ?? [], options.seeder, options.fallback)
      return running
    }
    const signers = options.rootSignedBy === undefined ? undefined : new Set(options.rootSignedBy.map(String))
    const swarm = new Swarm({
      ref,
      download: this.download,
      store: this.store,
      self: this.components.peerId,
      log: this.components.logger.forComponent(`skyline:blob:fetch:${ref.sha256.slice(0, 8)}`),
      init: this.init,
      signal: AbortSignal.any([this.shutdown.signal, ...(options.signal != null ? [options.signal] : [])]),
      onProgress: options.onProgress,
      openStream: async (peer, signal) => this.components.connectionManager.openStream(peer, C.PROTOCOL, { signal, maxOutboundStreams: this.init.maxOutboundStreams }),
      findProviders: signal => this.components.contentRouting.findProviders(cidForSha256(ref.sha256), { signal }),
      provide: () => { this.provide(ref.sha256) },
      isBanned: peer => this.isBanned(peer),
      blameable: peer => signers === undefined || signers.has(peer.toString()),
      misbehaved: (peer, reason, severity) => { this.misbehaved(peer, reason, severity, ref.sha256) },
      downloaded: (peer, bytes) => { this.count(ref.sha256, peer, 'downloaded', bytes) }
    })
    this.swarms.set(ref.sha256, swarm)
    swarm.addPeers(options.providers ?? [], options.seeder, options.fallback)
    const p = swarm.run().finally(() => {
      this.swarms.delete(ref.sha256)
      this.fetches.delete(ref.sha256)
    })
    this.fetches.set(ref.sha256, p)
    return p
  }

  async peerHave (peer: PeerId, sha256: string, options: AbortOptions = {}): Promise<PeerHave | undefined> {
    if (!isSha256Hex(sha256)) throw new InvalidBlobRefError('sha256 must be 64 lowercase hex characters')
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.init.requestTimeout), ...(options.signal != null ? [options.signal] : [])])
    const stream = await this.components.connectionManager.openStream(peer, C.PROTOCOL, { signal, maxOutboundStreams: this.init.maxOutboundStreams })
    try {
      const lp = lpStream(stream, { maxDataLength: C.MAX_RESPONSE_BYTES })
      let chunks = (await this.store.manifest(sha256))?.chunkHashes.length
      if (chunks === undefined) {
        await lp.write(encodeRequest({ type: C.MSG_MANIFEST, sha256 }), { signal })
        const m = decodeResponse(await lp.read({ signal }), C.MSG_MANIFEST)
        if (m.status !== C.STATUS_OK) { await stream.close({ signal }); return undefined }
        checkChunking(m.size, m.chunkSize, Number.MAX_SAFE_INTEGER)
        chunks = chunkCount(m.size, m.chunkSize)
      }
      await lp.write(encodeRequest({ type: C.MSG_HAVE, sha256 }), { signal })
      const res = decodeResponse(await lp.read({ signal }), C.MSG_HAVE)
      await stream.close({ signal })
      if (res.status !== C.STATUS_OK) return undefined
      if (!validBitfield(res.bitfield, chunks)) throw new BlobProtocolError('bitfield of the wrong length')
      const have = countBits(res.bitfield, chunks)
      return { have, chunks, complete: have === chunks, bitfield: res.bitfield }
    } catch (err: any) {
      stream.abort(err)
      throw err
    }
  }

  async peerManifest (peer: PeerId, sha256: string, options: AbortOptions = {}): Promise<Manifest | undefined> {
    if (!isSha256Hex(sha256)) throw new InvalidBlobRefError('sha256 must be 64 lowercase hex characters')
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.init.requestTimeout), ...(options.signal != null ? [options.signal] : [])])
    const stream = await this.components.connectionManager.openStream(peer, C.PROTOCOL, { signal, maxOutboundStreams: this.init.maxOutboundStreams })
    try {
      const lp = lpStream(stream, { maxDataLength: C.MAX_RESPONSE_BYTES })
      await lp.write(encodeRequest({ type: C.MSG_MANIFEST, sha256 }), { signal })
      const m = decodeResponse(await lp.read({ signal }), C.MSG_MANIFEST)
      await stream.close({ signal })
      if (m.status !== C.STATUS_OK) return undefined
      checkChunking(m.size, m.chunkSize, this.init.maxBlobSize)
      if (m.chunkHashes.byteLength !== chunkCount(m.size, m.chunkSize) * 32) throw new BlobProtocolError('hash list of the wrong length')
      const chunkHashes = splitHashes(m.chunkHashes).map(h => new Uint8Array(h))
      return { sha256, size: m.size, chunkSize: m.chunkSize, root: computeRoot(m.size, m.chunkSize, chunkHashes), chunkHashes }
    } catch (err: any) {
      stream.abort(err)
      throw err
    }
  }

  isBanned (peer: PeerId): boolean {
    const key = peer.toString()
    const until = this.bans.get(key)
    if (until === undefined) return false
    if (until < Date.now()) {
      this.bans.delete(key)
      return false
    }
    return true
  }

  private misbehaved (peer: PeerId, reason: string, severity: Severity, sha256?: string): void {
    this.log.error('peer %p misbehaved (%s): %s', peer, severity, reason)
    if (reason.startsWith('bad chunk')) {
      this.counters.badChunks++
      this.metrics.badChunks?.increment()
    }
    this.metrics.misbehaved?.increment()
    if (severity === 'fatal' || severity === 'high') {
      this.bans.set(peer.toString(), Date.now() + this.init.banDuration)
      if (this.bans.size > 10_000) this.bans.delete(this.bans.keys().next().value!)
      for (const s of this.swarms.values()) s.dropPeer(peer, reason)
    }
    this.safeDispatchEvent('peer:misbehaved', { detail: { peer, reason, severity, sha256 } })
  }

  private count (sha: string, peer: PeerId, dir: 'uploaded' | 'downloaded', bytes: number): void {
    this.counters[dir] += bytes
    const b = this.counters.blobs.get(sha) ?? { uploaded: 0, downloaded: 0 }
    b[dir] += bytes
    this.counters.blobs.set(sha, b)
    const key = peer.toString()
    const p = this.counters.peers.get(key) ?? { uploaded: 0, downloaded: 0 }
    p[dir] += bytes
    this.counters.peers.set(key, p)
    if (this.counters.peers.size > 10_000) this.counters.peers.delete(this.counters.peers.keys().next().value!)
    if (dir === 'uploaded') this.metrics.upload?.increment(bytes)
    else this.metrics.download?.increment(bytes)
  }

  pause (): void {
    if (this.paused) return
    this.upload.pause()
    this.download.pause()
    this.log('blob transfer paused')
    this.safeDispatchEvent('transfer', { detail: { paused: true } })
  }

  resume (): void {
    if (!this.paused) return
    this.upload.resume()
    this.download.resume()
    this.log('blob transfer resumed')
    this.safeDispatchEvent('transfer', { detail: { paused: false } })
  }

  get paused (): boolean {
    return this.upload.isPaused
  }

  stats (): BlobStats {
    return {
      uploaded: this.counters.uploaded,
      downloaded: this.counters.downloaded,
      badChunks: this.counters.badChunks,
      blobs: Object.fromEntries([...this.counters.blobs].map(([k, v]) => [k, { ...v }])),
      peers: Object.fromEntries([...this.counters.peers].map(([k, v]) => [k, { ...v }]))
    }
  }

  /** Serves one inbound stream: a sequence of requests, each answered in order */
  private readonly handle = async (stream: Stream, connection: Connection): Promise<void> => {
    const peer = connection.remotePeer
    const key = peer.toString()
    if (this.isBanned(peer)) {
      stream.abort(new Error('peer is banned'))
      return
    }
    const open = (this.streamsPerPeer.get(key) ?? 0) + 1
    if (open > this.init.maxStreamsPerPeer) {
      stream.abort(new Error('too many blob streams from this peer'))
      return
    }
    this.streamsPerPeer.set(key, open)
    const lp = lpStream(stream, { maxDataLength: C.MAX_REQUEST_BYTES, maxBufferSize: 64 * 1024 })
    try {
      while (this.started) {
        let buf
        try {
          const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.init.streamIdleTimeout)])
          buf = await lp.read({ signal })
        } catch (err: any) {
          if (err?.name === 'UnexpectedEOFError' && stream.readBufferLength === 0) break // the client is done
          throw err
        }
        this.rateLimiter.consume(key)
        const req = decodeRequest(buf)
        this.swarms.get(req.sha256)?.addPeers([peer]) // a peer asking for a blob we fetch is fetching it too
        const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.init.requestTimeout)])
        const res = await this.answer(req, peer, signal)
        await lp.write(res, { signal })
      }
      await stream.close({ signal: AbortSignal.timeout(5_000) })
    } catch (err: any) {
      this.log('blob stream from %p failed - %e', peer, err)
      stream.abort(err)
    } finally {
      const n = (this.streamsPerPeer.get(key) ?? 1) - 1
      if (n <= 0) this.streamsPerPeer.delete(key)
      else this.streamsPerPeer.set(key, n)
    }
  }

  private async answer (req: Request, peer: PeerId, signal: AbortSignal): Promise<Uint8Array> {
    if (req.type === C.MSG_MANIFEST) {
      const m = await this.store.manifest(req.sha256)
      if (m === undefined) return encodeResponse({ type: req.type, status: C.STATUS_NOT_FOUND })
      return encodeResponse({ type: req.type, size: m.size, chunkSize: m.chunkSize, chunkHashes: joinHashes(m.chunkHashes) })
    }
    if (req.type === C.MSG_HAVE) {
      const have = await this.store.bitfield(req.sha256)
      if (have === undefined) return encodeResponse({ type: req.type, status: C.STATUS_NOT_FOUND })
      return encodeResponse({ type: req.type, bitfield: have.bitfield })
    }
    await this.uploads.acquire(signal)
    try {
      const data = await this.store.readChunk(req.sha256, req.index)
      if (data !== undefined && !this.upload.tryTake(data.byteLength)) return encodeResponse({ type: req.type, index: req.index, status: C.STATUS_BUSY })
      if (data === undefined) {
        const known = this.store.openedPartial(req.sha256) !== undefined || this.store.has(req.sha256)
        return encodeResponse({ type: req.type, index: req.index, status: known ? C.STATUS_NOT_HAVE : C.STATUS_NOT_FOUND })
      }
      this.count(req.sha256, peer, 'uploaded', data.byteLength)
      return encodeResponse({ type: req.type, index: req.index, data })
    } finally {
      this.uploads.release()
    }
  }
}
