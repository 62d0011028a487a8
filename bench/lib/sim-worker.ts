/**
 * Many nodes of the scale simulation (bench/scale-sim.ts) in one OS process, driven over IPC: real
 * SkylineNodes (TCP on 127.0.0.1, gossipsub, Kademlia, assignment, tally) with the bench's QuickBuilder,
 * and, in the worker that is told to, the seeder (as `skyline seed`: no builder, DHT client mode, no flood
 * publishing, the SRPM named in the announcement's provider hint and provided in the DHT only for a builder
 * that has not built after a delay and that the seeder cannot reach).
 * It records per node when it joined (its first announce-topic mesh peer), when each announcement
 * arrived, and when each job's verdict became final; and it sums the nodes' libp2p byte counters by label
 * (protocol and direction; each node has its own Prometheus registry, so the counters are per node even
 * with many in one process) and counts the connections each node opened and closed.
 */
import { mkdirSync } from 'node:fs'
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { jobKey } from '../../src/rules/job.ts'
import { loadConfig, SkylineNode } from '../../src/node/index.ts'
import { stringifyTopic, TOPIC_NAMES, type TopicName } from '../../src/protocols/ids.ts'
import { KEEP_ALIVE } from '@libp2p/interface'
import { createAnnouncement, RULES_V2 } from '../../src/protocols/announce.ts'
import type { PanelParams } from '../../src/rules/panel.ts'
import { rawPublicKey, type AnnouncerKey } from '../../src/protocols/signing.ts'
import { QuickBuilder } from './quick-builder.ts'
import { provideIfUnserved } from '../../src/cli/seed-provide.ts'
import { addCounters, type Counters } from './sim-bytes.ts'

/** Parent → worker */
export type SimRequest =
  | { type: 'start', first: number, count: number, dataDir: string, bootstrap: string[], announcers: string[], keyring: string, seederPem?: string, maxConnections?: number }
  | { type: 'status' }
  /** `panel`: rules v2 (P stage-1 seats, escalation, threshold), as `skyline seed` announces by default; without it rules v1 (replicas, quorum) */
  | { type: 'seed', path: string, nevra: string, replicas: number, quorum: number, panel?: PanelParams }
  | { type: 'bytes' }
  | { type: 'collect' }
  | { type: 'stop' }

/** One node's record, as collected */
export interface SimNodeRecord {
  seeder: boolean
  peerId: string
  /** its gossipsub mesh peers, over all topics */
  meshPeers: string[]
  /** the peers kad-dht keeps it connected to (a keep-alive tag: its closest peers) */
  keptAlive: string[]
  /** ms from its start() to its first announce-topic mesh peer (NaN: never) */
  joinMs: number
  /** job → when its announcement arrived */
  arrivals: Array<[string, number]>
  /** job → when its verdict became final, and which */
  finals: Array<[string, number, string]>
  builds: number
}

/** Worker → parent */
export type SimReply =
  | { type: 'start', addrs: string[] }
  | { type: 'status', nodes: number, joined: number, finals: number, connections: number[] }
  | { type: 'seed', job: string, at: number }
  /**
   * byte counters by label, summed over the builders and the seeder's own; connections opened and closed so
   * far and open now (builders summed); their sync counts so far (exchanges asked by reason, requests answered,
   * items and bytes served: SyncService's stats); the SRPMs the seeder provided in the DHT so far
   */
  | { type: 'bytes', builders: Counters, seeder: Counters, connections: { builders: Connections, seeder: Connections }, sync: { builders: Counters, seeder: Counters }, gossip: { builders: Counters, seeder: Counters }, provided: number }
  | { type: 'collect', nodes: SimNodeRecord[], rss: number, heapUsed: number }
  | { type: 'stop' }
  | { type: 'error', request: string, message: string }

/** A node's (or the builders' summed) connections: opened (of which it dialed: outbound) and closed since start, and open now */
export interface Connections { opened: number, outbound: number, closed: number, open: number }

/** Milliseconds on the machine's clock, comparable across processes on one host */
const now = (): number => performance.timeOrigin + performance.now()
/** nodes of one worker started at once */
const START_CONCURRENCY = 4

interface SimNode {
  node: SkylineNode
  builder: QuickBuilder | undefined
  startedAt: number
  joinedAt: number
  arrivals: Map<string, number>
  finals: Map<string, [number, string]>
  /** connections opened (of which it dialed) and closed since start */
  opened: number
  outbound: number
  closed: number
  /** what its gossipsub sent, by part (countGossipParts) */
  gossip: Counters
}

const nodes: SimNode[] = []
let seeder: { sim: SimNode, key: AnnouncerKey } | undefined
let joinTimer: ReturnType<typeof setInterval> | undefined
/** aborts the seeder's delayed provides at stop */
const stopping = new AbortController()
/** SRPMs the seeder provided in the DHT (a first builder unserved after the delay) */
let provided = 0

async function startOne (dataDir: string, bootstrap: string[], announcers: string[], keyring: string, seederPem?: string, maxConnections?: number): Promise<SimNode> {
  mkdirSync(dataDir, { recursive: true })
  const config = loadConfig({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], http: 'off', bootstrap, builder: 'none', announcers, keyring })
  if (maxConnections !== undefined) config.maxConnections = maxConnections
  // every node connects from 127.0.0.1
  config.inboundConnectionThreshold = 1_000_000
  // the seeder runs as `skyline seed` does: DHT client mode, no flood publishing
  if (seederPem !== undefined) {
    config.dhtClientMode = true
    config.floodPublish = false
  }
  const builder = seederPem === undefined ? new QuickBuilder() : undefined
  const node = new SkylineNode(config, { builder })
  const sim: SimNode = { node, builder, startedAt: now(), joinedAt: NaN, arrivals: new Map(), finals: new Map(), opened: 0, outbound: 0, closed: 0, gossip: {} }
  node.addEventListener('announcement', evt => { if (!sim.arrivals.has(evt.detail.job)) sim.arrivals.set(evt.detail.job, now()) })
  await node.start()
  countGossipParts(node, sim.gossip)
  node.libp2p.addEventListener('connection:open', evt => { sim.opened++; if (evt.detail.direction === 'outbound') sim.outbound++ })
  node.libp2p.addEventListener('connection:close', () => { sim.closed++ })
  node.verdicts.addEventListener('verdict', evt => {
    if (evt.detail.final && !sim.finals.has(evt.detail.job)) sim.finals.set(evt.detail.job, [now(), evt.detail.verdict])
  })
  return sim
}

/** What gossipsub puts in one RPC (@libp2p/gossipsub's RPC, the parts counted here) */
interface GossipRpc {
  subscriptions?: unknown[]
  messages?: Array<{ topic?: string, data?: Uint8Array }>
  control?: { ihave?: Array<{ messageIDs?: unknown[] }>, iwant?: Array<{ messageIDs?: unknown[] }>, graft?: unknown[], prune?: unknown[], idontwant?: Array<{ messageIDs?: unknown[] }> }
}

/**
 * Counts what a node's gossipsub sends, by part, into `c`: RPCs (each one Yamux
 * frame), message copies and their payload bytes, and the message ids in IHAVE, IWANT and IDONTWANT. Wraps
 * its `sendRpc` (forwards, IHAVE, IWANT, GRAFT and PRUNE; its `rpc` holds the piggybacked control and
 * gossip once it returns) and its `sendRpcInBatch` (IDONTWANT, and a batch publish: one RPC to each peer
 * left in `tosend` once it returns). Bench only.
 */
function countGossipParts (node: SkylineNode, c: Counters): void {
  const pubsub = node.libp2p.services.pubsub as unknown as { sendRpc: (id: unknown, rpc: GossipRpc) => boolean, sendRpcInBatch: (tosend: Set<unknown>, rpc: GossipRpc) => void }
  const send = pubsub.sendRpc.bind(pubsub)
  const sendInBatch = pubsub.sendRpcInBatch.bind(pubsub)
  const add = (k: string, n: number): void => { if (n > 0) c[k] = (c[k] ?? 0) + n }
  const ids = (parts?: Array<{ messageIDs?: unknown[] }>): number => (parts ?? []).reduce((n, p) => n + (p.messageIDs?.length ?? 0), 0)
  const count = (rpc: GossipRpc, peers: number): void => {
    add('rpcs', peers)
    add('copies', peers * (rpc.messages?.length ?? 0))
    add('copy bytes', peers * (rpc.messages ?? []).reduce((n, m) => n + (m.data?.byteLength ?? 0), 0))
    add('ihave ids', peers * ids(rpc.control?.ihave))
    add('iwant ids', peers * ids(rpc.control?.iwant))
    add('idontwant ids', peers * ids(rpc.control?.idontwant))
    add('graft+prune', peers * ((rpc.control?.graft?.length ?? 0) + (rpc.control?.prune?.length ?? 0)))
  }
  pubsub.sendRpc = (id, rpc) => {
    const sent = send(id, rpc)
    if (sent) count(rpc, 1)
    return sent
  }
  pubsub.sendRpcInBatch = (tosend, rpc) => {
    sendInBatch(tosend, rpc)
    count(rpc, tosend.size)
  }
}

/** Marks each node's join: the first time it has a peer in the announce topic's mesh */
function watchJoins (): void {
  joinTimer ??= setInterval(() => {
    for (const s of [...nodes, ...(seeder !== undefined ? [seeder.sim] : [])]) {
      if (Number.isNaN(s.joinedAt) && meshPeers(s.node).length > 0) s.joinedAt = now()
    }
  }, 100)
}

/** Peers in a topic's mesh (gossipsub has getMeshPeers; its exported interface does not declare it) */
function meshPeers (node: SkylineNode, topic: TopicName = 'announce'): string[] {
  const pubsub = node.libp2p.services.pubsub as unknown as { getMeshPeers: (topic: string) => string[] }
  return pubsub.getMeshPeers(stringifyTopic(topic))
}

/** The connected peers this node keeps alive (kad-dht tags its closest peers so) */
async function keptAlive (node: SkylineNode): Promise<string[]> {
  const kept: string[] = []
  for (const peer of new Set(node.libp2p.getConnections().map(c => c.remotePeer))) {
    const tags = await node.libp2p.peerStore.get(peer).then(p => [...p.tags.keys()], () => [])
    if (tags.some(t => t.startsWith(KEEP_ALIVE))) kept.push(peer.toString())
  }
  return kept
}

/** A node's byte counters by label ("<protocol> sent|received", "global sent|received") */
async function countersOf (s: SimNode): Promise<Counters> {
  const metric = s.node.registry.getSingleMetric('libp2p_data_transfer_bytes_total')
  const counters: Counters = {}
  for (const v of metric === undefined ? [] : (await metric.get()).values) counters[String(v.labels.protocol)] = v.value
  return counters
}

/** The nodes' byte counters summed, label by label */
async function summedCounters (sims: SimNode[]): Promise<Counters> {
  let c: Counters = {}
  for (const s of sims) c = addCounters(c, await countersOf(s))
  return c
}

/** What the nodes' gossipsub sent, by part (countGossipParts), summed */
function gossipPartsOf (sims: SimNode[]): Counters {
  return sims.reduce<Counters>((c, s) => addCounters(c, s.gossip), {})
}

/** The nodes' sync counts summed: asked (and by reason: `ask <reason>`), answered, served, bytesServed */
function syncCountsOf (sims: SimNode[]): Counters {
  let c: Counters = {}
  for (const { node } of sims) {
    const { asked, answered, served, bytesServed, reasons, settleDropped } = node.sync.stats
    c = addCounters(c, { asked, answered, served, bytesServed, 'reconnect not asked': settleDropped, ...Object.fromEntries(Object.entries(reasons).map(([k, v]) => [`ask ${k}`, v])) })
  }
  return c
}

function connectionsOf (sims: SimNode[]): Connections {
  return sims.reduce((a, s) => ({ opened: a.opened + s.opened, outbound: a.outbound + s.outbound, closed: a.closed + s.closed, open: a.open + s.node.libp2p.getConnections().length }), { opened: 0, outbound: 0, closed: 0, open: 0 })
}

async function handle (req: SimRequest): Promise<SimReply> {
  switch (req.type) {
    case 'start': {
      watchJoins()
      if (req.seederPem !== undefined) {
        const privateKey = createPrivateKey(req.seederPem)
        seeder = { sim: await startOne(join(req.dataDir, 'seeder'), req.bootstrap, req.announcers, req.keyring, req.seederPem, req.maxConnections), key: { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) } }
        return { type: 'start', addrs: seeder.sim.node.libp2p.getMultiaddrs().map(String) }
      }
      const started: SimNode[] = []
      for (let i = 0; i < req.count; i += START_CONCURRENCY) {
        const batch = Array.from({ length: Math.min(START_CONCURRENCY, req.count - i) }, (_, k) => req.first + i + k)
        started.push(...await Promise.all(batch.map(async n => startOne(join(req.dataDir, `node-${n}`), req.bootstrap, req.announcers, req.keyring, undefined, req.maxConnections))))
      }
      nodes.push(...started)
      return { type: 'start', addrs: started.map(s => s.node.libp2p.getMultiaddrs().map(String).find(a => a.startsWith('/ip4/127.0.0.1/'))!) }
    }
    case 'status': {
      const all = [...nodes, ...(seeder !== undefined ? [seeder.sim] : [])]
      return {
        type: 'status',
        nodes: all.length,
        joined: all.filter(s => !Number.isNaN(s.joinedAt)).length,
        finals: all.reduce((a, s) => a + s.finals.size, 0),
        connections: all.map(s => s.node.libp2p.getConnections().length)
      }
    }
    case 'seed': {
      if (seeder === undefined) throw new Error('not the seeder\'s worker')
      const { node } = seeder.sim
      // as `skyline seed`: the SRPM is not provided in the DHT up front; the announcement names the seeder as
      // its provider (field 26), and it provides only for a builder still unserved after the delay
      const m = await node.libp2p.services.blobs.add(req.path, { provide: false })
      const beacon = randomBytes(32)
      const key = jobKey(Buffer.from(m.sha256, 'hex'), 'fedora-41-x86_64', beacon)
      const candidates = req.panel !== undefined
        ? await node.findCandidates(key, req.panel.panel + req.panel.escalation, { rules: RULES_V2, beacon })
        : await node.findCandidates(key, req.replicas)
      const envelope = createAnnouncement({
        beacon, candidates, nevra: req.nevra, srpmSha256: Buffer.from(m.sha256, 'hex'), srpmSize: m.size, target: 'fedora-41-x86_64',
        replicas: req.replicas, quorum: req.quorum, panel: req.panel, chunkSize: m.chunkSize, chunkRoot: Buffer.from(m.root, 'hex'),
        provider: { peer: node.libp2p.peerId, addrs: node.libp2p.getMultiaddrs() }
      }, seeder.key)
      const at = now()
      const checked = await node.announce(envelope)
      void provideIfUnserved(node, checked, { signal: stopping.signal }).then(done => { if (done) provided++ })
      return { type: 'seed', job: checked.job, at }
    }
    case 'bytes': {
      const seederSims = seeder !== undefined ? [seeder.sim] : []
      return {
        type: 'bytes',
        builders: await summedCounters(nodes),
        seeder: await summedCounters(seederSims),
        connections: { builders: connectionsOf(nodes), seeder: connectionsOf(seederSims) },
        sync: { builders: syncCountsOf(nodes), seeder: syncCountsOf(seederSims) },
        gossip: { builders: gossipPartsOf(nodes), seeder: gossipPartsOf(seederSims) },
        provided
      }
    }
    case 'collect': {
      const all = [...nodes, ...(seeder !== undefined ? [seeder.sim] : [])]
      const mem = process.memoryUsage()
      return {
        type: 'collect',
        nodes: await Promise.all(all.map(async s => ({
          seeder: s === seeder?.sim,
          peerId: s.node.libp2p.peerId.toString(),
          meshPeers: [...new Set(TOPIC_NAMES.flatMap(t => meshPeers(s.node, t)))],
          keptAlive: await keptAlive(s.node),
          joinMs: s.joinedAt - s.startedAt,
          arrivals: [...s.arrivals],
          finals: [...s.finals].map(([job, [at, verdict]]) => [job, at, verdict]),
          builds: s.builder?.builds ?? 0
        }))),
        rss: mem.rss,
        heapUsed: mem.heapUsed
      }
    }
    case 'stop':
      clearInterval(joinTimer)
      stopping.abort()
      await Promise.allSettled([...nodes, ...(seeder !== undefined ? [seeder.sim] : [])].map(async s => s.node.stop()))
      return { type: 'stop' }
  }
}

process.on('message', (req: SimRequest & { id: number }) => {
  handle(req).then(
    reply => process.send!({ ...reply, id: req.id }),
    (err: any) => process.send!({ type: 'error', request: req.type, message: String(err?.stack ?? err), id: req.id })
  )
})
// the parent went away (finished, crashed or was interrupted): do not linger
process.on('disconnect', () => {
  setTimeout(() => process.exit(0), 3000).unref()
  stopping.abort()
  void Promise.allSettled(nodes.map(async s => s.node.stop())).finally(() => process.exit(0))
})
