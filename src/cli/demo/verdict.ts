/**
 * Follows one job through the demo mesh by polling every node's `GET /status`: prints each node's job
 * state as it changes (queued, fetching, building, built, failed, refused), the tally as attestations
 * arrive, and each node's final verdict (and any later change of it); returns when every node holds a
 * final verdict and they all agree, or they have stopped changing for `settleMs` (or at the deadline, with
 * what is known).
 *
 * @example
 * ```ts
 * const r = await followJob(mesh, { jobPrefix: () => announcedJob, replicas: 5, timeoutMs: 300_000, say, signal })
 * if (r.final.every(v => v?.verdict === 'agreed')) ...
 * ```
 */
import { alive, sleep, type DemoMesh } from './mesh.ts'
import type { NodeStatus } from '../../node/index.ts'

/** A node's verdict for the job, as /status carries it (the tally's detail included) */
export type NodeVerdict = NodeStatus['verdicts'][number] & { counts?: Record<string, number>, missing?: string[] }

export interface FollowOptions {
  /** The announced job ID or its prefix, once known (the seeder prints it); until then any job counts */
  jobPrefix: () => string | undefined
  replicas: number
  timeoutMs: number
  /** Prints one progress line */
  say: (line: string) => void
  /** A short name for a peer ID (node-3) */
  nameOf: (peerId: string) => string
  signal?: AbortSignal
  /** @default 500 */
  intervalMs?: number
  /** Final verdicts that differ between nodes are accepted once none changed for this long. @default 5000 */
  settleMs?: number
}

export interface FollowResult {
  job: string | undefined
  /** Each node's last verdict for the job, in node order */
  verdicts: Array<NodeVerdict | undefined>
  /** Each node's own job state (undefined: not assigned to it) */
  states: Array<string | undefined>
  /** Every node holds a final verdict */
  complete: boolean
  /** Why not, when not complete */
  reason?: string
}

const STATE_TEXT: Record<string, string> = {
  queued: 'assigned: queued',
  fetching: 'fetching the SRPM (and any buildroot packages) from the mesh',
  building: 'building (rpmbuild in bwrap, idle priority)',
  built: 'built and attested',
  failed: 'build failed',
  refused: 'refused the job'
}

/** What must be the same on every node */
export function verdictKey (v: NodeVerdict): string {
  return JSON.stringify({ verdict: v.verdict, hash: v.hash, agreeing: v.agreeing, dissenters: v.dissenters, failed: v.failedBuilders, equivocators: v.equivocators, final: v.final })
}

/** Number of assigned builders heard from in a tally */
function spoken (v: NodeVerdict): number {
  return Object.values(v.counts ?? {}).reduce((a, b) => a + b, 0) + v.failedBuilders.length + v.equivocators.length
}

export function tallyLine (v: NodeVerdict, replicas: number, nameOf: (p: string) => string): string {
  const parts = Object.entries(v.counts ?? {}).map(([h, c]) => `${h.slice(0, 12)}… ×${c}`)
  if (v.failedBuilders.length > 0) parts.push(`failed ×${v.failedBuilders.length}`)
  if (v.equivocators.length > 0) parts.push(`equivocating ×${v.equivocators.length}`)
  const waiting = (v.missing ?? []).map(nameOf)
  return `attestations ${spoken(v)}/${replicas}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}: ${v.verdict}${v.final ? ' (final)' : ' so far'}${waiting.length > 0 && !v.final ? `, waiting for ${waiting.join(' ')}` : ''}`
}

export async function followJob (mesh: DemoMesh, opts: FollowOptions): Promise<FollowResult> {
  const n = mesh.nodes.length
  const deadline = Date.now() + opts.timeoutMs
  const shownState: Array<string | undefined> = new Array(n).fill(undefined)
  const shownFinal: Array<string | undefined> = new Array(n).fill(undefined)
  let lastChange = Date.now()
  const shownDead: boolean[] = new Array(n).fill(false)
  let shownTally = ''
  let job: string | undefined
  const result = (complete: boolean, statuses: Array<NodeStatus | undefined>, reason?: string): FollowResult => ({
    job,
    verdicts: statuses.map(s => job === undefined ? undefined : s?.verdicts.find(v => v.job === job) as NodeVerdict | undefined),
    states: statuses.map(s => job === undefined ? undefined : s?.jobs.find(j => j.job === job)?.state),
    complete,
    reason
  })
  let statuses: Array<NodeStatus | undefined>
  for (;;) {
    statuses = await mesh.statuses(opts.signal)
    if (job === undefined) {
      const prefix = opts.jobPrefix()
      const seen = new Set(statuses.flatMap(s => [...(s?.jobs ?? []).map(j => j.job), ...(s?.verdicts ?? []).map(v => v.job)]))
      job = prefix !== undefined ? [...seen].find(j => j.startsWith(prefix)) : undefined
    }
    if (job !== undefined) {
      let best: NodeVerdict | undefined
      for (let i = 0; i < n; i++) {
        const node = mesh.nodes[i]
        const s = statuses[i]
        if (!alive(node)) {
          if (!shownDead[i]) { opts.say(`${node.name}  exited (code ${node.exitCode ?? node.exitSignal}); see ${node.logPath}`); shownDead[i] = true }
          continue
        }
        const j = s?.jobs.find(x => x.job === job)
        if (j !== undefined && j.state !== shownState[i]) {
          shownState[i] = j.state
          opts.say(`${node.name}  ${STATE_TEXT[j.state] ?? j.state}${j.error != null ? `: ${j.error}` : ''}`)
        }
        const v = s?.verdicts.find(x => x.job === job) as NodeVerdict | undefined
        if (v !== undefined && (best === undefined || spoken(v) > spoken(best) || (v.final && !best.final))) best = v
        if (v?.final === true && verdictKey(v) !== shownFinal[i]) {
          const was = shownFinal[i] !== undefined ? (JSON.parse(shownFinal[i]!).verdict as string) : undefined
          shownFinal[i] = verdictKey(v)
          lastChange = Date.now()
          const role = shownState[i] === undefined ? ' (not a builder of this job: tallied the others\' attestations)' : ''
          opts.say(`${node.name}  final verdict${was !== undefined ? ' changed' : ''}: ${v.verdict}${v.hash !== undefined ? ` ${v.hash.slice(0, 16)}…` : ''}${was !== undefined ? ` (was ${was})` : role}`)
        }
      }
      if (best !== undefined) {
        const line = tallyLine(best, opts.replicas, opts.nameOf)
        if (line !== shownTally) { shownTally = line; opts.say(line) }
      }
      const finals = new Set(shownFinal)
      if (!finals.has(undefined) && (finals.size === 1 || Date.now() - lastChange >= (opts.settleMs ?? 5_000))) return result(true, statuses)
      if (shownDead.some(Boolean)) return result(false, statuses, 'a node exited before the verdict')
    }
    if (Date.now() > deadline) {
      return result(false, statuses, job === undefined
        ? `no node saw the announced job in ${Math.round(opts.timeoutMs / 1000)} s`
        : `after ${Math.round(opts.timeoutMs / 1000)} s, ${shownFinal.filter(f => f !== undefined).length} of ${n} nodes hold a final verdict`)
    }
    await sleep(opts.intervalMs ?? 500, opts.signal)
  }
}
