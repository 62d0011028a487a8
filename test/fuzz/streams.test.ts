/**
 * Every stream protocol of a live node under fuzzing (fixed seed; SKYLINE_FUZZ_RUNS for a long run): a
 * second node opens `/skyline/blob/1.0.0`, `/skyline/sync/1.0.0`, the builder protocol and (lightly)
 * `/skyline/kad/1.0.0`, and sends scripted garbage: random bytes, well-framed garbage, mutants of valid
 * frames, length prefixes up to 2^63, partial frames, half-closed and reset streams, pauses. Nothing
 * throws out of the node (no uncaught exception or unhandled rejection), and after every few cases
 * the node still answers: status(), GET /status within a second, and a valid exchange on the protocol
 * under test (a blob manifest and chunk, a sync that brings a control message, the builder's JSON line,
 * a Kademlia FIND_NODE).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import fc from 'fast-check'
import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { BUILDER_PROTOCOL } from '../../src/services/candidates.ts'
import { SYNC_PROTOCOL } from '../../src/services/sync.ts'
import { DHT_PROTOCOL } from '../../src/node/constants.ts'
import { PROTOCOL as BLOB_PROTOCOL } from '../../src/services/blob/index.ts'
import { decodeResponse, encodeRequest } from '../../src/services/blob/wire.ts'
import { MSG_CHUNK, MSG_HAVE, MSG_MANIFEST, STATUS_OK } from '../../src/services/blob/constants.ts'
import { SyncRequest, SyncWant } from '../../src/protocols/pb/sync.ts'
import { createControl } from '../../src/protocols/control.ts'
import type { Builder } from '../../src/builder/index.ts'
import type { SkylineNode } from '../../src/node/index.ts'
import { startNode } from '../helpers/mesh.ts'
import { testAnnouncer } from '../helpers/announce.ts'
import { checkAsync, STRESS } from './runs.ts'
import { concat, garbage, mutants, paddedVarint, varint } from './mutate.ts'

/** A builder that never builds: the node only has to advertise and answer the builder protocol */
const idleBuilder = {
  kind: 'rpmbuild',
  limits: { maxConcurrentBuilds: 1, maxBuildTimeMs: 1000, maxDiskBytes: 1, maxOutputBytes: 1, maxLogBytes: 1 },
  build: async () => { throw new Error('the fuzz node does not build') }
} as unknown as Builder

type Action =
  | { op: 'send', bytes: Uint8Array }
  | { op: 'frame', bytes: Uint8Array }
  | { op: 'valid', n: number }
  | { op: 'mutant', n: number, seed: number }
  | { op: 'prefix', bytes: Uint8Array }
  | { op: 'half-close' }
  | { op: 'pause', ms: number }

/** Scripts for a stream: what to send, then how to leave */
function script (valid: Uint8Array[]): fc.Arbitrary<{ actions: Action[], ending: 'close' | 'abort' | 'linger' }> {
  const action: fc.Arbitrary<Action> = fc.oneof(
    fc.record({ op: fc.constant('send' as const), bytes: garbage }),
    fc.record({ op: fc.constant('frame' as const), bytes: garbage }),
    fc.record({ op: fc.constant('valid' as const), n: fc.nat(valid.length - 1) }),
    fc.record({ op: fc.constant('mutant' as const), n: fc.nat(valid.length - 1), seed: fc.nat() }),
    fc.record({
      op: fc.constant('prefix' as const),
      bytes: fc.oneof(
        fc.constantFrom(2 ** 16, 2 ** 20, 2 ** 31, 2 ** 32, 2 ** 53).map(n => varint(n)),
        fc.constantFrom(varint(2n ** 63n), Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), paddedVarint(5, 9), Uint8Array.of(0x80))
      )
    }),
    fc.record({ op: fc.constant('half-close' as const) }),
    fc.record({ op: fc.constant('pause' as const), ms: fc.integer({ min: 0, max: 30 }) })
  )
  return fc.record({ actions: fc.array(action, { minLength: 1, maxLength: 6 }), ending: fc.constantFrom('close', 'abort', 'linger') as fc.Arbitrary<'close' | 'abort' | 'linger'> })
}

const lp = (b: Uint8Array): Uint8Array => concat(varint(b.length), b)

describe('fuzz: stream protocols of a live node (blob, sync, builder, kad)', function () {
  this.timeout(STRESS ? 0 : 180_000)
  const announcer = testAnnouncer()
  let server: SkylineNode
  let client: SkylineNode
  let addr: Multiaddr
  let blob: { sha256: string, chunks: number, data: Uint8Array }
  const problems: string[] = []
  const onRejection = (err: any): void => { problems.push(`unhandled rejection: ${err?.name}: ${err?.message}\n${err?.stack}`) }
  const onException = (err: any): void => { problems.push(`uncaught exception: ${err?.name}: ${err?.message}\n${err?.stack}`) }

  before(async function () {
    process.on('unhandledRejection', onRejection)
    process.on('uncaughtException', onException)
    server = await startNode({ builder: 'rpmbuild', http: '127.0.0.1:0', announcers: [announcer.line] }, { builder: idleBuilder })
    client = await startNode({ builder: 'none', announcers: [announcer.line] })
    addr = server.libp2p.getMultiaddrs()[0]
    const data = randomBytes(600 * 1024)
    const m = await server.libp2p.services.blobs.add(data)
    blob = { sha256: m.sha256, chunks: m.chunkHashes.length, data }
    // something for sync to carry
    await server.control(createControl({ action: 'resume', reason: 'fuzz', now: Date.now() - 1000 }, announcer.key)).catch(() => {})
  })

  after(async function () {
    process.off('unhandledRejection', onRejection)
    process.off('uncaughtException', onException)
    for (const n of [client, server]) {
      if (n === undefined) continue
      await n.stop().catch(() => {})
      rmSync(n.config.dataDir, { recursive: true, force: true })
    }
  })

  /** Plays one script on a new stream: the bytes the node sent back, whether it ended the stream itself */
  async function play (protocol: string, valid: Uint8Array[], s: { actions: Action[], ending: 'close' | 'abort' | 'linger' }): Promise<{ received: number, endedByNode: boolean }> {
    const stream: Stream = await client.libp2p.dialProtocol(addr, protocol, { signal: AbortSignal.timeout(5_000) })
    let received = 0
    let ended = false
    let endedByNode = false
    stream.addEventListener('message', e => { received += e.data.byteLength })
    stream.addEventListener('close', () => { ended = true })
    stream.addEventListener('remoteCloseWrite', () => { endedByNode = true })
    try {
      for (const a of s.actions) {
        if (ended || stream.writeStatus !== 'writable') break
        switch (a.op) {
          case 'send': stream.send(a.bytes); break
          case 'frame': stream.send(lp(a.bytes)); break
          case 'valid': stream.send(lp(valid[a.n])); break
          case 'mutant': stream.send(lp(fc.sample(mutants(valid[a.n]), { seed: a.seed, numRuns: 1 })[0])); break
          case 'prefix': stream.send(a.bytes); break
          case 'half-close': await stream.close({ signal: AbortSignal.timeout(500) }).catch(() => {}); break
          case 'pause': await new Promise(resolve => setTimeout(resolve, a.ms)); break
        }
      }
      if (s.ending === 'close' && !ended) await stream.close({ signal: AbortSignal.timeout(500) }).catch(() => {})
      if (s.ending === 'abort') stream.abort(new Error('fuzz: abort'))
      // give the node a moment to answer or hang up
      const deadline = Date.now() + 80
      while (!ended && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 10))
      if (ended && s.ending !== 'abort') endedByNode = true
    } catch {
      // a write to a stream the node has already reset: that is the node refusing, as it should
    } finally {
      if (!ended) stream.abort(new Error('fuzz: case over'))
    }
    return { received, endedByNode }
  }

  /** Plays scripts on a protocol; the node must both answer some and hang up on some (it reads what it gets) */
  async function fuzzProtocol (protocol: string, valid: Uint8Array[], runs: number, every: number, healthy: () => Promise<void>): Promise<void> {
    let i = 0
    let answered = 0
    let hungUp = 0
    await checkAsync(fc.asyncProperty(script(valid), async s => {
      const r = await play(protocol, valid, s)
      if (r.received > 0) answered++
      if (r.endedByNode) hungUp++
      if (++i % every === 0) await healthy()
    }), { runs, cost: 40 })
    if (process.env.DEBUG_FUZZ !== undefined) process.stderr.write(`${protocol}: ${i} cases, answered ${answered}, hung up ${hungUp}\n`)
    assert.ok(answered > 0, `${protocol}: the node never answered`)
    assert.ok(hungUp > 0, `${protocol}: the node never ended a stream`)
    await healthy()
  }

  /** The node is up: status(), HTTP within a second, nothing thrown out of it */
  async function assertHealthy (): Promise<void> {
    assert.deepEqual(problems, [], 'the node threw out of a handler')
    assert.equal(server.status().peerId, server.peerId)
    const t0 = Date.now()
    const res = await fetch(`${server.httpUrl}/status`, { signal: AbortSignal.timeout(1_000) })
    assert.equal(res.status, 200)
    assert.equal(((await res.json()) as { peerId: string }).peerId, server.peerId)
    assert.ok(Date.now() - t0 < 1_000)
  }

  async function blobStillServes (): Promise<void> {
    const stream = await client.libp2p.dialProtocol(addr, BLOB_PROTOCOL, { signal: AbortSignal.timeout(5_000) })
    const l = lpStream(stream, { maxDataLength: 2 * 1024 * 1024 })
    const signal = AbortSignal.timeout(5_000)
    await l.write(encodeRequest({ type: MSG_MANIFEST, sha256: blob.sha256 }), { signal })
    const m = decodeResponse(await l.read({ signal }), MSG_MANIFEST)
    assert.equal(m.status, STATUS_OK)
    assert.equal(m.size, blob.data.byteLength)
    await l.write(encodeRequest({ type: MSG_CHUNK, sha256: blob.sha256, index: 1 }), { signal })
    const c = decodeResponse(await l.read({ signal }), MSG_CHUNK)
    assert.ok(Buffer.from(c.data).equals(Buffer.from(blob.data.subarray(m.chunkSize, 2 * m.chunkSize))))
    await stream.close({ signal })
  }

  it('/skyline/blob/1.0.0: garbage never crashes the server; it serves a blob afterwards', async function () {
    const valid = [
      encodeRequest({ type: MSG_MANIFEST, sha256: 'ab'.repeat(32) }),
      encodeRequest({ type: MSG_HAVE, sha256: 'cd'.repeat(32) }),
      encodeRequest({ type: MSG_CHUNK, sha256: 'ef'.repeat(32), index: 0 }),
      encodeRequest({ type: MSG_CHUNK, sha256: 'ef'.repeat(32), index: 16383 })
    ]
    await blobStillServes()
    await fuzzProtocol(BLOB_PROTOCOL, valid, 100, 25, async () => { await assertHealthy(); await blobStillServes() })
    // the real blob as well: a whole fetch by a third node works
    const third = await startNode({ builder: 'none' })
    try {
      await third.libp2p.dial(addr)
      const m = (await server.libp2p.services.blobs.manifest(blob.sha256))!
      const path = await third.libp2p.services.blobs.fetch({ sha256: m.sha256, size: m.size, chunkSize: m.chunkSize, root: m.root }, { providers: [server.libp2p.peerId], signal: AbortSignal.timeout(30_000) })
      assert.ok(path.length > 0)
    } finally {
      await third.stop()
      rmSync(third.config.dataDir, { recursive: true, force: true })
    }
  })

  it('/skyline/sync/1.0.0: garbage requests never crash the server; a sync works afterwards', async function () {
    const valid = [SyncRequest.encode({ since: 0n }), SyncRequest.encode({ since: 0n, ids: true }), SyncWant.encode({ want: Uint8Array.of(0xff, 0x01) }), SyncRequest.encode({ since: BigInt(Date.now()) }), SyncRequest.encode({ since: 2n ** 64n - 1n }), new Uint8Array(0)]
    await fuzzProtocol(SYNC_PROTOCOL, valid, 60, 20, assertHealthy)
    const before = client.store.latestControl()
    const n = await client.sync.syncFrom(server.libp2p.peerId)
    assert.ok(n >= 0)
    assert.ok(before !== undefined || client.store.latestControl() !== undefined, 'the sync did not bring the control message')
  })

  it('the builder protocol: garbage never crashes the node; it still answers its JSON line', async function () {
    const answer = async (): Promise<void> => {
      const stream = await client.libp2p.dialProtocol(addr, BUILDER_PROTOCOL, { signal: AbortSignal.timeout(5_000) })
      const chunks: Uint8Array[] = []
      stream.addEventListener('message', e => { chunks.push(e.data.subarray()) })
      // (the stream's async iterator can miss a remote close that comes with the data; poll instead)
      const deadline = Date.now() + 5_000
      while (!Buffer.concat(chunks).includes(0x0a) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 10))
      stream.abort(new Error('done'))
      const line = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      assert.equal(line.builder, 'rpmbuild')
    }
    await answer()
    const valid = [new TextEncoder().encode('{"builder":"rpmbuild"}\n'), new Uint8Array(0)]
    await fuzzProtocol(BUILDER_PROTOCOL, valid, 30, 10, assertHealthy)
    await answer()
  })

  it('/skyline/kad/1.0.0 (lightly): garbage never crashes the node; FIND_NODE still answers', async function () {
    // Message { type = FIND_NODE (4), key = the client's peer ID }
    const findNode = concat(Uint8Array.of(0x08, 0x04), Uint8Array.of(0x12), varint(client.libp2p.peerId.toMultihash().bytes.length), client.libp2p.peerId.toMultihash().bytes)
    const answer = async (): Promise<void> => {
      const stream = await client.libp2p.dialProtocol(addr, DHT_PROTOCOL, { signal: AbortSignal.timeout(5_000) })
      const l = lpStream(stream)
      await l.write(findNode, { signal: AbortSignal.timeout(5_000) })
      const res = await l.read({ signal: AbortSignal.timeout(5_000) })
      assert.ok(res.byteLength > 0)
      await stream.close()
    }
    await answer()
    const valid = [findNode, Uint8Array.of(0x08, 0x05), Uint8Array.of(0x08, 0x00, 0x12, 0x01, 0x00), Uint8Array.of(0x08, 0x01, 0x12, 0x00)]
    await fuzzProtocol(DHT_PROTOCOL, valid, 30, 10, assertHealthy)
    await answer()
  })

  it('many streams at once and a flood of frames: the node stays within its limits and answers', async function () {
    const valid = [encodeRequest({ type: MSG_HAVE, sha256: blob.sha256 })]
    // more streams than maxStreamsPerPeer (16) and maxInboundStreams (32), each pushing frames
    await Promise.all(Array.from({ length: 40 }, async () => {
      await play(BLOB_PROTOCOL, valid, { actions: Array.from({ length: 6 }, () => ({ op: 'valid', n: 0 }) as Action), ending: 'linger' }).catch(() => {})
    }))
    await Promise.all(Array.from({ length: 8 }, async () => {
      await play(SYNC_PROTOCOL, [SyncRequest.encode({ since: 0n })], { actions: [{ op: 'valid', n: 0 }], ending: 'linger' }).catch(() => {})
    }))
    await assertHealthy()
    await blobStillServes()
  })
})
