/**
 * The node's traffic log: bytes sent and received per UTC day and protocol (the `traffic` table), so the
 * dashboard's bytes per day survive a restart. Written by src/services/traffic.ts, read by the dashboard.
 */
import type { DatabaseSync } from 'node:sqlite'

/** One day's bytes of one protocol ('global': every byte through the node's connections, framing included) */
export interface TrafficRow {
  /** UTC date, YYYY-MM-DD */
  day: string
  protocol: string
  sent: number
  received: number
}

/** The UTC date of a moment, YYYY-MM-DD */
export function utcDay (at: number): string {
  return new Date(at).toISOString().slice(0, 10)
}

/** Adds bytes to their days' rows, in one transaction (the caller's) */
export function addTraffic (db: DatabaseSync, rows: readonly TrafficRow[]): void {
  const st = db.prepare(`INSERT INTO traffic (day, protocol, sent, received) VALUES (?, ?, ?, ?)
    ON CONFLICT (day, protocol) DO UPDATE SET sent = sent + excluded.sent, received = received + excluded.received`)
  for (const r of rows) st.run(r.day, r.protocol, r.sent, r.received)
}

/** The rows of `since` (YYYY-MM-DD) and later, oldest day first */
export function trafficSince (db: DatabaseSync, since: string): TrafficRow[] {
  return db.prepare('SELECT day, protocol, sent, received FROM traffic WHERE day >= ? ORDER BY day, protocol').all(since)
    .map((r: any) => ({ day: r.day, protocol: r.protocol, sent: Number(r.sent), received: Number(r.received) }))
}
