/**
 * A content-addressed blob store on disk.
 *
 *   <dir>/sha256/<ab>/<hex>            complete, verified blobs (read-only once in place)
 *   <dir>/sha256/<ab>/<hex>.manifest   their chunk hash lists (a BlobResponse frame: size, chunkSize, hashes)
 *   <dir>/partial/<hex>                a download in progress, written chunk by chunk at its offset
 *   <dir>/partial/<hex>.state          its manifest and the bitfield of chunks verified and made durable
 *   <dir>/tmp/                         files being added, renamed into place when complete
 *
 * Everything enters the store verified: added files are hashed while copied; downloaded chunks are checked
 * against the manifest before they are written; a completed download is hashed as a whole before the atomic
 * rename. Chunks are checked again when read for serving, so disk corruption is never passed on.
 */
import { createReadStream, existsSync, mkdirSync, statSync } from 'node:fs'
import { open, rename, rm, readFile, stat, type FileHandle } from 'node:fs/promises'
import { createHash, randomBytes } from 'node:crypto'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import '../../protocols/pb/protons-fix.ts' // uint64 sizes of 2 to 4 GiB encode correctly
import { BlobResponse } from '../../protocols/pb/blob.ts'
import { DEFAULT_CHUNK_SIZE, DEFAULT_MAX_BLOB_SIZE, PERSIST_INTERVAL, MSG_MANIFEST } from './constants.ts'
import { BlobHashMismatchError, BlobTooLargeError, ChunkHashMismatchError, InvalidBlobRefError, ManifestMismatchError } from './errors.ts'
import { ManifestBuilder, checkChunking, computeRoot, manifestFor, chunkCount, chunkLength, isSha256Hex, joinHashes, manifestMatches, sha256, splitHashes, type BlobRef, type Manifest } from './manifest.ts'
import { bitfieldBytes, countBits, hasBit, setBit, validBitfield } from './bitfield.ts'

export interface BlobStoreInit {
  directory: string
  /** @default 2 GiB */
  maxBlobSize?: number
  /** chunk size of added blobs, @default 256 KiB */
  chunkSize?: number
  /** @default 1000 ms */
  persistInterval?: number
}

const MANIFEST_CACHE = 64
const PERSIST_EVERY_CHUNKS = 32
/** read handles kept open on complete blobs being served */
const OPEN_HANDLES = 16

async function fsyncDir (dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try { await fh.sync() } finally { await fh.close() }
}

function encodeManifest (m: Manifest, bitfield?: Uint8Array): Uint8Array {
  return BlobResponse.encode({ type: MSG_MANIFEST, size: BigInt(m.size), chunkSize: m.chunkSize, chunkHashes: joinHashes(m.chunkHashes) as Uint8Array<ArrayBuffer>, bitfield: bitfield as Uint8Array<ArrayBuffer> | undefined })
}

/** Writes a small file atomically and durably: temporary file, fsync, rename, fsync of the directory */
async function writeFileAtomic (path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  const fh = await open(tmp, 'w', 0o644)
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, path)
  await fsyncDir(dirname(path))
}

export class BlobStore {
  readonly directory: string
  readonly maxBlobSize: number
  readonly chunkSize: number
  private readonly persistInterval: number
  private readonly manifests = new Map<string, Manifest>()
  private readonly partials = new Map<string, PartialBlob>()
  private readonly opening = new Map<string, Promise<PartialBlob>>()
  private readonly handles = new Map<string, { fh: Promise<FileHandle>, users: number }>()
  private closed = false

  constructor (init: BlobStoreInit) {
    this.directory = init.directory
    this.maxBlobSize = init.maxBlobSize ?? DEFAULT_MAX_BLOB_SIZE
    this.chunkSize = init.chunkSize ?? DEFAULT_CHUNK_SIZE
    this.persistInterval = init.persistInterval ?? PERSIST_INTERVAL
    checkChunking(0, this.chunkSize, this.maxBlobSize)
  }

  /** Creates the directories; safe to call again */
  init (): void {
    this.closed = false
    for (const d of ['sha256', 'partial', 'tmp']) mkdirSync(join(this.directory, d), { recursive: true, mode: 0o755 })
  }

  /** Where a complete blob lives (whether or not it is there) */
  blobPath (sha: string): string {
    if (!isSha256Hex(sha)) throw new InvalidBlobRefError('sha256 must be 64 lowercase hex characters')
    return join(this.directory, 'sha256', sha.slice(0, 2), sha)
  }

  partialPath (sha: string): string {
    if (!isSha256Hex(sha)) throw new InvalidBlobRefError('sha256 must be 64 lowercase hex characters')
    return join(this.directory, 'partial', sha)
  }

  has (sha: string): boolean {
    return isSha256Hex(sha) && existsSync(this.blobPath(sha))
  }

  /** The path of a complete blob, or undefined */
  path (sha: string): string | undefined {
    return this.has(sha) ? this.blobPath(sha) : undefined
  }

  /** A read stream of a complete blob */
  createReadStream (sha: string): Readable {
    const p = this.path(sha)
    if (p === undefined) throw new InvalidBlobRefError(`no blob ${sha}`)
    return createReadStream(p)
  }

  /** Adds bytes or a file (by path), hashing while copying; returns its manifest. Idempotent. */
  async add (input: string | Uint8Array, opts: { chunkSize?: number } = {}): Promise<Manifest> {
    this.init()
    const chunkSize = opts.chunkSize ?? this.chunkSize
    if (typeof input === 'string') {
      const size = statSync(input).size
      if (size > this.maxBlobSize) throw new BlobTooLargeError(`${input} is ${size} bytes; the maximum is ${this.maxBlobSize}`)
    } else if (input.byteLength > this.maxBlobSize) {
      throw new BlobTooLargeError(`${input.byteLength} bytes; the maximum is ${this.maxBlobSize}`)
    }
    const builder = new ManifestBuilder(chunkSize)
    const tmp = join(this.directory, 'tmp', randomBytes(12).toString('hex'))
    const out = await open(tmp, 'w', 0o644)
    try {
      if (typeof input === 'string') {
        const src = await open(input, 'r')
        try {
          const buf = Buffer.allocUnsafe(4 * 1024 * 1024)
          while (true) {
            const { bytesRead } = await src.read(buf, 0, buf.byteLength, null)
            if (bytesRead === 0) break
            if (builder.bytes + bytesRead > this.maxBlobSize) throw new BlobTooLargeError(`${input} grew past the maximum of ${this.maxBlobSize} bytes`)
            const slice = buf.subarray(0, bytesRead)
            builder.update(slice)
            await out.write(slice)
          }
        } finally {
          await src.close()
        }
      } else {
        builder.update(input)
        await out.write(input)
      }
      await out.sync()
    } catch (err) {
      await out.close()
      await rm(tmp, { force: true })
      throw err
    }
    await out.close()
    const manifest = builder.digest()
    checkChunking(manifest.size, chunkSize, this.maxBlobSize)
    const final = this.blobPath(manifest.sha256)
    mkdirSync(dirname(final), { recursive: true })
    if (existsSync(final)) {
      await rm(tmp, { force: true })
      const existing = await this.manifest(manifest.sha256)
      if (existing !== undefined && existing.root === manifest.root) return existing
    } else {
      await rename(tmp, final)
    }
    await writeFileAtomic(`${final}.manifest`, encodeManifest(manifest))
    this.remember(manifest)
    return manifest
  }

  private remember (m: Manifest): void {
    this.manifests.delete(m.sha256)
    this.manifests.set(m.sha256, m)
    if (this.manifests.size > MANIFEST_CACHE) this.manifests.delete(this.manifests.keys().next().value!)
  }

  /** The manifest of a complete blob, or of a partial one, or undefined */
  async manifest (sha: string): Promise<Manifest | undefined> {
    if (!isSha256Hex(sha)) return undefined
    const partial = this.partials.get(sha)
    if (partial !== undefined) return partial.manifest
    const cached = this.manifests.get(sha)
    if (cached !== undefined) return cached
    if (!this.has(sha)) return undefined
    let m: Manifest | undefined
    try {
      const r = BlobResponse.decode(await readFile(`${this.blobPath(sha)}.manifest`))
      const hashes = splitHashes(r.chunkHashes)
      const size = Number(r.size)
      m = { sha256: sha, size, chunkSize: r.chunkSize, root: '', chunkHashes: hashes }
      checkChunking(size, r.chunkSize, Number.MAX_SAFE_INTEGER)
      if (hashes.length !== chunkCount(size, r.chunkSize) || size !== (await stat(this.blobPath(sha))).size) m = undefined
    } catch {
      m = undefined
    }
    if (m === undefined) {
      // a manifest lost or damaged: recompute it from the (verified) blob
      m = await manifestFor(this.blobPath(sha), this.chunkSize)
      if (m.sha256 !== sha) throw new BlobHashMismatchError(`stored blob ${sha} hashes to ${m.sha256}`)
      await writeFileAtomic(`${this.blobPath(sha)}.manifest`, encodeManifest(m))
    } else {
      m.root = computeRoot(m.size, m.chunkSize, m.chunkHashes)
    }
    this.remember(m)
    return m
  }

  /** Bitfield of the verified chunks held (all for a complete blob), or undefined */
  async bitfield (sha: string): Promise<{ bitfield: Uint8Array, manifest: Manifest } | undefined> {
    const partial = this.partials.get(sha)
    if (partial !== undefined) return { bitfield: Uint8Array.from(partial.bitfield), manifest: partial.manifest }
    const m = await this.manifest(sha)
    if (m === undefined) return undefined
    const n = m.chunkHashes.length
    const bf = new Uint8Array(bitfieldBytes(n)).fill(0xff)
    if (n % 8 !== 0) bf[bf.length - 1] = (0xff << (8 - (n % 8))) & 0xff
    return { bitfield: bf, manifest: m }
  }

  /**
   * Reads chunk `index` for serving: only a verified chunk, and only if its bytes still hash to the manifest's
   * hash (returns undefined otherwise).
   */
  async readChunk (sha: string, index: number): Promise<Uint8Array | undefined> {
    const partial = this.partials.get(sha)
    if (partial !== undefined) return partial.readChunk(index)
    const m = await this.manifest(sha)
    if (m === undefined || index < 0 || index >= m.chunkHashes.length || this.closed) return undefined
    const h = this.handle(sha)
    h.users++
    try {
      return await readVerified(await h.fh, m, index)
    } finally {
      h.users--
      this.evictHandles()
    }
  }

  /** A shared read handle on a complete blob (blobs are immutable once in place) */
  private handle (sha: string): { fh: Promise<FileHandle>, users: number } {
    let h = this.handles.get(sha)
    if (h === undefined) {
      h = { fh: open(this.blobPath(sha), 'r'), users: 0 }
      h.fh.catch(() => { this.handles.delete(sha) })
      this.handles.set(sha, h)
    } else {
      this.handles.delete(sha) // most recently used last
      this.handles.set(sha, h)
    }
    return h
  }

  private evictHandles (): void {
    for (const [sha, h] of this.handles) {
      if (this.handles.size <= OPEN_HANDLES) break
      if (h.users > 0) continue
      this.handles.delete(sha)
      h.fh.then(async fh => fh.close()).catch(() => {})
    }
  }

  /** A partial download already open, or undefined */
  openedPartial (sha: string): PartialBlob | undefined {
    return this.partials.get(sha)
  }

  /** The manifest recorded by an interrupted download of `ref`, if its root matches */
  async partialManifest (ref: BlobRef): Promise<Manifest | undefined> {
    const open = this.partials.get(ref.sha256)
    if (open !== undefined) return open.manifest.root === ref.root ? open.manifest : undefined
    try {
      const r = BlobResponse.decode(await readFile(`${this.partialPath(ref.sha256)}.state`))
      const hashes = splitHashes(r.chunkHashes)
      if (!manifestMatches(ref, Number(r.size), r.chunkSize, hashes)) return undefined
      return { ...ref, chunkHashes: hashes }
    } catch {
      return undefined
    }
  }

  /**
   * Opens (or resumes) the partial download of a blob whose manifest has been checked against its reference.
   * On resume, chunks recorded in the persisted bitfield are kept, and chunks written after the last persist
   * are re-verified from disk, so a crash loses nothing that reached the disk.
   */
  async openPartial (manifest: Manifest): Promise<PartialBlob> {
    const existing = this.partials.get(manifest.sha256)
    if (existing !== undefined) return existing
    const pending = this.opening.get(manifest.sha256)
    if (pending !== undefined) return pending
    const p = this.doOpenPartial(manifest)
    this.opening.set(manifest.sha256, p)
    try {
      const partial = await p
      this.partials.set(manifest.sha256, partial)
      return partial
    } finally {
      this.opening.delete(manifest.sha256)
    }
  }

  private async doOpenPartial (manifest: Manifest): Promise<PartialBlob> {
    if (this.closed) throw new Error('blob store closed')
    if (manifest.size > this.maxBlobSize) throw new BlobTooLargeError(`${manifest.size} bytes; the maximum is ${this.maxBlobSize}`)
    checkChunking(manifest.size, manifest.chunkSize, this.maxBlobSize)
    if (!manifestMatches(manifest, manifest.size, manifest.chunkSize, manifest.chunkHashes)) throw new ManifestMismatchError('manifest does not match its root')
    this.init()
    const path = this.partialPath(manifest.sha256)
    const n = manifest.chunkHashes.length
    let bitfield = new Uint8Array(bitfieldBytes(n))
    let resumed = false
    if (existsSync(path) && existsSync(`${path}.state`)) {
      try {
        const r = BlobResponse.decode(await readFile(`${path}.state`))
        const hashes = splitHashes(r.chunkHashes)
        if (manifestMatches(manifest, Number(r.size), r.chunkSize, hashes) && validBitfield(r.bitfield, n) &&
          (await stat(path)).size === manifest.size) {
          bitfield = Uint8Array.from(r.bitfield)
          resumed = true
        }
      } catch {}
    }
    const fh = await open(path, resumed ? 'r+' : 'w+', 0o644)
    if (!resumed) {
      await fh.truncate(manifest.size)
    } else {
      // chunks written but not yet recorded when the process stopped: keep those that verify
      for (let i = 0; i < n; i++) {
        if (hasBit(bitfield, i)) continue
        const data = await readVerified(fh, manifest, i)
        if (data !== undefined) setBit(bitfield, i)
      }
    }
    const partial = new PartialBlob(this, manifest, fh, bitfield, this.persistInterval)
    await partial.persist()
    return partial
  }

  /** Called by a PartialBlob when it is complete or closed */
  forget (sha: string): void {
    this.partials.delete(sha)
  }

  remembered (m: Manifest): void {
    this.remember(m)
  }

  /** Closes every partial download (persisting its bitfield) */
  async close (): Promise<void> {
    this.closed = true
    await Promise.allSettled([...this.opening.values()])
    await Promise.allSettled([...this.partials.values()].map(async p => p.close()))
    const handles = [...this.handles.values()]
    this.handles.clear()
    await Promise.allSettled(handles.map(async h => (await h.fh).close()))
  }

  /** Writes the manifest file of a blob moved into place by a PartialBlob */
  async writeManifest (m: Manifest): Promise<void> {
    await writeFileAtomic(`${this.blobPath(m.sha256)}.manifest`, encodeManifest(m))
  }
}

async function readVerified (fh: FileHandle, m: Manifest, index: number): Promise<Uint8Array | undefined> {
  const len = chunkLength(m, index)
  const buf = Buffer.allocUnsafe(len)
  let got = 0
  while (got < len) {
    const { bytesRead } = await fh.read(buf, got, len - got, index * m.chunkSize + got)
    if (bytesRead === 0) return undefined
    got += bytesRead
  }
  return Buffer.from(sha256(buf)).equals(m.chunkHashes[index]) ? buf : undefined
}

/** A download in progress: verified chunks written at their offsets, and a durable bitfield */
export class PartialBlob {
  readonly manifest: Manifest
  readonly bitfield: Uint8Array
  readonly chunks: number
  have: number
  private readonly store: BlobStore
  private readonly fh: FileHandle
  private readonly persistInterval: number
  private dirty = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private persisting: Promise<void> = Promise.resolve()
  private closed = false
  private completing: Promise<string> | undefined
  private heldBytes: number | undefined

  constructor (store: BlobStore, manifest: Manifest, fh: FileHandle, bitfield: Uint8Array, persistInterval: number) {
    this.store = store
    this.manifest = manifest
    this.fh = fh
    this.bitfield = bitfield
    this.chunks = manifest.chunkHashes.length
    this.have = countBits(bitfield, this.chunks)
    this.persistInterval = persistInterval
  }

  get complete (): boolean {
    return this.have === this.chunks
  }

  has (index: number): boolean {
    return hasBit(this.bitfield, index)
  }

  /** Bytes of verified chunks held */
  get bytes (): number {
    if (this.heldBytes === undefined) {
      this.heldBytes = 0
      for (let i = 0; i < this.chunks; i++) if (hasBit(this.bitfield, i)) this.heldBytes += chunkLength(this.manifest, i)
    }
    return this.heldBytes
  }

  /**
   * Verifies a chunk against the manifest and writes it. Throws ChunkHashMismatchError for bad bytes (nothing
   * is written); returns false if the chunk was already held.
   */
  async writeChunk (index: number, data: Uint8Array): Promise<boolean> {
    if (this.closed) throw new Error('partial blob closed')
    if (!Number.isInteger(index) || index < 0 || index >= this.chunks) throw new ChunkHashMismatchError(`chunk index ${index} out of range`)
    if (data.byteLength !== chunkLength(this.manifest, index) || !Buffer.from(sha256(data)).equals(this.manifest.chunkHashes[index])) {
      throw new ChunkHashMismatchError(`chunk ${index} of ${this.manifest.sha256} does not match its hash`)
    }
    if (hasBit(this.bitfield, index)) return false
    let off = 0
    while (off < data.byteLength) {
      const { bytesWritten } = await this.fh.write(data, off, data.byteLength - off, index * this.manifest.chunkSize + off)
      off += bytesWritten
    }
    if (hasBit(this.bitfield, index)) return false
    setBit(this.bitfield, index)
    this.have++
    if (this.heldBytes !== undefined) this.heldBytes += data.byteLength
    this.dirty++
    if (this.dirty >= PERSIST_EVERY_CHUNKS) void this.persist().catch(() => {})
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => { this.timer = undefined; void this.persist().catch(() => {}) }, this.persistInterval)
      this.timer.unref?.()
    }
    return true
  }

  async readChunk (index: number): Promise<Uint8Array | undefined> {
    if (this.closed || !Number.isInteger(index) || index < 0 || index >= this.chunks || !hasBit(this.bitfield, index)) return undefined
    return readVerified(this.fh, this.manifest, index)
  }

  /** Makes the data durable, then records the bitfield (atomically): a recorded chunk is always on disk */
  async persist (): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.closed) return
      if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
      this.dirty = 0
      const snapshot = Uint8Array.from(this.bitfield)
      await this.fh.datasync()
      await writeFileAtomic(`${this.store.partialPath(this.manifest.sha256)}.state`, encodeManifest(this.manifest, snapshot))
    }
    this.persisting = this.persisting.then(run, run)
    return this.persisting
  }

  /**
   * With every chunk held: hashes the whole file, and if it matches moves it into place atomically.
   * Returns the blob's path. On a whole-file mismatch the partial download is deleted.
   */
  async finish (): Promise<string> {
    if (!this.complete) throw new Error(`blob ${this.manifest.sha256} is not complete (${this.have}/${this.chunks})`)
    this.completing ??= this.doFinish()
    return this.completing
  }

  private async doFinish (): Promise<string> {
    if (!this.complete) throw new Error(`blob ${this.manifest.sha256} is not complete (${this.have}/${this.chunks})`)
    await this.persist()
    await this.persisting
    await this.fh.sync()
    const h = createHash('sha256')
    const buf = Buffer.allocUnsafe(4 * 1024 * 1024)
    let pos = 0
    while (pos < this.manifest.size) {
      const { bytesRead } = await this.fh.read(buf, 0, Math.min(buf.byteLength, this.manifest.size - pos), pos)
      if (bytesRead === 0) break
      h.update(buf.subarray(0, bytesRead))
      pos += bytesRead
    }
    const got = h.digest('hex')
    this.closed = true
    await this.fh.close()
    const path = this.store.partialPath(this.manifest.sha256)
    this.store.forget(this.manifest.sha256)
    if (got !== this.manifest.sha256 || pos !== this.manifest.size) {
      await rm(path, { force: true })
      await rm(`${path}.state`, { force: true })
      throw new BlobHashMismatchError(`downloaded blob hashes to ${got}, expected ${this.manifest.sha256}`)
    }
    const final = this.store.blobPath(this.manifest.sha256)
    mkdirSync(dirname(final), { recursive: true })
    await this.store.writeManifest(this.manifest)
    await rename(path, final)
    await fsyncDir(dirname(final))
    await rm(`${path}.state`, { force: true })
    this.store.remembered(this.manifest)
    return final
  }

  /** Persists the bitfield and closes the file; the download can be resumed later */
  async close (): Promise<void> {
    if (this.closed) return
    await this.persist().catch(() => {})
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.store.forget(this.manifest.sha256)
    await this.fh.close()
  }
}
