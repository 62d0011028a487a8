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
import { randomBytes } from 'node:crypto'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import '../../protocols/pb/protons-fix.ts' // uint64 sizes of 2 to 4 GiB encode correctly
import { BlobResponse } from '../../protocols/pb/blob.ts'
import { DEFAULT_CHUNK_SIZE, DEFAULT_MAX_BLOB_SIZE, PERSIST_INTERVAL } from './constants.ts'
import { BlobHashMismatchError, BlobTooLargeError, InvalidBlobRefError, ManifestMismatchError } from './errors.ts'
import { ManifestBuilder, checkChunking, computeRoot, manifestFor, chunkCount, isSha256Hex, manifestMatches, splitHashes, type BlobRef, type Manifest } from './manifest.ts'
import { encodeManifest, readVerified, writeFileAtomic } from './files.ts'
import { PartialBlob } from './partial.ts'
import { bitfieldBytes, hasBit, setBit, validBitfield } from './bitfield.ts'

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
/** read handles kept open on complete blobs being served */
const OPEN_HANDLES = 16

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
