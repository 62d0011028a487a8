import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import fc from 'fast-check'
import { streamPair, lpStream } from '@libp2p/utils'
import { defaultLogger } from '@libp2p/logger'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { StreamHandler } from '@libp2p/interface'
import { blobService, type BlobService } from '../../../src/services/blob/index.ts'
import { decodeRequest, decodeResponse, encodeRequest } from '../../../src/services/blob/wire.ts'
import { MSG_CHUNK, MSG_HAVE, MSG_MANIFEST, STATUS_NOT_FOUND, STATUS_OK } from '../../../src/services/blob/constants.ts'
import { tempDir } from '../../helpers/mesh.ts'

const SEED = 20261122

/** unsigned LEB128, the length prefix of every frame */
function varint (n: number): Uint8Array {
  const out: number[] = []
  do { out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0)); n >>>= 7 } while (n > 0)
  return Uint8Array.from(out)
}

function isProtocolError (err: unknown): boolean {
  return err instanceof Error && err.name === 'BlobProtocolError'
}

describe('blob wire decoders (fuzzed)', () => {
  it('decodeRequest: arbitrary bytes give a valid request or BlobProtocolError, never anything else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), bytes => {
      try {
        const r = decodeRequest(bytes)
        assert.ok([MSG_MANIFEST, MSG_HAVE, MSG_CHUNK].includes(r.type))
        assert.match(r.sha256, /^[0-9a-f]{64}$/)
      } catch (err) {
        assert.ok(isProtocolError(err), String(err))
      }
    }), { seed: SEED, numRuns: 5000 })
  })

  it('decodeResponse: arbitrary bytes give a bounded response or BlobProtocolError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), fc.constantFrom(MSG_MANIFEST, MSG_HAVE, MSG_CHUNK), (bytes, type) => {
      try {
        const r = decodeResponse(bytes, type)
        assert.equal(r.type, type)
        assert.equal(r.chunkHashes.byteLength % 32, 0)
      } catch (err) {
        assert.ok(isProtocolError(err), String(err))
      }
    }), { seed: SEED, numRuns: 5000 })
  })

  it('valid requests round-trip', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom(MSG_MANIFEST, MSG_HAVE, MSG_CHUNK), fc.nat(16383), (h, type, index) => {
      const sha256 = Buffer.from(h).toString('hex')
      assert.deepEqual(decodeRequest(encodeRequest({ type, sha256, index })), { type, sha256, index: index })
    }), { seed: SEED })
  })
})

describe('blob server on in-memory streams', () => {
  let dir: string
  let service: BlobService
  let handler: StreamHandler
  let connection: any

  before(async () => {
    dir = tempDir()
    connection = { remotePeer: peerIdFromPrivateKey(await generateKeyPair('Ed25519')) }
    service = blobService({ directory: dir, streamIdleTimeout: 2_000 })({
      registrar: { handle: async (_p, h) => { handler = h }, unhandle: async () => {} },
      connectionManager: { openStream: async () => { throw new Error('unused') } },
      contentRouting: { provide: async () => {}, findProviders: async function * () {}, cancelReprovide: async () => {}, put: async () => {}, get: async () => new Uint8Array() } as any,
      peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')),
      logger: defaultLogger()
    })
    await service.start()
    await service.start() // twice is safe
  })
  after(async () => {
    await service.stop()
    await service.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('answers MANIFEST, HAVE and CHUNK, several on one stream', async () => {
    const data = randomBytes(300 * 1024)
    const m = await service.add(data)
    const [client, server] = await streamPair()
    const served = handler(server, connection)
    const lp = lpStream(client, { maxDataLength: 2 * 1024 * 1024 })
    await lp.write(encodeRequest({ type: MSG_MANIFEST, sha256: m.sha256 }))
    const man = decodeResponse(await lp.read(), MSG_MANIFEST)
    assert.equal(man.status, STATUS_OK)
    assert.equal(man.size, data.byteLength)
    await lp.write(encodeRequest({ type: MSG_HAVE, sha256: m.sha256 }))
    assert.deepEqual([...decodeResponse(await lp.read(), MSG_HAVE).bitfield], [0b11000000])
    await lp.write(encodeRequest({ type: MSG_CHUNK, sha256: m.sha256, index: 1 }))
    const c = decodeResponse(await lp.read(), MSG_CHUNK)
    assert.deepEqual(Buffer.from(c.data), data.subarray(256 * 1024))
    await lp.write(encodeRequest({ type: MSG_HAVE, sha256: 'ab'.repeat(32) }))
    assert.equal(decodeResponse(await lp.read(), MSG_HAVE).status, STATUS_NOT_FOUND)
    await client.close()
    await served
  })

  it('malformed frames (fuzzed) end the stream with an error, never a crash or a hang', async function () {
    this.timeout(60_000)
    await fc.assert(fc.asyncProperty(
      fc.array(fc.oneof(
        fc.uint8Array({ maxLength: 200 }), // raw bytes: bad varints, lengths over the maximum, truncation
        fc.uint8Array({ maxLength: 120 }).map(b => Buffer.concat([varint(b.byteLength), b])) // well-framed garbage
      ), { maxLength: 4 }),
      async frames => {
        const [client, server] = await streamPair()
        const served = handler(server, connection)
        for (const f of frames) client.send(f)
        await client.close().catch(() => {})
        await served // the handler resolves (it aborts the stream itself on error)
        assert.notEqual(server.status, 'open')
      }), { seed: SEED, numRuns: 150 })
  })
})

describe('blob fetch with no provider', () => {
  it('fails with NoProvidersError after noProvidersTimeout, and a bad reference is refused at once', async () => {
    const dir = tempDir()
    const service = blobService({ directory: dir, noProvidersTimeout: 1_500, findProvidersInterval: 200 })({
      registrar: { handle: async () => {}, unhandle: async () => {} },
      connectionManager: { openStream: async () => { throw new Error('unreachable') } },
      contentRouting: { provide: async () => {}, findProviders: async function * () {} } as any,
      peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')),
      logger: defaultLogger()
    })
    await service.start()
    try {
      const ref = { sha256: 'cd'.repeat(32), size: 1000, chunkSize: 256 * 1024, root: 'ef'.repeat(32) }
      await assert.rejects(service.fetch({ ...ref, size: -1 }), { name: 'InvalidBlobRefError' })
      const t0 = Date.now()
      await assert.rejects(service.fetch(ref), { name: 'NoProvidersError' })
      assert.ok(Date.now() - t0 >= 1_400)
      await assert.rejects(service.fetch(ref, { signal: AbortSignal.timeout(100) }), { name: 'TimeoutError' })
    } finally {
      await service.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
