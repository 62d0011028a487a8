/**
 * Consensus on a node: it signs and gossips an attestation for each of its own builds, validates every
 * attestation before gossipsub forwards it (signature, known job, assigned builder, one claim per builder
 * per job, equivocation proofs; rules v2: commitments, and reveals that open them: reveals.ts), stores them, tallies each job with the pure rule of
 * src/rules/tally.ts, keeps builders' reputation, and throttles the node when the disputed share
 * rises. Every node holding the same attestations reaches the same verdicts.
 */
import { TypedEventEmitter } from '@libp2p/interface'
import type { VerdictEvent, VerdictServiceEvents, VerdictServiceComponents } from './verdict-events.ts'
import type { BuildRecord } from '../store/store.ts'
import { GossipValidationError, type GossipInput } from '../protocols/gossip.ts'
import {
  BuilderKeyCache, attestationsConflict, checkConsensusMessage, createAttestation, createEquivocationProof, encodeConsensusMessage,
  checkAttestation, checkCommitment, checkEquivocation, officialClaimOf, type CheckedAttestation, type CheckedCommitment
} from '../protocols/attestation.ts'
import type { CheckedAnnouncement } from '../protocols/announce.ts'
import { tally, type Verdict } from '../rules/tally.ts'
import { agreedClaim, type OfficialVerdict } from '../rules/official.ts'
import type { Reputation } from '../rules/reputation.ts'
import type { Throttle } from '../rules/throttle.ts'
import { Outcomes } from './outcomes.ts'
import { panelTally } from '../rules/panel.ts'
import { Republisher } from './republish.ts'
import { Reveals, type Conflict } from './reveals.ts'
import { Held } from './held.ts'
import { Eligibility, type Seating } from './eligibility.ts'

/** @default 10 s: how often deadlines are checked (jobs past them become no-consensus) */
const DEADLINE_CHECK_MS = 10_000
/**
 * @default 2 s: a reveal still held for want of its builder's commitment this long after it came makes the
 * node ask peers (sync's gap): gossip usually brings the commitment first, or within milliseconds
 */
export const MISSING_COMMITMENT_MS = 2_000

export type { VerdictEvent, VerdictServiceEvents, VerdictServiceComponents } from './verdict-events.ts'

export class VerdictService extends TypedEventEmitter<VerdictServiceEvents> {
  private readonly init: VerdictServiceComponents
  private readonly keys = new BuilderKeyCache()
  /** attestations that came before their job's announcement, and reveals before their commitment, by job */
  private readonly early = new Held<Uint8Array>(envelope => envelope)
  /** rules v2: commitments that came before their job's announcement (checked already), by job */
  private readonly earlyCommitments = new Held<CheckedCommitment>(c => c.envelope)
  /** jobs with a reveal held for want of its commitment, and a gap check due */
  private readonly awaitingCommitment = new Map<string, ReturnType<typeof setTimeout>>()
  /** per job, tallies run one after the other */
  private readonly tallying = new Map<string, Promise<unknown>>()
  private readonly outcomes: Outcomes
  /** recent alerts for the operator (status, dashboard) */
  get alerts (): Outcomes['alerts'] {
    return this.outcomes.alerts
  }

  private timer: ReturnType<typeof setInterval> | undefined
  /** this node's attestations waiting for peers on the consensus topic */
  private readonly republisher: Republisher
  /** jobs open at start: tallied again at the first deadline check, once the node has its peers back */
  private readonly retallyAtStart = new Set<string>()
  /** rules v2: commitments taken, reveals checked, this node's own reveals timed */
  private readonly reveals: Reveals
  /** rules v2: builders' records, the eligible set and probation seats of each job, lists checked */
  readonly eligibility: Eligibility

  constructor (init: VerdictServiceComponents) {
    super()
    this.init = init
    this.outcomes = new Outcomes({
      store: init.store,
      self: init.libp2p.peerId.toString(),
      log: init.log,
      onAlert: (kind, message) => {
        this.init.log.error('ALERT %s: %s', kind, message)
        this.safeDispatchEvent('alert', { detail: { kind, message } })
      }
    })
    this.republisher = new Republisher({ libp2p: init.libp2p, log: init.log, publish: async record => this.attest(record) })
    this.reveals = new Reveals({ store: init.store, privateKey: init.privateKey, keys: this.keys, self: init.libp2p.peerId.toString() })
    this.eligibility = new Eligibility({ store: init.store, announcements: init.announcements, metrics: init.libp2p.metrics, log: init.log })
    this.eligibility.load()
  }

  get self (): string {
    return this.init.libp2p.peerId.toString()
  }

  start (): void {
    this.outcomes.restore()
    // this node's attestations of jobs not yet final, or final but still announced, are gossiped again
    // once it has peers on the topic: a crash may have come between recording and publishing, and a
    // verdict final here (the others' agreement came first) still gains this builder elsewhere (its
    // credit, the agreeing set); recoverOwn() made the missing ones before the node went online
    const pending: BuildRecord[] = []
    const now = Date.now()
    for (const j of this.init.store.jobs(['built', 'failed'])) {
      const open = this.init.store.verdict(j.job)?.final !== true || Number(this.init.store.announcementForJob(j.job)?.expiresAt ?? 0) > now
      const b = open ? this.init.store.build(j.job) : undefined
      if (b !== undefined && (this.init.store.attestation(j.job, this.self) !== undefined || this.init.store.commitment(j.job, this.self) !== undefined)) pending.push(b)
    }
    this.republisher.add(pending)
    // a kill between an attestation's commit and its verdict's leaves the verdict behind: every job
    // still open is tallied again, at the first deadline check (the peer store is empty at start)
    for (const j of this.init.store.openJobs()) this.retallyAtStart.add(j.job)
    this.timer = setInterval(() => { this.checkDeadlines() }, DEADLINE_CHECK_MS)
    this.timer.unref()
  }

  /**
   * Builds recorded before a crash whose attestation was never made: signed and recorded now, before
   * the node goes online, so the first peer that syncs from it already gets them (start() gossips them).
   */
  recoverOwn (): void {
    for (const j of this.init.store.jobs(['built', 'failed'])) {
      const b = this.init.store.build(j.job)
      if (b === undefined || this.init.store.attestation(j.job, this.self) !== undefined) continue
      try {
        // rules v2: only the commitment now; the reveal waits for the stage's other seats
        if (this.announcement(j.job)?.panel !== undefined) this.reveals.commitOwn(b)
        else this.recordOwn(b)
      } catch (err: any) {
        this.init.log.error('attesting %s after restart: %e', j.job, err)
      }
    }
  }

  stop (): void {
    clearInterval(this.timer)
    for (const t of this.awaitingCommitment.values()) clearTimeout(t)
    this.awaitingCommitment.clear()
    this.republisher.stop()
  }

  /** Whether new jobs may be taken: not while the disputed share is over the threshold */
  throttled (): boolean {
    return this.outcomes.throttle.state(Date.now()).throttled
  }

  throttleState (): ReturnType<Throttle['state']> {
    return this.outcomes.throttle.state(Date.now())
  }

  standing (builder: string): ReturnType<Reputation['get']> {
    return this.outcomes.reputation.get(builder, Date.now())
  }

  /** Builders ejected from later panels (a dissent on the losing side within about a half-life): a seeder lists none of them */
  ejectedBuilders (): string[] {
    return this.outcomes.reputation.ejected(Date.now())
  }

  /** The application score this module contributes to gossipsub for a peer (negative when flagged) */
  appScore (peer: string): number {
    return this.outcomes.reputation.appScore(peer, Date.now())
  }

  /**
   * Signs, records, then gossips this node's attestation of one of its builds. The claim is recorded
   * before it is published, and a recorded claim is re-published as it is, never signed anew with other
   * content: a crash cannot make this node an equivocator. With no peer on the consensus topic (a node
   * just restarted, or cut off) gossip would reach nobody: it is published once peers are there.
   */
  async attest (record: BuildRecord): Promise<void> {
    if (!this.republisher.hasTopicPeers()) {
      this.republisher.add([record])
      if (this.announcement(record.job)?.panel !== undefined) this.reveals.commitOwn(record)
      else this.recordOwn(record)
      return
    }
    const a = this.announcement(record.job)
    if (a?.panel !== undefined && this.init.store.attestation(record.job, this.self) === undefined) {
      // rules v2: commit now, reveal once the stage's seats have committed (revealIfDue)
      await this.init.publish(encodeConsensusMessage({ commitment: this.reveals.commitOwn(record).envelope }))
      await this.revealIfDue(a)
      return
    }
    await this.init.publish(encodeConsensusMessage({ attestation: this.recordOwn(record).envelope }))
  }

  /** Rules v2: signs, records and gossips this node's reveal of a job once it may (Reveals.dueNonce) */
  private async revealIfDue (a: CheckedAnnouncement): Promise<void> {
    if (this.init.store.attestation(a.job, this.self) !== undefined) return
    const nonce = this.reveals.dueNonce(a, this.eligibility.seatList(a), Date.now())
    const record = nonce === undefined ? undefined : this.init.store.build(a.job)
    if (record === undefined) return
    const checked = this.recordOwn(record, nonce)
    await this.init.publish(encodeConsensusMessage({ attestation: checked.envelope }))
  }

  /** This node's attestation of a build: the recorded one, or a new one signed (as a reveal with `nonce`) and recorded */
  private recordOwn (record: BuildRecord, nonce?: string): CheckedAttestation {
    const mine = this.init.store.attestation(record.job, this.self)
    let envelope: Uint8Array
    if (mine !== undefined) {
      envelope = mine.envelope
    } else {
      envelope = createAttestation({
        job: record.job,
        status: record.status,
        files: record.status === 'ok' ? record.files : [],
        environment: record.environment,
        time: Date.now(),
        contributor: this.init.contributor ?? '',
        durationMs: record.durationMs,
        official: record.official,
        ...(nonce !== undefined ? { nonce } : {})
      }, this.init.privateKey)
    }
    const checked = checkAttestation(envelope, Date.now(), { cache: this.keys })
    if (mine === undefined) this.record(checked)
    return checked
  }

  /** The consensus topic's validator */
  async validate (msg: GossipInput): Promise<void> {
    const m = checkConsensusMessage(msg.data, Date.now(), { cache: this.keys })
    if (m.type === 'equivocation') {
      const { builder, job } = m.equivocation
      if (this.init.store.isBanned(builder)) throw new GossipValidationError('ignore', 'duplicate', 'builder already banned')
      this.banBuilder(builder, job, m.equivocation.proof)
      return
    }
    if (m.type === 'commitment') {
      this.takeCommitment(m.commitment, true)
      return
    }
    const a = m.attestation
    if (this.init.store.isBanned(a.builder)) throw new GossipValidationError('reject', 'banned', `builder ${a.builder} is banned for equivocation`)
    const announcement = this.announcement(a.job)
    if (announcement === undefined) {
      this.early.hold(a.job, a.envelope)
      this.safeDispatchEvent('gap', { detail: { job: a.job } })
      throw new GossipValidationError('ignore', 'unknown-job', `no announcement for job ${a.job.slice(0, 16)} yet; held`)
    }
    const existing = this.init.store.attestation(a.job, a.builder)
    if (existing !== undefined) {
      if (existing.id === a.id || !attestationsConflict({ ...existing, buildHash: existing.buildHash }, a)) {
        throw new GossipValidationError('ignore', 'duplicate', 'this builder attested this job already')
      }
      this.equivocated({ builder: a.builder, job: a.job, a: existing.envelope, b: a.envelope })
    }
    const seats = this.eligibility.seatList(announcement)
    if (!seats.seats.includes(a.builder) && !seats.probation.includes(a.builder)) {
      // every node ranks the same signed candidate list, so an honest forwarder never sends an attester
      // the announcement does not list: REJECT; a listed spare may hold a banned builder's seat on a node
      // that has a ban proof this one lacks, and a listed builder this node's log does not make eligible
      // counts for nothing here: IGNORE
      const listed = announcement.candidates.some(p => p.toString() === a.builder)
      const reason = listed && !this.eligibility.eligible(announcement, a.builder) ? 'not-eligible' : 'not-assigned'
      throw new GossipValidationError(listed ? 'ignore' : 'reject', reason, `${a.builder} holds no seat of job ${a.job.slice(0, 16)} (${reason})`)
    }
    if (announcement.panel !== undefined) this.checkReveal(a)
    this.record(a)
  }

  /** Rules v2: a reveal counts only when it opens its builder's commitment; held a while when none is recorded yet */
  private checkReveal (a: CheckedAttestation): void {
    try {
      const conflict = this.reveals.checkReveal(a)
      if (conflict !== undefined) this.equivocated(conflict)
    } catch (err) {
      if (err instanceof GossipValidationError && err.reason === 'no-commitment') {
        this.early.hold(a.job, a.envelope)
        this.checkCommitmentArrives(a.job)
      }
      throw err
    }
  }

  /** Bans the builder of two conflicting signed items, gossips the proof, and REJECTs the message */
  private equivocated (c: Conflict): never {
    const proof = createEquivocationProof(c.a, c.b)
    this.banBuilder(c.builder, c.job, proof)
    this.init.publish(encodeConsensusMessage({ equivocation: proof })).catch(err => this.init.log('publishing an equivocation proof: %e', err))
    throw new GossipValidationError('reject', 'equivocation', `builder ${c.builder} made two claims for job ${c.job.slice(0, 16)}`)
  }

  /**
   * A reveal is held with no commitment of its builder: if it is still held MISSING_COMMITMENT_MS later, the
   * commitment was lost on the way here (it came before the announcement to a node of an earlier version, or
   * gossip dropped it), and peers are asked for what is new
   */
  private checkCommitmentArrives (job: string): void {
    if (this.awaitingCommitment.has(job)) return
    const t = setTimeout(() => {
      this.awaitingCommitment.delete(job)
      if (this.early.holds(job)) this.safeDispatchEvent('gap', { detail: { job } })
    }, MISSING_COMMITMENT_MS)
    t.unref?.()
    this.awaitingCommitment.set(job, t)
  }

  /**
   * Rules v2: a seat's commitment (Reveals.take); reveals held for it are checked again, and this node may
   * reveal now. One from gossip for a job this node does not know yet is held until the announcement comes
   * (the builders flood their commitments, the announcement comes along the mesh and may come second) and is
   * then taken as received when it came (`receivedAt`, for the freshness check).
   */
  private takeCommitment (c: CheckedCommitment, fromGossip: boolean, receivedAt = Date.now()): void {
    if (this.init.store.isBanned(c.builder)) throw new GossipValidationError('reject', 'banned', `builder ${c.builder} is banned for equivocation`)
    const a = this.announcement(c.job)
    if (a === undefined) {
      if (fromGossip) this.earlyCommitments.hold(c.job, c, receivedAt)
      this.safeDispatchEvent('gap', { detail: { job: c.job } })
      throw new GossipValidationError('ignore', 'unknown-job', `no announcement for job ${c.job.slice(0, 16)} yet${fromGossip ? '; held' : ''}`)
    }
    const conflict = this.reveals.take(c, a, this.eligibility.seatList(a), fromGossip, receivedAt)
    if (conflict !== undefined) this.equivocated(conflict)
    this.replayHeld(c.job)
    this.revealIfDue(a).catch(err => this.init.log('revealing %s: %e', c.job, err))
  }

  /**
   * Takes an attestation or a proof that came by sync rather than gossip: the same checks, no
   * forwarding. Returns whether it was new.
   */
  async ingest (kind: 'attestation' | 'equivocation' | 'commitment', bytes: Uint8Array): Promise<boolean> {
    if (bytes.byteLength === 0) return false
    try {
      if (kind === 'commitment') {
        this.takeCommitment(checkCommitment(bytes, Date.now(), { cache: this.keys }), false)
        return true
      }
      if (kind === 'equivocation') {
        const e = checkEquivocation(bytes, { cache: this.keys })
        if (this.init.store.isBanned(e.builder)) return false
        this.banBuilder(e.builder, e.job, e.proof)
        return true
      }
      await this.validate({ topic: 'consensus', data: encodeConsensusMessage({ attestation: bytes }), propagationSource: this.init.libp2p.peerId })
      return true
    } catch (err: any) {
      if (err instanceof GossipValidationError) return false
      throw err
    }
  }

  /** A job's checked announcement, if this node holds it */
  private announcement (job: string): CheckedAnnouncement | undefined {
    return this.init.announcements.get(job)
  }

  /**
   * The seats of a job: the candidates its signed announcement lists, ranked by its rules (v1: the r
   * closest by Kademlia key; v2: the P+E first by salted position that are eligible by this node's log),
   * builders banned for equivocation replaced by the next; and v2's probation seats. No network, and no
   * peer the announcement does not list: the same seats on every node that holds the same announcement,
   * proofs and log.
   */
  seating (a: CheckedAnnouncement): Seating {
    return this.eligibility.seating(a)
  }

  /**
   * Called for every new announcement: attestations that came before it are checked now, and its list
   * against this node's log (Eligibility.checkList: this node and its peers are the builders it knows); a
   * retry supersedes its blocked job in the throttle
   */
  onAnnouncement (a: CheckedAnnouncement): void {
    if (a.retry !== undefined) this.outcomes.throttle.supersede(a.retry.of)
    this.replayHeldCommitments(a.job)
    this.replayHeld(a.job)
    const self = this.init.libp2p.peerId
    this.eligibility.checkList(a, () => [...(this.init.selfEligible ? [self] : []), ...this.init.libp2p.getPeers()], this.init.store.bannedSet())
  }

  /** Commitments held for a job (its announcement was missing) are taken now, as gossip, when they came */
  private replayHeldCommitments (job: string): void {
    for (const held of this.earlyCommitments.take(job)) {
      try {
        this.takeCommitment(held.item, true, held.at)
      } catch (err: any) {
        if (!(err instanceof GossipValidationError)) this.init.log('held commitment for %s: %e', job, err)
      }
    }
  }

  /** Attestations held for a job (its announcement, or a rules-v2 commitment, was missing) are checked again */
  private replayHeld (job: string): void {
    for (const { item: envelope } of this.early.take(job)) {
      this.ingest('attestation', envelope).catch(err => this.init.log('held attestation for %s: %e', job, err))
    }
  }

  private record (a: CheckedAttestation): void {
    this.init.store.addAttestation({ id: a.id, job: a.job, builder: a.builder, status: a.status, buildHash: a.buildHash, time: a.time, receivedAt: Date.now(), envelope: a.envelope, contributor: a.contributor, durationMs: a.durationMs })
    this.safeDispatchEvent('attestation', { detail: a })
    void this.retally(a.job)
  }

  private banBuilder (builder: string, job: string, proof: Uint8Array): void {
    if (!this.init.store.ban(builder, job, proof)) return
    this.init.penalties.penalise(builder, 'fatal')
    this.init.log('builder %s banned: two different claims for job %s', builder, job.slice(0, 16))
    this.safeDispatchEvent('equivocation', { detail: { builder, job } })
    void this.retally(job)
  }

  /** Recomputes a job's verdict from the stored attestations (one tally per job at a time) */
  retally (job: string): Promise<Verdict | undefined> {
    const next = (this.tallying.get(job) ?? Promise.resolve()).then(async () => this.tallyNow(job))
    const settled = next.catch(err => { this.init.log.error('tally of %s: %e', job, err) })
    this.tallying.set(job, settled)
    void settled.then(() => { if (this.tallying.get(job) === settled) this.tallying.delete(job) })
    return next
  }

  private async tallyNow (job: string): Promise<Verdict | undefined> {
    const a = this.announcement(job)
    if (a === undefined) return undefined
    const banned = this.init.store.bannedSet()
    const { seats: assigned, probation } = this.eligibility.seatList(a, banned)
    const attestations = this.init.store.attestations(job)
    const deadlinePassed = Date.now() > Number(a.announcement.expiresAt)
    const comparable = this.reveals.comparableProbation(job, assigned.slice(0, a.panel?.panel ?? 0), probation, attestations)
    const counted = attestations.filter(x => !banned.has(x.builder) && (!probation.includes(x.builder) || comparable.has(x.builder)))
      .map(x => ({ builder: x.builder, status: x.status, buildHash: x.buildHash }))
    const v = a.panel !== undefined
      ? panelTally({ ...a.panel, seats: assigned, probation, attestations: counted, stageDeadlinePassed: Date.now() > a.panel.stageDeadline, deadlinePassed })
      : tally({ replicas: a.announcement.replicas, quorum: a.announcement.quorum, assigned, attestations: counted, deadlinePassed })
    const verdict: Verdict & { official?: OfficialVerdict } = { ...v, equivocators: [...new Set([...v.equivocators, ...attestations.filter(x => banned.has(x.builder)).map(x => x.builder)])].sort() }
    const official = v.hash === undefined ? undefined : agreedClaim(attestations.filter(x => v.agreeing.includes(x.builder)).map(x => officialClaimOf(x.envelope)))
    if (official !== undefined) verdict.official = official
    const detail = JSON.stringify(verdict)
    const prev = this.init.store.verdict(job)
    if (prev?.detail === detail) return verdict
    const now = Date.now()
    this.init.store.setVerdict({ job, verdict: verdict.verdict, hash: verdict.hash, final: verdict.final, detail, updatedAt: now })
    if (verdict.final || prev?.final === true) this.eligibility.refresh(job)
    const event: VerdictEvent = { ...verdict, job, nevra: a.announcement.nevra, replicas: a.announcement.replicas, quorum: a.announcement.quorum, ...(a.retry !== undefined ? { retryOf: a.retry.of, attempt: a.retry.attempt } : {}) }
    if (verdict.final) this.outcomes.finalise(event, prev?.reputationApplied === true ? JSON.parse(prev.detail) : undefined, now)
    this.safeDispatchEvent('verdict', { detail: event })
    return verdict
  }

  private checkDeadlines (): void {
    for (const job of this.retallyAtStart) void this.retally(job)
    this.retallyAtStart.clear()
    for (const job of this.reveals.unrevealed()) {
      const a = this.announcement(job)
      if (a !== undefined) this.revealIfDue(a).catch(err => this.init.log('revealing %s: %e', job, err))
    }
    const now = Date.now()
    for (const j of this.init.store.openJobs()) {
      // past the job's deadline, or (rules v2) past stage 1's while a stage-1 seat is silent: escalation
      const stageDeadline = j.expiresAt < now ? undefined : this.announcement(j.job)?.panel?.stageDeadline
      if (j.expiresAt < now || (stageDeadline !== undefined && stageDeadline < now)) void this.retally(j.job)
    }
  }
}
