/**
 * Builder reputation, after BOINC's adaptive replication: per builder, how many of its builds agreed
 * with the verdict and how many dissented, each count decaying exponentially (half-life 7 days by
 * default), so old history fades and a builder that was fixed regains its standing.
 *
 * - `record(builder, 'agree' | 'dissent', at)` adds one event at time `at` (events may arrive out of
 *   order: an event older than the entry's last update is added with its weight already decayed).
 * - `get(builder, now)` returns the decayed counts and `flagged`: the decayed dissent count is at least
 *   1.5 (REPUTATION_FLAG_THRESHOLD). Two dissents within one half-life of each other reach it
 *   (1 + 2^(-Δt/halfLife) >= 1.5 exactly when Δt <= halfLife); one dissent never does. The flag lifts
 *   by itself once the count decays below 1.5 again: at most one half-life after the last dissent.
 * - `appScore(builder, now)` feeds gossipsub's application-specific score: `-10 × dissent` while flagged,
 *   0 otherwise. Never positive: agreement is cheap to fake among colluders, so it earns no boost.
 * - `toRows()` / `Reputation.fromRows()` for the store; `prune(now)` bounds memory.
 *
 * Failed builds are neither agreement nor dissent (see tally.ts). Time is always injected (Unix ms).
 *
 * @example
 * ```ts
 * const rep = new Reputation()
 * for (const p of verdict.agreeing) rep.record(p, 'agree', now)
 * for (const p of verdict.dissenters) rep.record(p, 'dissent', now)
 * rep.appScore(peer, Date.now()) // e.g. gossipsub scoreParams.appSpecificScore
 * ```
 */
import {
  REPUTATION_FLAG_THRESHOLD, REPUTATION_FLAGGED_SCORE_PER_DISSENT, REPUTATION_HALF_LIFE_MS, REPUTATION_MAX_BUILDERS,
  REPUTATION_PRUNE_BELOW, REPUTATION_EJECT_THRESHOLD
} from './constants.ts'

export type ReputationEvent = 'agree' | 'dissent'

export interface ReputationInit {
  /** @default REPUTATION_HALF_LIFE_MS (7 days) */
  halfLifeMs?: number
  /** @default REPUTATION_FLAG_THRESHOLD (1.5) */
  flagThreshold?: number
  /** @default REPUTATION_FLAGGED_SCORE_PER_DISSENT (10) */
  flaggedScorePerDissent?: number
  /** @default REPUTATION_MAX_BUILDERS (100 000) */
  maxBuilders?: number
}

export interface ReputationStanding {
  /** decayed count of builds that agreed with the verdict */
  agree: number
  /** decayed count of builds that dissented */
  dissent: number
  flagged: boolean
}

/** One builder's state as stored: counts as of `updatedAt` (Unix ms) */
export interface ReputationRow {
  builder: string
  agree: number
  dissent: number
  updatedAt: number
}

export class Reputation {
  private readonly entries = new Map<string, ReputationRow>()
  readonly halfLifeMs: number
  readonly flagThreshold: number
  readonly flaggedScorePerDissent: number
  readonly maxBuilders: number

  constructor (init: ReputationInit = {}) {
    this.halfLifeMs = init.halfLifeMs ?? REPUTATION_HALF_LIFE_MS
    this.flagThreshold = init.flagThreshold ?? REPUTATION_FLAG_THRESHOLD
    this.flaggedScorePerDissent = init.flaggedScorePerDissent ?? REPUTATION_FLAGGED_SCORE_PER_DISSENT
    this.maxBuilders = init.maxBuilders ?? REPUTATION_MAX_BUILDERS
    if (!(this.halfLifeMs > 0)) throw new RangeError(`half-life must be positive (got ${this.halfLifeMs})`)
  }

  /** 2^(-Δt/halfLife), and 1 for Δt <= 0 (a row never grows by reading it in the past) */
  private factor (dt: number): number {
    return dt <= 0 ? 1 : Math.pow(2, -dt / this.halfLifeMs)
  }

  record (builder: string, event: ReputationEvent, at: number): void {
    if (event !== 'agree' && event !== 'dissent') throw new TypeError(`unknown reputation event ${String(event)}`)
    if (!Number.isFinite(at)) throw new TypeError('time must be a finite number')
    const row = this.entries.get(builder)
    if (row === undefined) {
      this.entries.set(builder, { builder, agree: event === 'agree' ? 1 : 0, dissent: event === 'dissent' ? 1 : 0, updatedAt: at })
      return
    }
    if (at >= row.updatedAt) {
      const f = this.factor(at - row.updatedAt)
      row.agree *= f
      row.dissent *= f
      row.updatedAt = at
      row[event] += 1
    } else {
      // an event from before the last update: add it as it weighs at updatedAt
      row[event] += this.factor(row.updatedAt - at)
    }
  }

  get (builder: string, now: number): ReputationStanding {
    const row = this.entries.get(builder)
    if (row === undefined) return { agree: 0, dissent: 0, flagged: false }
    const f = this.factor(now - row.updatedAt)
    const dissent = row.dissent * f
    return { agree: row.agree * f, dissent, flagged: dissent >= this.flagThreshold }
  }

  /** For gossipsub's application score: negative for flagged builders, 0 otherwise */
  appScore (builder: string, now: number): number {
    const { dissent, flagged } = this.get(builder, now)
    return flagged ? -this.flaggedScorePerDissent * dissent : 0
  }

  /** Builders flagged at `now`, sorted */
  flagged (now: number): string[] {
    return [...this.entries.keys()].filter(b => this.get(b, now).flagged).sort()
  }

  get size (): number {
    return this.entries.size
  }

  /**
   * Drops builders whose decayed counts are both below `below`, then, beyond `maxBuilders`, those with
   * the least history (dissent weighs first: a flagged builder is kept longest). Returns how many went.
   */
  prune (now: number, below: number = REPUTATION_PRUNE_BELOW): number {
    const before = this.entries.size
    for (const [builder] of this.entries) {
      const s = this.get(builder, now)
      if (s.agree < below && s.dissent < below) this.entries.delete(builder)
    }
    if (this.entries.size > this.maxBuilders) {
      const ranked = [...this.entries.keys()]
        .map(b => ({ b, s: this.get(b, now) }))
        .sort((x, y) => (x.s.dissent - y.s.dissent) || (x.s.agree - y.s.agree) || (x.b < y.b ? -1 : 1))
      for (const { b } of ranked.slice(0, this.entries.size - this.maxBuilders)) this.entries.delete(b)
    }
    return before - this.entries.size
  }

  /** The state as rows for the store, sorted by builder (counts as of each row's `updatedAt`) */
  /**
   * The builders ejected from later panels at `now`: decayed dissent at least REPUTATION_EJECT_THRESHOLD
   * (docs/protocols/assignment.md, "Ejection"). Sorted.
   */
  ejected (now: number): string[] {
    return [...this.entries.keys()].filter(b => this.get(b, now).dissent >= REPUTATION_EJECT_THRESHOLD).sort()
  }

  toRows (): ReputationRow[] {
    return [...this.entries.values()].map(r => ({ ...r })).sort((a, b) => a.builder < b.builder ? -1 : a.builder > b.builder ? 1 : 0)
  }

  /** Restores rows from the store; rows with non-finite or negative numbers are skipped */
  static fromRows (rows: Iterable<ReputationRow>, init: ReputationInit = {}): Reputation {
    const rep = new Reputation(init)
    for (const r of rows) {
      if (typeof r.builder !== 'string' || r.builder.length === 0) continue
      if (![r.agree, r.dissent, r.updatedAt].every(Number.isFinite) || r.agree < 0 || r.dissent < 0) continue
      rep.entries.set(r.builder, { builder: r.builder, agree: r.agree, dissent: r.dissent, updatedAt: r.updatedAt })
    }
    return rep
  }
}
