/**
 * Kademlia keys and XOR distance exactly as @libp2p/kad-dht computes them: a peer's key is the
 * SHA-256 of its multihash bytes, a lookup key's is the SHA-256 of the key bytes, and distance is the
 * XOR of the two read as a big-endian number.
 */
import { createHash, hash } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'

export function sha256 (...parts: Uint8Array[]): Uint8Array {
  // one part (every peer's and key's Kademlia id): the one-shot hash, without a Hash object
  if (parts.length === 1) return new Uint8Array(hash('sha256', parts[0], 'buffer'))
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

/** The DHT key of a peer ID (kad-dht's convertPeerId) */
export function peerKadId (peerId: PeerId): Uint8Array {
  return sha256(peerId.toMultihash().bytes)
}

/** The DHT key of arbitrary bytes (kad-dht's convertBuffer), as used by getClosestPeers(key) */
export function bufferKadId (key: Uint8Array): Uint8Array {
  return sha256(key)
}

export function xorDistance (a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length !== b.length) throw new RangeError('keys differ in length')
  const out = new Uint8Array(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i]
  return out
}

/** Compares two distances as big-endian unsigned numbers */
export function compareDistance (a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i] - b[i]
  }
  return 0
}

/** The peers sorted by XOR distance of their kad ID to `kadKey`, closest first */
export function sortByDistance<T extends PeerId> (kadKey: Uint8Array, peers: Iterable<T>): T[] {
  const withDist = [...peers].map(p => ({ p, d: xorDistance(kadKey, peerKadId(p)) }))
  withDist.sort((x, y) => compareDistance(x.d, y.d))
  return withDist.map(x => x.p)
}
