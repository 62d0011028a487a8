/**
 * The colluders' plan in the collusion stress case (test-only): who does what on which job, their common
 * fabricated output, and their ground identities, with a measure of what grinding buys under the Kademlia
 * ranking of rules v1 and the salted ranking of rules v2 (over the real ranking code).
 */
import { createHash, randomBytes } from 'node:crypto'
import { basename } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { jobSeats } from '../../../src/rules/assignment.ts'
import { compareDistance, peerKadId, xorDistance } from '../../../src/rules/distance.ts'

export type ColluderRole = 'silent' | 'copy' | 'dissent'

/**
 * What colluder `index` of `count` does on `job`, by turns: the job key's first byte picks whose turn it is
 * to be silent, the next colluder copies, the others dissent
 */
export function colluderRole (job: string, index: number, count: number): ColluderRole {
  const turn = parseInt(job.slice(0, 2), 16) % count
  const k = (index - turn + count) % count
  return k === 0 ? 'silent' : k === 1 ? 'copy' : 'dissent'
}

/** The colluders' common fabricated output for an SRPM: every dissenter claims the same hash */
export function fabricatedFiles (srpmSha256: string, srpmName: string): { name: string, body: Buffer, files: Array<{ name: string, size: number, sha256: string }> } {
  const name = basename(srpmName).replace(/\.src\.rpm$/, '').replace(/\.rpm$/, '') + '.x86_64.rpm'
  const body = Buffer.from(`a colluders' build of ${srpmSha256}: never built\n`)
  return { name, body, files: [{ name, size: body.byteLength, sha256: createHash('sha256').update(body).digest('hex') }] }
}

/**
 * `count` keys ground before any beacon is known, against the honest builders' IDs, the way rules v1
 * rewarded it (docs/threat-model.md): of `tries` fresh keys, the leader is the one whose Kademlia key
 * (sha256 of the peer ID multihash, what v1 ranks by) is the closest builder to the most of `points`
 * random job points, i.e. one in the widest empty region of the key space; the others are the keys
 * closest to the leader's, so that wherever the leader is first, the colluders hold the first `count` seats.
 */
export async function grindKeys (honest: PeerId[], count: number, tries = 3000, points = 512): Promise<PrivateKey[]> {
  const pts = Array.from({ length: points }, () => randomBytes(32))
  const keys = await Promise.all(Array.from({ length: tries }, async () => generateKeyPair('Ed25519')))
  const kad = keys.map(k => peerKadId(peerIdFromPrivateKey(k)))
  const honestKad = honest.map(peerKadId)
  // the honest builder closest to each point: a key closer than it is the job's first seat
  const bar = pts.map(p => honestKad.map(k => xorDistance(p, k)).sort(compareDistance)[0])
  const wins = kad.map(k => pts.reduce((w, p, j) => w + (compareDistance(xorDistance(p, k), bar[j]) < 0 ? 1 : 0), 0))
  const leader = wins.indexOf(Math.max(...wins))
  const followers = kad.map((k, i) => ({ i, d: xorDistance(kad[leader], k) })).filter(f => f.i !== leader).sort((a, b) => compareDistance(a.d, b.d))
  return [leader, ...followers.slice(0, count - 1).map(f => f.i)].map(i => keys[i])
}

export interface SeatShare {
  /** the colluders' mean share of stage-1 seats */
  stage1Share: number
  /** the share of jobs whose first seats are all colluders (as many seats as there are colluders) */
  topShare: number
  /** the share of jobs in which the colluders hold at least `blocking` of the P+E seats */
  blockingShare: number
}

/**
 * The colluders' seats over `draws` fresh jobs (random job key and beacon) of one candidate list, ranked
 * by the real code: rules v1 (Kademlia keys) and rules v2 (salted positions)
 */
export function seatShares (candidates: PeerId[], colluders: ReadonlySet<string>, o: { panel: number, seats: number, blocking: number, draws: number }): { v1: SeatShare, v2: SeatShare } {
  const tally = (salted: boolean): SeatShare => {
    let stage1 = 0
    let blocking = 0
    let top = 0
    for (let i = 0; i < o.draws; i++) {
      const seats = jobSeats({ jobKey: randomBytes(32), beacon: randomBytes(32), salted }, candidates, o.seats).map(String)
      stage1 += seats.slice(0, o.panel).filter(s => colluders.has(s)).length
      if (seats.slice(0, colluders.size).every(s => colluders.has(s))) top++
      if (seats.filter(s => colluders.has(s)).length >= o.blocking) blocking++
    }
    return { stage1Share: stage1 / (o.draws * o.panel), topShare: top / o.draws, blockingShare: blocking / o.draws }
  }
  return { v1: tally(false), v2: tally(true) }
}
