/**
 * Commit, then reveal (rules v2; docs/protocols/consensus.md, "Commit, then reveal"), on the node: which
 * commitments it takes (a seat's, for its stage, signed before the stage's commit deadline, and from gossip
 * only while fresh), which reveals count (those that open the builder's commitment), and when this node
 * reveals its own (every seat of its stage committed, or the stage's commit deadline and a grace passed).
 * The verdict service (verdicts.ts) calls it and does the banning: a conflict found here is returned as
 * the two envelopes of an equivocation proof.
 */
import { randomBytes } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import type { Store, BuildRecord } from '../store/store.ts'
import { GossipValidationError } from '../protocols/gossip.ts'
import { checkAttestation, checkCommitment, createCommitment, itemsConflict, revealMatches, type BuilderKeyCache, type CheckedAttestation, type CheckedCommitment } from '../protocols/attestation.ts'
import type { CheckedAnnouncement } from '../protocols/announce.ts'
import { commitDeadline, committedBeforeReveals, mayReveal, NONCE_BYTES, REVEAL_GRACE_MS } from '../rules/commitment.ts'

export interface RevealComponents {
  store: Store
  privateKey: PrivateKey
  keys: BuilderKeyCache
  /** this node's peer ID */
  self: string
}

/** A seat's stage in a rules-v2 job: its number, the seats of that stage, and its commit deadline */
export interface SeatStage {
  stage: 1 | 2
  stageSeats: string[]
  deadline: number
  /** a stage-1 seat: the probation seats it waits for a while before it reveals */
  probation?: string[]
}

/** A rules-v2 job's seats (best-ranked first, bans left out) and probation seats, as peer ID strings */
export interface SeatList {
  seats: readonly string[]
  probation: readonly string[]
}

/** Two signed items of one builder for one job that conflict: what an equivocation proof carries */
export interface Conflict {
  builder: string
  job: string
  a: Uint8Array
  b: Uint8Array
}

export class Reveals {
  private readonly init: RevealComponents

  constructor (init: RevealComponents) {
    this.init = init
  }

  /**
   * The stage of a seat of a rules-v2 job; undefined for no seat. A probation seat commits and reveals
   * with stage 1, waiting for stage 1's seats; stage 1's seats wait a while for it (mayReveal).
   */
  stageOf (a: CheckedAnnouncement, list: SeatList, builder: string): SeatStage | undefined {
    const { seats, probation } = list
    const i = seats.indexOf(builder)
    if (a.panel === undefined || (i < 0 && !probation.includes(builder))) return undefined
    const windows = { issuedAt: Number(a.announcement.issuedAt), stageDeadline: a.panel.stageDeadline, expiresAt: Number(a.announcement.expiresAt) }
    const stage1 = seats.slice(0, a.panel.panel)
    if (i < 0) return { stage: 1, stageSeats: stage1, deadline: commitDeadline(windows, 1) }
    if (i < a.panel.panel) return { stage: 1, stageSeats: stage1, deadline: commitDeadline(windows, 1), probation: [...probation] }
    return { stage: 2, stageSeats: seats.slice(a.panel.panel), deadline: commitDeadline(windows, 2) }
  }

  /**
   * Checks a commitment against the job and the store; returns a conflict (two commitments, or a
   * commitment its builder's recorded reveal does not open) or records it and returns undefined. Throws
   * GossipValidationError: REJECT for a v1 job or a builder the announcement does not list, IGNORE for a
   * listed spare, a duplicate, a commitment signed after its stage's deadline, or (gossip) one that
   * arrives more than REVEAL_GRACE_MS after its signed time.
   */
  take (c: CheckedCommitment, a: CheckedAnnouncement, seats: SeatList, fromGossip: boolean, now: number): Conflict | undefined {
    if (a.panel === undefined) throw new GossipValidationError('reject', 'not-v2', `job ${c.job.slice(0, 16)} has no commit-reveal (rules v1)`)
    const seat = this.stageOf(a, seats, c.builder)
    if (seat === undefined) {
      const listed = a.candidates.some(p => p.toString() === c.builder)
      throw new GossipValidationError(listed ? 'ignore' : 'reject', 'not-assigned', `${c.builder} holds no seat of job ${c.job.slice(0, 16)}`)
    }
    const existing = this.init.store.commitment(c.job, c.builder)
    if (existing !== undefined) {
      if (existing.id === c.id || existing.commitment === c.commitment) throw new GossipValidationError('ignore', 'duplicate', 'this builder committed to this job already')
      return { builder: c.builder, job: c.job, a: existing.envelope, b: c.envelope }
    }
    if (c.time > seat.deadline) throw new GossipValidationError('ignore', 'late-commitment', `commitment signed ${c.time - seat.deadline} ms after stage ${seat.stage}'s deadline`)
    if (fromGossip && now - c.time > REVEAL_GRACE_MS) throw new GossipValidationError('ignore', 'stale-commitment', `commitment signed ${now - c.time} ms ago`)
    const reveal = this.init.store.attestation(c.job, c.builder)
    if (reveal !== undefined) {
      const r = checkCommitment(c.envelope, Number.POSITIVE_INFINITY, { cache: this.init.keys })
      const opened = { builder: reveal.builder, job: reveal.job, buildHash: reveal.buildHash, nonce: this.nonceOf(reveal.envelope) }
      if (!revealMatches(r, opened)) return { builder: c.builder, job: c.job, a: reveal.envelope, b: c.envelope }
    }
    this.init.store.addCommitment({ id: c.id, job: c.job, builder: c.builder, commitment: c.commitment, time: c.time, receivedAt: now, envelope: c.envelope })
    return undefined
  }

  /**
   * A reveal of a rules-v2 job against its builder's recorded commitment: a conflict when it does not
   * open it; throws IGNORE ('no-commitment', the caller holds it a while) when none is recorded and
   * REJECT ('not-a-reveal') for an attestation without a nonce.
   */
  checkReveal (r: CheckedAttestation): Conflict | undefined {
    if (r.nonce === undefined) throw new GossipValidationError('reject', 'not-a-reveal', `a rules-v2 attestation of job ${r.job.slice(0, 16)} carries no nonce`)
    const c = this.init.store.commitment(r.job, r.builder)
    if (c === undefined) throw new GossipValidationError('ignore', 'no-commitment', `no commitment of ${r.builder} for job ${r.job.slice(0, 16)} (yet)`)
    const checked = checkCommitment(c.envelope, Number.POSITIVE_INFINITY, { cache: this.init.keys })
    return itemsConflict(checked, r) ? { builder: r.builder, job: r.job, a: c.envelope, b: r.envelope } : undefined
  }

  /** This node's commitment to a build: the recorded one, or a new one (with a fresh nonce) signed and recorded */
  commitOwn (record: BuildRecord): { envelope: Uint8Array, fresh: boolean } {
    const mine = this.init.store.commitment(record.job, this.init.self)
    if (mine !== undefined) return { envelope: mine.envelope, fresh: false }
    const nonce = randomBytes(NONCE_BYTES)
    const envelope = createCommitment({ job: record.job, buildHash: record.status === 'ok' ? record.buildHash : undefined, nonce }, this.init.privateKey)
    const c = checkCommitment(envelope, Date.now(), { cache: this.init.keys })
    this.init.store.addCommitment({ id: c.id, job: c.job, builder: c.builder, commitment: c.commitment, time: c.time, receivedAt: Date.now(), envelope, nonce: nonce.toString('hex') })
    return { envelope, fresh: true }
  }

  /** The nonce this node reveals a job with, when it committed and may reveal now; undefined otherwise */
  dueNonce (a: CheckedAnnouncement, seats: SeatList, now: number): string | undefined {
    const mine = this.init.store.commitment(a.job, this.init.self)
    if (mine?.nonce === undefined) return undefined
    const seat = this.stageOf(a, seats, this.init.self)
    if (seat === undefined) return undefined
    const committed = new Map(this.init.store.commitments(a.job).map(c => [c.builder, c.time]))
    return mayReveal({ stageSeats: seat.stageSeats, committed, deadline: seat.deadline, now, probation: seat.probation }) ? mine.nonce : undefined
  }

  /**
   * The probation seats whose reveals may be compared with a job's verdict: those that committed before
   * the earliest signed reveal of a stage-1 seat (`stage1`), so they could not have copied a public hash
   */
  comparableProbation (job: string, stage1: readonly string[], probation: readonly string[], attestations: ReadonlyArray<{ builder: string, time: number }>): Set<string> {
    const revealTimes = attestations.filter(x => stage1.includes(x.builder)).map(x => x.time)
    return new Set(probation.filter(b => committedBeforeReveals(this.init.store.commitment(job, b)?.time, revealTimes)))
  }

  /** Jobs this node committed to and has not revealed yet */
  unrevealed (): string[] {
    return this.init.store.ownCommitments().filter(c => this.init.store.attestation(c.job, this.init.self) === undefined).map(c => c.job)
  }

  /** A stored reveal's nonce (its signature was checked when it was recorded) */
  private nonceOf (envelope: Uint8Array): string | undefined {
    return checkAttestation(envelope, Number.POSITIVE_INFINITY, { cache: this.init.keys }).nonce
  }
}
