/**
 * Chunking and the chunk root. A blob of `size` bytes is cut into `ceil(size / chunkSize)` chunks (the last
 * may be short). Its manifest is the list of the chunks' sha256 hashes; the chunk root binds that list, the size
 * and the chunk size into 32 bytes:
 *
 *   root = sha256("skyline/blob/chunks/v1" || u64be(size) || u32be(chunkSize) || hash_0 || hash_1 || ...)
 *
 * An announcement carries {sha256, size, chunkSize, root}; a fetcher takes the hash list from any peer and
 * trusts it only if it hashes to `root`.
 */
import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { MAX_CHUNKS, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, DEFAULT_CHUNK_SIZE } from './constants.ts'
import { InvalidBlobRefError } from './errors.ts'

const ROOT_DOMAIN = Buffer.from('skyline/blob/chunks/v1')

/** What an announcement carries to name a blob: hex sha256 and hex chunk root */
export interface BlobRef {
  sha256: string
  size: number
  chunkSize: number
  root: string
}

export interface Manifest extends BlobRef {
  /** one 32-byte sha256 per chunk */
  chunkHashes: Uint8Array[]
}

const HEX64 = /^[0-9a-f]{64}$/

export function chunkCount (size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize)
}

/** Length of chunk `index` */
export function chunkLength (ref: { size: number, chunkSize: number }, index: number): number {
  return Math.min(ref.chunkSize, ref.size - index * ref.chunkSize)
}

export function sha256 (data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest()
}

export function computeRoot (size: number, chunkSize: number, chunkHashes: Uint8Array[]): string {
  const h = createHash('sha256').update(ROOT_DOMAIN)
  const head = Buffer.alloc(12)
  head.writeBigUInt64BE(BigInt(size), 0)
  head.writeUInt32BE(chunkSize, 8)
  h.update(head)
  for (const c of chunkHashes) h.update(c)
  return h.digest('hex')
}

/** A value for an error message: numbers as they are, anything else by its type (never its own toString) */
function shown (v: unknown): string {
  return typeof v === 'number' ? String(v) : `(${typeof v})`
}

/** Checks a chunk size is one the protocol allows for a blob of `size` bytes */
export function checkChunking (size: number, chunkSize: number, maxBlobSize: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new InvalidBlobRefError(`invalid size ${shown(size)}`)
  if (size > maxBlobSize) throw new InvalidBlobRefError(`size ${size} exceeds the maximum ${maxBlobSize}`)
  if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new InvalidBlobRefError(`chunk size ${shown(chunkSize)} outside ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}`)
  }
  if (chunkCount(size, chunkSize) > MAX_CHUNKS) throw new InvalidBlobRefError(`${chunkCount(size, chunkSize)} chunks exceed ${MAX_CHUNKS}; use a larger chunk size`)
}

/** Validates every field of a reference before use; returns a normalised copy (lowercase hex) */
export function validateRef (ref: BlobRef, maxBlobSize: number): BlobRef {
  if (ref == null || typeof ref !== 'object') throw new InvalidBlobRefError('a blob reference must be an object')
  // strings only: String() of an object without a prototype throws a TypeError, and of any other
  // object calls code the reference supplied
  if (typeof ref.sha256 !== 'string' || typeof ref.root !== 'string') throw new InvalidBlobRefError('sha256 and root must be hex strings')
  const sha = ref.sha256.toLowerCase()
  const root = ref.root.toLowerCase()
  if (!HEX64.test(sha)) throw new InvalidBlobRefError('sha256 must be 64 hex characters')
  if (!HEX64.test(root)) throw new InvalidBlobRefError('root must be 64 hex characters')
  checkChunking(ref.size, ref.chunkSize, maxBlobSize)
  return { sha256: sha, size: ref.size, chunkSize: ref.chunkSize, root }
}

export function isSha256Hex (s: string): boolean {
  return typeof s === 'string' && HEX64.test(s)
}

/** Splits a concatenated hash list into 32-byte hashes */
export function splitHashes (list: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let i = 0; i < list.byteLength; i += 32) out.push(list.subarray(i, i + 32))
  return out
}

export function joinHashes (hashes: Uint8Array[]): Uint8Array {
  return Buffer.concat(hashes)
}

/**
 * Incremental manifest builder: feed bytes in order (any slicing), get the manifest at the end.
 */
export class ManifestBuilder {
  private readonly chunkSize: number
  private readonly whole = createHash('sha256')
  private chunk = createHash('sha256')
  private inChunk = 0
  private size = 0
  private readonly hashes: Uint8Array[] = []

  constructor (chunkSize: number) {
    this.chunkSize = chunkSize
  }

  get bytes (): number {
    return this.size
  }

  update (data: Uint8Array): void {
    this.whole.update(data)
    this.size += data.byteLength
    let off = 0
    while (off < data.byteLength) {
      const take = Math.min(this.chunkSize - this.inChunk, data.byteLength - off)
      this.chunk.update(data.subarray(off, off + take))
      this.inChunk += take
      off += take
      if (this.inChunk === this.chunkSize) {
        this.hashes.push(this.chunk.digest())
        this.chunk = createHash('sha256')
        this.inChunk = 0
      }
    }
  }

  digest (): Manifest {
    if (this.inChunk > 0) this.hashes.push(this.chunk.digest())
    return {
      sha256: this.whole.digest('hex'),
      size: this.size,
      chunkSize: this.chunkSize,
      root: computeRoot(this.size, this.chunkSize, this.hashes),
      chunkHashes: this.hashes
    }
  }
}

/** The manifest of a file (by path) or of bytes in memory */
export async function manifestFor (input: string | Uint8Array, chunkSize: number = DEFAULT_CHUNK_SIZE): Promise<Manifest> {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new InvalidBlobRefError(`chunk size ${chunkSize} outside ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}`)
  }
  const b = new ManifestBuilder(chunkSize)
  if (typeof input !== 'string') {
    b.update(input)
    return b.digest()
  }
  const fh = await open(input, 'r')
  try {
    const buf = Buffer.allocUnsafe(chunkSize * 4)
    while (true) {
      const { bytesRead } = await fh.read(buf, 0, buf.byteLength, null)
      if (bytesRead === 0) break
      b.update(buf.subarray(0, bytesRead))
    }
  } finally {
    await fh.close()
  }
  return b.digest()
}

/** Checks a hash list received from a peer against a trusted reference */
export function manifestMatches (ref: BlobRef, size: number, chunkSize: number, chunkHashes: Uint8Array[]): boolean {
  return size === ref.size && chunkSize === ref.chunkSize &&
    chunkHashes.length === chunkCount(ref.size, ref.chunkSize) &&
    chunkHashes.every(h => h.byteLength === 32) &&
    computeRoot(size, chunkSize, chunkHashes) === ref.root
}

export function refOf (m: Manifest): BlobRef {
  return { sha256: m.sha256, size: m.size, chunkSize: m.chunkSize, root: m.root }
}
