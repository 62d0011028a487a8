/**
 * Peer penalties by severity (after Lodestar's peer scoring): each misdeed lowers a peer's score by its
 * severity's weight; the score decays back toward zero with a half-life. The score feeds gossipsub's
 * application-specific score (P5), so a peer that sends bad blob chunks or, later, dissenting builds
 * loses gossip standing. A fatal penalty drops the peer below the graylist threshold at once. A node
 * keeps one table: the gossip validators' flood penalties, the blob service's and equivocation bans all
 * land here.
 */
import { PENALTY_WEIGHTS, type PenaltySeverity } from '../rules/penalty.ts'

/** @default 10 minutes */
export const PENALTY_HALF_LIFE_MS = 10 * 60 * 1000

/** Scores under this are dropped from the table (back to neutral) */
const FORGET_BELOW = 0.01

export class PeerPenalties {
  private readonly scores = new Map<string, { score: number, at: number }>()
  private readonly halfLifeMs: number
  private readonly now: () => number

  constructor (opts: { halfLifeMs?: number, now?: () => number } = {}) {
    this.halfLifeMs = opts.halfLifeMs ?? PENALTY_HALF_LIFE_MS
    this.now = opts.now ?? Date.now
  }

  penalise (peer: string, severity: PenaltySeverity): number {
    const score = this.score(peer) + PENALTY_WEIGHTS[severity]
    this.scores.set(peer, { score, at: this.now() })
    return score
  }

  /** The decayed score of a peer: 0 for one never penalised, negative otherwise */
  score (peer: string): number {
    const entry = this.scores.get(peer)
    if (entry === undefined) return 0
    const decayed = entry.score * Math.pow(0.5, (this.now() - entry.at) / this.halfLifeMs)
    if (Math.abs(decayed) < FORGET_BELOW) {
      this.scores.delete(peer)
      return 0
    }
    return decayed
  }

  entries (): Array<{ peer: string, score: number }> {
    return [...this.scores.keys()].map(peer => ({ peer, score: this.score(peer) })).filter(e => e.score !== 0)
  }
}
