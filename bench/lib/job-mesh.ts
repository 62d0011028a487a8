/**
 * A mesh of real nodes running real jobs end to end, for bench/control-bytes.ts and the real-mesh slice of
 * bench/mass-rebuild.ts. Each node is its own OS process (bench/lib/job-worker.ts): `nodes` builders with
 * the bench's QuickBuilder, and one seeder (no builder, DHT client mode, as `skyline seed`). For every job
 * the seeder stores a different signed SRPM (test/helpers/srpms.ts: one throwaway OpenPGP key every
 * builder trusts) and announces it (r, q) naming itself as the provider, as `skyline seed` does (no flood
 * publishing; a DHT provide only for a builder unserved 10 s later); the assigned builders fetch it over the
 * blob protocol, verify its signature, "build" it, store and provide the output and attest; every node
 * tallies. Only the build itself is simulated.
 *
 * Measured between the first announcement and the moment every node holds a final verdict for every job:
 * throughput, latency, builds per node, CPU, and each node's bytes on the wire by protocol, from libp2p's
 * own counters (`libp2p_data_transfer_bytes_total`: 'global' is what went through the node's TCP
 * connections, encrypted; each protocol's figure is its streams' payload). Control bytes are the wire
 * bytes less the blob protocol's; an idle window before the jobs gives the background rate (gossipsub
 * heartbeats, DHT refreshes, pings) that the jobs' figure includes.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Worker, cpuTicks } from './worker.ts'
import type { JobWorkerReply, JobWorkerRequest, FinalVerdict } from './job-worker.ts'
import { makeSignedSrpms } from '../../test/helpers/srpms.ts'
import { generateAnnouncerKey } from '../../src/protocols/signing.ts'
import { sleep, spread, type Spread } from './summary.ts'
import { GOSSIP_DEGREE } from '../../src/node/libp2p.ts'

const WORKER = resolve(import.meta.dirname, 'job-worker.ts')
/** workers started at once (one per CPU): a starved bootstrap node times out dials */
const START_BATCH = Math.max(1, availableParallelism())
/** stop waiting for verdicts after this long without a new one */
const STALL_MS = 45_000

export interface JobMeshOptions {
  /** builder nodes (the seeder comes on top) */
  nodes: number
  jobs: number
  /** announcements per second; 0: one after the other, as fast as the seeder takes them */
  rate: number
  replicas: number
  quorum: number
  /** rules v2 instead of v1: a panel of P stage-1 seats (escalation E = 2, threshold T = P + 1) */
  panel?: number
  /** builds at once per node */
  concurrency: number
  /** seconds to wait after the gossipsub mesh formed (routing tables settle in 10 s) */
  settleS: number
  /** seconds of idle mesh to measure the background byte rate */
  idleS: number
  /** seconds to wait for verdicts after the last announcement */
  waitS: number
  log: (line: string) => void
}

type W = Worker<JobWorkerRequest, JobWorkerReply>

/** Bytes of one node, by group, over a window */
export interface ByteBreakdown {
  /** all bytes through the node's TCP connections, sent + received */
  wire: number
  blob: number
  gossip: number
  dht: number
  identify: number
  ping: number
  sync: number
  builder: number
  /** stream payload of any other protocol */
  other: number
  /** wire less every stream's payload: Noise, Yamux, multistream-select */
  framing: number
  /** wire less blob: what the control-bytes row counts */
  control: number
}

export interface JobMeshResult {
  nodes: number
  jobs: number
  replicas: number
  quorum: number
  /** rules v2's P, when the run used it */
  panel?: number
  rate: number
  cpus: number
  load: { before: number, after: number }
  startS: number
  meshS: number
  /** seconds from the first announcement to the last */
  announceS: number
  /** seconds from the first announcement to the last final verdict seen */
  runS: number
  /** final agreed verdicts held, against jobs × (nodes + 1) */
  finalAgreed: number
  expectedFinals: number
  otherFinals: Record<string, number>
  jobsPerS: number
  /** announcement → final verdict, per (job, node), ms */
  latency: Spread
  /** announcement → final verdict at the last node, per job, ms */
  latencyAll: Spread
  /** at the assigned builders, median ms from each phase to the next: announced, assigned, fetching, building, built, attested, final */
  phases: Array<[string, number]>
  /** builds per builder node */
  builds: Spread
  jobStates: Record<string, number>
  jobErrors: string[]
  /** mesh CPU (all processes) per job, core-seconds, less the idle mesh's */
  cpuPerJob: number
  /** jobs/s this machine's CPUs could carry at that cost: CPUs / cpuPerJob (an upper bound) */
  cpuCapacity: number
  /** per builder node, per job, over the run window */
  perNodePerJob: Spread & { breakdown: ByteBreakdown }
  /** the same, less the idle background over the window's length */
  perNodePerJobLessIdle: Spread
  /** background control bytes per builder node per second, idle mesh */
  idlePerNodePerS: number
  /** the seeder's control bytes per job */
  seederPerJob: number
  /** the seeder's bytes per job, by protocol */
  seederBreakdown: ByteBreakdown
  /** jobs whose SRPM the seeder provided in the DHT (a builder still unserved 10 s after the announcement) */
  seederProvided: number
  /** per builder node over the whole run (start included): syncs it asked for, and items served to others */
  syncs: Spread
  syncServed: Spread
  rss: Spread
}

function group (counters: Record<string, number>): ByteBreakdown {
  const b: ByteBreakdown = { wire: 0, blob: 0, gossip: 0, dht: 0, identify: 0, ping: 0, sync: 0, builder: 0, other: 0, framing: 0, control: 0 }
  let streams = 0
  for (const [label, value] of Object.entries(counters)) {
    const protocol = label.replace(/ (sent|received)$/, '')
    if (protocol === 'global') { b.wire += value; continue }
    streams += value
    if (protocol.startsWith('/skyline/blob/')) b.blob += value
    else if (protocol.startsWith('/meshsub/')) b.gossip += value
    else if (protocol.startsWith('/skyline/kad/')) b.dht += value
    else if (protocol.startsWith('/ipfs/id/')) b.identify += value
    else if (protocol.startsWith('/ipfs/ping/')) b.ping += value
    else if (protocol.startsWith('/skyline/sync/')) b.sync += value
    else if (protocol.startsWith('/skyline/builder/')) b.builder += value
    else b.other += value
  }
  b.framing = b.wire - streams
  b.control = b.wire - b.blob
  return b
}

function minus (a: ByteBreakdown, b: ByteBreakdown): ByteBreakdown {
  const out = { ...a }
  for (const k of Object.keys(out) as Array<keyof ByteBreakdown>) out[k] = a[k] - b[k]
  return out
}

function scale (a: ByteBreakdown, f: number): ByteBreakdown {
  const out = { ...a }
  for (const k of Object.keys(out) as Array<keyof ByteBreakdown>) out[k] = a[k] * f
  return out
}

async function bytesOf (workers: W[]): Promise<ByteBreakdown[]> {
  return Promise.all(workers.map(async w => group((await w.request({ type: 'bytes' })).counters)))
}

export async function runJobMesh (o: JobMeshOptions): Promise<JobMeshResult> {
  const dir = mkdtempSync(join(tmpdir(), 'skyline-bench-jobs-'))
  const builders: W[] = []
  let seeder: W | undefined
  const all = (): W[] => [...builders, ...(seeder !== undefined ? [seeder] : [])]
  const cleanup = (): void => { for (const w of all()) w.child.kill('SIGKILL') }
  const onSigint = (): void => { cleanup(); process.exit(130) }
  process.once('SIGINT', onSigint)
  const loadBefore = loadavg()[0]
  try {
    const t0 = Date.now()
    const { keyPath, srpms } = await makeSignedSrpms(join(dir, 'srpms'), o.jobs)
    o.log(`${srpms.length} signed SRPMs made in ${Date.now() - t0} ms`)
    const announcer = generateAnnouncerKey()
    const announcers = [announcer.publicLine('skyline-bench').trim()]

    const tStart = Date.now()
    const first = new Worker<JobWorkerRequest, JobWorkerReply>(WORKER, 0)
    builders.push(first)
    const boot = await first.request({ type: 'start', role: 'builder', dataDir: join(dir, 'node-0'), bootstrap: [], announcers, keyring: keyPath, concurrency: o.concurrency }, 60_000)
    const bootAddr = boot.addrs.find(a => a.startsWith('/ip4/127.0.0.1/'))!
    for (let i = 1; i < o.nodes; i += START_BATCH) {
      const batch = Array.from({ length: Math.min(START_BATCH, o.nodes - i) }, (_, k) => new Worker<JobWorkerRequest, JobWorkerReply>(WORKER, i + k))
      builders.push(...batch)
      await Promise.all(batch.map(async w => w.request({ type: 'start', role: 'builder', dataDir: join(dir, `node-${w.index}`), bootstrap: [bootAddr], announcers, keyring: keyPath, concurrency: o.concurrency }, 60_000)))
    }
    seeder = new Worker<JobWorkerRequest, JobWorkerReply>(WORKER, o.nodes)
    await seeder.request({ type: 'start', role: 'seeder', dataDir: join(dir, 'seeder'), bootstrap: [bootAddr], announcers, announcerPem: announcer.privatePem }, 60_000)
    const startS = (Date.now() - tStart) / 1000
    o.log(`${o.nodes} builder nodes and a seeder started in ${startS.toFixed(1)} s; waiting for the gossipsub mesh`)

    const t1 = Date.now()
    let st: Array<Extract<JobWorkerReply, { type: 'status' }>> = []
    for (;;) {
      st = await Promise.all(all().map(async w => w.request({ type: 'status' })))
      const b = st.slice(0, o.nodes)
      const formed = b.every(s => s.announceMesh > 0 && s.consensusMesh > 0) && st[o.nodes].announceMesh > 0
      const settled = b.every(s => s.announceMesh >= Math.min(GOSSIP_DEGREE.Dlo, o.nodes - 1) && s.consensusMesh >= Math.min(GOSSIP_DEGREE.Dlo, o.nodes - 1))
      if (settled || (formed && Date.now() - t1 > 15_000)) break
      if (Date.now() - t1 > 90_000) throw new Error(`the mesh did not form in 90 s (announce-topic mesh peers: ${st.map(s => s.announceMesh).join(' ')})`)
      await sleep(500)
    }
    const meshS = (Date.now() - t1) / 1000
    o.log(`mesh formed in ${meshS.toFixed(1)} s; builders each node knows: ${st.map(s => s.builderPeers).join(' ')}; routing tables: ${st.map(s => s.routingTable).join(' ')}`)
    if (o.settleS > 0) await sleep(o.settleS * 1000)

    const pids = all().map(w => w.pid)
    const ticks = (): number => pids.reduce((a, p) => a + cpuTicks(p), 0)
    // the idle background
    const idle0 = await bytesOf(builders)
    const idleTicks0 = ticks()
    const ti0 = Date.now()
    await sleep(Math.max(1, o.idleS) * 1000)
    const idle1 = await bytesOf(builders)
    const idleS = (Date.now() - ti0) / 1000
    const idleCpuRate = (ticks() - idleTicks0) / 100 / idleS
    const idleRates = idle1.map((b, i) => (b.control - idle0[i].control) / idleS)
    const idlePerNodePerS = spread(idleRates).mean
    o.log(`idle: ${(idlePerNodePerS / 1024).toFixed(2)} KB/s of control bytes per node`)

    // the run
    const before = await bytesOf(all())
    const ticks0 = ticks()
    const tRun = Date.now()
    const announced: Array<{ job: string, at: number }> = []
    const seedMs: Array<[number, number]> = []
    let firstAt = NaN
    for (const [i, s] of srpms.entries()) {
      if (o.rate > 0) {
        const due = tRun + i * 1000 / o.rate
        if (due > Date.now()) await sleep(due - Date.now())
      }
      const r = await seeder.request({ type: 'seed', path: s.path, nevra: s.nevra, replicas: o.replicas, quorum: o.quorum, panel: o.panel !== undefined ? { panel: o.panel, escalation: 2, threshold: o.panel + 1 } : undefined }, 60_000)
      if (i === 0) firstAt = r.at
      announced.push({ job: r.job, at: r.at })
      seedMs.push([r.addMs, r.announceMs])
    }
    const announceS = (Date.now() - tRun) / 1000
    o.log(`${announced.length} jobs announced in ${announceS.toFixed(1)} s (at the seeder, median ${spread(seedMs.map(x => x[0])).median.toFixed(0)} ms to store the SRPM, ` +
      `${spread(seedMs.map(x => x[1])).median.toFixed(0)} ms to check, record and publish the announcement); waiting for every node's final verdicts`)
    const expectedFinals = announced.length * (o.nodes + 1)
    const deadline = Date.now() + o.waitS * 1000
    let lastLog = Date.now()
    let lastGot = -1
    let lastProgress = Date.now()
    for (;;) {
      st = await Promise.all(all().map(async w => w.request({ type: 'status' })))
      const got = st.reduce((a, s) => a + s.finalAgreed + s.finalOther, 0)
      if (got !== lastGot) { lastGot = got; lastProgress = Date.now() }
      if (got >= expectedFinals || Date.now() > deadline) break
      // a job whose fetch failed at a builder stays non-final until its deadline (a day): stop waiting
      // once nothing has moved for a while
      if (Date.now() - lastProgress > STALL_MS) { o.log(`  no new final verdict in ${STALL_MS / 1000} s; stopping`); break }
      if (Date.now() - lastLog > 10_000) {
        o.log(`  ${got} of ${expectedFinals} final verdicts; builds ${st.reduce((a, s) => a + s.builds, 0)}; job errors ${st.reduce((a, s) => a + s.jobErrors, 0)}`)
        lastLog = Date.now()
      }
      await sleep(250)
    }
    const after = await bytesOf(all())
    const windowS = (Date.now() - tRun) / 1000
    const cpuS = (ticks() - ticks0) / 100 - idleCpuRate * windowS
    const collected = await Promise.all(all().map(async w => w.request({ type: 'collect' })))
    const loadAfter = loadavg()[0]
    await Promise.allSettled(all().map(async w => w.request({ type: 'stop' }, 15_000)))

    // verdicts
    const announcedAt = new Map(announced.map(a => [a.job, a.at]))
    const latency: number[] = []
    const lastFinal = new Map<string, number>()
    const otherFinals: Record<string, number> = {}
    let finalAgreed = 0
    let lastAt = firstAt
    for (const c of collected) {
      for (const f of c.finals as FinalVerdict[]) {
        const at0 = announcedAt.get(f.job)
        if (at0 === undefined) continue
        if (f.verdict === 'agreed') finalAgreed++
        else otherFinals[f.verdict] = (otherFinals[f.verdict] ?? 0) + 1
        latency.push(f.at - at0)
        lastFinal.set(f.job, Math.max(lastFinal.get(f.job) ?? 0, f.at))
        lastAt = Math.max(lastAt, f.at)
      }
    }
    const latencyAll = [...lastFinal].map(([job, at]) => at - announcedAt.get(job)!)
    const runS = (lastAt - firstAt) / 1000
    const jobStates: Record<string, number> = {}
    for (const c of collected) for (const [k, v] of Object.entries(c.jobStates)) jobStates[k] = (jobStates[k] ?? 0) + v
    const jobs = announced.length
    const PHASES = ['announced', 'assigned', 'fetching', 'building', 'built', 'attested', 'final']
    const phases: Array<[string, number]> = PHASES.slice(1).map((p, i) => {
      const d = collected.flatMap(c => c.phases).filter(x => x[p] !== undefined && x[PHASES[i]] !== undefined).map(x => x[p] - x[PHASES[i]])
      return [`${PHASES[i]} → ${p}`, spread(d).median]
    })

    // bytes per builder node per job
    const perNode = after.slice(0, o.nodes).map((b, i) => minus(b, before[i]))
    const perJob = perNode.map(b => b.control / jobs)
    const lessIdle = perNode.map((b, i) => (b.control - idleRates[i] * windowS) / jobs)
    const meanBreakdown = scale(perNode.reduce((acc, b) => { for (const k of Object.keys(acc) as Array<keyof ByteBreakdown>) acc[k] += b[k]; return acc }, group({})), 1 / (o.nodes * jobs))
    const seederBytes = minus(after[o.nodes], before[o.nodes])

    return {
      nodes: o.nodes,
      jobs,
      replicas: o.replicas,
      quorum: o.quorum,
      panel: o.panel,
      rate: o.rate,
      cpus: availableParallelism(),
      load: { before: loadBefore, after: loadAfter },
      startS,
      meshS,
      announceS,
      runS,
      finalAgreed,
      expectedFinals,
      otherFinals,
      jobsPerS: jobs / runS,
      latency: spread(latency),
      latencyAll: spread(latencyAll),
      phases,
      builds: spread(collected.slice(0, o.nodes).map(c => c.builds)),
      jobStates,
      jobErrors: collected.flatMap(c => c.jobErrors).slice(0, 10),
      cpuPerJob: cpuS / jobs,
      cpuCapacity: availableParallelism() / (cpuS / jobs),
      perNodePerJob: { ...spread(perJob), breakdown: meanBreakdown },
      perNodePerJobLessIdle: spread(lessIdle),
      idlePerNodePerS,
      seederPerJob: seederBytes.control / jobs,
      seederBreakdown: scale(seederBytes, 1 / jobs),
      seederProvided: collected[o.nodes].provided,
      syncs: spread(collected.slice(0, o.nodes).map(c => c.sync.syncs)),
      syncServed: spread(collected.slice(0, o.nodes).map(c => c.sync.served)),
      rss: spread(collected.slice(0, o.nodes).map(c => c.rss / 2 ** 20))
    }
  } finally {
    process.removeListener('SIGINT', onSigint)
    await Promise.all(all().map(async w => {
      if (w.child.exitCode !== null || w.child.signalCode !== null) return
      const exited = new Promise(resolve => w.child.once('exit', resolve))
      if (w.child.connected) w.child.disconnect()
      await Promise.race([exited, sleep(5000)])
    }))
    cleanup()
    rmSync(dir, { recursive: true, force: true })
  }
}

const kb = (x: number): string => Number.isFinite(x) ? (x / 1024).toFixed(1) : '-'

/** The human-readable report of a run */
export function describeJobMesh (r: JobMeshResult, target?: number): string[] {
  const b = r.perNodePerJob.breakdown
  const s = r.seederBreakdown
  return [
    `${r.nodes} builder node processes + 1 seeder on 127.0.0.1, ${r.jobs} jobs (${r.panel !== undefined ? `rules v2, P = ${r.panel}, E = 2, T = ${r.panel + 1}` : `r = ${r.replicas}, q = ${r.quorum}`}), ` +
      `${r.rate > 0 ? `${r.rate} announcements/s` : 'announced back to back'}; ${r.cpus} CPUs, load average ${r.load.before.toFixed(1)} before, ${r.load.after.toFixed(1)} after`,
    `started in ${r.startS.toFixed(1)} s, mesh formed in ${r.meshS.toFixed(1)} s; announcing took ${r.announceS.toFixed(1)} s`,
    `final agreed verdicts: ${r.finalAgreed} of ${r.expectedFinals} (jobs × nodes incl. the seeder)` +
      (Object.keys(r.otherFinals).length > 0 ? `; other final verdicts: ${JSON.stringify(r.otherFinals)}` : ''),
    `job states at the builders: ${JSON.stringify(r.jobStates)}${r.jobErrors.length > 0 ? `; errors: ${r.jobErrors.slice(0, 3).join(' | ')}` : ''}`,
    `throughput: ${r.jobsPerS.toFixed(2)} jobs/s (first announcement → last final verdict: ${r.runS.toFixed(1)} s${r.rate > 0 ? `, offered ${r.rate}/s` : ''})`,
    `mesh CPU: ${r.cpuPerJob.toFixed(2)} core-s per job over all processes, less the idle mesh's (${(r.cpuPerJob / (r.nodes + 1)).toFixed(2)} per node): ` +
      `this machine's ${r.cpus} CPUs carry at most ${r.cpuCapacity.toFixed(2)} jobs/s of it`,
    `announcement → final verdict (ms): per (job, node) p50 ${r.latency.median.toFixed(0)}, p99 ${r.latency.p99.toFixed(0)}, max ${r.latency.max.toFixed(0)}; ` +
      `at the last node, per job p50 ${r.latencyAll.median.toFixed(0)}, p99 ${r.latencyAll.p99.toFixed(0)}`,
    `at the assigned builders, median ms per step: ${r.phases.map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`,
    `builds per builder node: min ${r.builds.min}, mean ${r.builds.mean.toFixed(1)}, max ${r.builds.max} (max/mean ${(r.builds.max / r.builds.mean).toFixed(2)})`,
    `control bytes (wire less blob) per builder node per job: mean ${kb(r.perNodePerJob.mean)} KB, median ${kb(r.perNodePerJob.median)}, max ${kb(r.perNodePerJob.max)}` +
      (target !== undefined ? ` (target < ${kb(target)} KB: ${r.perNodePerJob.max < target ? 'ok' : r.perNodePerJob.mean < target ? 'mean ok, max MISS' : 'MISS'})` : ''),
    `  less the idle background (${kb(r.idlePerNodePerS)} KB/s per node): mean ${kb(r.perNodePerJobLessIdle.mean)} KB, max ${kb(r.perNodePerJobLessIdle.max)} KB`,
    `  by protocol, mean per node per job (KB): gossip ${kb(b.gossip)}, DHT ${kb(b.dht)}, identify ${kb(b.identify)}, ping ${kb(b.ping)}, sync ${kb(b.sync)}, ` +
      `builder ${kb(b.builder)}, other ${kb(b.other)}, Noise/Yamux/multistream framing ${kb(b.framing)}; blob (excluded) ${kb(b.blob)}`,
    `  the seeder: ${kb(r.seederPerJob)} KB of control bytes per job: gossip ${kb(s.gossip)}, DHT ${kb(s.dht)}, identify ${kb(s.identify)}, ping ${kb(s.ping)}, ` +
      `sync ${kb(s.sync)}, builder ${kb(s.builder)}, other ${kb(s.other)}, framing ${kb(s.framing)}; blob (excluded) ${kb(s.blob)}; ` +
      `SRPMs provided in the DHT (a builder unserved after 10 s): ${r.seederProvided} of ${r.jobs}`,
    `  sync exchanges asked per builder node over the run: mean ${r.syncs.mean.toFixed(1)}, max ${r.syncs.max}; items served per node: mean ${r.syncServed.mean.toFixed(0)}`,
    `builder node RSS after the run (MB): min ${r.rss.min.toFixed(1)}, median ${r.rss.median.toFixed(1)}, max ${r.rss.max.toFixed(1)}`
  ]
}
