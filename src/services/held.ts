/**
 * Signed items a node cannot check yet, held a while by job: attestations and (rules v2) commitments that
 * came before their job's announcement, and reveals that came before their builder's commitment. Bounded
 * in jobs, per job and in time; the verdict service checks a job's held envelopes again when what they
 * lacked arrives.
 */

/** @default 256 jobs held at most (the oldest dropped first) */
const MAX_HELD_JOBS = 256
/** @default 16 attestations held per job */
const MAX_HELD_PER_JOB = 16
/** @default 60 s before held attestations of a job are dropped */
const HELD_TTL_MS = 60_000

export class HeldAttestations {
  private readonly jobs = new Map<string, { at: number, envelopes: Array<{ bytes: Uint8Array, at: number }> }>()

  /** Holds an envelope for a job (a duplicate once), received at `now` */
  hold (job: string, envelope: Uint8Array, now = Date.now()): void {
    for (const [j, e] of this.jobs) {
      if (now - e.at > HELD_TTL_MS) this.jobs.delete(j)
      else break
    }
    let held = this.jobs.get(job)
    if (held === undefined) {
      if (this.jobs.size >= MAX_HELD_JOBS) this.jobs.delete(this.jobs.keys().next().value!)
      held = { at: now, envelopes: [] }
      this.jobs.set(job, held)
    }
    if (held.envelopes.length < MAX_HELD_PER_JOB && !held.envelopes.some(e => Buffer.compare(e.bytes, envelope) === 0)) held.envelopes.push({ bytes: envelope, at: now })
  }

  /** The envelopes held for a job, which are no longer held */
  take (job: string): Uint8Array[] {
    return this.takeReceived(job).map(e => e.bytes)
  }

  /** As take, each with when it was held */
  takeReceived (job: string): Array<{ bytes: Uint8Array, at: number }> {
    const held = this.jobs.get(job)
    this.jobs.delete(job)
    return held?.envelopes ?? []
  }

  /** Whether anything is held for a job, and not yet past HELD_TTL_MS */
  holds (job: string, now = Date.now()): boolean {
    const held = this.jobs.get(job)
    return held !== undefined && now - held.at <= HELD_TTL_MS
  }
}
