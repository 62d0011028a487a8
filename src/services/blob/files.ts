/** Durable small writes and verified chunk reads, shared by the blob store and its partial downloads. */
import { open, rename, type FileHandle } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { dirname } from 'node:path'
import '../../protocols/pb/protons-fix.ts' // uint64 sizes of 2 to 4 GiB encode correctly
import { BlobResponse } from '../../protocols/pb/blob.ts'
import { MSG_MANIFEST } from './constants.ts'
import { chunkLength, joinHashes, sha256, type Manifest } from './manifest.ts'

export async function fsyncDir (dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try { await fh.sync() } finally { await fh.close() }
}

export function encodeManifest (m: Manifest, bitfield?: Uint8Array): Uint8Array {
  return BlobResponse.encode({ type: MSG_MANIFEST, size: BigInt(m.size), chunkSize: m.chunkSize, chunkHashes: joinHashes(m.chunkHashes) as Uint8Array<ArrayBuffer>, bitfield: bitfield as Uint8Array<ArrayBuffer> | undefined })
}

/** Writes a small file atomically and durably: temporary file, fsync, rename, fsync of the directory */
export async function writeFileAtomic (path: string, data: Uint8Array): Promise<void> {
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

export async function readVerified (fh: FileHandle, m: Manifest, index: number): Promise<Uint8Array | undefined> {
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
