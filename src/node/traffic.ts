/**
 * What `GET /api/traffic` answers and the dashboard's traffic section shows (docs/protocols/status.md):
 * the node's bytes per UTC day and protocol from the store's traffic log, and one row per day of the
 * window (days without anything included, as zeros) with the bytes through its connections, the builds
 * it attested and the credit it earned.
 */
import { utcDay, type Store, type TrafficRow } from '../store/store.ts'
import { dailyRecord } from '../rules/history.ts'

/** @default 30 days of history in a traffic report */
export const TRAFFIC_DAYS = 30

const DAY_MS = 24 * 3600 * 1000

export interface TrafficDay {
  /** UTC date, YYYY-MM-DD */
  day: string
  /** every byte through the node's connections (the 'global' counter) */
  sent: number
  received: number
  /** attestations this node signed that day */
  builds: number
  /** credit its agreed builds earned that day */
  credit: number
}

export interface TrafficReport {
  /** the first and last day of the window */
  since: string
  until: string
  /** bytes per day and protocol, oldest day first */
  protocols: TrafficRow[]
  /** one row per day of the window, oldest first */
  daily: TrafficDay[]
}

/** The last `days` days (today included) of `self`'s traffic, builds and credit */
export function trafficReport (store: Pick<Store, 'traffic' | 'statsInput'>, self: string, now: number, days = TRAFFIC_DAYS): TrafficReport {
  const until = utcDay(now)
  const since = utcDay(now - (days - 1) * DAY_MS)
  const protocols = store.traffic(since)
  const byDay = new Map<string, TrafficDay>()
  for (let i = days - 1; i >= 0; i--) {
    const day = utcDay(now - i * DAY_MS)
    byDay.set(day, { day, sent: 0, received: 0, builds: 0, credit: 0 })
  }
  for (const r of protocols) {
    const d = byDay.get(r.day)
    if (d !== undefined && r.protocol === 'global') { d.sent += r.sent; d.received += r.received }
  }
  for (const r of dailyRecord(store.statsInput(), self, since)) {
    const d = byDay.get(r.day)
    if (d !== undefined) { d.builds = r.builds; d.credit = r.credit }
  }
  return { since, until, protocols, daily: [...byDay.values()] }
}
