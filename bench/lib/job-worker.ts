/**
 * One node of the job-mesh benchmarks (bench/lib/job-mesh.ts: control bytes, the mass-rebuild slice), in
 * its own OS process, driven over IPC. Roles:
 * - 'builder': a full SkylineNode with the bench's QuickBuilder and the test keyring, so every job it is
 *   assigned goes through the real pipeline (assignment, SRPM fetch over the blob protocol, RPM signature
 *   check, build, output into the blob store, signed attestation, tally);
 * - 'seeder': what `skyline seed` runs: no builder, DHT client mode, no flood publishing; stores each SRPM,
 *   announces it with the run's announcer key naming itself as the provider, and provides it in the DHT
 *   only if a builder is still unserved 10 s later (src/cli/seed-provide.ts).
 * It records the first final verdict per job and the time it came, and reports libp2p's per-protocol
 * byte counters (`libp2p_data_transfer_bytes_total` of the node's own Prometheus registry: one node per
 * process, so the counters are this node's alone).
 */
import { mkdirSync } from 'node:fs'
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto'
import { jobKey } from '../../src/rules/job.ts'
import { loadConfig, SkylineNode } from '../../src/node/index.ts'
import { stringifyTopic } from '../../src/protocols/ids.ts'
import { BUILDER_PROTOCOL } from '../../src/services/candidates.ts'
import { createAnnouncement, RULES_V2 } from '../../src/protocols/announce.ts'
import type { PanelParams } from '../../src/rules/panel.ts'
import { rawPublicKey, type AnnouncerKey } from '../../src/protocols/signing.ts'
import { QuickBuilder } from './quick-builder.ts'
import { provideIfUnserved } from '../../src/cli/seed-provide.ts'

export type Role = 'builder' | 'seeder'

/** Parent → worker */
export type JobWorkerRequest =
  | { type: 'start', role: Role, dataDir: string, bootstrap: string[], announcers: string[], keyring?: string, announcerPem?: string, concurrency?: number }
  | { type: 'status' }
  | { type: 'seed', path: string, nevra: string, replicas: number, quorum: number, panel?: PanelParams }
  | { type: 'bytes' }
  | { type: 'collect' }
  | { type: 'stop' }

export interface FinalVerdict { job: string, verdict: string, at: number }

/** Worker → parent; every request gets one reply of the same `type` (or `error`) */
export type JobWorkerReply =
  | { type: 'start', peerId: string, addrs: string[] }
  | { type: 'status', connections: number, announceMesh: number, consensusMesh: number, builderPeers: number, routingTable: number, finalAgreed: number, finalOther: number, builds: number, jobErrors: number }
  | { type: 'seed', job: string, at: number, addMs: number, announceMs: number }
  | { type: 'bytes', counters: Record<string, number> }
  | {
    type: 'collect'
    finals: FinalVerdict[]
    /** per job this node built: when each phase began */
    phases: Array<Record<string, number>>
    builds: number
    jobStates: Record<string, number>
    jobErrors: string[]
    /** the sync service's own counters: syncs asked, items received, accepted, served */
    sync: { syncs: number, received: number, accepted: number, served: number }
    rss: number
    heapUsed: number
    /** the seeder: jobs whose blobs it provided in the DHT */
    provided: number
  }
  | { type: 'stop' }
  | { type: 'error', request: string, message: string }

/** Milliseconds on the machine's clock, comparable across processes on one host */
const now = (): number => performance.timeOrigin + performance.now()

let node: SkylineNode | undefined
let builder: QuickBuilder | undefined
let key: AnnouncerKey | undefined
/** aborts the seeder's delayed provides at stop */
const stopping = new AbortController()
/** jobs whose blobs the seeder provided in the DHT (a builder was unserved after the delay) */
let provided = 0
const finals = new Map<string, FinalVerdict>()
const jobErrors: string[] = []
/** per job of this node: when each state was entered (and 'announced', when the announcement arrived) */
const phases = new Map<string, Record<string, number>>()
const mark = (job: string, phase: string): void => {
  let p = phases.get(job)
  if (p === undefined) { p = {}; phases.set(job, p) }
  p[phase] ??= now()
}

async function handle (req: JobWorkerRequest): Promise<JobWorkerReply> {
  switch (req.type) {
    case 'start': {
      mkdirSync(req.dataDir, { recursive: true })
      const config = loadConfig({ dataDir: req.dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], http: 'off', bootstrap: req.bootstrap, builder: 'none', announcers: req.announcers, keyring: req.keyring })
      config.inboundConnectionThreshold = 1000
      if (req.role === 'seeder') {
        config.dhtClientMode = true
        config.floodPublish = false
        const privateKey = createPrivateKey(req.announcerPem!)
        key = { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) }
        node = new SkylineNode(config)
      } else {
        builder = new QuickBuilder({ maxConcurrentBuilds: req.concurrency })
        node = new SkylineNode(config, { builder })
      }
      await node.start()
      node.verdicts.addEventListener('verdict', evt => {
        const v = evt.detail
        if (!v.final || finals.has(v.job)) return
        finals.set(v.job, { job: v.job, verdict: v.verdict, at: now() })
        if (phases.has(v.job)) mark(v.job, 'final')
      })
      node.addEventListener('announcement', evt => { if (builder !== undefined) mark(evt.detail.job, 'announced') })
      node.jobs.addEventListener('assignment', evt => { if (evt.detail.mine) mark(evt.detail.job, 'assigned') })
      node.verdicts.addEventListener('attestation', evt => { if (evt.detail.builder === node!.peerId) mark(evt.detail.job, 'attested') })
      node.jobs.addEventListener('job', evt => {
        mark(evt.detail.job, evt.detail.state)
        if ((evt.detail.state === 'failed' || evt.detail.state === 'refused') && jobErrors.length < 20) jobErrors.push(`${evt.detail.state}: ${evt.detail.error ?? '?'}`)
      })
      return { type: 'start', peerId: node.peerId, addrs: node.libp2p.getMultiaddrs().map(String) }
    }
    case 'status': {
      const st = node!.status()
      let builderPeers = 0
      for (const p of await node!.libp2p.peerStore.all()) if (p.protocols.includes(BUILDER_PROTOCOL)) builderPeers++
      let finalAgreed = 0
      for (const f of finals.values()) if (f.verdict === 'agreed') finalAgreed++
      return {
        type: 'status',
        connections: st.connections.length,
        announceMesh: st.topics[stringifyTopic('announce')].meshPeers.length,
        consensusMesh: st.topics[stringifyTopic('consensus')].meshPeers.length,
        builderPeers,
        routingTable: st.dht.routingTableSize,
        finalAgreed,
        finalOther: finals.size - finalAgreed,
        builds: builder?.builds ?? 0,
        jobErrors: jobErrors.length
      }
    }
    case 'seed': {
      if (key === undefined) throw new Error('not the seeder')
      const t0 = now()
      const m = await node!.libp2p.services.blobs.add(req.path, { provide: false })
      const beacon = randomBytes(32)
      const key2 = jobKey(Buffer.from(m.sha256, 'hex'), 'fedora-41-x86_64', beacon)
      const candidates = req.panel !== undefined
        ? await node!.findCandidates(key2, req.panel.panel + req.panel.escalation, { rules: RULES_V2, beacon })
        : await node!.findCandidates(key2, req.replicas)
      const envelope = createAnnouncement({
        beacon,
        candidates,
        nevra: req.nevra,
        srpmSha256: Buffer.from(m.sha256, 'hex'),
        srpmSize: m.size,
        target: 'fedora-41-x86_64',
        replicas: req.replicas,
        quorum: req.quorum,
        panel: req.panel,
        chunkSize: m.chunkSize,
        chunkRoot: Buffer.from(m.root, 'hex'),
        provider: { peer: node!.libp2p.peerId, addrs: node!.libp2p.getMultiaddrs() }
      }, key)
      const at = now()
      const checked = await node!.announce(envelope)
      void provideIfUnserved(node!, checked, { signal: stopping.signal }).then(done => { if (done) provided++ })
      return { type: 'seed', job: checked.job, at, addMs: at - t0, announceMs: now() - at }
    }
    case 'bytes': {
      const metric = node!.registry.getSingleMetric('libp2p_data_transfer_bytes_total')
      const counters: Record<string, number> = {}
      if (metric !== undefined) {
        for (const v of (await metric.get()).values) counters[String(v.labels.protocol)] = v.value
      }
      return { type: 'bytes', counters }
    }
    case 'collect': {
      const jobStates: Record<string, number> = {}
      for (const j of node!.store.jobs()) jobStates[j.state] = (jobStates[j.state] ?? 0) + 1
      const mem = process.memoryUsage()
      const mine = [...phases.values()].filter(p => p.assigned !== undefined)
      return { type: 'collect', finals: [...finals.values()], phases: mine, builds: builder?.builds ?? 0, jobStates, jobErrors, sync: { ...node!.sync.stats }, rss: mem.rss, heapUsed: mem.heapUsed, provided }
    }
    case 'stop':
      stopping.abort()
      await node?.stop()
      return { type: 'stop' }
  }
}

process.on('message', (req: JobWorkerRequest & { id: number }) => {
  handle(req).then(
    reply => process.send!({ ...reply, id: req.id }),
    (err: any) => process.send!({ type: 'error', request: req.type, message: String(err?.stack ?? err), id: req.id })
  )
})
// the parent went away (finished, crashed or was interrupted): do not linger
process.on('disconnect', () => { void node?.stop().finally(() => process.exit(0)); setTimeout(() => process.exit(0), 3000).unref() })
