/**
 * `npm run bench`: runs the benchmarks one after the other (so they do not disturb each other's numbers),
 * passes their output through, and ends with a summary table (markdown) of the key figures of each.
 *
 *   npm run bench                      # everything, full size (about 40 minutes on 2 CPUs)
 *   npm run bench -- --quick           # reduced runs: fewer messages, jobs and attestations (6-11 minutes)
 *   npm run bench -- gossip mass       # only the runs whose name contains 'gossip' or 'mass'
 *   npm run bench -- --list            # the runs and their arguments
 *
 * Each bench also runs on its own (`npx node bench/<name>.ts --help`) and prints its numbers; run by this
 * script it also hands its key figures over (bench/lib/summary.ts: a JSON line in a file named by
 * SKYLINE_BENCH_SUMMARY). bench/*.ts files not in the plan below run with their defaults. Exit code 1 if any
 * bench failed. What each row means: docs/bench.md.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { SUMMARY_ENV, SUMMARY_LABEL_ENV, markdownTable, type FiguresLine } from './lib/summary.ts'

interface Run {
  /** the name a selection matches and the summary refers to */
  label: string
  file: string
  args: string[]
  quick: string[]
}

/** The runs, in order; full arguments, and the reduced ones of --quick */
const PLAN: Run[] = [
  { label: 'gossip-20', file: 'gossip-propagation.ts', args: ['--nodes', '20'], quick: ['--nodes', '20', '--messages', '50', '--idle-s', '5', '--real-nodes', '3', '--real-idle-s', '10'] },
  { label: 'gossip-50', file: 'gossip-propagation.ts', args: ['--nodes', '50', '--real-nodes', '0'], quick: ['--nodes', '50', '--messages', '30', '--interval-ms', '50', '--idle-s', '3', '--real-nodes', '0'] },
  { label: 'verdict-latency', file: 'verdict-latency.ts', args: [], quick: ['--jobs', '10'] },
  { label: 'attestation-throughput', file: 'attestation-throughput.ts', args: [], quick: ['--per-builder', '250'] },
  { label: 'control-bytes', file: 'control-bytes.ts', args: [], quick: ['--jobs', '15', '--idle-s', '5'] },
  { label: 'blob-transfer', file: 'blob-transfer.ts', args: [], quick: ['--size-mb', '20'] },
  { label: 'buildroot-bandwidth', file: 'buildroot-bandwidth.ts', args: [], quick: ['--jobs', '20', '--shared', '10', '--variants', '6'] },
  { label: 'pipeline-overhead', file: 'pipeline-overhead.ts', args: [], quick: ['--runs', '2'] },
  { label: 'build-overhead', file: 'build-overhead.ts', args: [], quick: ['--runs', '2'] },
  { label: 'node-memory', file: 'node-memory.ts', args: ['--jobs', '8'], quick: ['--jobs', '2', '--idle-s', '10'] },
  // 50 nodes fit 2 CPUs; 200 and 1,000 need a larger machine (bench/scale-sim.ts, scripts/pack-device.sh)
  { label: 'scale-sim', file: 'scale-sim.ts', args: ['--sizes', '50'], quick: ['--sizes', '20', '--jobs', '5'] },
  { label: 'mass-rebuild', file: 'mass-rebuild.ts', args: [], quick: ['--tally-jobs', '2500', '--slice-nodes', '10', '--slice-jobs', '10', '--slice-rate', '1'] },
  {
    label: 'collusion',
    file: 'collusion.ts',
    args: [],
    quick: ['--nodes', '50,200', '--jobs', '20000', '--jobs-per-mesh', '200', '--ground-nodes', '200', '--ground-jobs', '2000']
  }
]

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    quick: { type: 'boolean', default: false },
    list: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' }
  }
})
if (opts.help === true) {
  process.stdout.write(readFileSync(import.meta.filename, 'utf8').split('*/')[0].replace(/^\/\*\*|^ \* ?/gm, '') + '\n')
  process.exit(0)
}

const dir = import.meta.dirname
const files = readdirSync(dir).filter(f => f.endsWith('.ts') && f !== 'run.ts').sort()
const plan: Run[] = [
  ...PLAN.filter(r => files.includes(r.file)),
  ...files.filter(f => !PLAN.some(r => r.file === f)).map(f => ({ label: f.replace(/\.ts$/, ''), file: f, args: [], quick: [] }))
]
const words = positionals.map(w => w.toLowerCase())
const selected = words.length === 0 ? plan : plan.filter(r => words.some(w => r.label.includes(w) || r.file.includes(w)))
const unmatched = words.filter(w => !plan.some(r => r.label.includes(w) || r.file.includes(w)))
if (unmatched.length > 0) {
  process.stderr.write(`no bench matches ${unmatched.map(w => `'${w}'`).join(', ')}; the runs are: ${plan.map(r => r.label).join(', ')}\n`)
  process.exit(2)
}
if (opts.list === true) {
  for (const r of plan) process.stdout.write(`${r.label.padEnd(24)} bench/${r.file} ${r.args.join(' ')}   (--quick: ${r.quick.join(' ')})\n`)
  process.exit(0)
}

const tmp = mkdtempSync(join(tmpdir(), 'skyline-bench-run-'))
const summaryFile = join(tmp, 'figures.jsonl')
const failed: string[] = []
const times = new Map<string, number>()
const t0 = Date.now()
const load0 = loadavg()[0]
for (const r of selected) {
  const args = opts.quick ? r.quick : r.args
  process.stdout.write(`\n=== ${r.label}: bench/${r.file} ${args.join(' ')}\n`)
  const t = Date.now()
  const res = spawnSync(process.execPath, ['--disable-warning=ExperimentalWarning', join(dir, r.file), ...args], {
    stdio: 'inherit',
    env: { ...process.env, [SUMMARY_ENV]: summaryFile, [SUMMARY_LABEL_ENV]: r.label }
  })
  const how = res.error !== undefined ? res.error.message : res.signal !== null ? `killed by ${res.signal}` : `exit ${res.status}`
  times.set(r.label, (Date.now() - t) / 1000)
  process.stdout.write(`=== ${r.label}: ${how}, ${((Date.now() - t) / 1000).toFixed(1)} s\n`)
  if (res.status !== 0) failed.push(r.label)
}

const figures = new Map<string, any>()
if (existsSync(summaryFile)) {
  for (const line of readFileSync(summaryFile, 'utf8').split('\n')) {
    if (line.trim() === '') continue
    const f = JSON.parse(line) as FiguresLine
    figures.set(f.label, f.figures)
  }
}
rmSync(tmp, { recursive: true, force: true })

// ------------------------------------------------------------------------------------------- the summary

const ms = (x: number): string => Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : '-'
const kb = (x: number): string => Number.isFinite(x) ? (x / 1024).toFixed(1) : '-'
const p = (x: number): string => x >= 0.001 ? `${(x * 100).toPrecision(3)}%` : x === 0 ? '0' : x.toExponential(1)
const ran = (label: string): boolean => selected.some(r => r.label === label)
const status = (label: string): string => !ran(label) ? 'not run' : failed.includes(label) ? 'FAILED' : 'no figures'
const secs = (label: string): string => times.has(label) ? `${times.get(label)!.toFixed(0)} s` : ''

const rows: string[][] = [['figure', 'result', 'target', 'run', 'time']]
const add = (figure: string, label: string, result: (f: any) => string, target = ''): void => {
  if (words.length > 0 && !ran(label)) return
  const f = figures.get(label)
  let text: string
  try {
    text = f === undefined ? status(label) : result(f)
  } catch (err: any) {
    text = `? (${String(err?.message ?? err)})`
  }
  rows.push([figure, text, target, label, secs(label)])
}
const deliveries = (f: any): string => f.deliveries < f.expected ? `; ${(100 * f.deliveries / f.expected).toFixed(1)}% delivered` : ''
add('gossip propagation p50 / p99, 20 processes', 'gossip-20', f => `${ms(f.p50)} / ${ms(f.p99)} ms${deliveries(f)}${f.cpuBound ? ' (CPU-bound)' : ''}`, 'p99 < 250 ms')
add('gossip propagation p50 / p99, 50 processes', 'gossip-50', f => `${ms(f.p50)} / ${ms(f.p99)} ms${deliveries(f)}${f.cpuBound ? ` (CPU-bound: ${(100 * f.cpuShare).toFixed(0)}% of ${availableParallelism()} CPUs)` : ''}`, 'p99 < 250 ms')
add('time to verdict after the q-th attestation, p50 / p99', 'verdict-latency', f => `${ms(f.delays.p50)} / ${ms(f.delays.p99)} ms (${f.nodes} nodes, ${f.verdicts} of ${f.expected} verdicts)`, 'p99 < 500 ms')
add('attestation throughput per core (verify + tally)', 'attestation-throughput', f => `${f.pipelinePerS.toFixed(0)}/s (verify alone ${f.verifyPerS.toFixed(0)}/s)`, '>= 4000/s')
add('control bytes per node per job (all but blob)', 'control-bytes', f => `${kb(f.perNodePerJob.mean)} KB mean, ${kb(f.perNodePerJob.max)} KB max (${f.nodes} nodes, ${f.jobs} jobs; ${kb(f.perNodePerJobLessIdle.mean)} KB less idle background)` +
  (f.finalAgreed < f.expectedFinals ? `; only ${f.finalAgreed} of ${f.expectedFinals} final verdicts` : ''), '< 50 KB')
add('seeder upload ratio, SRPM to 10 fetchers', 'blob-transfer', f => `${f.seederRatio.toFixed(2)}x the blob (${f.sizeMB} MB, ${f.fetchers} fetchers, ${f.totalS.toFixed(1)} s)`, '~1x (naive: 10x)')
add('memory per idle node (bin/skyline node RSS), min / median / max', 'gossip-20', f => f.realRss === undefined || f.realRss === null ? 'not measured (--real-nodes 0)' : `${ms(f.realRss.min)} / ${ms(f.realRss.median)} / ${ms(f.realRss.max)} MB (${f.realNodes} nodes)`, '< 80 MB')
add('memory per node, idle / busy (real rpmbuild nodes, RSS median, max)', 'node-memory', f => {
  const v = f.variants[0]
  return `${ms(v.idleRss.median)} (${ms(v.idleRss.max)}) / ${ms(v.busyPeakRss.median)} (${ms(v.busyPeakRss.max)}) MB (${f.nodes} nodes, ${f.jobs} jobs each; ${v.finals} of ${v.expected} final verdicts)`
}, '< 60 / < 120 MB')
add('mass rebuild: jobs per node, max / mean (real assignment)', 'mass-rebuild', f => `${(f.assignment.perNode.max / f.assignment.perNode.mean).toFixed(2)} (${f.jobs} jobs, ${f.nodes} nodes; other random meshes ${f.assignment.otherMeshes.min.toFixed(2)}-${f.assignment.otherMeshes.max.toFixed(2)}; uniform random: ${(f.assignment.uniform.max / f.assignment.uniform.mean).toFixed(2)})`)
add('mass rebuild: tally of every attestation (real VerdictService)', 'mass-rebuild', f => `${f.tally.jobs} jobs x ${f.replicas}: ${f.tally.validateS.toFixed(1)} s (${f.tally.perSecond.toFixed(0)}/s); heap ${f.tally.heapMB.toFixed(1)} MB, SQLite ${f.tally.dbMB.toFixed(0)} MB` +
  (f.tally.jobs < f.jobs ? `; x${(f.jobs / f.tally.jobs).toFixed(0)} for ${f.jobs} (extrapolated): ${(f.tally.validateS * f.jobs / f.tally.jobs).toFixed(0)} s` : ''))
add('mass rebuild: end to end, real nodes, quick builder', 'mass-rebuild', f => `${f.slice.jobsPerS.toFixed(2)} jobs/s at ${f.slice.rate}/s offered (${f.slice.nodes} nodes, ${f.slice.jobs} jobs, ${f.slice.finalAgreed} of ${f.slice.expectedFinals} final agreed); ` +
  `${f.slice.cpuPerJob.toFixed(1)} core-s per job; ${f.jobs} jobs EXTRAPOLATED: ${(f.jobs * f.slice.cpuPerJob / f.slice.cpus / 3600).toFixed(1)} h on this machine, ${(f.jobs * f.slice.cpuPerJob / (f.slice.nodes + 1) / 3600).toFixed(1)} CPU-h per node with a machine each`)
add('collusion: P(colluders hold >= q of r), 10% / 33% of the mesh', 'collusion', f => {
  const at = (s: number): any => f.binomial.find((b: any) => Math.abs(b.share - s) < 1e-9)
  const g = (f.ground as any[]).find(x => Math.abs(x.share - 0.1) < 1e-9)
  return `${p(at(0.1).quorum)} / ${p(at(0.33).quorum)} (binomial; MC agrees: ${f.mcAgrees ? 'yes' : 'NO'})` +
    (g !== undefined ? `; with ground IDs at 10%, N = ${g.n}: ${p(g.quorum.mc)}, all r seats ${p(g.all.mc)}` : '')
})
add('pipeline overhead around rpmbuild', 'pipeline-overhead', f => `${ms(f.overheadMs)} ms (${(100 * f.shareOf5s).toFixed(1)}% of a 5 s build)`, '< 10%')
add('builder overhead (sandbox, idle priority, hash)', 'build-overhead', f => `${ms(f.overheadMs)} ms over a ${ms(f.bareMs)} ms bare rpmbuild`)
for (const r of selected) {
  if (['gossip-20', 'gossip-50', 'verdict-latency', 'attestation-throughput', 'control-bytes', 'blob-transfer', 'pipeline-overhead', 'build-overhead', 'node-memory', 'mass-rebuild', 'collusion'].includes(r.label)) continue
  rows.push([r.label, failed.includes(r.label) ? 'FAILED' : 'ran (see its output)', '', r.label, secs(r.label)])
}

const total = (Date.now() - t0) / 1000
process.stdout.write([
  '',
  `## Summary${opts.quick ? ' (--quick: reduced runs)' : ''}`,
  '',
  `${availableParallelism()} CPUs; load average ${load0.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end (a busy machine inflates latencies); ` +
    `${selected.length - failed.length} of ${selected.length} runs succeeded in ${(total / 60).toFixed(1)} min${failed.length > 0 ? `; failed: ${failed.join(', ')}` : ''}`,
  '',
  markdownTable(rows),
  ''
].join('\n'))
process.exitCode = failed.length > 0 ? 1 : 0
