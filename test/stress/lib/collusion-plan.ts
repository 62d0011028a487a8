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
 * rewarded it (docs/threat-model.md): of fresh keys, the leader is the one whose Kademlia key
 * (sha256 of the peer ID multihash, what v1 ranks by) is the closest builder to the most of `points`
 * random job points, i.e. one in the widest empty region of the key space; the others are the keys
 * closest to the leader's, so that wherever the leader is first, the colluders hold the first `count` seats.
 * A grinder keeps going until that holds for `minTop` of fresh points (a share of jobs whose first `count`
 * seats are all ground keys), adding `tries` keys a round, up to `rounds`: a fixed number of keys is a
 * lottery that now and then leaves the followers behind an honest builder, which proves nothing about v1.
 */
export async function grindKeys (honest: PeerId[], count: number, o: { tries?: number, points?: number, minTop?: number, rounds?: number } = {}): Promise<PrivateKey[]> {
  const { tries = 3000, points = 512, minTop = 0, rounds = 8 } = o
  const honestKad = honest.map(peerKadId)
  const firstHonest = (p: Uint8Array): Uint8Array => honestKad.map(k => xorDistance(p, k)).sort(compareDistance)[0]
  const pts = Array.from({ length: points }, () => randomBytes(32))
  const bar = pts.map(firstHonest)
  // fresh points to judge a pick by, so that the pick is not judged on the points it was made from
  const check = Array.from({ length: points }, () => randomBytes(32)).map(p => ({ p, bar: firstHonest(p) }))
  const keys: PrivateKey[] = []
  const kad: Uint8Array[] = []
  /** per key: of the points, those where it is closer than every honest builder */
  const wins: number[] = []
  let best: { top: number, pick: number[] } = { top: -1, pick: [] }
  for (let round = 0; round < rounds && best.top < minTop; round++) {
    const more = await Promise.all(Array.from({ length: tries }, async () => generateKeyPair('Ed25519')))
    const moreKad = more.map(k => peerKadId(peerIdFromPrivateKey(k)))
    keys.push(...more)
    kad.push(...moreKad)
    wins.push(...moreKad.map(k => pts.reduce((w, p, j) => w + (compareDistance(xorDistance(p, k), bar[j]) < 0 ? 1 : 0), 0)))
    const leader = wins.indexOf(Math.max(...wins))
    const followers = kad.map((k, i) => ({ i, d: xorDistance(kad[leader], k) })).filter(f => f.i !== leader).sort((a, b) => compareDistance(a.d, b.d))
    const pick = [leader, ...followers.slice(0, count - 1).map(f => f.i)]
    // the share of fresh points where every picked key is closer than every honest builder
    const top = check.filter(c => pick.every(i => compareDistance(xorDistance(c.p, kad[i]), c.bar) < 0)).length / check.length
    if (top > best.top) best = { top, pick }
  }
  return best.pick.map(i => keys[i])
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
