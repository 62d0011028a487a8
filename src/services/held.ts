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

/**
 * Items held by job, each with when it was held; `envelopeOf` gives an item's signed bytes (a duplicate is
 * held once). Attestations are held as bytes and checked again when replayed; commitments as checked once.
 */
export class Held<T> {
  private readonly jobs = new Map<string, { at: number, items: Array<{ item: T, at: number }> }>()
  private readonly envelopeOf: (item: T) => Uint8Array

  constructor (envelopeOf: (item: T) => Uint8Array) {
    this.envelopeOf = envelopeOf
  }

  /** Holds an item for a job (a duplicate once), received at `now` */
  hold (job: string, item: T, now = Date.now()): void {
    for (const [j, e] of this.jobs) {
      if (now - e.at > HELD_TTL_MS) this.jobs.delete(j)
      else break
    }
    let held = this.jobs.get(job)
    if (held === undefined) {
      if (this.jobs.size >= MAX_HELD_JOBS) this.jobs.delete(this.jobs.keys().next().value!)
      held = { at: now, items: [] }
      this.jobs.set(job, held)
    }
    const envelope = this.envelopeOf(item)
    if (held.items.length < MAX_HELD_PER_JOB && !held.items.some(e => Buffer.compare(this.envelopeOf(e.item), envelope) === 0)) held.items.push({ item, at: now })
  }

  /** The items held for a job, each with when it was held; they are no longer held */
  take (job: string): Array<{ item: T, at: number }> {
    const held = this.jobs.get(job)
    this.jobs.delete(job)
    return held?.items ?? []
  }

  /** Whether anything is held for a job, and not yet past HELD_TTL_MS */
  holds (job: string, now = Date.now()): boolean {
    const held = this.jobs.get(job)
    return held !== undefined && now - held.at <= HELD_TTL_MS
  }
}
