/**
 * The node's traffic log: every `intervalMs`, at stop and when asked (flush) it reads libp2p's own byte counters
 * (`libp2p_data_transfer_bytes_total` of the node's Prometheus registry: per protocol, payload of that
 * protocol's streams; 'global': everything through the node's connections, encrypted, framing included),
 * and adds what they grew by since the last read to today's rows of the store's `traffic` table (UTC
 * days). The counters start at zero with the process; the table keeps the sum across restarts.
 */
import type { Logger } from '@libp2p/interface'
import type { Registry } from 'prom-client'
import { utcDay, type Store, type TrafficRow } from '../store/store.ts'

/** @default 60 s between reads of the counters: a crash loses at most this much of the log */
export const TRAFFIC_INTERVAL_MS = 60_000

/** The libp2p counter the log reads */
export const TRANSFER_METRIC = 'libp2p_data_transfer_bytes_total'

export interface TrafficRecorderComponents {
  registry: Registry
  store: Pick<Store, 'addTraffic'>
  log: Logger
}

export interface TrafficRecorderInit {
  /** ms between reads of the counters (default TRAFFIC_INTERVAL_MS) */
  intervalMs?: number
  /** the clock (tests) */
  now?: () => number
}

export class TrafficRecorder {
  private readonly c: TrafficRecorderComponents
  private readonly intervalMs: number
  private readonly now: () => number
  /** the counters' values at the last read, by label ("<protocol> sent" / "<protocol> received") */
  private readonly seen = new Map<string, number>()
  private timer: ReturnType<typeof setInterval> | undefined
  private running: Promise<void> = Promise.resolve()

  constructor (components: TrafficRecorderComponents, init: TrafficRecorderInit = {}) {
    this.c = components
    this.intervalMs = init.intervalMs ?? TRAFFIC_INTERVAL_MS
    this.now = init.now ?? Date.now
  }

  start (): void {
    this.timer = setInterval(() => { void this.flush() }, this.intervalMs)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.flush()
  }

  /** Adds what the counters grew by since the last read to today's rows; one read at a time */
  async flush (): Promise<void> {
    this.running = this.running.then(async () => this.record()).catch(err => { this.c.log.error('recording traffic: %e', err) })
    await this.running
  }

  private async record (): Promise<void> {
    const metric = this.c.registry.getSingleMetric(TRANSFER_METRIC)
    if (metric === undefined) return
    const day = utcDay(this.now())
    const rows = new Map<string, TrafficRow>()
    for (const v of (await metric.get()).values) {
      const label = String(v.labels.protocol ?? '')
      const m = / (sent|received)$/.exec(label)
      if (m === null) continue
      const delta = v.value - (this.seen.get(label) ?? 0)
      this.seen.set(label, v.value)
      if (delta <= 0) continue
      const protocol = label.slice(0, m.index)
      let row = rows.get(protocol)
      if (row === undefined) rows.set(protocol, row = { day, protocol, sent: 0, received: 0 })
      row[m[1] as 'sent' | 'received'] += delta
    }
    this.c.store.addTraffic([...rows.values()])
  }
}
