/**
 * How a bench hands its key figures to bench/run.ts, and small helpers the benches share.
 *
 * bench/run.ts sets SKYLINE_BENCH_SUMMARY to a file and a label for each bench it starts; the bench calls
 * `reportFigures` once at the end, which appends one JSON line `{ bench, label, figures }` to that file.
 * Run standalone (no SKYLINE_BENCH_SUMMARY), `reportFigures` does nothing: the bench's own output is all.
 *
 * @example
 * ```ts
 * reportFigures('gossip-propagation', { nodes: 20, p50: 12.3, p99: 80.1 })
 * ```
 */
import { appendFileSync } from 'node:fs'

export const SUMMARY_ENV = 'SKYLINE_BENCH_SUMMARY'
export const SUMMARY_LABEL_ENV = 'SKYLINE_BENCH_LABEL'

export interface FiguresLine {
  bench: string
  /** the run's label in run.ts's plan (e.g. `gossip-50`), or the bench name */
  label: string
  figures: Record<string, unknown>
}

/** Appends this bench's figures to run.ts's summary file, if run.ts asked for them */
export function reportFigures (bench: string, figures: Record<string, unknown>): void {
  const file = process.env[SUMMARY_ENV]
  if (file === undefined || file === '') return
  const line: FiguresLine = { bench, label: process.env[SUMMARY_LABEL_ENV] ?? bench, figures }
  appendFileSync(file, JSON.stringify(line) + '\n')
}

/** The q-quantile of sorted numbers (nearest rank) */
export function quantile (sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}

export interface Spread { n: number, min: number, median: number, mean: number, p99: number, max: number }

export function spread (xs: readonly number[]): Spread {
  const s = [...xs].sort((a, b) => a - b)
  return {
    n: s.length,
    min: s.length > 0 ? s[0] : NaN,
    median: quantile(s, 0.5),
    mean: s.length > 0 ? s.reduce((a, b) => a + b, 0) / s.length : NaN,
    p99: quantile(s, 0.99),
    max: s.length > 0 ? s[s.length - 1] : NaN
  }
}

/** A markdown table; the first row is the header */
export function markdownTable (rows: readonly string[][], align: Array<'l' | 'r'> = []): string {
  const widths = rows[0].map((_, c) => Math.max(3, ...rows.map(r => (r[c] ?? '').length)))
  const line = (r: readonly string[]): string => '| ' + r.map((cell, c) => (align[c] === 'r' ? (cell ?? '').padStart(widths[c]) : (cell ?? '').padEnd(widths[c]))).join(' | ') + ' |'
  const rule = '|' + widths.map((w, c) => align[c] === 'r' ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2)).join('|') + '|'
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join('\n')
}

export const f1 = (x: number): string => Number.isFinite(x) ? x.toFixed(1) : '-'
export const f2 = (x: number): string => Number.isFinite(x) ? x.toFixed(2) : '-'

export const sleep = async (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/**
 * Asks `count` every `everyMs` until it reaches `target` or `timeoutMs` has passed, and returns its last
 * answer: how the multi-process benches wait for their workers' deliveries, verdicts or joins.
 */
export async function waitForCount (count: () => Promise<number>, target: number, timeoutMs: number, everyMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const got = await count()
    if (got >= target || Date.now() > deadline) return got
    await sleep(everyMs)
  }
}
