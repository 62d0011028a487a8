/**
 * The volunteer's bandwidth caps on blob transfer (`maxUpload`, `maxDownload`, bytes per second): a token
 * bucket that holds one second of the rate; a chunk larger than that passes when the bucket is full, and
 * the bucket then owes it (goes below zero), so the average never exceeds the rate.
 * Uploads ask without waiting (a chunk that does not fit now is answered BUSY and asked again later);
 * downloads wait for their turn before each chunk request, so a fetch never exceeds the cap.
 * While paused (a metered link: src/services/metered.ts) nothing passes: tryTake says no and take waits
 * for the resume.
 */
export class Bandwidth {
  /** bytes per second; 0: no cap */
  readonly rate: number
  private readonly burst: number
  private tokens: number
  private last: number
  private readonly now: () => number
  private paused = false
  private readonly resumed = new Set<() => void>()

  constructor (rate: number, now: () => number = Date.now) {
    this.rate = rate
    this.burst = rate
    this.tokens = this.burst
    this.now = now
    this.last = now()
  }

  /** Whether transfers pass this bucket only in turn: a cap is set or it is paused */
  get limited (): boolean {
    return this.rate > 0 || this.paused
  }

  get isPaused (): boolean {
    return this.paused
  }

  /** Nothing passes until resume() */
  pause (): void {
    this.paused = true
  }

  resume (): void {
    this.paused = false
    for (const wake of [...this.resumed]) wake()
  }

  private refill (): void {
    const t = this.now()
    this.tokens = Math.min(this.burst, this.tokens + (t - this.last) * this.rate / 1000)
    this.last = t
  }

  /** Takes `bytes` if they fit now (or the bucket is full); false (nothing taken) if not */
  tryTake (bytes: number): boolean {
    if (this.paused) return false
    if (this.rate <= 0) return true
    this.refill()
    if (this.tokens < Math.min(bytes, this.burst)) return false
    this.tokens -= bytes
    return true
  }

  /** Takes `bytes`, waiting until the bucket has paid them off */
  async take (bytes: number, signal: AbortSignal): Promise<void> {
    while (this.paused) await this.untilResumed(signal)
    if (this.rate <= 0) return
    this.refill()
    this.tokens -= bytes
    if (this.tokens >= 0) return
    const waitMs = -this.tokens * 1000 / this.rate
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, waitMs)
      const onAbort = (): void => { clearTimeout(timer); reject(signal.reason) }
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  private async untilResumed (signal: AbortSignal): Promise<void> {
    signal.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const wake = (): void => { this.resumed.delete(wake); signal.removeEventListener('abort', onAbort); resolve() }
      const onAbort = (): void => { this.resumed.delete(wake); reject(signal.reason) }
      this.resumed.add(wake)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }
}
