/**
 * One node of the gossip benchmark, in its own OS process: forked by bench/gossip-propagation.ts, driven
 * over IPC. Starts a SkylineNode on 127.0.0.1 (HTTP off), publishes when told, and records for every
 * benchmark payload it receives the delay from the publisher's send time to the 'message' event.
 * Deliveries are kept here and sent back in one batch, so IPC does not compete with the measurement.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { Socket } from 'node:net'
import { join } from 'node:path'
import { loadConfig, SkylineNode } from '../../src/node/index.ts'
import { stringifyTopic } from '../../src/protocols/ids.ts'
import { initPayloads, makePayload, now, readPayload } from './gossip-payload.ts'

/** Parent → worker */
export type WorkerRequest =
  | { type: 'start', dataDir: string, bootstrap: string[], announcers: string[], payloadContext: string }
  | { type: 'status' }
  | { type: 'publish', seq: number }
  | { type: 'collect' }
  | { type: 'bytes' }
  | { type: 'profile', action: 'start' | 'stop', dir: string }
  | { type: 'stop' }

/** Worker → parent; every request gets one reply of the same `type` (or `error`), with the request's id */
export type WorkerReply =
  | { type: 'start', peerId: string, addrs: string[] }
  | { type: 'status', connections: number, meshPeers: number, subscribers: number, received: number }
  | { type: 'publish', seq: number, sendTime: number, recipients: number, publishMs: number }
  | { type: 'collect', deliveries: Array<[seq: number, delayMs: number]>, duplicates: number, heapUsed: number, rss: number }
  | { type: 'bytes', sent: number, received: number, socketWrites: number, socketFlushes: number }
  | { type: 'profile' }
  | { type: 'stop' }
  | { type: 'error', request: string, message: string }

let node: SkylineNode | undefined
const deliveries: Array<[number, number]> = []
const seen = new Set<number>()
let duplicates = 0
let profiler: Session | undefined

/** Socket writes so far: `write()` calls, and the writes handed to the kernel (one per `_write` or `_writev`) */
const socketCounts = { writes: 0, flushes: 0 }

/**
 * BENCH_COUNT_WRITES=1: counts every net.Socket `write()` call and every write the socket hands to the
 * kernel (`_write`, or `_writev` for what a cork gathered), for the bench's writes per message per node
 */
function countSocketWrites (): void {
  const proto = Socket.prototype as unknown as Record<'write' | '_write' | '_writev', (...args: unknown[]) => unknown>
  for (const [method, counter] of [['write', 'writes'], ['_write', 'flushes'], ['_writev', 'flushes']] as const) {
    const original = proto[method]
    proto[method] = function (this: Socket, ...args: unknown[]) {
      socketCounts[counter]++
      return original.apply(this, args)
    }
  }
}
if (process.env.BENCH_COUNT_WRITES === '1') countSocketWrites()

function onMessage (evt: CustomEvent<{ data: Uint8Array }>): void {
  const at = now()
  const p = readPayload(evt.detail.data)
  if (p === undefined) return
  if (seen.has(p.seq)) { duplicates++; return }
  seen.add(p.seq)
  deliveries.push([p.seq, at - p.sendTime])
}

/**
 * Gossipsub's stream bytes so far (`libp2p_data_transfer_bytes_total` of the node's registry, the
 * `/meshsub/` protocols): the RPCs as written, before Yamux and Noise framing
 */
async function gossipBytes (): Promise<{ sent: number, received: number }> {
  const totals = { sent: 0, received: 0 }
  const metric = node!.registry.getSingleMetric('libp2p_data_transfer_bytes_total')
  for (const v of metric === undefined ? [] : (await metric.get()).values) {
    const m = /^\/meshsub\/\S+ (sent|received)$/.exec(String(v.labels.protocol))
    if (m !== null) totals[m[1] as 'sent' | 'received'] += v.value
  }
  return totals
}

/** Starts V8's CPU profiler, or stops it and writes `node-<pid>.cpuprofile` into `dir` (the publishing window only) */
async function profile (action: 'start' | 'stop', dir: string): Promise<void> {
  if (action === 'start') {
    profiler = new Session()
    profiler.connect()
    await profiler.post('Profiler.enable')
    await profiler.post('Profiler.start')
    return
  }
  if (profiler === undefined) return
  const { profile } = await profiler.post('Profiler.stop')
  writeFileSync(join(dir, `node-${process.pid}.cpuprofile`), JSON.stringify(profile))
  profiler.disconnect()
  profiler = undefined
}

async function handle (req: WorkerRequest): Promise<WorkerReply> {
  switch (req.type) {
    case 'start': {
      mkdirSync(req.dataDir, { recursive: true })
      initPayloads(req.payloadContext)
      const config = loadConfig({ dataDir: req.dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], http: 'off', bootstrap: req.bootstrap, builder: 'none', announcers: req.announcers })
      config.inboundConnectionThreshold = 1000
      node = new SkylineNode(config)
      node.addEventListener('message', onMessage)
      await node.start()
      return { type: 'start', peerId: node.peerId, addrs: node.libp2p.getMultiaddrs().map(String) }
    }
    case 'status': {
      const s = node!.status().topics[stringifyTopic('announce')]
      return { type: 'status', connections: node!.libp2p.getConnections().length, meshPeers: s.meshPeers.length, subscribers: s.subscribers, received: deliveries.length }
    }
    case 'publish': {
      const sendTime = now()
      const { topic, data } = await makePayload(sendTime, req.seq)
      const result = await node!.libp2p.services.pubsub.publish(stringifyTopic(topic), data)
      return { type: 'publish', seq: req.seq, sendTime, recipients: result.recipients.length, publishMs: now() - sendTime }
    }
    case 'collect': {
      const mem = process.memoryUsage()
      return { type: 'collect', deliveries, duplicates, heapUsed: mem.heapUsed, rss: mem.rss }
    }
    case 'bytes':
      return { type: 'bytes', ...await gossipBytes(), socketWrites: socketCounts.writes, socketFlushes: socketCounts.flushes }
    case 'profile':
      await profile(req.action, req.dir)
      return { type: 'profile' }
    case 'stop':
      await node?.stop()
      return { type: 'stop' }
  }
}

process.on('message', (req: WorkerRequest & { id: number }) => {
  handle(req).then(
    reply => process.send!({ ...reply, id: req.id }),
    (err: any) => process.send!({ type: 'error', request: req.type, message: String(err?.stack ?? err), id: req.id })
  )
})
// the parent went away (finished, crashed or was interrupted): do not linger
process.on('disconnect', () => { void node?.stop().finally(() => process.exit(0)); setTimeout(() => process.exit(0), 3000).unref() })
