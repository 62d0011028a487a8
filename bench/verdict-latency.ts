/**
 * Verdict latency across a local mesh of separate OS processes: the time from the q-th matching
 * attestation to the 'agreed' verdict at every node.
 *
 *   npx node bench/verdict-latency.ts [--nodes 20] [--jobs 30] [--interval-ms 500] [--lead-ms 1500]
 *                                     [--attest-gap-ms 100] [--replicas 5] [--quorum 3] [--settle-s 0]
 *                                     [--wait-s 20] [--eligibility builder|protocol] [--json]
 *
 * BENCH_WORKER_ARGS adds Node/V8 flags to every worker (e.g. "--cpu-prof --cpu-prof-dir=DIR").
 *
 * 1. Forks --nodes workers (bench/lib/verdict-worker.ts, each a SkylineNode on 127.0.0.1 that cannot
 *    build, all trusting one announcer key made for this run), the first the bootstrap node of the
 *    others, started a few at a time. Every node must count every node as an eligible builder:
 *    --eligibility protocol: builder 'none', and each worker registers the builder protocol itself. Its
 *      peers count it; it does not count itself (selfEligible is false), so the q attesters never hold
 *      q counted attestations and reach no verdict: that mode measures the other nodes only.
 *    --eligibility builder (default): a stand-in Builder, so the node is eligible in its own eyes too and
 *      attests through VerdictService.attest, as a real builder does; a signed halt, applied by every
 *      node at start, keeps any node from taking a job (fetching an SRPM that does not exist).
 *    Once all are up, every worker identifies its connected peers again (identify ran before a peer's
 *    protocol was registered, and there is no identify push). Then waits until every node has gossipsub
 *    mesh peers on the consensus topic.
 * 2. For each of --jobs jobs, --interval-ms apart: one worker (in turn) announces a made-up SRPM with
 *    r = --replicas, q = --quorum; the bench computes the r assigned builders with assignBuilders over
 *    all workers' peer IDs; --lead-ms later, the q closest of them each publish their own signed 'ok'
 *    attestation of the same single file, --attest-gap-ms apart.
 * 3. Every worker records the time of its first 'agreed' verdict per job; the delay measured is that
 *    time minus the time the q-th attestation's publish() was called, over all (job, node) pairs, on the
 *    machine's shared clock. Also: verdicts seen against jobs × nodes, whether all nodes agree, and a
 *    breakdown (gossip + validation to the q-th attestation, then tally), validator outcomes and times,
 *    assignment times, event-loop delay and CPU, and the machine's load.
 * Target: p99 < 500 ms.
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { Worker, cpuTicks } from './lib/worker.ts'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import type { Eligibility, VerdictRecord, WorkerReply, WorkerRequest } from './lib/verdict-worker.ts'
import { createAnnouncement } from '../src/protocols/announce.ts'
import { MIN_CHUNK_SIZE } from '../src/protocols/blob-limits.ts'
import { generateAnnouncerKey, rawPublicKey, type AnnouncerKey } from '../src/protocols/signing.ts'
import { jobKey } from '../src/rules/job.ts'
import { createControl } from '../src/protocols/control.ts'
import { assignBuilders } from '../src/rules/assignment.ts'
import { buildHash } from '../src/rules/build-hash.ts'
import { reportFigures, sleep, waitForCount } from './lib/summary.ts'
import { candidateCount } from '../src/rules/assignment.ts'

const ROOT = resolve(import.meta.dirname, '..')
const WORKER = join(ROOT, 'bench/lib/verdict-worker.ts')
const TARGET_P99_MS = 500
/** workers started at once (one per CPU) */
const START_BATCH = Math.max(1, availableParallelism())

const { values: opts } = parseArgs({
  options: {
    nodes: { type: 'string', default: '20' },
    jobs: { type: 'string', default: '30' },
    'interval-ms': { type: 'string', default: '500' },
    'lead-ms': { type: 'string', default: '1500' },
    'attest-gap-ms': { type: 'string', default: '100' },
    replicas: { type: 'string', default: '5' },
    quorum: { type: 'string', default: '3' },
    'settle-s': { type: 'string', default: '0' },
    'wait-s': { type: 'string', default: '20' },
    eligibility: { type: 'string', default: 'builder' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' }
  }
})
if (opts.help === true) {
  process.stdout.write(readFileSync(import.meta.filename, 'utf8').split('*/')[0].replace(/^\/\*\*|^ \* ?/gm, '') + '\n')
  process.exit(0)
}
const num = (name: keyof typeof opts, min: number): number => {
  const v = Number(opts[name])
  if (!Number.isInteger(v) || v < min) { process.stderr.write(`--${name} must be an integer >= ${min}\n`); process.exit(2) }
  return v
}
const NODES = num('nodes', 2)
const JOBS = num('jobs', 1)
const INTERVAL_MS = num('interval-ms', 0)
const LEAD_MS = num('lead-ms', 0)
const GAP_MS = num('attest-gap-ms', 0)
const REPLICAS = num('replicas', 1)
const QUORUM = num('quorum', 1)
const SETTLE_S = num('settle-s', 0)
const WAIT_S = num('wait-s', 1)
const ELIGIBILITY = opts.eligibility as Eligibility
if (ELIGIBILITY !== 'builder' && ELIGIBILITY !== 'protocol') {
  process.stderr.write('--eligibility must be builder or protocol\n')
  process.exit(2)
}
if (REPLICAS > NODES || QUORUM > REPLICAS || 2 * QUORUM <= REPLICAS) {
  process.stderr.write('need quorum a majority of replicas, and replicas <= nodes\n')
  process.exit(2)
}

const log = (line: string): void => { process.stderr.write(`[bench] ${line}\n`) }

function quantile (sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}

interface Stats { n: number, p50: number, p90: number, p99: number, max: number }
function stats (xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b)
  return { n: s.length, p50: quantile(s, 0.5), p90: quantile(s, 0.9), p99: quantile(s, 0.99), max: s.length > 0 ? s[s.length - 1] : NaN }
}

function table (rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map(r => r[c].length)))
  return rows.map(r => r.map((cell, c) => c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join('   ')).join('\n')
}

const f1 = (x: number): string => Number.isFinite(x) ? x.toFixed(1) : '-'
const row = (label: string, s: Stats, target = '', ok = ''): string[] => [label, String(s.n), f1(s.p50), f1(s.p90), f1(s.p99), f1(s.max), target, ok]

interface Job {
  index: number
  job: string
  announcer: number
  announcedAt: number
  /** worker indices, closest first: the r assigned, of which the first q attest */
  assigned: number[]
  attesters: number[]
  /** publish() call times of the attestations, in order */
  attestedAt: number[]
  hash: string
}

function makeAnnouncerKey (): { key: AnnouncerKey, line: string } {
  const g = generateAnnouncerKey()
  const privateKey = createPrivateKey(g.privatePem)
  return { key: { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) }, line: g.publicLine('skyline-bench').trim() }
}

async function run (dir: string): Promise<void> {
  const workers: Array<Worker<WorkerRequest, WorkerReply>> = []
  const cleanup = (): void => { for (const w of workers) w.child.kill('SIGKILL') }
  process.once('SIGINT', () => { cleanup(); process.exit(130) })
  const loadBefore = loadavg()
  try {
    const announcer = makeAnnouncerKey()
    const announcers = [announcer.line]
    const halt = Buffer.from(createControl({ action: 'halt', reason: 'verdict-latency bench: no builds' }, announcer.key)).toString('base64')
    const t0 = Date.now()
    const first = new Worker<WorkerRequest, WorkerReply>(WORKER, 0)
    workers.push(first)
    const peerIds: string[] = []
    const boot = await first.request({ type: 'start', dataDir: join(dir, 'node-0'), bootstrap: [], announcers, eligibility: ELIGIBILITY, halt })
    peerIds[0] = boot.peerId
    const bootAddr = boot.addrs.find(a => a.startsWith('/ip4/127.0.0.1/'))!
    // a few at a time, as bench/gossip-propagation.ts does (a starved bootstrap node times out dials)
    for (let i = 1; i < NODES; i += START_BATCH) {
      const batch = Array.from({ length: Math.min(START_BATCH, NODES - i) }, (_, k) => new Worker<WorkerRequest, WorkerReply>(WORKER, i + k))
      workers.push(...batch)
      await Promise.all(batch.map(async w => {
        const r = await w.request({ type: 'start', dataDir: join(dir, `node-${w.index}`), bootstrap: [bootAddr], announcers, eligibility: ELIGIBILITY, halt }, 60_000)
        peerIds[w.index] = r.peerId
      }))
    }
    log(`${NODES} nodes started in ${Date.now() - t0} ms; waiting for the gossipsub mesh on the consensus topic`)

    const t1 = Date.now()
    let st: Array<Extract<WorkerReply, { type: 'status' }>> = []
    let reidentified = false
    for (;;) {
      st = await Promise.all(workers.map(async w => w.request({ type: 'status' })))
      const degree = st.map(s => s.meshPeers)
      const formed = degree.every(d => d > 0)
      const settled = degree.every(d => d >= Math.min(4, NODES - 1))
      if ((settled || (formed && Date.now() - t1 > 15_000)) && reidentified) break
      if (formed && !reidentified) {
        const r = await Promise.all(workers.map(async w => w.request({ type: 'reidentify' })))
        log(`re-identified connected peers: ${r.reduce((a, x) => a + x.identified, 0)} ok, ${r.reduce((a, x) => a + x.failed, 0)} failed`)
        reidentified = true
        continue
      }
      if (Date.now() - t1 > 60_000) throw new Error(`the mesh did not form in 60 s (mesh peers per node: ${degree.join(' ')}; connections: ${st.map(s => s.connections).join(' ')})`)
      await sleep(250)
    }
    log(`mesh formed in ${Date.now() - t1} ms (consensus-topic mesh peers per node: ${st.map(s => s.meshPeers).join(' ')}; connections: ${st.map(s => s.connections).join(' ')})`)
    log(`peers each node knows to advertise the builder protocol: ${st.map(s => s.builderPeers).join(' ')} (of ${NODES - 1})`)
    if (SETTLE_S > 0) {
      log(`settling ${SETTLE_S} s`)
      await sleep(SETTLE_S * 1000)
    }

    const pids = workers.map(w => w.pid)
    const ticks = (): number => pids.reduce((a, p) => a + cpuTicks(p), 0)
    const idle0 = ticks()
    await sleep(2000)
    const idleRate = (ticks() - idle0) / 100 / 2 // core-seconds per second
    log(`workers' CPU before the run: ${f1(idleRate * 100)}% of one core (all workers together)`)

    const peers: PeerId[] = peerIds.map(p => peerIdFromString(p))
    const indexOf = new Map(peerIds.map((p, i) => [p, i]))
    const file = { name: 'x-1-1.noarch.rpm', size: 4096, sha256: createHash('sha256').update('skyline verdict bench').digest('hex') }
    const hash = buildHash([file])
    const jobs: Job[] = []
    const tasks: Array<Promise<void>> = []
    const ticks0 = ticks()
    const tRun = Date.now()
    for (let j = 0; j < JOBS; j++) {
      const srpmSha256 = randomBytes(32)
      const beacon = randomBytes(32)
      const target = 'fedora-41-x86_64'
      const key = jobKey(srpmSha256, target, beacon)
      const assigned = assignBuilders(key, peers, REPLICAS).map(p => indexOf.get(p.toString())!)
      const job: Job = { index: j, job: Buffer.from(key).toString('hex'), announcer: j % NODES, announcedAt: NaN, assigned, attesters: assigned.slice(0, QUORUM), attestedAt: [], hash }
      jobs.push(job)
      const envelope = createAnnouncement({
        nevra: `verdictbench-1.0-${j + 1}.src`, srpmSha256, srpmSize: 1024, target, chunkSize: MIN_CHUNK_SIZE, chunkRoot: randomBytes(32), beacon, replicas: REPLICAS, quorum: QUORUM,
        candidates: assignBuilders(key, peers, candidateCount(REPLICAS))
      }, announcer.key)
      tasks.push((async () => {
        const a = await workers[job.announcer].request({ type: 'announce', envelope: Buffer.from(envelope).toString('base64') })
        if (a.job !== job.job) throw new Error(`job key mismatch for job ${j}`)
        job.announcedAt = a.at
        await sleep(LEAD_MS)
        const replies: Array<Promise<void>> = []
        for (const [k, w] of job.attesters.entries()) {
          if (k > 0 && GAP_MS > 0) await sleep(GAP_MS)
          replies.push(workers[w].request({ type: 'attest', job: job.job, files: [file] }).then(r => { job.attestedAt[k] = r.before }))
        }
        await Promise.all(replies)
      })().catch(err => log(`job ${j}: ${String(err.message)}`)))
      if (INTERVAL_MS > 0) await sleep(INTERVAL_MS)
    }
    await Promise.all(tasks)
    const expected = JOBS * NODES
    const got = await waitForCount(async () => (await Promise.all(workers.map(async w => w.request({ type: 'status' })))).reduce((a, s) => a + s.verdicts, 0), expected, WAIT_S * 1000, 250)
    const runS = (Date.now() - tRun) / 1000
    const busyCpuS = (ticks() - ticks0) / 100 - idleRate * runS
    log(`run took ${runS.toFixed(1)} s; ${got} of ${expected} agreed verdicts`)
    const collected = await Promise.all(workers.map(async w => w.request({ type: 'collect' })))
    const loadAfter = loadavg()
    await Promise.allSettled(workers.map(async w => w.request({ type: 'stop' }, 15_000)))
    report({ jobs, collected, peerIds, busyCpuS, runS, idleRate, loadBefore, loadAfter })
  } finally {
    // disconnecting makes a worker stop its node and exit; SIGKILL any still there after 5 s
    await Promise.all(workers.map(async w => {
      if (w.child.exitCode !== null || w.child.signalCode !== null) return
      const exited = new Promise(resolve => w.child.once('exit', resolve))
      if (w.child.connected) w.child.disconnect()
      await Promise.race([exited, sleep(5000)])
    }))
    cleanup()
  }
}

function report (r: {
  jobs: Job[]
  collected: Array<Extract<WorkerReply, { type: 'collect' }>>
  peerIds: string[]
  busyCpuS: number
  runS: number
  idleRate: number
  loadBefore: number[]
  loadAfter: number[]
}): void {
  const { jobs, collected } = r
  const byJob = new Map(jobs.map(j => [j.job, j]))
  const all: number[] = []
  const attesterDelays: number[] = []
  const assignedDelays: number[] = []
  const otherDelays: number[] = []
  const toQth: number[] = []
  const tallyMs: number[] = []
  const kinds = new Map<string, number>()
  const hashesSeen = new Set<string>()
  const disagreements: string[] = []
  const missing: Array<{ node: number, job: number, role: string, attestationsHeld: number }> = []
  for (const [node, c] of collected.entries()) {
    const agreed = new Map<string, VerdictRecord>()
    for (const v of c.verdicts) {
      if (!byJob.has(v.job)) continue
      kinds.set(v.verdict, (kinds.get(v.verdict) ?? 0) + 1)
      if (v.verdict === 'agreed') {
        agreed.set(v.job, v)
        if (v.hash !== null) hashesSeen.add(v.hash)
        if (v.hash !== byJob.get(v.job)!.hash) disagreements.push(`node ${node} job ${byJob.get(v.job)!.index}: agreed on ${v.hash ?? '?'}`)
      } else if (v.verdict !== 'pending') {
        const j = byJob.get(v.job)!
        const role = j.attesters.includes(node) ? `attester #${j.attesters.indexOf(node) + 1}` : j.assigned.includes(node) ? 'assigned' : 'other'
        const at = j.attestedAt.length > 0 ? ` ${f1(v.at - Math.min(...j.attestedAt))} ms after the 1st attestation` : ''
        disagreements.push(`node ${node} job ${j.index} (${role}): ${v.final ? 'final ' : ''}${v.verdict}${at}`)
      }
    }
    const held = new Map<string, number[]>()
    for (const [job, , at] of c.attestations) {
      const l = held.get(job)
      if (l === undefined) held.set(job, [at])
      else l.push(at)
    }
    for (const j of jobs) {
      const v = agreed.get(j.job)
      const role = j.attesters.includes(node) ? 'attester' : j.assigned.includes(node) ? 'assigned' : 'other'
      const times = (held.get(j.job) ?? []).sort((a, b) => a - b)
      if (v === undefined || j.attestedAt.length < QUORUM) {
        missing.push({ node, job: j.index, role, attestationsHeld: times.length })
        continue
      }
      const tq = Math.max(...j.attestedAt)
      const d = v.at - tq
      all.push(d)
      if (role === 'attester') attesterDelays.push(d)
      else if (role === 'assigned') assignedDelays.push(d)
      else otherDelays.push(d)
      if (times.length >= QUORUM) {
        toQth.push(times[QUORUM - 1] - tq)
        tallyMs.push(v.at - times[QUORUM - 1])
      }
    }
  }
  const expected = jobs.length * collected.length
  const s = stats(all)
  const outcomes = new Map<string, number>()
  const validateMs: number[] = []
  const acceptMs: number[] = []
  for (const c of collected) {
    for (const [o, , ms] of c.validations) {
      outcomes.set(o, (outcomes.get(o) ?? 0) + 1)
      validateMs.push(ms)
      if (o === 'accept:ok') acceptMs.push(ms)
    }
  }
  const assignMs = collected.flatMap(c => c.assignments.filter(([job]) => byJob.has(job)).map(([, ms]) => ms))
  const loopMax = stats(collected.map(c => c.loopDelay.max))
  const loopP99 = stats(collected.map(c => c.loopDelay.p99))
  const attestMsgs = jobs.length * QUORUM
  const missingByRole = new Map<string, number>()
  for (const m of missing) missingByRole.set(m.role, (missingByRole.get(m.role) ?? 0) + 1)

  const out = [
    `verdict latency: ${collected.length} node processes on 127.0.0.1, ${jobs.length} jobs ${INTERVAL_MS} ms apart, r = ${REPLICAS}, q = ${QUORUM}; ` +
      `attestations ${LEAD_MS} ms after the announcement, ${GAP_MS} ms apart; eligibility '${ELIGIBILITY}'`,
    `machine: ${availableParallelism()} CPUs, load average (1/5/15 min) ${r.loadBefore.map(x => x.toFixed(1)).join('/')} before, ${r.loadAfter.map(x => x.toFixed(1)).join('/')} after ` +
      '(other work on the machine inflates the delays)',
    '',
    table([
      ['q-th attestation published → verdict (ms)', 'n', 'p50', 'p90', 'p99', 'max', 'target', ''],
      row('all (job, node) pairs', s, `p99 < ${TARGET_P99_MS}`, s.n === 0 ? '-' : s.p99 < TARGET_P99_MS ? 'ok' : 'MISS'),
      row('  at the q attesters', stats(attesterDelays)),
      row('  at the other assigned builders', stats(assignedDelays)),
      row('  at the other nodes', stats(otherDelays)),
      row('q-th attestation published → recorded here', stats(toQth)),
      row('q-th attestation recorded → verdict here', stats(tallyMs)),
      row('VerdictService.validate, all (ms)', stats(validateMs)),
      row('VerdictService.validate, accepted (ms)', stats(acceptMs)),
      row('assignment of a job (onAnnouncement, ms)', stats(assignMs)),
      row('event loop delay p99 per node (ms)', loopP99),
      row('event loop delay max per node (ms)', loopMax)
    ]),
    '',
    `agreed verdicts: ${all.length} of ${expected} expected (${(100 * all.length / expected).toFixed(1)}%)` +
      (missing.length > 0 ? `; missing by role: ${[...missingByRole].map(([k, v]) => `${k} ${v}`).join(', ')}` : ''),
    `verdict events by kind: ${[...kinds].map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `all nodes agree: ${disagreements.length === 0 && hashesSeen.size <= 1 ? 'yes' : 'NO'} (agreed hashes seen: ${hashesSeen.size}; other non-pending verdict events: ${disagreements.length})`,
    ...disagreements.slice(0, 6).map(d => `  ${d}`),
    `consensus validator outcomes: ${[...outcomes].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `CPU spent by the mesh over the run (less idle): ${r.busyCpuS.toFixed(2)} core-seconds in ${r.runS.toFixed(1)} s = ` +
      `${f1(1000 * r.busyCpuS / jobs.length)} ms per job (1 announcement + ${QUORUM} attestations), idle rate ${f1(r.idleRate * 100)}% of one core`
  ]
  if (missing.length > 0) {
    out.push(`missing verdicts (first 10): ${missing.slice(0, 10).map(m => `job ${m.job} node ${m.node} (${m.role}, held ${m.attestationsHeld} attestations)`).join('; ')}`)
  }
  process.stdout.write(out.join('\n') + '\n')
  reportFigures('verdict-latency', { nodes: collected.length, jobs: jobs.length, replicas: REPLICAS, quorum: QUORUM, delays: s, verdicts: all.length, expected, loadBefore: r.loadBefore[0], loadAfter: r.loadAfter[0] })
  if (opts.json) {
    process.stdout.write(JSON.stringify({ delays: s, attesters: stats(attesterDelays), assigned: stats(assignedDelays), others: stats(otherDelays), verdicts: all.length, expected, missing, outcomes: Object.fromEntries(outcomes), attestMsgs }) + '\n')
  }
}

const dir = mkdtempSync(join(tmpdir(), 'skyline-bench-verdict-'))
try {
  await run(dir)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
