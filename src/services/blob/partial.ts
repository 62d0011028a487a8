/**
 * A download in progress: verified chunks written at their offsets, and a durable bitfield
 * (<dir>/partial/<hex> and its .state file; src/services/blob/store.ts).
 */
import { mkdirSync } from 'node:fs'
import { rename, rm, type FileHandle } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { dirname } from 'node:path'
import { BlobHashMismatchError, ChunkHashMismatchError } from './errors.ts'
import { chunkLength, sha256, type Manifest } from './manifest.ts'
import { countBits, hasBit, setBit } from './bitfield.ts'
import { encodeManifest, fsyncDir, readVerified, writeFileAtomic } from './files.ts'

/** What a partial download asks of the store that holds it */
export interface PartialBlobHost {
  blobPath: (sha256: string) => string
  partialPath: (sha256: string) => string
  forget: (sha256: string) => void
  remembered: (m: Manifest) => void
  writeManifest: (m: Manifest) => Promise<void>
}

/** @default 32: chunks written between two saves of the bitfield */
const PERSIST_EVERY_CHUNKS = 32

export class PartialBlob {
  readonly manifest: Manifest
  readonly bitfield: Uint8Array
  readonly chunks: number
  have: number
  private readonly store: PartialBlobHost
  private readonly fh: FileHandle
  private readonly persistInterval: number
  private dirty = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private persisting: Promise<void> = Promise.resolve()
  private closed = false
  private completing: Promise<string> | undefined
  private heldBytes: number | undefined

  constructor (store: PartialBlobHost, manifest: Manifest, fh: FileHandle, bitfield: Uint8Array, persistInterval: number) {
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
