/**
 * Encoding and strict decoding of `/skyline/blob/1.0.0` frames. Decoders validate every field and throw
 * BlobProtocolError for anything malformed, so handlers never see an invalid message.
 */
import '../../protocols/pb/protons-fix.ts' // uint64 sizes of 2 to 4 GiB encode correctly
import { BlobRequest, BlobResponse } from '../../protocols/pb/blob.ts'
import { MAX_CHUNKS, MAX_CHUNK_SIZE, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, MSG_CHUNK, MSG_HAVE, MSG_MANIFEST, STATUS_BUSY, STATUS_OK } from './constants.ts'
import { BlobProtocolError } from './errors.ts'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Request {
  type: number
  sha256: string
  index: number
}

export interface Response {
  status: number
  type: number
  size: number
  chunkSize: number
  chunkHashes: Uint8Array
  bitfield: Uint8Array
  index: number
  data: Uint8Array
}

export function encodeRequest (req: { type: number, sha256: string, index?: number }): Uint8Array {
  return BlobRequest.encode({ type: req.type, sha256: Buffer.from(req.sha256, 'hex'), index: req.index ?? 0 })
}

export function decodeRequest (buf: Uint8Array | Uint8ArrayList): Request {
  if (buf.byteLength > MAX_REQUEST_BYTES) throw new BlobProtocolError(`request of ${buf.byteLength} bytes exceeds ${MAX_REQUEST_BYTES}`)
  let r: BlobRequest
  try {
    r = BlobRequest.decode(buf)
  } catch (err: any) {
    throw new BlobProtocolError(`malformed request: ${err?.message ?? err}`)
  }
  if (r.type !== MSG_MANIFEST && r.type !== MSG_HAVE && r.type !== MSG_CHUNK) throw new BlobProtocolError(`unknown request type ${r.type}`)
  if (r.sha256.byteLength !== 32) throw new BlobProtocolError('sha256 must be 32 bytes')
  if (r.type === MSG_CHUNK && r.index >= MAX_CHUNKS) throw new BlobProtocolError(`chunk index ${r.index} out of range`)
  return { type: r.type, sha256: Buffer.from(r.sha256).toString('hex'), index: r.index }
}

export function encodeResponse (res: Partial<Response>): Uint8Array {
  return BlobResponse.encode({
    status: res.status ?? STATUS_OK,
    type: res.type ?? 0,
    size: BigInt(res.size ?? 0),
    chunkSize: res.chunkSize ?? 0,
    chunkHashes: res.chunkHashes as Uint8Array<ArrayBuffer> | undefined,
    bitfield: res.bitfield as Uint8Array<ArrayBuffer> | undefined,
    index: res.index ?? 0,
    data: res.data as Uint8Array<ArrayBuffer> | undefined
  })
}

/** Decodes a response and checks it answers a request of `type`; field-level checks against a manifest are the caller's */
export function decodeResponse (buf: Uint8Array | Uint8ArrayList, type: number): Response {
  if (buf.byteLength > MAX_RESPONSE_BYTES) throw new BlobProtocolError(`response of ${buf.byteLength} bytes exceeds ${MAX_RESPONSE_BYTES}`)
  let r: BlobResponse
  try {
    r = BlobResponse.decode(buf)
  } catch (err: any) {
    throw new BlobProtocolError(`malformed response: ${err?.message ?? err}`)
  }
  if (r.status > STATUS_BUSY) throw new BlobProtocolError(`unknown status ${r.status}`)
  if (r.type !== type) throw new BlobProtocolError(`response of type ${r.type} to a request of type ${type}`)
  if (r.size > BigInt(Number.MAX_SAFE_INTEGER)) throw new BlobProtocolError('size out of range')
  if (r.chunkHashes.byteLength % 32 !== 0 || r.chunkHashes.byteLength > MAX_CHUNKS * 32) throw new BlobProtocolError('chunk hash list length invalid')
  if (r.bitfield.byteLength > MAX_CHUNKS / 8) throw new BlobProtocolError('bitfield too long')
  if (r.data.byteLength > MAX_CHUNK_SIZE) throw new BlobProtocolError('chunk too long')
  return { status: r.status, type: r.type, size: Number(r.size), chunkSize: r.chunkSize, chunkHashes: r.chunkHashes, bitfield: r.bitfield, index: r.index, data: r.data }
}
