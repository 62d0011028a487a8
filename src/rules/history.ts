/**
 * One node's record per UTC day, for the dashboard's chart: the builds it attested (ok or failed, by the
 * day of its signed attestation time) and the credit its agreed builds earned (by the day of the credit,
 * as the stats tracker dates it: src/rules/stats.ts). Pure: the same input gives every node the same days.
 */
import { creditGrant, type CreditTally, type StatsAttestation, type StatsVerdict } from './stats.ts'

export interface DailyRecord {
  /** UTC date, YYYY-MM-DD */
  day: string
  builds: number
  credit: number
}

function utcDate (at: number): string {
  return new Date(at).toISOString().slice(0, 10)
}

/** `peerId`'s builds and credit per day from `since` (YYYY-MM-DD) on, oldest first; days without either are left out */
export function dailyRecord (input: { attestations: readonly StatsAttestation[], verdicts: readonly StatsVerdict[] }, peerId: string, since: string): DailyRecord[] {
  const days = new Map<string, DailyRecord>()
  const day = (at: number): DailyRecord | undefined => {
    const d = utcDate(at)
    if (d < since) return undefined
    let r = days.get(d)
    if (r === undefined) days.set(d, r = { day: d, builds: 0, credit: 0 })
    return r
  }
  const byJob = new Map<string, StatsAttestation[]>()
  for (const a of input.attestations) {
    let list = byJob.get(a.job)
    if (list === undefined) byJob.set(a.job, list = [])
    list.push(a)
    if (a.builder === peerId) { const r = day(a.time); if (r !== undefined) r.builds++ }
  }
  for (const v of input.verdicts) {
    if (!v.final) continue
    let d: CreditTally
    try { d = JSON.parse(v.detail) } catch { continue }
    const grant = creditGrant(d, byJob.get(v.job) ?? [])
    if (grant === undefined || !grant.credited.includes(peerId)) continue
    const r = day(grant.at)
    if (r !== undefined) r.credit = Math.round((r.credit + grant.credit) * 1000) / 1000
  }
  return [...days.values()].sort((a, b) => a.day < b.day ? -1 : a.day > b.day ? 1 : 0)
}
