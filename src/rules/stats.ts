/**
 * The stats tracker, after BOINC: per builder node and per contributor, builds done, agreeing,
 * dissenting and failed, and credit for agreed builds only, with a decaying recent average. A pure
 * function of the gossiped attestations and the verdicts tallied from them, so every node that holds
 * the same attestations computes the same leaderboard, and anyone can check it.
 *
 * Rules (docs/protocols/stats.md):
 * - `builds`: attestations the node signed (ok or failed) for jobs this node knows.
 * - `agreed` / `dissented` / `failed`: how often the node is among a final verdict's agreeing builders,
 *   its dissenters, or its failed builders (agreed and disputed verdicts both name an agreeing side).
 *   `pending`: attested jobs without a final verdict yet.
 * - Credit is granted only for final `agreed` verdicts, to each agreeing builder (rules v2: each
 *   `credited` one, the stage-1 seats of the agreeing side): the median of the credited builders' claimed build durations in seconds (BOINC's defence against inflated claims:
 *   one builder cannot raise what the quorum is paid), at least 1 credit per agreed build.
 * - The credit's time is the latest attestation time among the agreeing builders (signed by them, so
 *   the same on every node). `recentCredit` decays each grant with a half-life of 7 days;
 *   `rac` (recent average credit) is that in credit per day: recentCredit × ln 2 / half-life in days.
 * - A contributor is the name a node's operator signs into its attestations (its latest one counts);
 *   a node without one stands for itself under its peer ID.
 *
 * @example
 * ```ts
 * const stats = computeStats(store.statsInput(), { self: node.peerId, now: Date.now() })
 * stats.nodes[0] // the top builder by credit
 * ```
 */

/** @default 7 days, BOINC's half-life of the recent average credit */
export const STATS_HALF_LIFE_DAYS = 7
/** @default 1 credit at least for an agreed build */
export const MIN_CREDIT = 1

const DAY_MS = 24 * 3600 * 1000

export interface StatsAttestation {
  job: string
  builder: string
  status: 'ok' | 'failed'
  /** the builder's signed time, Unix ms */
  time: number
  contributor: string
  durationMs: number
}

export interface StatsVerdict {
  job: string
  final: boolean
  /** the tally's JSON, as stored (verdict, agreeing, dissenters, failedBuilders, ...) */
  detail: string
}

export interface StatsRow {
  builds: number
  agreed: number
  dissented: number
  failed: number
  pending: number
  credit: number
  recentCredit: number
  /** recent average credit, per day */
  rac: number
  lastCreditAt: number | null
}

export interface NodeStats extends StatsRow {
  peerId: string
  contributor: string | null
}

export interface ContributorStats extends StatsRow {
  contributor: string
  nodes: string[]
}

export interface MeshStats {
  generatedAt: number
  self: string
  halfLifeDays: number
  nodes: NodeStats[]
  contributors: ContributorStats[]
  totals: { jobs: number, agreed: number, disputed: number, noConsensus: number, failed: number, pending: number, credit: number }
}

export interface StatsOptions {
  self: string
  now: number
  halfLifeDays?: number
}

function emptyRow (): StatsRow {
  return { builds: 0, agreed: 0, dissented: 0, failed: 0, pending: 0, credit: 0, recentCredit: 0, rac: 0, lastCreditAt: null }
}

function median (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Rounded to 1/1000, so every node prints the same figures whatever the summation order */
function round3 (n: number): number {
  return Math.round(n * 1000) / 1000
}

function byRank<T extends StatsRow> (key: (r: T) => string): (a: T, b: T) => number {
  return (a, b) => b.credit - a.credit || b.rac - a.rac || b.agreed - a.agreed || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)
}

/** What a final verdict's tally says, as far as credit goes */
export interface CreditTally { verdict: string, agreeing?: string[], credited?: string[] }

/**
 * The credit one final verdict grants (the rules above): how much each credited builder gets, when, and
 * who; undefined when it grants none. `attestations` are the job's.
 */
export function creditGrant (d: CreditTally, attestations: readonly StatsAttestation[]): { credit: number, at: number, credited: string[] } | undefined {
  // rules v2: only the seats that committed before their hash could be copied (`credited`)
  const credited = d.credited ?? d.agreeing ?? []
  if (d.verdict !== 'agreed' || credited.length === 0) return undefined
  const claims = attestations.filter(a => a.status === 'ok' && credited.includes(a.builder))
  if (claims.length === 0) return undefined
  return { credit: Math.max(MIN_CREDIT, median(claims.map(a => a.durationMs)) / 1000), at: Math.max(...claims.map(a => a.time)), credited }
}

export function computeStats (input: { attestations: readonly StatsAttestation[], verdicts: readonly StatsVerdict[] }, opts: StatsOptions): MeshStats {
  const halfLifeDays = opts.halfLifeDays ?? STATS_HALF_LIFE_DAYS
  const halfLifeMs = halfLifeDays * DAY_MS
  const rows = new Map<string, NodeStats>()
  const latestContributor = new Map<string, { time: number, name: string }>()
  const row = (peerId: string): NodeStats => {
    let r = rows.get(peerId)
    if (r === undefined) {
      r = { peerId, contributor: null, ...emptyRow() }
      rows.set(peerId, r)
    }
    return r
  }
  const byJob = new Map<string, StatsAttestation[]>()
  for (const a of input.attestations) {
    row(a.builder).builds++
    let list = byJob.get(a.job)
    if (list === undefined) byJob.set(a.job, list = [])
    list.push(a)
    const prev = latestContributor.get(a.builder)
    if (prev === undefined || a.time > prev.time || (a.time === prev.time && a.contributor > prev.name)) latestContributor.set(a.builder, { time: a.time, name: a.contributor })
  }

  const totals = { jobs: 0, agreed: 0, disputed: 0, noConsensus: 0, failed: 0, pending: 0, credit: 0 }
  const finalJobs = new Set<string>()
  for (const v of input.verdicts) {
    totals.jobs++
    let d: { verdict: string, agreeing?: string[], dissenters?: string[], failedBuilders?: string[], credited?: string[] }
    try { d = JSON.parse(v.detail) } catch { continue }
    if (!v.final || d.verdict === 'pending') { totals.pending++; continue }
    finalJobs.add(v.job)
    if (d.verdict === 'agreed') totals.agreed++
    else if (d.verdict === 'disputed') totals.disputed++
    else if (d.verdict === 'no-consensus' || d.verdict === 'blocked') totals.noConsensus++
    else if (d.verdict === 'failed') totals.failed++
    const agreeing = d.agreeing ?? []
    for (const b of agreeing) row(b).agreed++
    for (const b of d.dissenters ?? []) row(b).dissented++
    for (const b of d.failedBuilders ?? []) row(b).failed++
    const grant = creditGrant(d, byJob.get(v.job) ?? [])
    if (grant === undefined) continue
    const { credit, at, credited } = grant
    const decayed = credit * Math.pow(2, -Math.max(0, opts.now - at) / halfLifeMs)
    for (const b of credited) {
      const r = row(b)
      r.credit += credit
      r.recentCredit += decayed
      r.lastCreditAt = Math.max(r.lastCreditAt ?? 0, at)
      totals.credit += credit
    }
  }
  // attested jobs with no final verdict yet
  for (const [job, list] of byJob) {
    if (finalJobs.has(job)) continue
    for (const a of list) row(a.builder).pending++
  }

  const nodes = [...rows.values()]
  const contributors = new Map<string, ContributorStats>()
  for (const n of nodes) {
    const name = latestContributor.get(n.peerId)?.name ?? ''
    n.contributor = name === '' ? null : name
    n.credit = round3(n.credit)
    n.recentCredit = round3(n.recentCredit)
    n.rac = round3(n.recentCredit * Math.LN2 / halfLifeDays)
    const key = n.contributor ?? n.peerId
    let c = contributors.get(key)
    if (c === undefined) contributors.set(key, c = { contributor: key, nodes: [], ...emptyRow() })
    c.nodes.push(n.peerId)
    c.builds += n.builds
    c.agreed += n.agreed
    c.dissented += n.dissented
    c.failed += n.failed
    c.pending += n.pending
    c.credit = round3(c.credit + n.credit)
    c.recentCredit = round3(c.recentCredit + n.recentCredit)
    c.lastCreditAt = n.lastCreditAt === null ? c.lastCreditAt : Math.max(c.lastCreditAt ?? 0, n.lastCreditAt)
  }
  for (const c of contributors.values()) {
    c.nodes.sort()
    c.rac = round3(c.recentCredit * Math.LN2 / halfLifeDays)
  }
  totals.credit = round3(totals.credit)
  return {
    generatedAt: opts.now,
    self: opts.self,
    halfLifeDays,
    nodes: nodes.sort(byRank(n => n.peerId)),
    contributors: [...contributors.values()].sort(byRank(c => c.contributor)),
    totals
  }
}
