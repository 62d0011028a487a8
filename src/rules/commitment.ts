/**
 * Commit, then reveal (rules v2; docs/protocols/consensus.md, "Commit, then reveal"): what a seat's
 * commitment binds, when each stage's commitments close, and when a seat may reveal. Pure.
 *
 * @example
 * ```ts
 * const c = commitmentValue(job, builderMultihash, buildHash, nonce) // 32 bytes, signed into the commitment
 * if (mayReveal({ stage: 1, committedSeats, stageSeats, now, deadline: commitDeadline(panel, 1) })) reveal()
 * ```
 */
import { createHash } from 'node:crypto'

/** The domain of the commitment hash */
export const COMMIT_DOMAIN = 'skyline/commit/v1'
/** Length of the reveal's random nonce, bytes */
export const NONCE_BYTES = 32
/**
 * @default 30 s: a commitment is taken from gossip only when it arrives at most this long after its signed
 * time, and a seat whose stage did not fully commit reveals only this long after the stage's commit
 * deadline, so nobody can sign a back-dated commitment after seeing a reveal and still get it forwarded
 */
export const REVEAL_GRACE_MS = 30_000

const DOMAIN = Buffer.from(COMMIT_DOMAIN, 'ascii')

/**
 * sha256(COMMIT_DOMAIN || job (32 bytes) || builder (peer ID multihash) || build hash (32 bytes, none
 * for a failed build) || nonce (32 bytes)), as 32 bytes.
 */
export function commitmentValue (job: Uint8Array, builder: Uint8Array, buildHash: Uint8Array | undefined, nonce: Uint8Array): Uint8Array<ArrayBuffer> {
  if (job.length !== 32) throw new RangeError('job must be 32 bytes')
  if (nonce.length !== NONCE_BYTES) throw new RangeError(`nonce must be ${NONCE_BYTES} bytes`)
  if (buildHash !== undefined && buildHash.length !== 32 && buildHash.length !== 0) throw new RangeError('build hash must be 32 bytes')
  return new Uint8Array(createHash('sha256').update(DOMAIN).update(job).update(builder).update(buildHash ?? new Uint8Array(0)).update(nonce).digest())
}

export interface CommitWindows {
  /** stage 1's deadline, Unix ms (issued_at + stage_ms) */
  stageDeadline: number
  /** the job's deadline (expires_at), Unix ms */
  expiresAt: number
}

/**
 * The last signed time a commitment of a seat of this stage may carry: stage 1 (seats 1..P) its stage
 * deadline; stage 2 (the escalation seats) one stage later, `stageDeadline + (stageDeadline − issuedAt)`,
 * but at most halfway from stage 1's deadline to the job's, so its reveals still land before the job ends.
 */
export function commitDeadline (w: CommitWindows & { issuedAt: number }, stage: 1 | 2): number {
  if (stage === 1) return w.stageDeadline
  const oneStage = w.stageDeadline - w.issuedAt
  const halfway = w.stageDeadline + Math.floor((w.expiresAt - w.stageDeadline) / 2)
  return Math.min(w.stageDeadline + oneStage, halfway)
}

/**
 * @default 2 minutes: how long stage 1 waits, after its last seat committed, for the probation seats'
 * commitments before it reveals (a silent probation seat delays a job by this much, never more)
 */
export const PROBATION_WAIT_MS = 2 * 60_000

export interface RevealWindow {
  /** the seats of the revealing seat's stage */
  stageSeats: readonly string[]
  /** builders with a commitment recorded, and their signed commitment times */
  committed: ReadonlyMap<string, number>
  /** the stage's commit deadline */
  deadline: number
  now: number
  /** stage 1 only: the probation seats it waits for, at most PROBATION_WAIT_MS after its own last commitment */
  probation?: readonly string[]
}

/**
 * Whether a seat that committed may reveal now: once every seat of its stage committed (stage 1 with
 * probation seats: and every probation seat too, or PROBATION_WAIT_MS after the latest signed time of its
 * stage's commitments), or REVEAL_GRACE_MS after the stage's commit deadline.
 */
export function mayReveal (o: RevealWindow): boolean {
  if (o.now > o.deadline + REVEAL_GRACE_MS) return true
  if (!o.stageSeats.every(s => o.committed.has(s))) return false
  const trial = o.probation ?? []
  if (trial.every(s => o.committed.has(s))) return true
  const lastCommit = Math.max(...o.stageSeats.map(s => o.committed.get(s) ?? 0))
  return o.now > lastCommit + PROBATION_WAIT_MS
}

/**
 * Whether a probation seat's reveal may be compared with the verdict: its commitment was signed before
 * the earliest signed reveal of a stage-1 seat (`stage1RevealTimes`), so it did not copy a public hash.
 */
export function committedBeforeReveals (commitTime: number | undefined, stage1RevealTimes: readonly number[]): boolean {
  if (commitTime === undefined) return false
  return stage1RevealTimes.every(t => commitTime < t)
}
