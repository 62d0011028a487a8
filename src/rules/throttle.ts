/**
 * The dispute throttle: a sliding window of recent final verdicts (the last hour, and at most the last
 * 100), and whether the share of `disputed` among them is high enough that the mesh should slow down
 * (take fewer new jobs, escalate to more builders or a human) rather than keep producing disputes.
 * Throttled when `disputed / size > threshold` (`disputed` counts v1's disputed and v2's blocked verdicts) (default 0.2) with at least `minSample` (default 5)
 * verdicts in the window. Every final verdict kind counts in the denominator; `pending` is refused.
 * A job re-announced after it ended blocked is `superseded`: only its last attempt counts, so a blocked
 * job counts as blocked only when its last attempt is (docs/protocols/consensus.md, "Throttle").
 * Pure apart from its own state: time is always injected (Unix ms).
 *
 * @example
 * ```ts
 * const throttle = new Throttle()
 * throttle.record(verdict.verdict, Date.now(), job)
 * if (throttle.state(Date.now()).throttled) { ... }
 * ```
 */
import { THROTTLE_DISPUTED_SHARE, THROTTLE_MAX_VERDICTS, THROTTLE_MIN_SAMPLE, THROTTLE_WINDOW_MS } from './constants.ts'
import type { FinalVerdictKind } from './tally.ts'

export interface ThrottleInit {
  /** @default THROTTLE_WINDOW_MS (1 hour) */
  windowMs?: number
  /** @default THROTTLE_MAX_VERDICTS (100) */
  maxVerdicts?: number
  /** @default THROTTLE_DISPUTED_SHARE (0.2) */
  threshold?: number
  /** @default THROTTLE_MIN_SAMPLE (5) */
  minSample?: number
}

export interface ThrottleState {
  throttled: boolean
  /** disputed / size, 0 for an empty window */
  disputedShare: number
  window: {
    /** final verdicts in the window */
    size: number
    disputed: number
    /** the window's length */
    ms: number
    /** time of the oldest verdict in the window, if any */
    from?: number
  }
}

interface Entry { verdict: FinalVerdictKind, at: number, job?: string }

/** superseded jobs remembered: well past a window's worth of verdicts, so none comes back while it could count */
const SUPERSEDED_KEPT = 10_000

const FINAL: ReadonlySet<string> = new Set(['agreed', 'disputed', 'no-consensus', 'failed', 'blocked'])
/** what the throttle counts against the mesh: v1's disputed verdicts and v2's blocked ones (a panel's first-round dissent that escalation resolved is agreed) */
const TROUBLE: ReadonlySet<string> = new Set(['disputed', 'blocked'])

export class Throttle {
  /** sorted by time, oldest first */
  private entries: Entry[] = []
  /** jobs retried by a later attempt, newest last: never counted (bounded: SUPERSEDED_KEPT) */
  private readonly superseded = new Set<string>()
  readonly windowMs: number
  readonly maxVerdicts: number
  readonly threshold: number
  readonly minSample: number

  constructor (init: ThrottleInit = {}) {
    this.windowMs = init.windowMs ?? THROTTLE_WINDOW_MS
    this.maxVerdicts = init.maxVerdicts ?? THROTTLE_MAX_VERDICTS
    this.threshold = init.threshold ?? THROTTLE_DISPUTED_SHARE
    this.minSample = init.minSample ?? THROTTLE_MIN_SAMPLE
    if (!(this.windowMs > 0) || !Number.isInteger(this.maxVerdicts) || this.maxVerdicts < 1) throw new RangeError('window must be positive')
  }

  /**
   * Records a final verdict made at `at`. With `job`, a later record for the same job replaces the
   * earlier one (a verdict that moved, e.g. after an equivocation proof), so a job counts once.
   */
  record (verdict: FinalVerdictKind, at: number, job?: string): void {
    if (!FINAL.has(verdict)) throw new TypeError(`only final verdicts are recorded, not ${String(verdict)}`)
    if (!Number.isFinite(at)) throw new TypeError('time must be a finite number')
    if (job !== undefined && this.superseded.has(job)) return
    if (job !== undefined) this.entries = this.entries.filter(e => e.job !== job)
    let i = this.entries.length
    while (i > 0 && this.entries[i - 1].at > at) i--
    this.entries.splice(i, 0, { verdict, at, ...(job !== undefined ? { job } : {}) })
    // nothing older than the newest entry's window can ever be in a window again (for now >= newest)
    const newest = this.entries[this.entries.length - 1].at
    let drop = 0
    while (drop < this.entries.length && this.entries[drop].at <= newest - this.windowMs) drop++
    drop = Math.max(drop, this.entries.length - this.maxVerdicts)
    if (drop > 0) this.entries.splice(0, drop)
  }

  /**
   * A job that a re-announcement retries: its verdict leaves the window and is never recorded again;
   * the retry's own verdict counts instead.
   */
  supersede (job: string): void {
    this.entries = this.entries.filter(e => e.job !== job)
    this.superseded.delete(job)
    this.superseded.add(job)
    if (this.superseded.size > SUPERSEDED_KEPT) this.superseded.delete(this.superseded.values().next().value!)
  }

  /** The window at `now`: verdicts made in (now - windowMs, now], the newest maxVerdicts of them */
  state (now: number): ThrottleState {
    const inWindow = this.entries.filter(e => e.at > now - this.windowMs && e.at <= now).slice(-this.maxVerdicts)
    const disputed = inWindow.filter(e => TROUBLE.has(e.verdict)).length
    const size = inWindow.length
    const disputedShare = size === 0 ? 0 : disputed / size
    return {
      throttled: size >= this.minSample && disputedShare > this.threshold,
      disputedShare,
      window: { size, disputed, ms: this.windowMs, ...(size > 0 ? { from: inWindow[0].at } : {}) }
    }
  }
}
