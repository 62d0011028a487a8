import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { BlobStore, manifestFor, computeRoot, validateRef, refOf } from '../../../src/services/blob/index.ts'
import { tempDir } from '../../helpers/mesh.ts'

const KiB = 1024
const hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('blob manifest', () => {
  it('chunks a blob, binds size, chunk size and hashes into the root, and agrees for a path and bytes', async () => {
    const dir = tempDir()
    try {
      const data = randomBytes(100 * KiB + 7)
      const f = join(dir, 'x')
      writeFileSync(f, data)
      const a = await manifestFor(data, 16 * KiB)
      const b = await manifestFor(f, 16 * KiB)
      assert.equal(a.sha256, hex(data))
      assert.equal(a.chunkHashes.length, 7)
      assert.deepEqual(Buffer.from(a.chunkHashes[6]), createHash('sha256').update(data.subarray(6 * 16 * KiB)).digest())
      assert.deepEqual(b, a)
      assert.equal(a.root, computeRoot(a.size, a.chunkSize, a.chunkHashes))
      // the root changes with any of its inputs
      assert.notEqual(computeRoot(a.size + 1, a.chunkSize, a.chunkHashes), a.root)
      assert.notEqual(computeRoot(a.size, 32 * KiB, a.chunkHashes), a.root)
      assert.notEqual(computeRoot(a.size, a.chunkSize, [...a.chunkHashes].reverse()), a.root)
      assert.notEqual((await manifestFor(data, 32 * KiB)).root, a.root)
    } finally { rmSync(dir, { recursive: true, force: true }) }
  })

  it('rejects references that break the limits', () => {
    const ok = { sha256: 'a'.repeat(64), size: 10, chunkSize: 256 * KiB, root: 'b'.repeat(64) }
    assert.doesNotThrow(() => validateRef(ok, 1e9))
    for (const bad of [{ sha256: 'zz' }, { root: 'A'.repeat(63) }, { size: -1 }, { size: 1.5 }, { size: 2e9 }, { chunkSize: 1000 }, { chunkSize: 4 * 1024 * KiB }, { size: 900_000_000, chunkSize: 16 * KiB }]) {
      assert.throws(() => validateRef({ ...ok, ...bad }, 1e9), { name: 'InvalidBlobRefError' }, JSON.stringify(bad))
    }
  })
})

describe('blob store', () => {
  let dir: string
  beforeEach(() => { dir = tempDir() })
  afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

  it('adds bytes and files at sha256/<ab>/<hex>, idempotently, leaving nothing in tmp', async () => {
    const store = new BlobStore({ directory: dir, chunkSize: 64 * KiB })
    const data = randomBytes(300 * KiB)
    const m = await store.add(data)
    const p = join(dir, 'sha256', m.sha256.slice(0, 2), m.sha256)
    assert.equal(store.path(m.sha256), p)
    assert.deepEqual(readFileSync(p), data)
    const f = join(dir, 'input')
    writeFileSync(f, data)
    assert.deepEqual(await store.add(f), m)
    assert.deepEqual(readdirSync(join(dir, 'tmp')), [])
    // a new store instance reads the stored manifest back
    const again = new BlobStore({ directory: dir, chunkSize: 64 * KiB })
    assert.deepEqual(await again.manifest(m.sha256), m)
    assert.deepEqual(Buffer.from((await again.readChunk(m.sha256, 4))!), data.subarray(4 * 64 * KiB))
    await again.close()
    await store.close()
  })

  it('refuses blobs over the size cap, from bytes and from a file, and leaves nothing behind', async () => {
    const store = new BlobStore({ directory: dir, maxBlobSize: 100 * KiB })
    await assert.rejects(store.add(randomBytes(100 * KiB + 1)), { name: 'BlobTooLargeError' })
    const f = join(dir, 'big')
    writeFileSync(f, randomBytes(200 * KiB))
    await assert.rejects(store.add(f), { name: 'BlobTooLargeError' })
    const m = await manifestFor(randomBytes(200 * KiB), 16 * KiB)
    await assert.rejects(store.openPartial(m), { name: 'BlobTooLargeError' })
    assert.deepEqual(readdirSync(join(dir, 'sha256')), [])
  })

  it('writes only chunks that match their hash, and moves a complete download into place after the whole-file check', async () => {
    const data = randomBytes(5 * 16 * KiB + 100)
    const m = await manifestFor(data, 16 * KiB)
    const store = new BlobStore({ directory: dir })
    const partial = await store.openPartial(m)
    const chunk = (i: number): Buffer => data.subarray(i * 16 * KiB, (i + 1) * 16 * KiB)
    const bad = Buffer.from(chunk(2))
    bad[100] ^= 1
    await assert.rejects(partial.writeChunk(2, bad), { name: 'ChunkHashMismatchError' })
    await assert.rejects(partial.writeChunk(2, chunk(3)), { name: 'ChunkHashMismatchError' })
    await assert.rejects(partial.writeChunk(99, chunk(3)), { name: 'ChunkHashMismatchError' })
    assert.equal(partial.has(2), false)
    assert.equal(await store.readChunk(m.sha256, 2), undefined, 'an unverified chunk is never served')
    for (const i of [5, 0, 3, 1, 2]) assert.equal(await partial.writeChunk(i, chunk(i)), true)
    assert.equal(await partial.writeChunk(1, chunk(1)), false)
    assert.deepEqual(Buffer.from((await store.readChunk(m.sha256, 3))!), chunk(3))
    assert.equal(store.has(m.sha256), false)
    await assert.rejects(partial.finish(), /not complete/)
    await partial.writeChunk(4, chunk(4))
    const path = await partial.finish()
    assert.equal(path, store.blobPath(m.sha256))
    assert.deepEqual(readFileSync(path), data)
    assert.equal(existsSync(join(dir, 'partial', m.sha256)), false)
    assert.equal(existsSync(join(dir, 'partial', `${m.sha256}.state`)), false)
    assert.deepEqual(await new BlobStore({ directory: dir }).manifest(m.sha256), m)
  })

  it('resumes a download after a crash: persisted chunks are kept, and chunks written after the last persist are re-verified from disk', async () => {
    const data = randomBytes(8 * 16 * KiB)
    const m = await manifestFor(data, 16 * KiB)
    const chunk = (i: number): Buffer => data.subarray(i * 16 * KiB, (i + 1) * 16 * KiB)
    const store = new BlobStore({ directory: dir, persistInterval: 60_000 })
    const partial = await store.openPartial(m)
    await partial.writeChunk(0, chunk(0))
    await partial.writeChunk(1, chunk(1))
    await partial.persist()
    await partial.writeChunk(5, chunk(5)) // written, not yet recorded in the bitfield: "crash" now
    // garbage where chunk 6 would be, as a torn write could leave
    const fd = openSync(join(dir, 'partial', m.sha256), 'r+')
    writeSync(fd, randomBytes(1000), 0, 1000, 6 * 16 * KiB)
    closeSync(fd)
    // a second process opens the same directory without the first closing anything
    const store2 = new BlobStore({ directory: dir })
    const resumed = await store2.openPartial(m)
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].filter(i => resumed.has(i)), [0, 1, 5])
    assert.equal(resumed.have, 3)
    assert.deepEqual(await store2.partialManifest(refOf(m)), m)
    for (const i of [2, 3, 4, 6, 7]) await resumed.writeChunk(i, chunk(i))
    assert.deepEqual(readFileSync(await resumed.finish()), data)
    await (partial as any).fh.close() // the "crashed" first process's file handle
  })

  it('never serves a stored chunk whose bytes were corrupted on disk after verification', async () => {
    const store = new BlobStore({ directory: dir, chunkSize: 16 * KiB })
    const data = randomBytes(64 * KiB)
    const m = await store.add(data)
    const fd = openSync(store.blobPath(m.sha256), 'r+')
    writeSync(fd, Buffer.from([data[17 * KiB] ^ 0xff]), 0, 1, 17 * KiB)
    closeSync(fd)
    assert.equal(await store.readChunk(m.sha256, 1), undefined)
    assert.ok(await store.readChunk(m.sha256, 0))
    await store.close()
  })

  it('rejects a manifest whose hashes do not match its root', async () => {
    const m = await manifestFor(randomBytes(40 * KiB), 16 * KiB)
    const store = new BlobStore({ directory: dir })
    await assert.rejects(store.openPartial({ ...m, chunkHashes: [m.chunkHashes[1], m.chunkHashes[0], m.chunkHashes[2]] }), { name: 'ManifestMismatchError' })
  })
})
