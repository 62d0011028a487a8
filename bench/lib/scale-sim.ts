/**
 * The scale simulation behind bench/scale-sim.ts and its CI test: `nodes` real builder nodes, many per
 * OS process (bench/lib/sim-worker.ts, `workers` processes), and a seeder, on 127.0.0.1. Every builder
 * bootstraps from the first `bootstrap` nodes only (so those run full and must let newcomers in: see
 * src/services/connection-trim.ts). Then the seeder announces `jobs` real jobs (signed SRPMs, the quick
 * builder) at `rate` per second and the run measures, per node: join time, announcement delivery,
 * announcement → final verdict, the fraction of final verdicts, CPU, control bytes, the seeder's bytes
 * (and both by protocol, sent and received, over the idle and the job windows: bench/lib/sim-bytes.ts),
 * and memory.
 */
import { copyFileSync, mkdirSync, readdirSync, existsSync, rmSync, mkdtempSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { Worker, cpuTicks } from './worker.ts'
import type { Connections, SimNodeRecord, SimReply, SimRequest } from './sim-worker.ts'
import { addCounters, controlBytes, describeRoleBytes, roleBytes, type ConnectionChurn, type Counters, type RoleBytes } from './sim-bytes.ts'
import { makeSignedSrpms } from '../../test/helpers/srpms.ts'
import { generateAnnouncerKey } from '../../src/protocols/signing.ts'
import { sleep, spread, waitForCount, type Spread } from './summary.ts'
import type { PanelParams } from '../../src/rules/panel.ts'

const WORKER = resolve(import.meta.dirname, 'sim-worker.ts')
type W = Worker<SimRequest, SimReply>

export interface ScaleSimOptions {
  nodes: number
  workers: number
  jobs: number
  /** announcements per second */
  rate: number
  /** rules v1 (when `panel` is absent): seats and matching builds per job */
  replicas: number
  quorum: number
  /** rules v2, as `skyline seed` announces by default: P stage-1 seats, escalation E, threshold T */
  panel?: PanelParams
  /** builders that are the others' bootstrap list */
  bootstrap: number
  /** seconds to wait for every node to join */
  joinS: number
  /** seconds of idle mesh, for the idle CPU */
  idleS: number
  /** each node's connection limit (default: the node's, DEFAULT_MAX_CONNECTIONS) */
  maxConnections?: number
  /** seconds to wait after every node joined before the idle window (joins, DHT self-queries, trims settle) */
  settleS?: number
  /** seconds to wait for final verdicts after the last announcement */
  waitS: number
  /**
   * newcomers started one at a time once the jobs are over, each in a process of its own and from the
   * first node only (at its connection limit in a large mesh), as a volunteer joins a running mesh: their join times are `lateJoin`
   */
  late?: number
  /** a folder with prebuilt signed SRPMs (key.asc and srpms/): used if there, else made there */
  srpmDir?: string
  log: (line: string) => void
}

export interface ScaleSimResult {
  nodes: number
  workers: number
  jobs: number
  /** 'v1 r/q' or 'v2 P+E, T' */
  rules: string
  /** ms from a node's start to its first announce-topic mesh peer, over all nodes */
  join: Spread
  joined: number
  /** the same for the `late` newcomers (ms), and how many of them joined within LATE_JOIN_WAIT_MS */
  lateJoin: Spread
  lateJoined: number
  late: number
  /** seeder's announce → arrival, over every (job, node) */
  delivery: Spread
  /** announce → final verdict, over every (job, node) that reached one */
  final: Spread
  /** final verdicts held / jobs × (nodes + seeder) */
  finalFraction: number
  agreedFraction: number
  /** builds per builder, max / mean */
  buildsMaxOverMean: number
  /** core-ms per node per job, less the idle mesh's */
  cpuMsPerNodePerJob: number
  /** idle CPU per node, percent of one core */
  idleCpuPerNode: number
  /** control bytes (wire less blob) per builder node per job, over the run */
  bytesPerNodePerJob: number
  seederBytesPerJob: number
  /** control bytes per builder node per second of the idle mesh */
  idleBytesPerNodePerS: number
  /** the same two, less the idle mesh's bytes over the job window */
  netBytesPerNodePerJob: number
  netSeederBytesPerJob: number
  /** the seeder's bytes by protocol, sent and received, over the idle and the job windows, and its connection churn */
  seederBytes: RoleBytes
  /** the same for the builders, per node */
  builderBytes: RoleBytes
  /** SRPMs the seeder provided in the DHT (a stage-1 builder unserved after the delay), of `jobs` */
  seederProvided: number
  /** RSS of the worker processes / nodes, MB */
  rssPerNodeMB: number
  heapPerNodeMB: number
  connections: Spread
  /**
   * the connections each node's protocols ask for, at the end: its kad-dht closest peers, the peers that keep
   * it among theirs, and its gossipsub mesh peers over all topics (their union, per node)
   */
  needed: Spread
  /** of which its gossipsub mesh peers alone */
  meshUnion: Spread
}

/**
 * `jobs` signed SRPMs and their key in `dir` (dir/key.asc, dir/srpms/*.rpm): made there once (rpmbuild and
 * gpg needed), then reused, also on a machine without them (scripts/pack-device.sh ships them)
 */
export async function prepareSrpms (dir: string, jobs: number): Promise<{ keyPath: string, srpms: Array<{ path: string, nevra: string }> }> {
  const keyPath = join(dir, 'key.asc')
  const out = join(dir, 'srpms')
  const have = (): string[] => existsSync(out) ? readdirSync(out).filter(f => f.endsWith('.rpm')).sort() : []
  if (!existsSync(keyPath) || have().length < jobs) {
    const made = await makeSignedSrpms(join(dir, 'work'), jobs)
    mkdirSync(out, { recursive: true })
    copyFileSync(made.keyPath, keyPath)
    for (const s of made.srpms) copyFileSync(s.path, join(out, basename(s.path)))
    rmSync(join(dir, 'work'), { recursive: true, force: true })
  }
  return { keyPath, srpms: have().slice(0, jobs).map(f => ({ path: join(out, f), nevra: f.replace(/\.rpm$/, '') })) }
}

export async function runScaleSim (o: ScaleSimOptions): Promise<ScaleSimResult> {
  const dir = mkdtempSync(join(tmpdir(), 'skyline-sim-'))
  const workers: W[] = []
  try {
    const { keyPath, srpms } = await prepareSrpms(o.srpmDir ?? join(dir, 'srpms'), o.jobs)
    const announcer = generateAnnouncerKey()
    const announcers = [announcer.publicLine('skyline-sim').trim()]
    const nWorkers = Math.max(1, Math.min(o.workers, o.nodes))
    for (let i = 0; i < nWorkers; i++) workers.push(new Worker<SimRequest, SimReply>(WORKER, i))
    const share = (i: number): { first: number, count: number } => {
      const per = Math.floor(o.nodes / nWorkers)
      const extra = o.nodes % nWorkers
      return { first: i * per + Math.min(i, extra), count: per + (i < extra ? 1 : 0) }
    }
    const t0 = Date.now()
    // the bootstrap nodes first (in worker 0), then everyone else at once
    const limit = o.maxConnections
    const boot = await workers[0].request({ type: 'start', first: 0, count: Math.min(o.bootstrap, o.nodes), dataDir: dir, bootstrap: [], announcers, keyring: keyPath, maxConnections: limit }, 120_000)
    const rest0 = share(0)
    await Promise.all(workers.map(async (w, i) => {
      const s = share(i)
      const first = i === 0 ? o.bootstrap : s.first
      const count = i === 0 ? Math.max(0, rest0.count - o.bootstrap) : s.count
      if (count > 0) await w.request({ type: 'start', first, count, dataDir: dir, bootstrap: boot.addrs, announcers, keyring: keyPath, maxConnections: limit }, 600_000)
    }))
    const seederW = workers[nWorkers - 1]
    await seederW.request({ type: 'start', first: o.nodes, count: 1, dataDir: dir, bootstrap: boot.addrs, announcers, keyring: keyPath, seederPem: announcer.privatePem, maxConnections: limit }, 120_000)
    o.log(`${o.nodes} nodes in ${nWorkers} processes and a seeder started in ${((Date.now() - t0) / 1000).toFixed(1)} s; waiting for them to join`)

    const status = async (): Promise<Array<Extract<SimReply, { type: 'status' }>>> => Promise.all(workers.map(async w => w.request({ type: 'status' }, 180_000)))
    await waitForCount(async () => (await status()).reduce((a, s) => a + s.joined, 0), o.nodes + 1, o.joinS * 1000, 1000)
    if ((o.settleS ?? 0) > 0) {
      o.log(`joined; settling for ${o.settleS} s`)
      await sleep(o.settleS! * 1000)
    }
    const pids = workers.map(w => w.pid)
    const ticks = (): number => pids.reduce((a, p) => a + cpuTicks(p), 0)
    const readBytes = async (): Promise<BytesSample> => sampleBytes(await Promise.all(workers.map(async w => w.request({ type: 'bytes' }, 60_000))))
    const sum = (x: BytesSample, k: 'builders' | 'seeder'): number => controlBytes(x[k])
    const idleBytes0 = await readBytes()
    const idle0 = ticks()
    const ti = Date.now()
    await sleep(o.idleS * 1000)
    const idleS = (Date.now() - ti) / 1000
    const idleRate = (ticks() - idle0) / 100 / idleS
    const bytes0 = await readBytes()
    // the idle mesh's control bytes per second (kad-dht refreshes, liveness pings, gossip heartbeats), subtracted
    // from the job window's as its CPU is: at a low job rate the window is long and would count them as the jobs'
    const idleBytesRate = { builders: (sum(bytes0, 'builders') - sum(idleBytes0, 'builders')) / idleS, seeder: (sum(bytes0, 'seeder') - sum(idleBytes0, 'seeder')) / idleS }
    o.log(`idle mesh: ${(idleRate * 100 / (o.nodes + 1)).toFixed(2)}% of a core and ${(idleBytesRate.builders / o.nodes).toFixed(0)} control bytes/s per node`)

    const run0 = ticks()
    const tRun = Date.now()
    const announced = new Map<string, number>()
    for (const [i, s] of srpms.entries()) {
      const due = tRun + i * 1000 / o.rate
      if (due > Date.now()) await sleep(due - Date.now())
      const r = await seederW.request({ type: 'seed', path: s.path, nevra: s.nevra, replicas: o.replicas, quorum: o.quorum, panel: o.panel }, 120_000)
      announced.set(r.job, r.at)
    }
    const expected = announced.size * (o.nodes + 1)
    await waitForCount(async () => (await status()).reduce((a, s) => a + s.finals, 0), expected, o.waitS * 1000, 500)
    const windowS = (Date.now() - tRun) / 1000
    const cpuS = (ticks() - run0) / 100 - idleRate * windowS
    const bytes1 = await readBytes()
    const connections = (await status()).flatMap(s => s.connections)
    const collected = await Promise.all(workers.map(async w => w.request({ type: 'collect' }, 120_000)))
    const lateJoins = await joinLate(o, dir, boot.addrs, announcers, keyPath, workers)
    await Promise.allSettled(workers.map(async w => w.request({ type: 'stop' }, 60_000)))

    const records = collected.flatMap(c => c.nodes)
    const builders = records.filter(r => !r.seeder)
    const delivery: number[] = []
    const final: number[] = []
    let agreed = 0
    for (const r of records) {
      for (const [job, at] of r.arrivals) if (announced.has(job) && !r.seeder) delivery.push(at - announced.get(job)!)
      for (const [job, at, verdict] of r.finals) {
        if (!announced.has(job)) continue
        final.push(at - announced.get(job)!)
        if (verdict === 'agreed') agreed++
      }
    }
    const builds = spread(builders.map(r => r.builds))
    const jobs = announced.size
    const role = (k: 'builders' | 'seeder', nodes: number): RoleBytes => roleBytes({
      idle: diffCounters(bytes0[k], idleBytes0[k]),
      job: diffCounters(bytes1[k], bytes0[k]),
      idleS,
      jobS: windowS,
      jobs,
      nodes,
      idleChurn: churn(idleBytes0.connections[k], bytes0.connections[k], idleS),
      jobChurn: churn(bytes0.connections[k], bytes1.connections[k], windowS),
      idleSync: diffCounters(bytes0.sync[k], idleBytes0.sync[k]),
      jobSync: diffCounters(bytes1.sync[k], bytes0.sync[k]),
      idleGossip: diffCounters(bytes0.gossip[k], idleBytes0.gossip[k]),
      jobGossip: diffCounters(bytes1.gossip[k], bytes0.gossip[k])
    })
    const joinTimes = records.map(r => r.joinMs).filter(x => Number.isFinite(x))
    const lateTimes = lateJoins.filter(x => Number.isFinite(x))
    return {
      nodes: o.nodes,
      workers: nWorkers,
      jobs,
      rules: o.panel !== undefined ? `v2 ${o.panel.panel}+${o.panel.escalation}, T ${o.panel.threshold}` : `v1 ${o.replicas}/${o.quorum}`,
      join: spread(joinTimes),
      joined: joinTimes.length,
      lateJoin: spread(lateTimes),
      lateJoined: lateTimes.length,
      late: o.late ?? 0,
      delivery: spread(delivery),
      final: spread(final),
      finalFraction: final.length / expected,
      agreedFraction: agreed / expected,
      buildsMaxOverMean: builds.max / builds.mean,
      cpuMsPerNodePerJob: cpuS * 1000 / (o.nodes + 1) / jobs,
      idleCpuPerNode: idleRate * 100 / (o.nodes + 1),
      bytesPerNodePerJob: (sum(bytes1, 'builders') - sum(bytes0, 'builders')) / o.nodes / jobs,
      seederBytesPerJob: (sum(bytes1, 'seeder') - sum(bytes0, 'seeder')) / jobs,
      idleBytesPerNodePerS: idleBytesRate.builders / o.nodes,
      netBytesPerNodePerJob: (sum(bytes1, 'builders') - sum(bytes0, 'builders') - idleBytesRate.builders * windowS) / o.nodes / jobs,
      netSeederBytesPerJob: (sum(bytes1, 'seeder') - sum(bytes0, 'seeder') - idleBytesRate.seeder * windowS) / jobs,
      seederBytes: role('seeder', 1),
      builderBytes: role('builders', o.nodes),
      seederProvided: bytes1.provided,
      rssPerNodeMB: collected.reduce((a, c) => a + c.rss, 0) / 2 ** 20 / (o.nodes + 1),
      heapPerNodeMB: collected.reduce((a, c) => a + c.heapUsed, 0) / 2 ** 20 / (o.nodes + 1),
      connections: spread(connections),
      needed: spread(neededConnections(records)),
      meshUnion: spread(records.map(r => r.meshPeers.length))
    }
  } finally {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
}

/** How long the sim waits for one late newcomer to join */
const LATE_JOIN_WAIT_MS = 120_000

/**
 * Starts `o.late` newcomers one after another in a process of their own (pushed onto `workers`, so the
 * caller stops it), each bootstrapping from the first node only, and returns each one's join time (ms from
 * its start to its first announce-topic mesh peer; NaN: not within LATE_JOIN_WAIT_MS). The next starts once
 * the last joined or gave up, so each measures one volunteer joining the running mesh.
 */
async function joinLate (o: ScaleSimOptions, dir: string, bootstrap: string[], announcers: string[], keyring: string, workers: W[]): Promise<number[]> {
  const late = o.late ?? 0
  if (late === 0) return []
  const firstNode = (await workers[0].request({ type: 'status' }, 60_000)).connections[0]
  o.log(`the first node holds ${firstNode} connections; starting ${late} late newcomers one at a time from it`)
  const w = new Worker<SimRequest, SimReply>(WORKER, workers.length)
  workers.push(w)
  for (let i = 0; i < late; i++) {
    await w.request({ type: 'start', first: o.nodes + 1 + i, count: 1, dataDir: dir, bootstrap, announcers, keyring, maxConnections: o.maxConnections }, 120_000)
    await waitForCount(async () => (await w.request({ type: 'status' }, 60_000)).joined, i + 1, LATE_JOIN_WAIT_MS, 250)
  }
  const { nodes } = await w.request({ type: 'collect' }, 120_000)
  o.log(`late newcomers joined in ${nodes.map(r => Number.isFinite(r.joinMs) ? `${(r.joinMs / 1000).toFixed(1)} s` : 'never').join(', ')}`)
  return nodes.map(r => r.joinMs)
}

/** The byte counters and connections of every worker at one moment, summed */
interface BytesSample {
  builders: Counters
  seeder: Counters
  connections: { builders: Connections, seeder: Connections }
  sync: { builders: Counters, seeder: Counters }
  gossip: { builders: Counters, seeder: Counters }
  provided: number
}

function sampleBytes (replies: Array<Extract<SimReply, { type: 'bytes' }>>): BytesSample {
  const conns = (k: 'builders' | 'seeder'): Connections => replies.reduce((a, r) => {
    const c = r.connections[k]
    return { opened: a.opened + c.opened, outbound: a.outbound + c.outbound, closed: a.closed + c.closed, open: a.open + c.open }
  }, { opened: 0, outbound: 0, closed: 0, open: 0 })
  const sum = (of: (r: typeof replies[number]) => Counters): Counters => replies.reduce<Counters>((a, r) => addCounters(a, of(r)), {})
  return {
    builders: sum(r => r.builders),
    seeder: sum(r => r.seeder),
    connections: { builders: conns('builders'), seeder: conns('seeder') },
    sync: { builders: sum(r => r.sync.builders), seeder: sum(r => r.sync.seeder) },
    gossip: { builders: sum(r => r.gossip.builders), seeder: sum(r => r.gossip.seeder) },
    provided: replies.reduce((a, r) => a + r.provided, 0)
  }
}

/** later − earlier, label by label */
function diffCounters (later: Counters, earlier: Counters): Counters {
  return addCounters(later, earlier, -1)
}

/** Connections opened and closed between two samples, and the connection-seconds between them */
function churn (a: Connections, b: Connections, seconds: number): ConnectionChurn {
  return { opened: b.opened - a.opened, outbound: b.outbound - a.outbound, closed: b.closed - a.closed, connectionSeconds: (a.open + b.open) / 2 * seconds }
}

/** Per node, the union of its kad-dht closest peers, the peers that hold it among theirs, and its mesh peers */
function neededConnections (records: SimNodeRecord[]): number[] {
  const keptBy = new Map<string, Set<string>>()
  for (const r of records) for (const p of r.keptAlive) keptBy.set(p, (keptBy.get(p) ?? new Set()).add(r.peerId))
  return records.map(r => new Set([...r.keptAlive, ...(keptBy.get(r.peerId) ?? []), ...r.meshPeers]).size)
}

/** Default worker processes: one per CPU */
export const DEFAULT_WORKERS = availableParallelism()

/** The results of several sizes side by side, as a markdown table */
export function describeScaleSim (rs: ScaleSimResult[]): string {
  const f = (x: number, d = 0): string => Number.isFinite(x) ? x.toFixed(d) : '-'
  const rows: Array<[string, (r: ScaleSimResult) => string]> = [
    ['processes', r => String(r.workers)],
    ['jobs', r => String(r.jobs)],
    ['rules', r => r.rules],
    ['joined (of nodes + seeder)', r => `${r.joined} of ${r.nodes + 1}`],
    ['join time p50 / p99 / max (s)', r => `${f(r.join.median / 1000, 1)} / ${f(r.join.p99 / 1000, 1)} / ${f(r.join.max / 1000, 1)}`],
    ['late newcomers, one at a time from the first node: joined; join p50 / max (s)', r => r.late === 0 ? '-' : `${r.lateJoined} of ${r.late}; ${f(r.lateJoin.median / 1000, 1)} / ${f(r.lateJoin.max / 1000, 1)}`],
    ['connections per node min / median / max', r => `${r.connections.min} / ${r.connections.median} / ${r.connections.max}`],
    ['connections needed (kad closest, both ways, ∪ gossip mesh) min / median / max', r => `${r.needed.min} / ${r.needed.median} / ${r.needed.max}`],
    ['gossipsub mesh peers over all topics min / median / max', r => `${r.meshUnion.min} / ${r.meshUnion.median} / ${r.meshUnion.max}`],
    ['announcement delivery p50 / p99 (ms)', r => `${f(r.delivery.median)} / ${f(r.delivery.p99)}`],
    ['announcement → final verdict p50 / p99 (ms)', r => `${f(r.final.median)} / ${f(r.final.p99)}`],
    ['final verdicts (agreed)', r => `${f(r.finalFraction * 100, 1)}% (${f(r.agreedFraction * 100, 1)}%)`],
    ['builds per builder max / mean', r => f(r.buildsMaxOverMean, 2)],
    ['CPU per node per job (ms)', r => f(r.cpuMsPerNodePerJob, 1)],
    ['idle CPU per node (% of a core)', r => f(r.idleCpuPerNode, 2)],
    ['control bytes per node per job (KB)', r => f(r.bytesPerNodePerJob / 1024, 1)],
    ['seeder bytes per job (KB)', r => f(r.seederBytesPerJob / 1024, 1)],
    ['idle control bytes per node per second', r => f(r.idleBytesPerNodePerS, 0)],
    ['control bytes per node / seeder bytes per job, less the idle mesh\'s (KB)', r => `${f(r.netBytesPerNodePerJob / 1024, 1)} / ${f(r.netSeederBytesPerJob / 1024, 1)}`],
    ['memory per node: RSS / JS heap (MB)', r => `${f(r.rssPerNodeMB, 1)} / ${f(r.heapPerNodeMB, 1)}`]
  ]
  const head = `| | ${rs.map(r => `${r.nodes} nodes`).join(' | ')} |\n| --- |${rs.map(() => ' --- |').join('')}`
  return [head, ...rows.map(([name, fn]) => `| ${name} | ${rs.map(fn).join(' | ')} |`)].join('\n')
}

/** Per size, the seeder's and the builders' bytes by protocol, sent and received, and their connection churn */
export function describeScaleSimBytes (r: ScaleSimResult): string {
  return [
    `${r.nodes} nodes, ${r.jobs} jobs; the seeder provided ${r.seederProvided} of ${r.jobs} SRPMs in the DHT`,
    '',
    describeRoleBytes('the seeder', r.seederBytes),
    '',
    describeRoleBytes('a builder (mean per node)', r.builderBytes)
  ].join('\n')
}
