/**
 * Content-addressed blobs (SRPMs, RPMs) stored on disk and fetched over `/skyline/blob/1.0.0`: chunked,
 * every chunk verified against a hash list bound by a 32-byte chunk root, fetched from several providers at
 * once, BitTorrent-style, with DHT provider records as the tracker. See docs/protocols/blob.md.
 *
 * @example
 * ```ts
 * const node = await createLibp2p({ ..., services: { blobs: blobService({ directory: '/var/lib/skyline/blobs' }) } })
 * const manifest = await node.services.blobs.add('foo-1.0-1.src.rpm')          // store and provide
 * // elsewhere, from an announcement carrying { sha256, size, chunkSize, root }:
 * const path = await other.services.blobs.fetch(ref, { signal, onProgress: e => console.log(e.detail.done) })
 * ```
 */
import { BlobServiceImpl } from './blob-service.ts'
import type { BlobService, BlobServiceComponents, BlobServiceInit } from './types.ts'

export { PROTOCOL, DEFAULT_CHUNK_SIZE, DEFAULT_MAX_BLOB_SIZE, fetchDeadline } from './constants.ts'
export { manifestFor, computeRoot, validateRef, refOf, type BlobRef, type Manifest } from './manifest.ts'
export { BlobStore, type BlobStoreInit } from './store.ts'
export { PartialBlob } from './partial.ts'
export { cidForSha256 } from './cid.ts'
export * from './errors.ts'

export type * from './types.ts'

export function blobService (init: BlobServiceInit = {}): (components: BlobServiceComponents) => BlobService {
  return components => new BlobServiceImpl(components, init)
}
