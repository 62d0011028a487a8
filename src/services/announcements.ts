/**
 * Announcements on a node: the announce topic's validator (signature and fields, then replay checks
 * against the store), the announcements that come by sync or from this node's own seeder, and the one
 * cache of checked announcements every other part asks (jobs, verdicts, sync) instead of re-checking
 * the announcer's signature. Specification: docs/protocols/announce.md.
 */
import { TypedEventEmitter, type Logger } from '@libp2p/interface'
import { attemptOf, checkAnnouncement, type CheckedAnnouncement } from '../protocols/announce.ts'
import { GossipValidationError, type GossipInput } from '../protocols/gossip.ts'
import type { TrustedKeys } from '../protocols/signing.ts'
import { announcementRow, type Store } from '../store/store.ts'

export interface AnnouncementServiceInit {
  /**
   * Checked announcements kept in memory; older ones are checked again from the store when asked for.
   * @default 4096
   */
  maxCached?: number
}

export interface AnnouncementServiceComponents {
  store: Pick<Store, 'hasAnnouncement' | 'announcementBySequence' | 'addAnnouncement' | 'announcementForJob' | 'verdict'>
  /** the trusted announcer keys (read at each check: the operator may reload them) */
  trusted: () => TrustedKeys
  log: Logger
}

export interface AnnouncementServiceEvents {
  /** a new, valid announcement (from gossip, sync or this node), recorded before the event */
  announcement: CustomEvent<CheckedAnnouncement>
}

export class AnnouncementService extends TypedEventEmitter<AnnouncementServiceEvents> {
  private readonly components: AnnouncementServiceComponents
  private readonly maxCached: number
  /** checked announcements of recent jobs, by job */
  private readonly checked = new Map<string, CheckedAnnouncement>()

  constructor (components: AnnouncementServiceComponents, init: AnnouncementServiceInit = {}) {
    super()
    this.components = components
    this.maxCached = init.maxCached ?? 4096
  }

  /**
   * The announce topic's validator. Check-and-record runs without an await in between, so two copies
   * arriving together cannot both pass. Throws GossipValidationError to ignore or reject.
   */
  validate (msg: GossipInput): void {
    // the SRPM's first source is the signed provider hint, not the gossip author (absent under StrictNoSign)
    this.record(checkAnnouncement(msg.data, this.components.trusted(), Date.now()))
  }

  /** An announcement that came by sync, or this node's own (skyline seed): the same checks as gossip */
  add (envelope: Uint8Array): CheckedAnnouncement {
    const checked = checkAnnouncement(envelope, this.components.trusted(), Date.now())
    this.record(checked)
    return checked
  }

  /**
   * A job's announcement, checked once: when it arrives, else from the store (after a restart),
   * re-checked without the expiry test since tallies outlive it. Undefined when this node holds none
   * or the stored one no longer checks out (its announcer is no longer trusted).
   */
  get (job: string): CheckedAnnouncement | undefined {
    const cached = this.checked.get(job)
    if (cached !== undefined) return cached
    const stored = this.components.store.announcementForJob(job)
    if (stored === undefined) return undefined
    try {
      const checked = checkAnnouncement(stored.envelope, this.components.trusted(), Number(stored.expiresAt) - 1)
      this.remember(checked)
      return checked
    } catch (err: any) {
      this.components.log('stored announcement of %s no longer checks out: %s', job, err.message)
      return undefined
    }
  }

  private record (checked: CheckedAnnouncement): void {
    const { store } = this.components
    if (store.hasAnnouncement(checked.id)) throw new GossipValidationError('ignore', 'duplicate', 'announcement seen before')
    const a = checked.announcement
    if (store.announcementBySequence(checked.announcer, a.sequence) !== undefined) {
      throw new GossipValidationError('reject', 'sequence-reused', `announcer reused sequence ${a.sequence}`)
    }
    this.checkRetry(checked)
    store.addAnnouncement(announcementRow(checked))
    this.remember(checked)
    this.safeDispatchEvent('announcement', { detail: checked })
  }

  /**
   * A re-announcement (announce.md, "Re-announcement") against what this node knows of the job it
   * retries: refused (IGNORE, logged) when that job is final here and not `blocked`, or when it is another
   * SRPM, target or buildroot, another announcer, or not the attempt before. A node that holds no
   * announcement or no final verdict of it yet takes the retry: it cannot know better (its tally may lag
   * the seeder's by a deadline check). IGNORE, not REJECT: a forwarder that lacks the predecessor is honest.
   */
  private checkRetry (checked: CheckedAnnouncement): void {
    const retry = checked.retry
    if (retry === undefined) return
    const refuse = (reason: string, message: string): never => {
      this.components.log('refused re-announcement %s of job %s (attempt %d): %s', checked.job.slice(0, 16), retry.of.slice(0, 16), retry.attempt, message)
      throw new GossipValidationError('ignore', reason, message)
    }
    const before = this.get(retry.of)
    if (before !== undefined) {
      const a = checked.announcement
      const b = before.announcement
      const same = before.announcer === checked.announcer && a.nevra === b.nevra && a.target === b.target &&
        Buffer.from(a.srpmSha256).equals(b.srpmSha256) && Buffer.from(a.buildrootSha256).equals(b.buildrootSha256)
      if (!same) refuse('retry-mismatch', 'it names another SRPM, target, buildroot or announcer than the job it retries')
      if (!sameRules(a, b)) refuse('retry-mismatch', 'it changes the panel or the eligibility policy of the job it retries')
      if (attemptOf(b) !== retry.attempt - 1) refuse('retry-mismatch', `attempt ${retry.attempt} follows attempt ${attemptOf(b)}`)
    }
    const verdict = this.components.store.verdict(retry.of)
    if (verdict?.final === true && verdict.verdict !== 'blocked') refuse('retry-not-blocked', `the job it retries ended ${verdict.verdict}, not blocked`)
  }

  private remember (a: CheckedAnnouncement): void {
    this.checked.set(a.job, a)
    if (this.checked.size > this.maxCached) this.checked.delete(this.checked.keys().next().value!)
  }
}

/** A retry keeps its job's rules: the panel (P, T, E, stage deadline) and the eligibility policy (K, D, probation seats) */
function sameRules (a: CheckedAnnouncement['announcement'], b: CheckedAnnouncement['announcement']): boolean {
  return a.rules === b.rules && a.replicas === b.replicas && a.quorum === b.quorum && a.escalation === b.escalation &&
    a.stageMs === b.stageMs && a.eligibleBuilds === b.eligibleBuilds && a.eligibleDays === b.eligibleDays && a.probationSeats === b.probationSeats
}
