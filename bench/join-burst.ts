/**
 * A burst of newcomers at one full bootstrap node: how fast they all join the mesh.
 *
 *   npx node bench/join-burst.ts [--nodes 80] [--limit 8] [--workers 2] [--join-s 90]
 *
 * One bootstrap node with its connection limit lowered to --limit (in a process of its own, so that its
 * CPU time is its own), then --nodes real Skyline nodes (gossipsub, Kademlia; no builder), spread over
 * --workers processes, all started at once over TCP on 127.0.0.1 with only the bootstrap node in their
 * bootstrap list. --nodes / --limit = 10 is the ratio of 1,000 newcomers to a node's default limit of 100.
 * A node has joined when a peer other than the bootstrap node is in its announce-topic mesh (the
 * bootstrap node alone is not the mesh: it trims newcomers past its limit). Reports how many joined,
 * join time p50 / p99 / max (from each node's start) and the time to its first connection to another peer, the bootstrap node's peak connection count, CPU
 * time (1/100 s ticks from /proc) of the bootstrap node and of all newcomers during the join, per newcomer and
 * per connection a newcomer opened (inbound and outbound, each a TCP connect, a Noise handshake and identify),
 * and the load average. BENCH_PROFILE_DIR=DIR profiles every process over the join window (from before the
 * newcomers start to the end of the wait: DIR/boot-<pid>.cpuprofile, DIR/newcomers-<pid>.cpuprofile; sum them
 * with `npx node scripts/profile-summary.ts DIR/newcomers-*.cpuprofile`).
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig, SkylineNode } from '../src/node/index.ts'
import { stringifyTopic } from '../src/protocols/ids.ts'
import { cpuTicks, Worker } from './lib/worker.ts'
import { reportFigures, sleep, spread } from './lib/summary.ts'

/** Parent → worker */
type BurstRequest =
  | { type: 'start', count: number, dataDir: string, bootstrap: string[], limit?: number }
  | { type: 'status' }
  | { type: 'profile', action: 'start' | 'stop', dir: string, name: string }
  | { type: 'stop' }

/** Worker → parent */
type BurstReply =
  | { type: 'start', addrs: string[] }
  | { type: 'status', joinMs: number[], reachMs: number[], peak: number, connections: number[], inbound: number, inboundPeers: number, opened: number }
  | { type: 'profile' }
  | { type: 'stop' }
  | { type: 'error', request: string, message: string }

const WORKER_ENV = 'SKYLINE_JOIN_BURST_WORKER'

if (process.env[WORKER_ENV] === '1') runWorker()
else await runParent()

async function runParent (): Promise<void> {
  const { values: opts } = parseArgs({
    options: {
      nodes: { type: 'string', default: '80' },
      limit: { type: 'string', default: '8' },
      workers: { type: 'string', default: '2' },
      'join-s': { type: 'string', default: '90' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (opts.help === true) {
    process.stdout.write(readFileSync(import.meta.filename, 'utf8').split('*/')[0].replace(/^\/\*\*|^ \* ?/gm, '') + '\n')
    return
  }
  const num = (k: 'nodes' | 'limit' | 'workers' | 'join-s'): number => {
    const v = Number(opts[k])
    if (!Number.isInteger(v) || v <= 0) { process.stderr.write(`--${k} must be a positive integer\n`); process.exit(2) }
    return v
  }
  const [nodes, limit, nWorkers, joinS] = [num('nodes'), num('limit'), num('workers'), num('join-s')]
  const dir = mkdtempSync(join(tmpdir(), 'skyline-burst-'))
  process.env[WORKER_ENV] = '1'
  const boot = new Worker<BurstRequest, BurstReply>(import.meta.filename, 0)
  const workers = Array.from({ length: nWorkers }, (_, i) => new Worker<BurstRequest, BurstReply>(import.meta.filename, i + 1))
  try {
    const load0 = loadavg()[0]
    const { addrs } = await boot.request({ type: 'start', count: 1, dataDir: dir, bootstrap: [], limit }, 60_000)
    const profileDir = process.env.BENCH_PROFILE_DIR
    if (profileDir !== undefined) await Promise.all([boot, ...workers].map(async (w, i) => w.request({ type: 'profile', action: 'start', dir: profileDir, name: i === 0 ? 'boot' : 'newcomers' })))
    const ticks0 = [boot, ...workers].map(w => cpuTicks(w.pid))
    const t0 = Date.now()
    await Promise.all(workers.map(async (w, i) => w.request({
      type: 'start', count: Math.floor(nodes / nWorkers) + (i < nodes % nWorkers ? 1 : 0), dataDir: dir, bootstrap: addrs
    }, 300_000)))
    const startS = (Date.now() - t0) / 1000
    let joinMs: number[] = []
    let reachMs: number[] = []
    let connections: number[] = []
    let opened = 0
    while (true) {
      await sleep(1000)
      const st = await Promise.all(workers.map(async w => w.request({ type: 'status' })))
      joinMs = st.flatMap(s => s.joinMs)
      reachMs = st.flatMap(s => s.reachMs)
      connections = st.flatMap(s => s.connections)
      opened = st.reduce((a, s) => a + s.opened, 0)
      if (joinMs.every(ms => Number.isFinite(ms)) || Date.now() - t0 > joinS * 1000) break
    }
    const ticks = [boot, ...workers].map((w, i) => cpuTicks(w.pid) - ticks0[i])
    if (profileDir !== undefined) await Promise.all([boot, ...workers].map(async (w, i) => w.request({ type: 'profile', action: 'stop', dir: profileDir, name: i === 0 ? 'boot' : 'newcomers' }, 60_000)))
    const bootStatus = await boot.request({ type: 'status' })
    const joined = joinMs.filter(ms => Number.isFinite(ms)).sort((a, b) => a - b)
    const join = spread(joined)
    const reach = spread(reachMs.filter(ms => Number.isFinite(ms)))
    const conns = spread([...connections].sort((a, b) => a - b))
    const figures = {
      nodes, limit, joined: joined.length, joinP50S: join.median / 1000, joinP99S: join.p99 / 1000, joinMaxS: join.max / 1000, reachP50S: reach.median / 1000, reachP99S: reach.p99 / 1000,
      startS, bootPeak: bootStatus.peak, bootInbound: bootStatus.inbound, bootInboundPeers: bootStatus.inboundPeers, bootTicks: ticks[0], newcomerTicks: ticks.slice(1).reduce((a, b) => a + b, 0),
      openedPerNewcomer: opened / nodes, connectionsMedian: conns.median, load: [load0, loadavg()[0]]
    }
    const f = (x: number): string => Number.isFinite(x) ? x.toFixed(1) : '-'
    const msPer = (n: number): string => (figures.newcomerTicks * 10 / n).toFixed(0)
    process.stdout.write([
      `${nodes} newcomers, bootstrap limit ${limit}, ${nWorkers} processes (started in ${f(startS)} s)`,
      `joined: ${joined.length} of ${nodes}`,
      `join time p50 / p99 / max (s): ${f(join.median / 1000)} / ${f(join.p99 / 1000)} / ${f(join.max / 1000)}`,
      `first connection to a peer other than the bootstrap node p50 / p99 / max (s): ${f(reach.median / 1000)} / ${f(reach.p99 / 1000)} / ${f(reach.max / 1000)}`,
      `bootstrap node: ${bootStatus.inbound} inbound connections from ${bootStatus.inboundPeers} peers, peak ${bootStatus.peak} connections, CPU ${ticks[0]} ticks; newcomers: CPU ${figures.newcomerTicks} ticks, connections min / median / max ${conns.min} / ${conns.median} / ${conns.max}`,
      `newcomers' CPU per newcomer ${msPer(nodes)} ms; connections opened per newcomer ${(opened / nodes).toFixed(1)}, CPU per connection opened ${msPer(opened)} ms`,
      `load average ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)}`
    ].join('\n') + '\n')
    reportFigures('join-burst', figures)
    if (joined.length < nodes) process.exitCode = 1
  } finally {
    await Promise.allSettled([boot, ...workers].map(async w => w.request({ type: 'stop' }, 60_000)))
    for (const w of [boot, ...workers]) w.child.kill()
    rmSync(dir, { recursive: true, force: true })
  }
}

interface BurstNode { node: SkylineNode, startedAt: number, joinedAt: number, reachedAt: number }

function runWorker (): void {
  const nodes: BurstNode[] = []
  let bootPeers = new Set<string>()
  let peak = 0
  /** inbound connections opened, and from how many distinct peers */
  let inbound = 0
  const inboundPeers = new Set<string>()
  /** connections the worker's nodes opened, inbound and outbound (a connection between two of them counts twice) */
  let opened = 0
  let profiler: Session | undefined
  let timer: ReturnType<typeof setInterval> | undefined

  /** Marks each node's join (a mesh peer other than the bootstrap node) and the peak connection count */
  const watch = (): void => {
    for (const s of nodes) {
      peak = Math.max(peak, s.node.libp2p.getConnections().length)
      if (Number.isNaN(s.reachedAt) && s.node.libp2p.getPeers().some(p => !bootPeers.has(p.toString()))) s.reachedAt = Date.now()
      if (!Number.isNaN(s.joinedAt)) continue
      const pubsub = s.node.libp2p.services.pubsub as unknown as { getMeshPeers: (topic: string) => string[] }
      if (pubsub.getMeshPeers(stringifyTopic('announce')).some(p => !bootPeers.has(p))) s.joinedAt = Date.now()
    }
  }

  const handle = async (req: BurstRequest): Promise<BurstReply> => {
    switch (req.type) {
      case 'start': {
        bootPeers = new Set(req.bootstrap.map(a => a.slice(a.lastIndexOf('/p2p/') + 5)))
        timer ??= setInterval(watch, 100)
        const started = await Promise.all(Array.from({ length: req.count }, async (_, i) => {
          const config = loadConfig({ dataDir: join(req.dataDir, `node-${process.pid}-${i}`), listen: ['/ip4/127.0.0.1/tcp/0'], http: 'off', bootstrap: req.bootstrap, builder: 'none' })
          // every node connects from 127.0.0.1
          config.inboundConnectionThreshold = 1_000_000
          if (req.limit !== undefined) config.maxConnections = req.limit
          const s: BurstNode = { node: new SkylineNode(config), startedAt: Date.now(), joinedAt: NaN, reachedAt: NaN }
          await s.node.start()
          s.node.libp2p.addEventListener('connection:open', evt => {
            opened++
            if (evt.detail.direction === 'inbound') { inbound++; inboundPeers.add(evt.detail.remotePeer.toString()) }
          })
          return s
        }))
        nodes.push(...started)
        return { type: 'start', addrs: started.map(s => s.node.libp2p.getMultiaddrs().map(String).find(a => a.startsWith('/ip4/127.0.0.1/'))!) }
      }
      case 'status':
        watch()
        return { type: 'status', joinMs: nodes.map(s => s.joinedAt - s.startedAt), reachMs: nodes.map(s => s.reachedAt - s.startedAt), peak, connections: nodes.map(s => s.node.libp2p.getConnections().length), inbound, inboundPeers: inboundPeers.size, opened }
      case 'profile':
        if (req.action === 'start') {
          profiler = new Session()
          profiler.connect()
          await profiler.post('Profiler.enable')
          await profiler.post('Profiler.start')
        } else if (profiler !== undefined) {
          const { profile } = await profiler.post('Profiler.stop')
          writeFileSync(join(req.dir, `${req.name}-${process.pid}.cpuprofile`), JSON.stringify(profile))
          profiler.disconnect()
          profiler = undefined
        }
        return { type: 'profile' }
      case 'stop':
        clearInterval(timer)
        await Promise.allSettled(nodes.map(async s => s.node.stop()))
        return { type: 'stop' }
    }
  }

  process.on('message', (req: BurstRequest & { id: number }) => {
    handle(req).then(
      reply => process.send!({ ...reply, id: req.id }),
      (err: any) => process.send!({ type: 'error', request: req.type, message: String(err?.stack ?? err), id: req.id })
    )
  })
  process.on('disconnect', () => {
    setTimeout(() => process.exit(0), 3000).unref()
    void Promise.allSettled(nodes.map(async s => s.node.stop())).finally(() => process.exit(0))
  })
}
