/**
 * Gossip propagation across a local mesh of separate OS processes, and the idle memory of a node.
 *
 *   npx node bench/gossip-propagation.ts [--nodes 20] [--messages 100] [--interval-ms 30] [--idle-s 10]
 *                                        [--settle-s 0] [--idle-cpu-s 2] [--real-nodes 5] [--real-idle-s 15]
 *
 * BENCH_WORKER_ARGS adds Node/V8 flags to every worker (e.g. "--max-semi-space-size=1", or
 * "--cpu-prof --cpu-prof-dir=DIR" to profile them from start to end). BENCH_PROFILE_DIR=DIR profiles every
 * worker over the publishing window only (one DIR/node-<pid>.cpuprofile each; sum them with
 * `npx node scripts/profile-summary.ts DIR/*.cpuprofile`). BENCH_COUNT_WRITES=1 counts the workers' socket writes
 * (net.Socket `write()` calls, and the writes handed to the kernel) and prints them per message per node.
 *
 * 1. Forks --nodes workers (bench/lib/gossip-worker.ts, each a SkylineNode on 127.0.0.1), the first the
 *    bootstrap node of the others, and waits until every node has gossipsub mesh peers on the topic.
 * 2. Publishes --messages payloads, --interval-ms apart, each from the next node in turn. Every payload
 *    carries its send time (bench/lib/gossip-payload.ts); each receiver records publish-to-delivery delay.
 * 3. Prints p50/p90/p99/max over all (message, receiver) pairs and deliveries against messages × (nodes - 1).
 * 4. Lets the mesh idle --idle-s seconds and reads each worker's VmRSS from /proc/<pid>/status.
 * 5. Starts --real-nodes real `bin/skyline node` processes with scripts/mesh-start.sh (0 skips this),
 *    lets them idle --real-idle-s seconds and reads their VmRSS: what a volunteer actually runs.
 * Also prints the CPU the mesh spent per message (and the kernel's part of it, system time), the gossipsub
 * bytes it sent per message and node, and the machine's load. Targets: p99 < 250 ms, idle node < 80 MB RSS. The CPU per message is the workers' CPU over
 * the publishing window less their idle rate, measured over --idle-cpu-s before it: at a low publishing rate
 * (--interval-ms 300 and up) the window is long and mostly idle, so measure the idle rate longer (10 s; CPU
 * is counted in 10 ms ticks).
 *
 * At 50 processes (`--nodes 50 --real-nodes 0`, what `npm run bench` runs as the second gossip row) a
 * 2-CPU machine is CPU-bound: 50 Node processes validate every message, so the delays there measure
 * waiting for a CPU as much as the protocol; the report says how busy the machine's CPUs were while
 * publishing. Workers raise inboundConnectionThreshold to 1000 (all connect from 127.0.0.1).
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { Worker, cpuTicks } from './lib/worker.ts'
import type { WorkerReply, WorkerRequest } from './lib/gossip-worker.ts'
import { preparePayloads } from './lib/gossip-payload.ts'
import { reportFigures, sleep, waitForCount } from './lib/summary.ts'

const ROOT = resolve(import.meta.dirname, '..')
const WORKER = join(ROOT, 'bench/lib/gossip-worker.ts')
const TARGET_P99_MS = 250
const TARGET_RSS_MB = 80
/** BENCH_COUNT_WRITES=1: the workers count their socket writes (bench/lib/gossip-worker.ts) */
const COUNT_WRITES = process.env.BENCH_COUNT_WRITES === '1'
/** workers started at once (one per CPU) */
const START_BATCH = Math.max(1, availableParallelism())

const { values: opts } = parseArgs({
  options: {
    nodes: { type: 'string', default: '20' },
    messages: { type: 'string', default: '100' },
    'interval-ms': { type: 'string', default: '30' },
    'idle-s': { type: 'string', default: '10' },
    'settle-s': { type: 'string', default: '0' },
    'idle-cpu-s': { type: 'string', default: '2' },
    'real-nodes': { type: 'string', default: '5' },
    'real-idle-s': { type: 'string', default: '15' },
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
const MESSAGES = num('messages', 1)
const INTERVAL_MS = num('interval-ms', 0)
const IDLE_S = num('idle-s', 0)
const SETTLE_S = num('settle-s', 0)
const IDLE_CPU_S = num('idle-cpu-s', 1)
const REAL_NODES = num('real-nodes', 0)
const REAL_IDLE_S = num('real-idle-s', 0)

const log = (line: string): void => { process.stderr.write(`[bench] ${line}\n`) }

/** CPU used by `pids` together over `ms`, in percent of one core (clock ticks are 1/100 s on Linux) */
async function cpuPercent (pids: number[], ms: number): Promise<number> {
  const before = pids.reduce((a, p) => a + cpuTicks(p), 0)
  await sleep(ms)
  const after = pids.reduce((a, p) => a + cpuTicks(p), 0)
  return (after - before) / (ms / 1000)
}

/** System (kernel) CPU ticks of a process so far: stime, field 15 of /proc/<pid>/stat */
function systemTicks (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[12])
}

/** VmRSS of a process in MB, from /proc/<pid>/status */
function rssMB (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(m[1]) / 1024
}

function quantile (sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}

function summary (xs: number[]): { min: number, median: number, max: number, mean: number } {
  const s = [...xs].sort((a, b) => a - b)
  return { min: s[0], median: quantile(s, 0.5), max: s[s.length - 1], mean: s.reduce((a, b) => a + b, 0) / s.length }
}

function table (rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map(r => r[c].length)))
  return rows.map(r => r.map((cell, c) => c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join('   ')).join('\n')
}

const f1 = (x: number): string => Number.isFinite(x) ? x.toFixed(1) : '-'
const verdict = (ok: boolean): string => ok ? 'ok' : 'MISS'

async function gossipBench (dir: string): Promise<{ delays: number[], expected: number, duplicates: number, workerRss: number[], meshDegree: number[], heapMB: number[], busyCpuS: number, systemCpuS: number, windowS: number, idleCpu: number, startS: number, gossipBytes: number, socketWrites: { writes: number, flushes: number } }> {
  const workers: Array<Worker<WorkerRequest, WorkerReply>> = []
  const cleanup = (): void => { for (const w of workers) w.child.kill('SIGKILL') }
  process.once('SIGINT', () => { cleanup(); process.exit(130) })
  try {
    const { announcers, context: payloadContext } = preparePayloads()
    const t0 = Date.now()
    const first = new Worker<WorkerRequest, WorkerReply>(WORKER, 0)
    workers.push(first)
    const boot = await first.request({ type: 'start', dataDir: join(dir, 'node-0'), bootstrap: [], announcers, payloadContext })
    const bootAddr = boot.addrs.find(a => a.startsWith('/ip4/127.0.0.1/'))!
    // Start the others a few at a time: 19 Node processes loading libp2p at once on a small machine starve
    // node 0, their one bootstrap dial times out in the Noise handshake, and @libp2p/bootstrap never retries
    // (a node left with no connection stays alone).
    for (let i = 1; i < NODES; i += START_BATCH) {
      const batch = Array.from({ length: Math.min(START_BATCH, NODES - i) }, (_, k) => new Worker<WorkerRequest, WorkerReply>(WORKER, i + k))
      workers.push(...batch)
      await Promise.all(batch.map(async w => w.request({ type: 'start', dataDir: join(dir, `node-${w.index}`), bootstrap: [bootAddr], announcers, payloadContext }, 60_000)))
    }
    const startS = (Date.now() - t0) / 1000
    log(`${NODES} nodes started in ${Date.now() - t0} ms; waiting for the gossipsub mesh`)

    // every node has mesh peers on the topic; then give it a few more seconds to reach gossipsub's D_lo (4)
    const t1 = Date.now()
    let degree: number[] = []
    let conns: number[] = []
    for (;;) {
      const st = await Promise.all(workers.map(async w => w.request({ type: 'status' })))
      degree = st.map(s => s.meshPeers)
      conns = st.map(s => s.connections)
      const formed = degree.every(d => d > 0)
      const settled = degree.every(d => d >= Math.min(4, NODES - 1))
      if (settled || (formed && Date.now() - t1 > 15_000)) break
      if (Date.now() - t1 > 60_000) throw new Error(`the mesh did not form in 60 s (mesh peers per node: ${degree.join(' ')}; connections: ${conns.join(' ')})`)
      await sleep(250)
    }
    log(`mesh formed in ${Date.now() - t1} ms (mesh peers per node: ${degree.join(' ')}; connections: ${conns.join(' ')})`)

    if (SETTLE_S > 0) {
      log(`settling ${SETTLE_S} s`)
      await sleep(SETTLE_S * 1000)
    }
    const pids = workers.map(w => w.pid)
    const idleCpu = await cpuPercent(pids, IDLE_CPU_S * 1000)
    log(`workers' CPU before publishing: ${f1(idleCpu)}% of one core (all workers together, over ${IDLE_CPU_S} s)`)
    const profileDir = process.env.BENCH_PROFILE_DIR
    if (profileDir !== undefined) await Promise.all(workers.map(async w => w.request({ type: 'profile', action: 'start', dir: profileDir })))
    const sent0 = await sentSoFar(workers)
    const ticks0 = pids.reduce((a, p) => a + cpuTicks(p), 0)
    const systemTicks0 = pids.reduce((a, p) => a + systemTicks(p), 0)
    const tp0 = Date.now()

    // publish, each message from the next node in turn
    const t2 = Date.now()
    const publishes: Array<Promise<Extract<WorkerReply, { type: 'publish' }> | undefined>> = []
    for (let seq = 0; seq < MESSAGES; seq++) {
      // a publish that never returns (a stalled node) is counted, not fatal: its message's deliveries still count
      publishes.push(workers[seq % NODES].request({ type: 'publish', seq }, 60_000).catch(err => { log(String(err.message)); return undefined }))
      if (INTERVAL_MS > 0) await sleep(INTERVAL_MS)
    }
    const published = (await Promise.all(publishes)).filter(p => p !== undefined)
    const publishMs = summary(published.map(p => p.publishMs))
    log(`${published.length} of ${MESSAGES} publish() calls returned, in min ${f1(publishMs.min)}, median ${f1(publishMs.median)}, max ${f1(publishMs.max)} ms; recipients min ${Math.min(...published.map(p => p.recipients))}`)
    const expected = MESSAGES * (NODES - 1)
    await waitForCount(async () => (await Promise.all(workers.map(async w => w.request({ type: 'status' })))).reduce((a, s) => a + s.received, 0), expected, 10_000, 100)
    log(`published ${MESSAGES} messages in ${Date.now() - t2} ms`)
    // CPU the mesh spent on the messages: all workers' CPU time over the publishing window, less the idle rate
    const windowS = (Date.now() - tp0) / 1000
    const busyCpuS = (pids.reduce((a, p) => a + cpuTicks(p), 0) - ticks0) / 100 - idleCpu / 100 * windowS
    // the kernel's part (system calls: socket writes and reads, timers), idle rate not taken out
    const systemCpuS = (pids.reduce((a, p) => a + systemTicks(p), 0) - systemTicks0) / 100
    const sent1 = await sentSoFar(workers)
    const gossipBytes = sent1.bytes - sent0.bytes
    const socketWrites = { writes: sent1.writes - sent0.writes, flushes: sent1.flushes - sent0.flushes }
    if (profileDir !== undefined) await Promise.all(workers.map(async w => w.request({ type: 'profile', action: 'stop', dir: profileDir })))
    const collected = await Promise.all(workers.map(async w => w.request({ type: 'collect' })))
    const delays = collected.flatMap(c => c.deliveries.map(d => d[1]))
    const duplicates = collected.reduce((a, c) => a + c.duplicates, 0)

    log(`idling ${IDLE_S} s before reading RSS`)
    await sleep(IDLE_S * 1000)
    const workerRss = workers.map(w => rssMB(w.pid))
    const heapMB = (await Promise.all(workers.map(async w => w.request({ type: 'collect' })))).map(c => c.heapUsed / 2 ** 20)

    await Promise.allSettled(workers.map(async w => w.request({ type: 'stop' }, 15_000)))
    return { delays, expected, duplicates, workerRss, meshDegree: degree, heapMB, busyCpuS, systemCpuS, windowS, idleCpu, startS, gossipBytes, socketWrites }
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

/**
 * What all workers have sent so far: gossipsub stream bytes (RPCs as written, before Yamux and Noise
 * framing), and with BENCH_COUNT_WRITES=1 their socket `write()` calls and the writes handed to the kernel
 */
async function sentSoFar (workers: Array<Worker<WorkerRequest, WorkerReply>>): Promise<{ bytes: number, writes: number, flushes: number }> {
  const replies = await Promise.all(workers.map(async w => w.request({ type: 'bytes' })))
  const sum = (f: (r: Extract<WorkerReply, { type: 'bytes' }>) => number): number => replies.reduce((a, r) => a + (r.type === 'bytes' ? f(r) : 0), 0)
  return { bytes: sum(r => r.sent), writes: sum(r => r.socketWrites), flushes: sum(r => r.socketFlushes) }
}

/** Real `bin/skyline node` processes via scripts/mesh-start.sh; returns each node's idle VmRSS in MB */
async function realNodesRss (dir: string): Promise<number[]> {
  const base = join(dir, 'real-mesh')
  const script = (name: string, args: string[]): string => execFileSync('bash', [join(ROOT, 'scripts', name), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    script('mesh-start.sh', [String(REAL_NODES), '--base-dir', base, '--http-base', '0', '--tcp-base', '0'])
    log(`${REAL_NODES} real nodes up; idling ${REAL_IDLE_S} s`)
    await sleep(REAL_IDLE_S * 1000)
    return readdirSync(base).filter(d => d.startsWith('node-')).map(d => rssMB(Number(readFileSync(join(base, d, 'node.pid'), 'utf8'))))
  } finally {
    script('mesh-stop.sh', ['--base-dir', base])
  }
}

/** A bare Node process, for scale: what the runtime alone costs */
async function bareNodeRss (): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' })
  try {
    await sleep(1500)
    return rssMB(child.pid!)
  } finally {
    child.kill('SIGKILL')
  }
}

const dir = mkdtempSync(join(tmpdir(), 'skyline-bench-gossip-'))
const loadBefore = loadavg()[0]
try {
  const r = await gossipBench(dir)
  const sorted = [...r.delays].sort((a, b) => a - b)
  const p = (q: number): number => quantile(sorted, q)
  const rss = summary(r.workerRss)
  const heap = summary(r.heapMB)
  const deg = summary(r.meshDegree)
  const real = REAL_NODES > 0 ? summary(await realNodesRss(dir)) : undefined
  const bare = await bareNodeRss()
  // how busy the machine's CPUs were with the mesh while messages were in flight (idle share included)
  const cpuShare = (r.busyCpuS + r.idleCpu / 100 * r.windowS) / r.windowS / availableParallelism()
  const loadAfter = loadavg()[0]
  // CPU-bound: the mesh alone kept the CPUs busy, or the machine as a whole was saturated
  const cpuBound = cpuShare > 0.8 || Math.max(loadBefore, loadAfter) > availableParallelism()

  const out = [
    `gossip propagation: ${NODES} node processes on 127.0.0.1, ${MESSAGES} messages ${INTERVAL_MS} ms apart from rotating publishers`,
    `gossipsub mesh peers per node on the topic: min ${deg.min}, median ${deg.median}, max ${deg.max}`,
    `machine: ${availableParallelism()} CPUs, load average ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after (other work on the machine inflates the delays)`,
    '',
    table([
      ['delay publish → delivery (ms)', 'p50', 'p90', 'p99', 'max', 'target', ''],
      ['all (message, receiver) pairs', f1(p(0.5)), f1(p(0.9)), f1(p(0.99)), f1(sorted[sorted.length - 1]), `p99 < ${TARGET_P99_MS}`, verdict(p(0.99) < TARGET_P99_MS)]
    ]),
    '',
    `deliveries: ${r.delays.length} of ${r.expected} expected (${(100 * r.delays.length / r.expected).toFixed(1)}%), duplicates ${r.duplicates}`,
    `CPU spent by the mesh on the messages: ${r.busyCpuS.toFixed(2)} core-seconds = ${f1(1000 * r.busyCpuS / MESSAGES)} ms per message (${f1(1000 * r.busyCpuS / MESSAGES / NODES)} ms per message per node; system time, idle included: ${(1000 * r.systemCpuS / MESSAGES / NODES).toFixed(2)} ms)`,
    `the mesh used ${(100 * cpuShare).toFixed(0)}% of the machine's ${availableParallelism()} CPUs while publishing (idle mesh: ${f1(r.idleCpu)}% of one core)` +
      (cpuBound ? `: CPU-BOUND (load average up to ${Math.max(loadBefore, loadAfter).toFixed(1)} on ${availableParallelism()} CPUs), the delays include waiting for a CPU` : ''),
    `gossip bytes sent by the mesh while publishing (gossipsub RPCs, before Yamux and Noise): ${(r.gossipBytes / 1024).toFixed(1)} KB = ${f1(r.gossipBytes / MESSAGES / NODES)} bytes per message per node`,
    ...(COUNT_WRITES ? [`socket writes per message per node while publishing: ${f1(r.socketWrites.writes / MESSAGES / NODES)} write() calls, ${f1(r.socketWrites.flushes / MESSAGES / NODES)} handed to the kernel`] : []),
    '',
    table([
      ['idle RSS (MB)', 'min', 'median', 'max', 'target', ''],
      [`bench worker node (${NODES}, after ${IDLE_S} s idle)`, f1(rss.min), f1(rss.median), f1(rss.max), `< ${TARGET_RSS_MB}`, verdict(rss.max < TARGET_RSS_MB)],
      ...(real !== undefined ? [[`bin/skyline node (${REAL_NODES}, after ${REAL_IDLE_S} s idle)`, f1(real.min), f1(real.median), f1(real.max), `< ${TARGET_RSS_MB}`, verdict(real.max < TARGET_RSS_MB)]] : []),
      ['bare node process (for scale)', f1(bare), f1(bare), f1(bare), '', '']
    ]),
    `worker JS heap used after idle (MB): min ${f1(heap.min)}, median ${f1(heap.median)}, max ${f1(heap.max)}`
  ]
  process.stdout.write(out.join('\n') + '\n')
  reportFigures('gossip-propagation', {
    nodes: NODES,
    messages: MESSAGES,
    p50: p(0.5),
    p90: p(0.9),
    p99: p(0.99),
    max: sorted[sorted.length - 1],
    deliveries: r.delays.length,
    expected: r.expected,
    cpuShare,
    cpuBound,
    cpuMsPerMessagePerNode: 1000 * r.busyCpuS / MESSAGES / NODES,
    systemCpuMsPerMessagePerNode: 1000 * r.systemCpuS / MESSAGES / NODES,
    gossipBytesPerMessagePerNode: r.gossipBytes / MESSAGES / NODES,
    ...(COUNT_WRITES ? { socketWritesPerMessagePerNode: r.socketWrites.writes / MESSAGES / NODES, socketFlushesPerMessagePerNode: r.socketWrites.flushes / MESSAGES / NODES } : {}),
    startS: r.startS,
    workerRss: rss,
    realRss: real,
    realNodes: REAL_NODES,
    bareRss: bare,
    load: loadAfter
  })
} finally {
  rmSync(dir, { recursive: true, force: true })
}
