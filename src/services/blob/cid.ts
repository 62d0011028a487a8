import { CID } from 'multiformats/cid'
import { create } from 'multiformats/hashes/digest'

const RAW = 0x55
const SHA2_256 = 0x12

/** The CID under which a blob is provided in the DHT: CIDv1, raw codec, the blob's sha256 */
export function cidForSha256 (sha256: string | Uint8Array): CID {
  const bytes = typeof sha256 === 'string' ? Buffer.from(sha256, 'hex') : sha256
  if (bytes.byteLength !== 32) throw new TypeError('sha256 must be 32 bytes')
  return CID.createV1(RAW, create(SHA2_256, bytes))
}
