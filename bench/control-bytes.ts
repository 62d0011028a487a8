/**
 * Control bytes per node per job: every non-blob byte a node sends and receives (gossip, DHT, identify,
 * ping, sync, the builder protocol, and the Noise/Yamux framing of all of them), divided by the jobs, on a
 * mesh of real node processes running real jobs end to end with the bench's quick builder
 * (bench/lib/job-mesh.ts, bench/lib/quick-builder.ts). Target: < 50 KB per node per job.
 *
 *   npx node bench/control-bytes.ts [--nodes 20] [--jobs 60] [--rate 0.5] [--replicas 5] [--quorum 3] [--panel P]
 *                                   [--concurrency 2] [--settle-s 12] [--idle-s 10] [--wait-s 120]
 *
 * Bytes come from each node's own libp2p counters (`libp2p_data_transfer_bytes_total`, one node per
 * process): the wire total of its TCP connections less the blob protocol's stream bytes, from the first
 * announcement until every node holds a final verdict for every job. The figure includes the background
 * of an idle mesh over that window (printed too, with the figure less it). Builders' per-node figures
 * are the row; the seeder's (one per mesh, not per node) is printed apart, by protocol. `--panel P` runs rules v2
 * (P stage-1 seats, escalation 2, threshold P + 1) instead of v1's `--replicas`/`--quorum`.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { runJobMesh, describeJobMesh } from './lib/job-mesh.ts'
import { reportFigures } from './lib/summary.ts'

const TARGET_BYTES = 50 * 1024

const { values: opts } = parseArgs({
  options: {
    nodes: { type: 'string', default: '20' },
    jobs: { type: 'string', default: '60' },
    rate: { type: 'string', default: '0.5' },
    replicas: { type: 'string', default: '5' },
    quorum: { type: 'string', default: '3' },
    panel: { type: 'string' },
    concurrency: { type: 'string', default: '2' },
    'settle-s': { type: 'string', default: '12' },
    'idle-s': { type: 'string', default: '10' },
    'wait-s': { type: 'string', default: '120' },
    help: { type: 'boolean', short: 'h' }
  }
})
if (opts.help === true) {
  process.stdout.write(readFileSync(import.meta.filename, 'utf8').split('*/')[0].replace(/^\/\*\*|^ \* ?/gm, '') + '\n')
  process.exit(0)
}
const n = (k: keyof typeof opts): number => Number(opts[k])

const r = await runJobMesh({
  nodes: n('nodes'),
  jobs: n('jobs'),
  rate: n('rate'),
  replicas: n('replicas'),
  quorum: n('quorum'),
  panel: opts.panel !== undefined ? n('panel') : undefined,
  concurrency: n('concurrency'),
  settleS: n('settle-s'),
  idleS: n('idle-s'),
  waitS: n('wait-s'),
  log: line => process.stderr.write(`[bench] ${line}\n`)
})
process.stdout.write(['control bytes per node per job', ...describeJobMesh(r, TARGET_BYTES)].join('\n') + '\n')
reportFigures('control-bytes', {
  nodes: r.nodes,
  jobs: r.jobs,
  perNodePerJob: r.perNodePerJob,
  perNodePerJobLessIdle: r.perNodePerJobLessIdle,
  idlePerNodePerS: r.idlePerNodePerS,
  seederPerJob: r.seederPerJob,
  finalAgreed: r.finalAgreed,
  expectedFinals: r.expectedFinals,
  jobsPerS: r.jobsPerS,
  target: TARGET_BYTES
})
if (r.finalAgreed === 0) process.exitCode = 1
