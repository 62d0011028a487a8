/**
 * Issue 12's goal table for rules v2 (salted positions, panels with escalation): per job, with colluders
 * attesting another hash X on every seat they hold (the worst case for forging; a silent seat escalates
 * too but counts for nobody), the probability of a forged final agreed(X), of a blocked job, and the
 * builds per job. Exact: stage-1 seats k1 ~ Bin(P, f), escalation seats k2 ~ Bin(E, f) (salted ranking is
 * a fresh uniform draw per job, ground IDs or not). Monte Carlo: the real jobSeats (salted) and panelTally
 * over meshes of random honest peer IDs and random or ground attacker IDs.
 */
import { randomBytes } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import { jobSeats } from '../../src/rules/assignment.ts'
import { jobKey } from '../../src/rules/job.ts'
import { panelTally, type PanelParams } from '../../src/rules/panel.ts'
import type { TallyAttestation } from '../../src/rules/tally.ts'

function choose (n: number, k: number): number {
  if (k < 0 || k > n) return 0
  let c = 1
  for (let i = 1; i <= k; i++) c = c * (n - k + i) / i
  return c
}
const binom = (n: number, f: number, k: number): number => choose(n, k) * f ** k * (1 - f) ** (n - k)

export interface GoalFigures { forged: number, blocked: number, agreedTrue: number, builds: number, seatShare?: number }

/** The exact figures for attacker share f */
export function exactGoal ({ panel: P, escalation: E, threshold: T }: PanelParams, f: number): GoalFigures {
  const S = P + E
  let forged = binom(P, f, P)
  let blocked = 0
  let agreedTrue = binom(P, f, 0)
  for (let k1 = 1; k1 < P; k1++) {
    for (let k2 = 0; k2 <= E; k2++) {
      const p = binom(P, f, k1) * binom(E, f, k2)
      const k = k1 + k2
      if (k >= T) forged += p
      else if (S - k >= T) agreedTrue += p
      else blocked += p
    }
  }
  return { forged, blocked, agreedTrue, builds: P + E * (1 - binom(P, f, 0)) }
}

/**
 * The same figures when a blocked job is re-announced with a fresh beacon, at most `attempts - 1` times
 * (docs/protocols/announce.md): each attempt is an independent draw of the seats, so attempt i happens with
 * probability blocked^(i-1), and a job stays blocked only when every attempt is.
 */
export function withRetries (one: GoalFigures, attempts: number): GoalFigures {
  let reach = 1
  let forged = 0; let agreedTrue = 0; let builds = 0
  for (let i = 0; i < attempts; i++) {
    forged += reach * one.forged
    agreedTrue += reach * one.agreedTrue
    builds += reach * one.builds
    reach *= one.blocked
  }
  return { forged, blocked: reach, agreedTrue, builds }
}

const H = 'a'.repeat(64)
const X = 'b'.repeat(64)

/**
 * Monte Carlo over the real code: `meshes` meshes of n identities (a = round(f n) attackers, made by
 * `attackers(honest, a)`), `jobs` random jobs each (random SRPM hash and beacon), every identity listed.
 */
export function monteCarloGoal (params: PanelParams, n: number, f: number, meshes: number, jobs: number, randomPeer: () => PeerId, attackers: (honest: PeerId[], a: number) => PeerId[], attempts = 1): GoalFigures & { jobs: number } {
  const a = Math.max(1, Math.round(f * n))
  let forged = 0; let blocked = 0; let agreedTrue = 0; let builds = 0; let seats = 0; let held = 0
  for (let m = 0; m < meshes; m++) {
    const honest = Array.from({ length: n - a }, randomPeer)
    const bad = attackers(honest, a)
    const isBad = new Set(bad.map(String))
    const all = [...honest, ...bad]
    for (let j = 0; j < jobs; j++) {
      const srpm = randomBytes(32)
      // a blocked job is announced again with a fresh beacon, up to `attempts` announcements in all
      for (let attempt = 1; attempt <= attempts; attempt++) {
        const beacon = randomBytes(32)
        const ranked = jobSeats({ jobKey: jobKey(srpm, 'fedora-41-x86_64', beacon), beacon, salted: true }, all, params.panel + params.escalation).map(String)
        const attestations: TallyAttestation[] = ranked.map(s => ({ builder: s, status: 'ok', buildHash: isBad.has(s) ? X : H }))
        const v = panelTally({ ...params, seats: ranked, attestations, stageDeadlinePassed: false, deadlinePassed: false })
        builds += v.seats.length
        if (attempt === 1) {
          const stage1 = ranked.slice(0, params.panel)
          seats += stage1.length
          held += stage1.filter(s => isBad.has(s)).length
        }
        if (v.verdict === 'blocked' && attempt < attempts) continue
        if (v.verdict === 'agreed' && v.hash === X) forged++
        else if (v.verdict === 'agreed') agreedTrue++
        else if (v.verdict === 'blocked') blocked++
        break
      }
    }
  }
  const total = meshes * jobs
  return { forged: forged / total, blocked: blocked / total, agreedTrue: agreedTrue / total, builds: builds / total, seatShare: held / seats, jobs: total }
}
