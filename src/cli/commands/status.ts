/** `skyline status`: what a running node knows (peers, DHT, topics), for a person or, with --json, a machine. */
import { parse } from '../args.ts'
import { UsageError } from '../errors.ts'
import { DEFAULT_HTTP } from '../../node/constants.ts'
import type { NodeStatus } from '../../node/index.ts'

const HELP = `usage: skyline status [--http URL] [--json]
  --http URL   the node's HTTP server (default http://${DEFAULT_HTTP})
  --json       print the status as one JSON object`

export async function run (argv: string[]): Promise<number> {
  const { values } = parse(argv, { http: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } })
  if (values.help === true) { process.stdout.write(HELP + '\n'); return 0 }
  let base = values.http ?? `http://${DEFAULT_HTTP}`
  if (!/^https?:\/\//.test(base)) base = `http://${base}`
  let url: URL
  try { url = new URL('/status', base) } catch { throw new UsageError(`bad --http URL '${values.http}'`) }
  let status: NodeStatus
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
    status = await res.json() as NodeStatus
  } catch (err: any) {
    process.stderr.write(`skyline status: no node answering at ${url.origin}: ${err.cause?.code ?? err.message}\n`)
    return 1
  }
  process.stdout.write(values.json === true ? JSON.stringify(status) + '\n' : formatStatus(status))
  return 0
}

export function formatStatus (s: NodeStatus): string {
  const lines = [
    `peer ID      ${s.peerId}`,
    `version      ${s.version}, up ${s.uptimeSeconds} s, ${s.memory.rss} MB resident (heap ${s.memory.heapUsed} MB)`,
    `data dir     ${s.dataDir}`,
    'listening on',
    ...s.listenAddresses.map(a => `  ${a}`),
    `peers        ${s.connectedPeers} connected`,
    ...s.connections.map(c => `  ${c.peerId} ${c.direction} ${c.address}`),
    `DHT          ${s.dht.mode} mode, ${s.dht.routingTableSize} peers in routing table (${s.dht.protocol})`,
    'topics',
    ...Object.entries(s.topics).map(([t, v]) => `  ${t.padEnd(22)} ${v.meshPeers.length} mesh peers, ${v.subscribers} subscribers`),
    `builder      ${s.builder.kind ?? `none: relay and tally only (${s.builder.note ?? 'disabled'})`}`,
    ...s.builder.warnings.map(w => `  warning: ${w}`),
    `record       ${s.reputation.agree.toFixed(1)} agreeing, ${s.reputation.dissent.toFixed(1)} dissenting builds (decayed)${s.reputation.flagged ? ': FLAGGED, this node\'s builds disagree with the mesh' : ''}`,
    `mesh         ${s.halted != null ? `HALTED since ${new Date(s.halted.since).toISOString()}: ${s.halted.reason}` : s.throttle.throttled ? `THROTTLED: ${(s.throttle.disputedShare * 100).toFixed(0)}% of recent verdicts disputed` : 'taking jobs'}`,
    ...s.alerts.map(a => `  alert (${a.kind}): ${a.message}`),
    `jobs         ${s.jobs.length === 0 ? 'none' : ''}`,
    ...s.jobs.slice(-20).map(j => `  ${j.job.slice(0, 16)} ${j.nevra ?? ''} ${j.state}${j.progress !== undefined ? ` [${j.progress.phase}${j.progress.total !== undefined ? ` ${Math.floor(100 * (j.progress.done ?? 0) / Math.max(1, j.progress.total))}%` : ''}]` : ''}${j.error != null ? ` (${j.error})` : ''}`),
    ...panelLines(s),
    `verdicts     ${s.verdicts.length === 0 ? 'none' : ''}`,
    ...s.verdicts.slice(-20).map(v => `  ${v.job.slice(0, 16)} ${v.nevra ?? ''} ${v.verdict}${v.hash != null ? `(${v.hash.slice(0, 16)})` : ''}${v.final ? '' : ' so far'}${v.dissenters.length > 0 ? `, dissenters ${v.dissenters.map(d => d.slice(-8)).join(' ')}` : ''}`)
  ]
  return lines.join('\n') + '\n'
}

/** Rules v2: the eligibility policy, this node's standing, ejections, omissions and escalations */
function panelLines (s: NodeStatus): string[] {
  const { policy, self, ejections, omissions } = s.eligibility
  const standing = policy === null || self === null
    ? 'no rules-v2 announcement yet'
    : policy.builds === 0
      ? 'every listed builder is eligible (K = 0)'
      : `K=${policy.builds} agreed builds over ${policy.days} days, ${policy.probation} probation seats; this node ${self.eligible ? 'ELIGIBLE' : 'ON PROBATION'}: ${self.counted} of ${policy.builds} agreed builds counted`
  return [
    `eligibility  ${standing}`,
    ...ejections.slice(0, 20).map(e => `  ejected ${e.builder} since ${new Date(e.since).toISOString()}${e.needed > 0 ? ` (${e.counted} of ${e.needed} agreed builds since)` : ''}`),
    ...omissions.slice(-10).map(o => `  omission: job ${o.job.slice(0, 16)} lists none of ${o.builders.join(' ')} (better ranked, eligible by this node's log)`),
    `escalations  ${s.escalations.length === 0 ? 'none' : ''}`,
    ...s.escalations.slice(-20).map(v => `  ${v.job.slice(0, 16)} ${v.nevra ?? ''} ${v.verdict}${v.hash !== undefined ? `(${v.hash.slice(0, 16)})` : ''}${v.final ? '' : ' so far'}${v.dissenters.length > 0 ? `, losing side ${v.dissenters.map(d => d.slice(-8)).join(' ')}` : ''}`)
  ]
}
