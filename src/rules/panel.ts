/**
 * The panel tally of rules v2 (docs/protocols/consensus.md, "Panel tally"): a pure function from a job's
 * panel parameters, its ranked seats and the attestations seen so far to a verdict, the same on every node
 * for the same inputs, whatever their order (lists sorted, `counts` keys sorted).
 *
 * Seats: the first P+E builders of the job's ranking; the first P are stage 1, the next E the escalation.
 * 1. Only attestations by seated builders count; a seat with two different claims is an equivocator
 *    (excluded, listed, and it has spoken).
 * 2. Stage 1: `agreed(H)` when all P stage-1 seats attested ok with H; `failed` when all P attested a
 *    failed build. Any other claim among them (another hash, a failure beside a hash, an equivocation),
 *    or a stage-1 seat still silent when the stage deadline passes, escalates the job.
 * 3. Escalated: the escalation seats build too, and the P+E seats decide: `agreed(H)` once T seats
 *    attested H (seats, not replies: a silent seat never counts for anyone); `failed` once T seats failed;
 *    `blocked` when neither can happen any more (the largest count plus the silent seats, and the failed
 *    count plus the silent seats, are both below T) or the job's deadline passed. Else `pending`.
 * Before escalation, attestations of escalation seats are kept but do not count.
 * An agreed verdict after escalation names the other hashes' seats as `dissenters`: the losing side.
 * Every verdict but `pending` is final: T > (P+E)/2 seats of one hash cannot be outvoted, and stage 1
 * ends only when all P seats have spoken.
 * Probation seats (`probation`): their attestations never count; once agreed, they are compared with the
 * verdict (`probationAgreeing`, `probationDissenters`), which is how newcomers earn eligibility.
 *
 * @example
 * ```ts
 * const v = panelTally({ panel: 10, escalation: 5, threshold: 12, seats, attestations, stageDeadlinePassed, deadlinePassed })
 * if (v.escalated && v.seats.includes(self)) build()
 * ```
 */
import { TallyError, type TallyAttestation, type Verdict } from './tally.ts'

export interface PanelParams {
  /** P: stage-1 seats, all of which must agree */
  panel: number
  /** E: seats added on escalation */
  escalation: number
  /** T: seats of one hash that decide an escalated job; P < T ≤ P+E and 2T > P+E */
  threshold: number
}

export interface PanelInput extends PanelParams {
  /** peer ID strings of the job's seats, best-ranked first (at most P+E; banned builders already left out) */
  seats: readonly string[]
  attestations: readonly TallyAttestation[]
  /** whether the stage-1 deadline passed: silent stage-1 seats then escalate the job */
  stageDeadlinePassed: boolean
  /** whether the job's deadline (the announcement's expiry) passed: an escalated job still open is blocked */
  deadlinePassed: boolean
  /**
   * the job's probation seats (docs/protocols/assignment.md, "Probation"): their attestations never count
   * toward the verdict; once it is agreed they are compared with it
   */
  probation?: readonly string[]
}

export interface PanelVerdict extends Verdict {
  /** whether the escalation seats were called */
  escalated: boolean
  /** the seats that build now: stage 1, or stage 1 and the escalation seats once escalated */
  seats: string[]
  /** agreed only: the agreeing stage-1 seats, the builders the stats tracker credits (stats.md) */
  credited?: string[]
  /** with probation seats only: those seats, and (agreed) which of them revealed the agreed hash or another */
  probation?: string[]
  probationAgreeing?: string[]
  probationDissenters?: string[]
}

/** The panel rules' own checks, shared with announcement validation; returns an error message or undefined */
export function panelProblem ({ panel, escalation, threshold }: PanelParams): string | undefined {
  if (!Number.isInteger(panel) || panel < 1) return `panel ${panel} must be a positive integer`
  if (!Number.isInteger(escalation) || escalation < 1) return `escalation ${escalation} must be a positive integer`
  if (panel + escalation > 64) return `panel ${panel} + escalation ${escalation} exceeds 64 seats`
  if (!Number.isInteger(threshold) || threshold <= panel || threshold > panel + escalation || 2 * threshold <= panel + escalation) {
    return `threshold ${threshold} must be above the panel ${panel}, at most ${panel + escalation} seats and a majority of them`
  }
  return undefined
}

const byString = (a: string, b: string): number => a < b ? -1 : a > b ? 1 : 0

function claimOf (a: TallyAttestation): string {
  if (a.status === 'failed') return 'failed'
  if (a.status !== 'ok' || typeof a.buildHash !== 'string' || a.buildHash.length === 0) throw new TallyError(`bad attestation by ${a.builder}`)
  return `ok:${a.buildHash}`
}

/** One claim per seated builder; two different claims make an equivocator */
function claimsOf (seats: ReadonlySet<string>, attestations: readonly TallyAttestation[]): { claims: Map<string, string>, equivocators: Set<string> } {
  const claims = new Map<string, string>()
  const equivocators = new Set<string>()
  for (const a of attestations) {
    if (!seats.has(a.builder)) continue
    const claim = claimOf(a)
    const previous = claims.get(a.builder)
    if (previous !== undefined && previous !== claim) equivocators.add(a.builder)
    claims.set(a.builder, claim)
  }
  for (const e of equivocators) claims.set(e, 'equivocated')
  return { claims, equivocators }
}

/** Whether stage 1 decides on its own: every stage-1 seat made the same claim (not an equivocation) */
function unanimous (stage1: readonly string[], claims: Map<string, string>): string | undefined {
  const first = claims.get(stage1[0])
  if (first === undefined || first === 'equivocated') return undefined
  return stage1.every(s => claims.get(s) === first) ? first : undefined
}

export function panelTally (input: PanelInput): PanelVerdict {
  const problem = panelProblem(input)
  if (problem !== undefined) throw new TallyError(problem)
  const { panel: P, escalation: E, threshold: T } = input
  const ranked = [...new Set(input.seats)]
  if (ranked.length > P + E) throw new TallyError(`${ranked.length} seats > panel ${P} + escalation ${E}`)
  const stage1 = ranked.slice(0, P)
  const { claims, equivocators } = claimsOf(new Set(ranked), input.attestations)
  const decided = stage1.length === P ? unanimous(stage1, claims) : undefined
  const stage1Silent = stage1.some(s => !claims.has(s))
  const escalated = decided === undefined && (!stage1Silent || input.stageDeadlinePassed || stage1.length < P)
  const seats = escalated ? ranked : stage1
  const counted = seats.filter(s => claims.has(s) && !equivocators.has(s))
  const byHash = new Map<string, string[]>()
  const failedBuilders: string[] = []
  for (const s of counted) {
    const claim = claims.get(s) as string
    if (claim === 'failed') failedBuilders.push(s)
    else byHash.set(claim.slice(3), [...(byHash.get(claim.slice(3)) ?? []), s])
  }
  const hashes = [...byHash.keys()].sort(byString)
  const counts: Record<string, number> = {}
  for (const h of hashes) counts[h] = byHash.get(h)?.length ?? 0
  const missing = seats.filter(s => !claims.has(s)).sort(byString)
  const base = {
    ...probationOutcome(input, ranked),
    failedBuilders: failedBuilders.sort(byString),
    equivocators: seats.filter(s => equivocators.has(s)).sort(byString),
    missing,
    counts,
    escalated,
    seats: [...seats]
  }
  const none = { agreeing: [], dissenters: [] }
  const need = escalated ? T : P
  const winner = hashes.find(h => counts[h] >= need)
  if (winner !== undefined) {
    const dissenters = hashes.filter(h => h !== winner).flatMap(h => byHash.get(h) ?? []).sort(byString)
    const agreeing = [...(byHash.get(winner) ?? [])].sort(byString)
    // escalation seats commit after stage 1's reveals are public: they count toward T but earn no credit
    const credited = agreeing.filter(s => stage1.includes(s))
    return { verdict: 'agreed', hash: winner, agreeing, dissenters, ...base, credited, ...probationOutcome(input, ranked, winner), final: true }
  }
  if (failedBuilders.length >= need) return { verdict: 'failed', ...none, ...base, final: true }
  if (escalated) {
    const best = hashes.reduce((m, h) => Math.max(m, counts[h]), 0)
    const reachable = best + missing.length >= T || failedBuilders.length + missing.length >= T
    if (!reachable || input.deadlinePassed) return { verdict: 'blocked', ...none, ...base, final: true }
  }
  return { verdict: 'pending', ...none, ...base, final: false }
}

/**
 * Probation seats compared with an agreed hash: those that revealed it and those that revealed another
 * (failed builds are neither); just the seats before a verdict; nothing when the job has none.
 */
function probationOutcome (input: PanelInput, ranked: readonly string[], agreed?: string): Pick<PanelVerdict, 'probation' | 'probationAgreeing' | 'probationDissenters'> {
  const trial = [...new Set(input.probation ?? [])].filter(s => !ranked.includes(s)).sort(byString)
  if (trial.length === 0) return {}
  if (agreed === undefined) return { probation: trial }
  const { claims, equivocators } = claimsOf(new Set(trial), input.attestations)
  const ok = (s: string): boolean => !equivocators.has(s) && (claims.get(s) ?? 'failed').startsWith('ok:')
  return {
    probation: trial,
    probationAgreeing: trial.filter(s => ok(s) && claims.get(s) === `ok:${agreed}`),
    probationDissenters: trial.filter(s => ok(s) && claims.get(s) !== `ok:${agreed}`)
  }
}
