/**
 * The demo's account of its buildroot packages: how many bytes each node took from the mirror, from peers
 * and from its own cache for each job, from the counters every node reports in `GET /status`
 * (`buildrootPackages`, sampled before and after each job).
 *
 * @example
 * ```ts
 * const before = samples(await mesh.statuses())
 * // ... a job ...
 * const after = samples(await mesh.statuses())
 * for (const line of cacheReport(names, [{ nevra, before, after }], mirror.served())) out.write(line + '\n')
 * ```
 */
import type { NodeStatus } from '../../node/index.ts'

/** One node's counters: bytes from mirrors, from peers, from its cache */
export interface CacheSample { mirror: number, peers: number, cache: number }

/** One job's window: each node's counters before and after it */
export interface CacheJob {
  nevra: string
  before: Array<CacheSample | undefined>
  after: Array<CacheSample | undefined>
}

/** The counters of each node's status (undefined for a node that did not answer) */
export function samples (statuses: Array<NodeStatus | undefined>): Array<CacheSample | undefined> {
  return statuses.map(s => s?.buildrootPackages === undefined ? undefined : { mirror: s.buildrootPackages.fromMirrors, peers: s.buildrootPackages.fromPeers, cache: s.buildrootPackages.fromCache })
}

/** `12.3 KiB` */
export function bytes (n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

function delta (job: CacheJob, i: number): CacheSample | undefined {
  const a = job.before[i]
  const b = job.after[i]
  if (a === undefined || b === undefined) return undefined
  return { mirror: b.mirror - a.mirror, peers: b.peers - a.peers, cache: b.cache - a.cache }
}

function describe (d: CacheSample | undefined): string {
  if (d === undefined) return '?'
  const parts = ([['mirror', d.mirror], ['peers', d.peers], ['cache', d.cache]] as const).filter(([, n]) => n > 0).map(([what, n]) => `${what} ${bytes(n)}`)
  return parts.length === 0 ? '-' : parts.join(', ')
}

/**
 * Lines: a header, one line per node (per job: where its buildroot bytes came from; `-` where it did not
 * build), and the totals over all nodes and jobs with the bytes the mirror served
 */
export function cacheReport (names: string[], jobs: CacheJob[], mirrorServed: number): string[] {
  const width = Math.max(...jobs.map(j => j.nevra.length)) + 2
  const lines = ['CACHE: buildroot package bytes each node took from the mirror, from peers, or from its own cache']
  const total: CacheSample = { mirror: 0, peers: 0, cache: 0 }
  names.forEach((name, i) => {
    const cells = jobs.map(job => {
      const d = delta(job, i)
      if (d !== undefined) { total.mirror += d.mirror; total.peers += d.peers; total.cache += d.cache }
      return `${job.nevra}: ${describe(d)}`.padEnd(width + 36)
    })
    lines.push(`  ${name.padEnd(7)} ${cells.join(' ').trimEnd()}`)
  })
  lines.push(`  in all   from the mirror ${bytes(total.mirror)}, from peers ${bytes(total.peers)}, from caches ${bytes(total.cache)} (the mirror sent ${bytes(mirrorServed)} with its metadata)`)
  return lines
}
