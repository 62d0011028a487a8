/**
 * Who builds a job: the r eligible peers closest to the job by Kademlia XOR distance. A pure function of
 * the job key and a peer list, so every node that knows the same peers computes the same set, in any
 * order. The job's DHT lookup key is the job key itself: kad-dht's getClosestPeers(jobKey) walks toward
 * sha256(jobKey), and distance here is measured to that same point, so the lookup finds exactly the
 * peers this function ranks first.
 *
 * @example
 * ```ts
 * const builders = assignBuilders(jobKey, knownPeers, 5) // PeerId[5], closest first
 * const mine = builders.some(p => p.equals(self))
 * ```
 */
import type { PeerId } from '@libp2p/interface'
import { bufferKadId, compareDistance, peerKadId, xorDistance } from './distance.ts'

export class AssignmentError extends Error {
  static name = 'AssignmentError'
  override name = 'AssignmentError'
}

/** The point in the Kademlia key space a job lives at */
export function jobKadId (jobKey: Uint8Array): Uint8Array {
  return bufferKadId(jobKey)
}

/**
 * The r peers closest to the job, closest first. Duplicates are removed; fewer than r peers yields them
 * all. Two distinct peer IDs cannot tie: their Kademlia keys are distinct SHA-256 digests, so their XOR
 * distances to any point differ.
 */
export function assignBuilders<T extends PeerId> (jobKey: Uint8Array, peers: Iterable<T>, r: number): T[] {
  if (!Number.isInteger(r) || r < 1) throw new AssignmentError(`replicas must be a positive integer (got ${r})`)
  const target = jobKadId(jobKey)
  const unique = new Map<string, { peer: T, distance: Uint8Array }>()
  for (const peer of peers) {
    const id = peer.toString()
    if (!unique.has(id)) unique.set(id, { peer, distance: xorDistance(target, peerKadId(peer)) })
  }
  return [...unique.values()]
    .sort((a, b) => compareDistance(a.distance, b.distance))
    .slice(0, r)
    .map(e => e.peer)
}

/** Whether `peer` is among the r assigned to the job, given the same peer list */
export function isAssigned (jobKey: Uint8Array, peers: Iterable<PeerId>, r: number, peer: PeerId): boolean {
  return assignBuilders(jobKey, peers, r).some(p => p.equals(peer))
}
