/**
 * The scale simulation: real Skyline nodes (gossipsub, Kademlia, assignment, tally; builds simulated by
 * the quick builder), many per OS process over TCP on 127.0.0.1, at several mesh sizes side by side.
 *
 *   npx node bench/scale-sim.ts [--sizes 50,200,1000] [--workers <CPUs>] [--jobs 20] [--rate 0.5]
 *                               [--replicas 5] [--quorum 3] [--bootstrap 1] [--join-s 120] [--idle-s 10]
 *                               [--wait-s 120] [--srpm-dir DIR]
 *
 * Every builder bootstraps from the first --bootstrap nodes only, so those run past their connection
 * limit and must let newcomers in (src/services/connection-trim.ts). Per size it reports join time,
 * announcement delivery p50/p99, announcement → final verdict p50/p99 at every node, the fraction of
 * final verdicts, builds per builder (max/mean), CPU per node per job and idle CPU per node, control
 * bytes per node per job, the seeder's bytes per job, and memory per node (the worker processes' RSS and
 * JS heap divided by the nodes they hold). --srpm-dir keeps the signed SRPMs between runs (rpmbuild and
 * gpg are needed only to make them). The 1,000-node size needs a machine of about 16 cores
 * (scripts/pack-device.sh packs the project to run it there).
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { loadavg } from 'node:os'
import { DEFAULT_WORKERS, describeScaleSim, runScaleSim, type ScaleSimResult } from './lib/scale-sim.ts'
import { reportFigures } from './lib/summary.ts'

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: '50,200,1000' },
    workers: { type: 'string', default: String(DEFAULT_WORKERS) },
    jobs: { type: 'string', default: '20' },
    rate: { type: 'string', default: '0.5' },
    replicas: { type: 'string', default: '5' },
    quorum: { type: 'string', default: '3' },
    bootstrap: { type: 'string', default: '1' },
    'join-s': { type: 'string', default: '120' },
    'idle-s': { type: 'string', default: '10' },
    'wait-s': { type: 'string', default: '120' },
    'srpm-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h' }
  }
})
if (opts.help === true) {
  process.stdout.write(readFileSync(import.meta.filename, 'utf8').split('*/')[0].replace(/^\/\*\*|^ \* ?/gm, '') + '\n')
  process.exit(0)
}
const n = (k: keyof typeof opts): number => {
  const v = Number(opts[k])
  if (!Number.isFinite(v) || v <= 0) { process.stderr.write(`--${k} must be a positive number\n`); process.exit(2) }
  return v
}
const sizes = (opts.sizes ?? '').split(',').map(Number)
if (sizes.some(s => !Number.isInteger(s) || s < 2)) { process.stderr.write('--sizes: comma-separated node counts, each >= 2\n'); process.exit(2) }

const results: ScaleSimResult[] = []
for (const size of sizes) {
  const log = (line: string): void => { process.stderr.write(`[sim ${size}] ${line}\n`) }
  log(`load average ${loadavg()[0].toFixed(1)}`)
  results.push(await runScaleSim({
    nodes: size,
    workers: n('workers'),
    jobs: n('jobs'),
    rate: n('rate'),
    replicas: n('replicas'),
    quorum: n('quorum'),
    bootstrap: n('bootstrap'),
    joinS: n('join-s'),
    idleS: n('idle-s'),
    waitS: n('wait-s'),
    srpmDir: opts['srpm-dir'],
    log
  }))
  process.stdout.write(describeScaleSim(results) + '\n\n')
}
reportFigures('scale-sim', { results })
if (results.some(r => r.finalFraction === 0)) process.exitCode = 1
