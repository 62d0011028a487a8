/**
 * The eligible set on a node (rules v2; docs/protocols/assignment.md, "The eligible set"): every builder's
 * record of build events, kept from the node's own log (final verdicts and their jobs' issue times, the
 * store's buildHistory) and updated as verdicts become final; from it, for each announcement, which
 * candidates are eligible under its signed policy (src/rules/eligibility.ts), its seats and probation
 * seats, and the better-ranked eligible builders its list omits. Used by the verdict service.
 */
import type { Counter, Metrics, PeerId } from '@libp2p/interface'
import type { Store } from '../store/store.ts'
import type { AnnouncementService } from './announcements.ts'
import type { SeatList } from './reveals.ts'
import { announcementSeating, type CheckedAnnouncement } from '../protocols/announce.ts'
import { rankBySaltedPosition } from '../rules/position.ts'
import { standing, verdictEvents, type BuildEvent, type EligibilityPolicy, type Standing } from '../rules/eligibility.ts'

export interface EligibilityComponents {
  store: Store
  /** the checked announcements (to fill in the issue time of jobs stored before it was kept) */
  announcements: Pick<AnnouncementService, 'get'>
  /** for `skyline_eligibility_omitted_total` */
  metrics?: Metrics
  log: ((format: string, ...args: any[]) => void) & { error: (format: string, ...args: any[]) => void }
}

/** What status and the dashboard show of eligibility (docs/protocols/assignment.md, "The eligible set") */
export interface EligibilityReport {
  /** the policy of the newest rules-v2 announcement this node holds, and when it was issued */
  policy: (EligibilityPolicy & { job: string, issuedAt: number }) | null
  /** this node's own standing under it now: eligible, or on probation with its builds counted so far of K */
  self: Standing | null
  /** builders on the losing side of a build and not back yet (K > 0: fewer than K agreed builds since; K = 0: ejected by reputation), newest first */
  ejections: Array<{ builder: string, since: number, counted: number, needed: number }>
  /** the latest announcements whose list omits better-ranked builders this node judges eligible */
  omissions: Omission[]
}

/** An announcement whose list omits better-ranked builders this node judges eligible */
export interface Omission {
  job: string
  builders: string[]
  at: number
}

/** A job's seats as this node judges them: the P+E eligible ones and the probation seats */
export interface Seating {
  seats: PeerId[]
  probation: PeerId[]
}

export class Eligibility {
  private readonly init: EligibilityComponents
  /** build events by builder, then by job */
  private readonly records = new Map<string, Map<string, BuildEvent>>()
  /** builders each job's events name, to replace them when its verdict changes */
  private readonly named = new Map<string, string[]>()
  /** per job, the eligibility judged for each candidate so far; a builder's entries go when its record changes */
  private readonly judged = new Map<string, Map<string, boolean>>()
  /** the latest 50 omissions found (status, dashboard) */
  readonly omissions: Omission[] = []
  /** the newest rules-v2 announcement's policy */
  private latest: EligibilityReport['policy'] = null
  private readonly omittedCounter: Counter | undefined

  constructor (init: EligibilityComponents) {
    this.init = init
    this.omittedCounter = init.metrics?.registerCounter('skyline_eligibility_omitted_total', { help: 'Better-ranked eligible builders that announcements omitted, as this node judges them' })
  }

  /** Loads every builder's record from the store (filling in the issue time of older announcement rows) */
  load (): void {
    for (const job of this.init.store.jobsWithoutIssuedAt()) {
      const a = this.init.announcements.get(job)
      if (a !== undefined) this.init.store.setIssuedAt(job, Number(a.announcement.issuedAt))
    }
    for (const h of this.init.store.buildHistory()) this.apply(h)
    for (const job of this.init.store.newestJobs(20)) {
      const a = this.init.announcements.get(job)
      if (a !== undefined) this.notePolicy(a)
    }
  }

  /** Keeps the policy of the newest rules-v2 announcement (what status reports standings under) */
  private notePolicy (a: CheckedAnnouncement): void {
    const issuedAt = Number(a.announcement.issuedAt)
    if (a.panel === undefined || (this.latest !== null && this.latest.issuedAt >= issuedAt)) return
    this.latest = { ...a.panel.policy, job: a.job, issuedAt }
  }

  /** Eligibility as status shows it, for node `self`, now */
  report (self: string, reputationEjected: ReadonlySet<string>, now: number): EligibilityReport {
    const policy = this.latest
    const builds = policy?.builds ?? 0
    const days = policy?.days ?? 0
    const ejections: EligibilityReport['ejections'] = []
    for (const builder of this.records.keys()) {
      const s = this.standing(builder, builds, days, now)
      if (s.lostAt !== null && (builds > 0 ? s.counted < builds : reputationEjected.has(builder))) ejections.push({ builder, since: s.lostAt, counted: s.counted, needed: builds })
    }
    ejections.sort((a, b) => b.since - a.since || (a.builder < b.builder ? -1 : 1))
    return { policy, self: policy === null ? null : this.standing(self, builds, days, now), ejections: ejections.slice(0, 100), omissions: [...this.omissions] }
  }

  /** A job's verdict changed: its build events are read again */
  refresh (job: string): void {
    const before = this.named.get(job) ?? []
    for (const b of before) this.records.get(b)?.delete(job)
    this.named.delete(job)
    const [h] = this.init.store.buildHistory(job)
    if (h !== undefined) this.apply(h)
    // only the builders this verdict names may be judged otherwise now
    const changed = new Set([...before, ...(this.named.get(job) ?? [])])
    for (const m of this.judged.values()) for (const b of changed) m.delete(b)
  }

  private apply (h: { job: string, issuedAt: number, detail: string }): void {
    let events: BuildEvent[]
    try {
      events = verdictEvents(h.job, h.issuedAt, JSON.parse(h.detail))
    } catch (err: any) {
      this.init.log('verdict of %s unreadable for eligibility: %s', h.job, err.message)
      return
    }
    for (const e of events) {
      let m = this.records.get(e.builder)
      if (m === undefined) this.records.set(e.builder, m = new Map())
      m.set(e.job, e)
    }
    this.named.set(h.job, events.map(e => e.builder))
  }

  /** A builder's build events */
  history (peer: string): BuildEvent[] {
    return [...(this.records.get(peer)?.values() ?? [])]
  }

  /** Where a builder stands for a job issued at `issuedAt` under policy K, D */
  standing (peer: string, builds: number, days: number, issuedAt: number): Standing {
    return standing(peer, this.history(peer), builds, days, issuedAt)
  }

  /**
   * What a seeder lists under `policy` (findCandidates): with K > 0, whom this node's log makes eligible
   * for a job issued at `issuedAt`, and how many probation seats to fill; nothing to judge with K = 0
   */
  listing (policy: EligibilityPolicy | undefined, issuedAt: number): { isEligible?: (peer: string) => boolean, probation?: number } {
    if (policy === undefined || policy.builds === 0) return {}
    return { isEligible: peer => this.standing(peer, policy.builds, policy.days, issuedAt).eligible, probation: policy.probation }
  }

  /** Whether a builder is eligible for a job (always, for rules v1 and a policy with K = 0) */
  eligible (a: CheckedAnnouncement, peer: string): boolean {
    const policy = a.panel?.policy
    if (policy === undefined || policy.builds === 0) return true
    let m = this.judged.get(a.job)
    if (m === undefined) {
      if (this.judged.size > 256) this.judged.clear()
      this.judged.set(a.job, m = new Map())
    }
    let e = m.get(peer)
    if (e === undefined) m.set(peer, e = this.standing(peer, policy.builds, policy.days, Number(a.announcement.issuedAt)).eligible)
    return e
  }

  /** A job's seats and probation seats, banned builders left out, by this node's log */
  seating (a: CheckedAnnouncement, banned: ReadonlySet<string> = this.init.store.bannedSet()): Seating {
    return announcementSeating(a, banned, peer => this.eligible(a, peer))
  }

  /** The same, as peer ID strings */
  seatList (a: CheckedAnnouncement, banned?: ReadonlySet<string>): SeatList {
    const { seats, probation } = this.seating(a, banned)
    return { seats: seats.map(String), probation: probation.map(String) }
  }

  /**
   * Builders this node judges eligible, among `known()` (those it can vouch are around: its peers), that
   * rank better than the job's last seat (any, when fewer than P+E seats are filled) but are not listed: the
   * seeder should have listed them. Empty for rules v1 and K = 0, without asking `known` (listing a node's
   * peers for every announcement was more of its CPU than checking the announcement's fields).
   */
  omitted (a: CheckedAnnouncement, known: () => readonly PeerId[], banned: ReadonlySet<string>): string[] {
    if (a.panel === undefined || a.panel.policy.builds === 0) return []
    const { seats } = this.seating(a, banned)
    // with every seat filled, only builders ranked above the last one; else any the list lacks
    const last = seats.length >= a.panel.panel + a.panel.escalation ? seats.at(-1) : undefined
    const listed = new Set(a.candidates.map(String))
    const better: string[] = []
    for (const p of rankBySaltedPosition(a.jobKey, a.announcement.beacon, last === undefined ? known() : [...known(), last])) {
      if (last !== undefined && p.equals(last)) break
      const id = p.toString()
      if (!listed.has(id) && !banned.has(id) && this.eligible(a, id)) better.push(id)
    }
    return better
  }

  /**
   * Checks an announcement's list against this node's log (a policy with K > 0): better-ranked builders it
   * judges eligible among `known` that the list omits are logged, counted in metrics and kept for status
   */
  checkList (a: CheckedAnnouncement, known: () => readonly PeerId[], banned: ReadonlySet<string>): string[] {
    this.notePolicy(a)
    const builders = this.omitted(a, known, banned)
    if (builders.length === 0) return builders
    this.init.log.error('announcement of job %s omits %d better-ranked eligible builder(s): %s', a.job.slice(0, 16), builders.length, builders.join(' '))
    this.omittedCounter?.increment(builders.length)
    this.omissions.push({ job: a.job, builders, at: Date.now() })
    if (this.omissions.length > 50) this.omissions.shift()
    return builders
  }
}
