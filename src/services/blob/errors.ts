/** Errors of the blob store and protocol; tests match on `name`. */

export class BlobTooLargeError extends Error {
  static name = 'BlobTooLargeError'
  name = 'BlobTooLargeError'
}

export class InvalidBlobRefError extends Error {
  static name = 'InvalidBlobRefError'
  name = 'InvalidBlobRefError'
}

/** A chunk's bytes do not hash to the manifest's hash for that chunk */
export class ChunkHashMismatchError extends Error {
  static name = 'ChunkHashMismatchError'
  name = 'ChunkHashMismatchError'
}

/** A whole blob does not hash to its expected sha256 */
export class BlobHashMismatchError extends Error {
  static name = 'BlobHashMismatchError'
  name = 'BlobHashMismatchError'
}

/** A manifest's hash list does not match the reference's chunk root (or size, chunk size) */
export class ManifestMismatchError extends Error {
  static name = 'ManifestMismatchError'
  name = 'ManifestMismatchError'
}

/** A frame that does not decode, or decodes to something the protocol does not allow */
export class BlobProtocolError extends Error {
  static name = 'BlobProtocolError'
  name = 'BlobProtocolError'
}

/** No provider could supply the blob (none found, all dropped, or the fetch was given up) */
export class NoProvidersError extends Error {
  static name = 'NoProvidersError'
  name = 'NoProvidersError'
}

export class ServiceStoppedError extends Error {
  static name = 'ServiceStoppedError'
  name = 'ServiceStoppedError'
}
