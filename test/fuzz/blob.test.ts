/**
 * The blob protocol's decoders and reference checks under fuzzing (fixed seed; SKYLINE_FUZZ_RUNS for a
 * long run): decodeRequest / decodeResponse on arbitrary bytes and mutants of valid frames, validateRef
 * and checkChunking on arbitrary values, manifestMatches and the bitfield helpers on hostile input; and
 * the client side against a malicious server on in-memory streams: peerHave and a swarm fetch whose
 * other provider answers with garbage. Failures are InvalidBlobRefError / BlobProtocolError (or the
 * stream errors of libp2p), never a TypeError or RangeError; a fetch returns the right bytes or fails.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, rmSync } from 'node:fs'
import fc from 'fast-check'
import { lpStream, streamPair } from '@libp2p/utils'
import { defaultLogger } from '@libp2p/logger'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId, StreamHandler } from '@libp2p/interface'
import { blobService, refOf, validateRef, type BlobService, type Manifest } from '../../src/services/blob/index.ts'
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../src/services/blob/wire.ts'
import { checkChunking, chunkCount, computeRoot, manifestMatches, splitHashes } from '../../src/services/blob/manifest.ts'
import { countBits, hasBit, validBitfield } from '../../src/services/blob/bitfield.ts'
import { MAX_CHUNKS, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, MSG_CHUNK, MSG_HAVE, MSG_MANIFEST, STATUS_BUSY } from '../../src/services/blob/constants.ts'
import { tempDir } from '../helpers/mesh.ts'
import { check, checkAsync } from './runs.ts'
import { assertNamed, concat, garbage, mutants, timed, varint } from './mutate.ts'

const SHA = createHash('sha256').update('blob').digest('hex')
/** What a client may see fail: the protocol's own errors and libp2p's stream errors */
const CLIENT_ERRORS = ['BlobProtocolError', 'InvalidBlobRefError', 'InvalidDataLengthError', 'InvalidDataLengthLengthError', 'UnexpectedEOFError', 'StreamResetError', 'StreamAbortedError', 'StreamStateError', 'StreamClosedError', 'AbortError', 'TimeoutError']

const validRequests = [encodeRequest({ type: MSG_MANIFEST, sha256: SHA }), encodeRequest({ type: MSG_HAVE, sha256: SHA }), encodeRequest({ type: MSG_CHUNK, sha256: SHA, index: 7 })]
const validResponses: Array<[number, Uint8Array]> = [
  [MSG_MANIFEST, encodeResponse({ type: MSG_MANIFEST, size: 3 * 16384 + 5, chunkSize: 16384, chunkHashes: randomBytes(4 * 32) })],
  [MSG_HAVE, encodeResponse({ type: MSG_HAVE, bitfield: Uint8Array.of(0b10100000) })],
  [MSG_CHUNK, encodeResponse({ type: MSG_CHUNK, index: 2, data: randomBytes(100) })]
]

function tryDecodeRequest (bytes: Uint8Array): ReturnType<typeof decodeRequest> | undefined {
  try {
    const r = timed('decodeRequest', 2000, () => decodeRequest(bytes))
    assert.ok([MSG_MANIFEST, MSG_HAVE, MSG_CHUNK].includes(r.type))
    assert.match(r.sha256, /^[0-9a-f]{64}$/)
    assert.ok(Number.isInteger(r.index) && r.index >= 0 && (r.type !== MSG_CHUNK || r.index < MAX_CHUNKS))
    return r
  } catch (err) {
    assertNamed(err, ['BlobProtocolError'], 'decodeRequest')
    return undefined
  }
}

function tryDecodeResponse (bytes: Uint8Array, type: number): ReturnType<typeof decodeResponse> | undefined {
  try {
    const r = timed('decodeResponse', 2000, () => decodeResponse(bytes, type))
    assert.equal(r.type, type)
    assert.ok(r.status >= 0 && r.status <= STATUS_BUSY)
    assert.ok(Number.isSafeInteger(r.size) && r.size >= 0)
    assert.ok(r.chunkHashes.byteLength % 32 === 0 && r.chunkHashes.byteLength <= MAX_CHUNKS * 32)
    assert.ok(r.bitfield.byteLength <= MAX_CHUNKS / 8 && r.data.byteLength <= MAX_CHUNK_SIZE)
    return r
  } catch (err) {
    assertNamed(err, ['BlobProtocolError'], 'decodeResponse')
    return undefined
  }
}

/** Arbitrary JavaScript values where a reference's fields go: wrong types, null prototypes, edge numbers */
const anyValue = fc.oneof(
  fc.anything({ withNullPrototype: true, withBigInt: true, withBoxedValues: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true, maxDepth: 2 }),
  fc.constantFrom(0, -1, 1.5, NaN, Infinity, -0, 2 ** 53, 2 ** 31, MIN_CHUNK_SIZE, MAX_CHUNK_SIZE, MAX_CHUNK_SIZE + 1, 'a'.repeat(64), 'A'.repeat(64), ' '.repeat(64), SHA, SHA.toUpperCase(), `${SHA}\n`)
)

describe('fuzz: blob protocol wire format and references', function () {
  this.timeout(120_000)

  it('decodeRequest: arbitrary bytes and mutants of valid requests give a valid request or BlobProtocolError', function () {
    check(fc.property(fc.oneof(garbage, fc.constantFrom(...validRequests).chain(v => mutants(v))), bytes => { tryDecodeRequest(bytes) }), { runs: 2000 })
  })

  it('decodeResponse: arbitrary bytes and mutants of valid responses give a bounded response or BlobProtocolError', function () {
    check(fc.property(fc.oneof(garbage.map(b => [b, MSG_MANIFEST] as const), fc.constantFrom(...validResponses).chain(([t, v]) => mutants(v).map(b => [b, t] as const))), fc.constantFrom(0, MSG_MANIFEST, MSG_HAVE, MSG_CHUNK, 9), ([bytes, t], other) => {
      tryDecodeResponse(bytes, t)
      tryDecodeResponse(bytes, other)
    }), { runs: 2000 })
  })

  it('frames over the limits are refused before decoding', function () {
    assert.throws(() => decodeRequest(new Uint8Array(129)), { name: 'BlobProtocolError' })
    assert.throws(() => decodeResponse(new Uint8Array(MAX_CHUNK_SIZE + 1025), MSG_CHUNK), { name: 'BlobProtocolError' })
  })

  it('encode then decode round-trips every valid request and response', function () {
    check(fc.property(fc.constantFrom(MSG_MANIFEST, MSG_HAVE, MSG_CHUNK), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat(MAX_CHUNKS - 1), (type, h, index) => {
      const sha256 = Buffer.from(h).toString('hex')
      assert.deepEqual(decodeRequest(encodeRequest({ type, sha256, index })), { type, sha256, index })
    }), { runs: 500 })
    check(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.nat(), fc.integer({ min: 0, max: 64 }), (size, chunkSize, n) => {
      const chunkHashes = new Uint8Array(n * 32).fill(9)
      const r = decodeResponse(encodeResponse({ type: MSG_MANIFEST, size, chunkSize, chunkHashes }), MSG_MANIFEST)
      assert.equal(r.size, size)
      assert.equal(r.chunkSize, chunkSize >>> 0)
      assert.equal(r.chunkHashes.byteLength, n * 32)
    }), { runs: 1000 })
  })

  it('validateRef: arbitrary values give a normalised reference or InvalidBlobRefError', function () {
    const ref = fc.oneof(
      anyValue,
      fc.record({ sha256: anyValue, size: anyValue, chunkSize: anyValue, root: anyValue }, { requiredKeys: [] }),
      fc.record({ sha256: fc.constant(SHA), size: anyValue, chunkSize: anyValue, root: fc.constant(SHA) })
    )
    check(fc.property(ref, fc.constantFrom(0, 1000, 2 ** 31, Number.MAX_SAFE_INTEGER), (r, max) => {
      try {
        const v = validateRef(r as any, max)
        assert.match(v.sha256, /^[0-9a-f]{64}$/)
        assert.match(v.root, /^[0-9a-f]{64}$/)
        assert.ok(Number.isSafeInteger(v.size) && v.size >= 0 && v.size <= max)
        assert.ok(Number.isSafeInteger(v.chunkSize) && v.chunkSize >= MIN_CHUNK_SIZE && v.chunkSize <= MAX_CHUNK_SIZE)
        assert.ok(chunkCount(v.size, v.chunkSize) <= MAX_CHUNKS)
        // a checked reference is usable: its root can be computed from any hash list
        computeRoot(v.size, v.chunkSize, [])
      } catch (err) {
        assertNamed(err, ['InvalidBlobRefError'], 'validateRef')
      }
    }), { runs: 2000 })
  })

  it('manifestMatches and checkChunking: what a peer claims never throws anything unnamed', function () {
    const ref = { sha256: SHA, size: 3 * 16384 + 5, chunkSize: 16384, root: '' }
    const hashes = [randomBytes(32), randomBytes(32), randomBytes(32), randomBytes(32)]
    ref.root = computeRoot(ref.size, ref.chunkSize, hashes)
    assert.ok(manifestMatches(ref, ref.size, ref.chunkSize, hashes))
    check(fc.property(garbage, fc.constantFrom(MSG_MANIFEST), (bytes, t) => {
      const r = tryDecodeResponse(bytes, t)
      if (r === undefined) return
      // what decodeResponse lets through is what a fetcher then checks
      assert.equal(manifestMatches(ref, r.size, r.chunkSize, splitHashes(r.chunkHashes)), false)
      try {
        checkChunking(r.size, r.chunkSize, Number.MAX_SAFE_INTEGER)
      } catch (err) {
        assertNamed(err, ['InvalidBlobRefError'], 'checkChunking')
      }
    }), { runs: 1000 })
  })

  it('bitfields from peers: validBitfield and countBits agree with a bit-by-bit count', function () {
    check(fc.property(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 0, max: 330 }), (bf, chunks) => {
      const valid = validBitfield(bf, chunks)
      let n = 0
      for (let i = 0; i < chunks; i++) if (hasBit(bf, i)) n++
      assert.equal(countBits(bf, chunks), n)
      if (valid) {
        assert.equal(bf.byteLength, Math.ceil(chunks / 8))
        for (let i = chunks; i < bf.byteLength * 8; i++) assert.ok(!hasBit(bf, i))
      }
    }), { runs: 1000 })
  })
})

/** A blob service whose streams go to in-memory peers, by peer ID */
async function memoryService (dir: string, peers: Map<string, (stream: any) => void>): Promise<{ service: BlobService, handler: () => StreamHandler, self: PeerId }> {
  let handler: StreamHandler | undefined
  const self = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const service = blobService({ directory: dir, requestTimeout: 1_000, noProvidersTimeout: 4_000, findProvidersInterval: 100_000, haveInterval: 50, provide: false })({
    registrar: { handle: async (_p, h) => { handler = h }, unhandle: async () => {} },
    connectionManager: {
      openStream: async peer => {
        const serve = peers.get(peer.toString())
        if (serve === undefined) throw new Error('no such peer')
        const [client, server] = await streamPair()
        serve(server)
        return client
      }
    },
    contentRouting: { provide: async () => {}, findProviders: async function * () {} } as any,
    peerId: self,
    logger: defaultLogger()
  })
  await service.start()
  return { service, handler: () => handler!, self }
}

/** A malicious server: answers each request with one of a list of frames (garbage, lies, oversized prefixes) */
function evilServer (frames: Uint8Array[], mode: 'answer' | 'reset' | 'half-close'): (stream: any) => void {
  return stream => {
    void (async () => {
      const lp = lpStream(stream, { maxDataLength: 1024 })
      try {
        for (let i = 0; ; i++) {
          await lp.read({ signal: AbortSignal.timeout(1_000) })
          if (mode === 'reset' && i === frames.length) { stream.abort(new Error('evil reset')); return }
          stream.send(frames[i % Math.max(1, frames.length)] ?? new Uint8Array(0))
          if (mode === 'half-close' && i === frames.length) { await stream.close(); return }
        }
      } catch {
        stream.abort(new Error('evil server done'))
      }
    })()
  }
}

const evilFrame = fc.oneof(
  garbage,
  garbage.map(b => concat(varint(b.byteLength), b)),
  fc.constantFrom(...validResponses.map(([, v]) => v)).chain(v => mutants(v)).map(b => concat(varint(b.byteLength), b)),
  fc.constantFrom(varint(2 ** 31), varint(2 ** 53), Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), varint(MAX_CHUNK_SIZE + 2048))
)

describe('fuzz: blob clients against a malicious server (in-memory streams)', function () {
  this.timeout(180_000)
  const dirs: string[] = []
  const peers = new Map<string, (stream: any) => void>()
  let honest: Awaited<ReturnType<typeof memoryService>>
  let fetcher: Awaited<ReturnType<typeof memoryService>>
  let evil: PeerId
  let data: Uint8Array
  let manifest: Manifest

  before(async function () {
    honest = await memoryService(dirs[dirs.push(tempDir()) - 1], peers)
    peers.set(honest.self.toString(), s => { void honest.handler()(s, { remotePeer: fetcher.self } as any) })
    fetcher = await memoryService(dirs[dirs.push(tempDir()) - 1], peers)
    evil = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    data = randomBytes(5 * 16384 + 100)
    manifest = await honest.service.add(data)
  })

  after(async function () {
    await honest?.service.stop()
    await fetcher?.service.stop()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  it('peerHave from a lying server: an answer or a named error, never a crash or a hang', async function () {
    await checkAsync(fc.asyncProperty(fc.array(evilFrame, { maxLength: 3 }), fc.constantFrom('answer', 'reset', 'half-close') as fc.Arbitrary<'answer' | 'reset' | 'half-close'>, async (frames, mode) => {
      peers.set(evil.toString(), evilServer(frames, mode))
      const start = Date.now()
      try {
        // a server that stops mid-frame is waited for until the signal: short here
        const have = await fetcher.service.peerHave(evil, manifest.sha256, { signal: AbortSignal.timeout(300) })
        if (have !== undefined) {
          assert.ok(have.have >= 0 && have.have <= have.chunks && have.chunks <= MAX_CHUNKS)
          assert.equal(have.complete, have.have === have.chunks)
        }
      } catch (err) {
        assertNamed(err, CLIENT_ERRORS, 'peerHave')
      }
      assert.ok(Date.now() - start < 2_000, 'peerHave outlived its signal')
    }), { runs: 60, cost: 50 })
  })

  it('a fetch with a garbage-speaking provider beside an honest one returns exactly the right bytes', async function () {
    let n = 0
    await checkAsync(fc.asyncProperty(fc.array(evilFrame, { minLength: 1, maxLength: 3 }), async frames => {
      peers.set(evil.toString(), evilServer(frames, 'answer'))
      // a fresh blob each time, so nothing is held already
      const blob = randomBytes(3 * 16384 + (n++))
      const m = await honest.service.add(blob)
      const path = await fetcher.service.fetch(refOf(m), { providers: [evil, honest.self], signal: AbortSignal.timeout(20_000) })
      assert.ok(Buffer.from(readFileSync(path)).equals(blob), 'fetched bytes differ')
    }), { runs: 15, cost: 200 })
  })
})
