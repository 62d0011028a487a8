/** Wakes the loops of a fetch (per-peer control, workers, discovery, watchdog) when its state changes */
export class Wakeup {
  private waiters: Array<() => void> = []

  /** Something changed (a HAVE, a chunk, a peer, the end): every waiting loop runs again */
  notify (): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  /** Waits for the next change or `ms` */
  async changed (ms: number): Promise<void> {
    await new Promise<void>(resolve => {
      const t = setTimeout(resolve, ms)
      this.waiters.push(() => { clearTimeout(t); resolve() })
    })
  }

  /** Waits `ms`, or less once `done()` */
  async until (ms: number, done: () => boolean): Promise<void> {
    const end = Date.now() + ms
    while (!done() && Date.now() < end) await this.changed(end - Date.now())
  }
}
