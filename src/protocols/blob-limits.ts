/**
 * The blob protocol's chunking limits (docs/protocols/blob.md), in one place: the blob service enforces
 * them on the wire, and an announcement or attestation that names a chunking outside them is malformed
 * (it could never be fetched).
 */

/** Smallest chunk size accepted in a manifest, a reference, an announcement or an attestation */
export const MIN_CHUNK_SIZE = 16 * 1024
/** Largest chunk size accepted: bounds the size of a CHUNK response */
export const MAX_CHUNK_SIZE = 1024 * 1024
/** Most chunks a blob may have: bounds a manifest (512 KiB of hashes) and a bitfield (2 KiB) */
export const MAX_CHUNKS = 16384
