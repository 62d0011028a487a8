/**
 * Who builds a job: the r eligible peers closest to the job by Kademlia XOR distance. A pure function of
 * the job key and a peer list, so every node that knows the same peers computes the same set, in any
 * order. Eligible are the candidates the announcement lists (the seeder's DHT lookup, signed with the
 * announcement), so every node ranks the same list: late joiners, nodes with a partial view and keys
 * ground after the beacon was published cannot change a job's builders (docs/protocols/assignment.md). The job's DHT lookup key is the job key itself: kad-dht's getClosestPeers(jobKey) walks toward
 * sha256(jobKey), and distance here is measured to that same point, so the lookup finds exactly the
 * peers this function ranks first.
 *
 * @example
 * ```ts
 * const builders = jobBuilders(jobKey, parseCandidates(announcement.candidates), 5) // PeerId[5], closest first
 * const mine = builders.some(p => p.equals(self))
 * ```
 */
import type { PeerId } from '@libp2p/interface'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import { compareDistance, peerKadId, xorDistance } from './distance.ts'
import { jobKadId } from './job-point.ts'
import { rankBySaltedPosition } from './position.ts'

export { jobKadId }

export class AssignmentError extends Error {
  static name = 'AssignmentError'
  override name = 'AssignmentError'
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

/** @default 64: the most candidates an announcement may list (as many as the largest r) */
export const MAX_CANDIDATES = 64
/** an Ed25519 peer ID as a multihash: identity code 0x00, length 36, then the protobuf public key (type 1, 32 bytes) */
const ED25519_MULTIHASH_PREFIX = Uint8Array.of(0x00, 0x24, 0x08, 0x01, 0x12, 0x20)
export const CANDIDATE_BYTES = ED25519_MULTIHASH_PREFIX.length + 32

/** How many candidates a seeder lists for r builders: r, and as many spares that take a banned builder's seat */
export function candidateCount (replicas: number): number {
  return Math.min(MAX_CANDIDATES, 2 * replicas)
}

/** A candidate's wire form: the Ed25519 peer ID's multihash bytes (builders sign with Ed25519 peer keys) */
export function candidateBytes (peer: PeerId): Uint8Array {
  if (peer.type !== 'Ed25519') throw new AssignmentError(`candidate ${peer} is not an Ed25519 peer ID`)
  return peer.toMultihash().bytes
}

/**
 * The listed candidates as peer IDs, in the listed order. Throws AssignmentError for anything but
 * distinct Ed25519 peer ID multihashes, or more than MAX_CANDIDATES.
 */
export function parseCandidates (list: Uint8Array[]): PeerId[] {
  if (list.length > MAX_CANDIDATES) throw new AssignmentError(`${list.length} candidates, at most ${MAX_CANDIDATES}`)
  const seen = new Set<string>()
  return list.map((bytes, i) => {
    if (bytes.length !== CANDIDATE_BYTES || ED25519_MULTIHASH_PREFIX.some((b, j) => bytes[j] !== b)) {
      throw new AssignmentError(`candidate ${i} is not an Ed25519 peer ID (${bytes.length} bytes)`)
    }
    const peer = peerIdFromMultihash(Digest.decode(bytes))
    // distinct by their bytes: the base58 form costs more than the rest of the parse, and is made when needed
    const id = Buffer.from(bytes).toString('hex')
    if (seen.has(id)) throw new AssignmentError(`candidate ${peer.toString()} is listed twice`)
    seen.add(id)
    return peer
  })
}

/**
 * A job's builders: the r candidates closest to the job, leaving out `excluded` ones (builders banned for
 * equivocation give their seat to the next candidate). Every node holding the same announcement and the
 * same bans computes the same set; peers outside the signed list never count, however close.
 */
export function jobBuilders<T extends PeerId> (jobKey: Uint8Array, candidates: Iterable<T>, r: number, excluded?: ReadonlySet<string>): T[] {
  const eligible = [...candidates].filter(p => excluded?.has(p.toString()) !== true)
  return assignBuilders(jobKey, eligible, r)
}

/** What ranks a job's candidates: the job key, the beacon, and whether the announcement uses salted positions (rules v2) */
export interface RankedJob {
  jobKey: Uint8Array
  beacon: Uint8Array
  /** true for rules v2 (salted per-job positions), false for v1 (fixed Kademlia keys) */
  salted: boolean
}

/**
 * A job's first `count` seats: the candidates ranked by the announcement's rule (v2: salted per-job
 * positions, src/rules/position.ts; v1: Kademlia keys), leaving out `excluded` ones (banned builders).
 */
export function jobSeats<T extends PeerId> (job: RankedJob, candidates: Iterable<T>, count: number, excluded?: ReadonlySet<string>): T[] {
  const eligible = [...candidates].filter(p => excluded?.has(p.toString()) !== true)
  if (!job.salted) return assignBuilders(job.jobKey, eligible, count)
  return rankBySaltedPosition(job.jobKey, job.beacon, eligible).slice(0, count)
}
