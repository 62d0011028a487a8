/**
 * The eligible set of rules v2 (docs/protocols/assignment.md, "The eligible set"): who may hold a panel
 * seat of a job, judged from the public attestation log as it stood before the job's announcement, so the
 * set is fixed before the beacon is known. Pure.
 *
 * A builder's record is a list of build events, one per final verdict it took part in: `agreed` (its
 * reveal was credited: an agreeing stage-1 seat, or a probation seat whose reveal matched the verdict)
 * or `lost` (its reveal was on the losing side: a dissenter, or a probation seat of another hash). An
 * event's time is the job's `issued_at`, signed by the announcer, never the builder's own clock.
 *
 * With policy K (agreed builds) and D (days), a builder is eligible for a job issued at `issuedAt` when:
 * - at least K of its agreed builds in jobs issued before `issuedAt` come after its latest lost one
 *   (an ejected builder earns its way back with K more agreed builds, on probation seats), and
 * - its first agreed build (in a job issued before `issuedAt`) was issued at least D days before it.
 * K = 0: everyone is eligible (today's behaviour, a demo, a new mesh's genesis).
 *
 * @example
 * ```ts
 * if (eligible(peer, history, 3, 7, Number(announcement.issuedAt))) seats.push(peer)
 * ```
 */

export const DAY_MS = 24 * 3600 * 1000
/** The most agreed builds an announcement may require (field 17) */
export const MAX_ELIGIBLE_BUILDS = 1000
/** The most days an announcement may require (field 18) */
export const MAX_ELIGIBLE_DAYS = 365
/** The most probation seats an announcement may have (field 19) */
export const MAX_PROBATION_SEATS = 16

/** One final verdict a builder took part in */
export interface BuildEvent {
  builder: string
  job: string
  /** the job's `issued_at` (Unix ms, the announcer's signed time) */
  issuedAt: number
  outcome: 'agreed' | 'lost'
}

/** The policy an announcement signs (fields 17–19) */
export interface EligibilityPolicy {
  /** K: agreed builds a builder needs; 0 = every listed candidate is eligible */
  builds: number
  /** D: days between the builder's first agreed build and the announcement */
  days: number
  /** probation seats: best-ranked non-eligible candidates that build and are compared, never counted */
  probation: number
}

/** Where a builder stands for a job issued at `issuedAt`: eligible, and its progress toward K */
export interface Standing {
  eligible: boolean
  /** agreed builds that count (after its latest lost one) */
  counted: number
  /** K */
  needed: number
  /** the issue time of its first agreed build, if any */
  firstAgreedAt: number | null
  /** the issue time of its latest lost build (its ejection), if any */
  lostAt: number | null
}

/** The policy's own bounds; returns an error message or undefined */
export function policyProblem (p: EligibilityPolicy, seats: number): string | undefined {
  if (!Number.isInteger(p.builds) || p.builds < 0 || p.builds > MAX_ELIGIBLE_BUILDS) return `eligible builds ${p.builds} out of 0..${MAX_ELIGIBLE_BUILDS}`
  if (!Number.isInteger(p.days) || p.days < 0 || p.days > MAX_ELIGIBLE_DAYS) return `eligible days ${p.days} out of 0..${MAX_ELIGIBLE_DAYS}`
  if (!Number.isInteger(p.probation) || p.probation < 0 || p.probation > MAX_PROBATION_SEATS) return `probation seats ${p.probation} out of 0..${MAX_PROBATION_SEATS}`
  if (p.builds === 0 && (p.days !== 0 || p.probation !== 0)) return 'eligible days and probation seats need eligible builds (K > 0)'
  if (seats + p.probation > 64) return `${seats} seats + ${p.probation} probation seats exceed 64`
  return undefined
}

/** A builder's standing from its build events (others' events are ignored) */
export function standing (peer: string, history: readonly BuildEvent[], builds: number, days: number, issuedAt: number): Standing {
  let lostAt: number | null = null
  let firstAgreedAt: number | null = null
  const agreedAt: number[] = []
  for (const e of history) {
    if (e.builder !== peer || e.issuedAt >= issuedAt) continue
    if (e.outcome === 'lost') lostAt = lostAt === null || e.issuedAt > lostAt ? e.issuedAt : lostAt
    else {
      agreedAt.push(e.issuedAt)
      if (firstAgreedAt === null || e.issuedAt < firstAgreedAt) firstAgreedAt = e.issuedAt
    }
  }
  const counted = lostAt === null ? agreedAt.length : agreedAt.filter(t => t > (lostAt as number)).length
  const oldEnough = days === 0 || (firstAgreedAt !== null && firstAgreedAt <= issuedAt - days * DAY_MS)
  return { eligible: builds === 0 || (counted >= builds && oldEnough), counted, needed: builds, firstAgreedAt, lostAt }
}

/** Whether `peer` may hold a panel seat of a job issued at `issuedAt` under policy K, D */
export function eligible (peer: string, history: readonly BuildEvent[], builds: number, days: number, issuedAt: number): boolean {
  return standing(peer, history, builds, days, issuedAt).eligible
}

/**
 * A job's seats and probation seats from its ranked candidates (best first, bans already left out):
 * the first `seatCount` eligible ones are the seats; the first `probation` candidates that are not
 * eligible are the probation seats.
 */
export function splitSeats<T> (ranked: readonly T[], isEligible: (peer: T) => boolean, seatCount: number, probation: number): { seats: T[], probation: T[] } {
  const seats: T[] = []
  const trial: T[] = []
  for (const p of ranked) {
    if (isEligible(p)) {
      if (seats.length < seatCount) seats.push(p)
    } else if (trial.length < probation) {
      trial.push(p)
    }
  }
  return { seats, probation: trial }
}

/**
 * The build events one final verdict gives, from its tally detail: agreed for its credited seats (v1:
 * its agreeing builders) and its matching probation seats, lost for its dissenters and its probation
 * seats of another hash. Other verdicts give none.
 */
export function verdictEvents (job: string, issuedAt: number, detail: VerdictDetail): BuildEvent[] {
  if (detail.verdict !== 'agreed' && detail.verdict !== 'disputed') return []
  const agreed = detail.verdict === 'agreed' ? [...(detail.credited ?? detail.agreeing ?? []), ...(detail.probationAgreeing ?? [])] : []
  const lost = [...(detail.dissenters ?? []), ...(detail.probationDissenters ?? [])]
  return [
    ...agreed.map(builder => ({ builder, job, issuedAt, outcome: 'agreed' as const })),
    ...lost.map(builder => ({ builder, job, issuedAt, outcome: 'lost' as const }))
  ]
}

/** The parts of a stored tally detail that build events come from */
export interface VerdictDetail {
  verdict: string
  agreeing?: string[]
  credited?: string[]
  dissenters?: string[]
  probationAgreeing?: string[]
  probationDissenters?: string[]
}
