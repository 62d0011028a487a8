/**
 * The scale simulation: real Skyline nodes (gossipsub, Kademlia, assignment, tally; builds simulated by
 * the quick builder), many per OS process over TCP on 127.0.0.1, at several mesh sizes side by side.
 *
 *   npx node bench/scale-sim.ts [--sizes 50,200,1000] [--workers <CPUs>] [--jobs 20] [--rate 0.5]
 *                               [--panel 3] [--escalation 2] [--threshold P+1] | [--v1 [--replicas 5] [--quorum 3]]
 *                               [--bootstrap 1] [--join-s 120] [--settle-s 0] [--idle-s 10] [--wait-s 120]
 *                               [--max-connections N] [--late 3] [--srpm-dir DIR]
 *
 * The seeder announces with rules v2 (P stage-1 seats who must all agree, E escalation seats, threshold T:
 * `skyline seed`'s default rules, here with a panel of 3 by default); `--v1` announces with rules v1
 * (--replicas r, --quorum q) instead. `--jobs 0` measures the idle mesh only; `--settle-s S` waits S seconds
 * after every node joined before the idle window, so that joins, DHT self-queries and trims are over.
 * `--max-connections N` gives every node that connection limit (default: the node's own default). It also
 * prints what each node's protocols ask for: its kad-dht closest peers, the peers that keep it among theirs,
 * and its gossipsub mesh peers (their union, min / median / max). `--late N` then starts N newcomers one at
 * a time, each in a process of its own and from the first node only (at its limit in a large mesh), as volunteers join a
 * running mesh, and reports their join times next to the burst's (every node started at once).
 *
 * Every builder bootstraps from the first --bootstrap nodes only, so those run past their connection
 * limit and must let newcomers in (src/services/connection-trim.ts). Per size it reports join time,
 * announcement delivery p50/p99, announcement → final verdict p50/p99 at every node, the fraction of
 * final verdicts, builds per builder (max/mean), CPU per node per job and idle CPU per node, control
 * bytes per node per job, the seeder's bytes per job, and memory per node (the worker processes' RSS and
 * JS heap divided by the nodes they hold). After each size it prints the seeder's and a builder's bytes by
 * protocol (gossip, DHT, identify, ping, sync, builder, blob, other; framing = the wire less every stream's
 * payload, with the liveness PINGs' share estimated), sent and received, per job over the job window, per
 * second of the idle mesh, and per job less the idle rate; and the connections each opened and closed. --srpm-dir keeps the signed SRPMs between runs (rpmbuild and
 * gpg are needed only to make them). The 1,000-node size needs a machine of about 16 cores
 * (scripts/pack-device.sh packs the project to run it there).
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { loadavg } from 'node:os'
import { DEFAULT_WORKERS, describeScaleSim, describeScaleSimBytes, runScaleSim, type ScaleSimResult } from './lib/scale-sim.ts'
import { reportFigures } from './lib/summary.ts'
import { panelProblem } from '../src/rules/panel.ts'

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: '50,200,1000' },
    workers: { type: 'string', default: String(DEFAULT_WORKERS) },
    jobs: { type: 'string', default: '20' },
    rate: { type: 'string', default: '0.5' },
    panel: { type: 'string', default: '3' },
    escalation: { type: 'string', default: '2' },
    threshold: { type: 'string' },
    v1: { type: 'boolean', default: false },
    replicas: { type: 'string', default: '5' },
    quorum: { type: 'string', default: '3' },
    bootstrap: { type: 'string', default: '1' },
    'join-s': { type: 'string', default: '120' },
    'settle-s': { type: 'string', default: '0' },
    'max-connections': { type: 'string' },
    'idle-s': { type: 'string', default: '10' },
    'wait-s': { type: 'string', default: '120' },
    late: { type: 'string', default: '3' },
    'srpm-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h' }
  }
})
if (opts.help === true) {
  process.stdout.write(readFileSync(import.meta.filename, 'utf8').split('*/')[0].replace(/^\/\*\*|^ \* ?/gm, '') + '\n')
  process.exit(0)
}
const n = (k: keyof typeof opts, min: 'positive' | 'zero' = 'positive'): number => {
  const v = Number(opts[k])
  if (!Number.isFinite(v) || v < 0 || (v === 0 && min === 'positive')) { process.stderr.write(`--${k} must be a ${min === 'zero' ? 'non-negative' : 'positive'} number\n`); process.exit(2) }
  return v
}
const panel = opts.v1 === true ? undefined : { panel: n('panel'), escalation: n('escalation'), threshold: opts.threshold !== undefined ? n('threshold') : n('panel') + 1 }
const problem = panel !== undefined ? panelProblem(panel) : undefined
if (problem !== undefined) { process.stderr.write(`--panel/--escalation/--threshold: ${problem}\n`); process.exit(2) }
const sizes = (opts.sizes ?? '').split(',').map(Number)
if (sizes.some(s => !Number.isInteger(s) || s < 2)) { process.stderr.write('--sizes: comma-separated node counts, each >= 2\n'); process.exit(2) }

const results: ScaleSimResult[] = []
for (const size of sizes) {
  const log = (line: string): void => { process.stderr.write(`[sim ${size}] ${line}\n`) }
  log(`load average ${loadavg()[0].toFixed(1)}`)
  results.push(await runScaleSim({
    nodes: size,
    workers: n('workers'),
    jobs: n('jobs', 'zero'),
    rate: n('rate'),
    replicas: n('replicas'),
    quorum: n('quorum'),
    panel,
    bootstrap: n('bootstrap'),
    joinS: n('join-s'),
    settleS: n('settle-s', 'zero'),
    maxConnections: opts['max-connections'] !== undefined ? n('max-connections') : undefined,
    idleS: n('idle-s'),
    waitS: n('wait-s'),
    late: n('late', 'zero'),
    srpmDir: opts['srpm-dir'],
    log
  }))
  process.stdout.write(describeScaleSim(results) + '\n\n' + describeScaleSimBytes(results[results.length - 1]) + '\n\n')
}
reportFigures('scale-sim', { results })
if (results.some(r => r.jobs > 0 && r.finalFraction === 0)) process.exitCode = 1
