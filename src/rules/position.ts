/**
 * Salted per-job positions (docs/protocols/assignment.md, "Ranking v2"): a builder's position for one job
 * is `sha256("skyline/position/v1" || peer ID multihash || beacon)`, and builders are ranked by the XOR
 * distance between that position and the job's point `sha256(jobKey)`. The beacon is the announcer's
 * random 32 bytes, unknown when identities are made, so every job's ranking is a fresh uniform draw over
 * the listed builders: grinding a peer ID into an empty region of the Kademlia key space buys nothing.
 * The DHT still finds peers and addresses; the ranking needs only the signed candidate list.
 *
 * @example
 * ```ts
 * const seats = rankBySaltedPosition(jobKey, beacon, candidates).slice(0, panel + escalation)
 * ```
 */
import type { PeerId } from '@libp2p/interface'
import { compareDistance, sha256, xorDistance } from './distance.ts'
import { jobKadId } from './job-point.ts'

/** The domain of a builder's per-job position */
export const POSITION_DOMAIN = new TextEncoder().encode('skyline/position/v1')

/** A builder's position for the job announced with `beacon` */
export function saltedPosition (peer: PeerId, beacon: Uint8Array): Uint8Array {
  return sha256(POSITION_DOMAIN, peer.toMultihash().bytes, beacon)
}

/**
 * The peers ranked by the XOR distance of their salted position to the job's point, closest first;
 * duplicates removed, the input order irrelevant (distinct peers have distinct SHA-256 positions).
 */
export function rankBySaltedPosition<T extends PeerId> (jobKey: Uint8Array, beacon: Uint8Array, peers: Iterable<T>): T[] {
  const point = jobKadId(jobKey)
  const unique = new Map<string, { peer: T, distance: Uint8Array }>()
  for (const peer of peers) {
    const id = peer.toString()
    if (!unique.has(id)) unique.set(id, { peer, distance: xorDistance(point, saltedPosition(peer, beacon)) })
  }
  return [...unique.values()].sort((a, b) => compareDistance(a.distance, b.distance)).map(e => e.peer)
}
