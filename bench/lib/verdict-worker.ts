/**
 * One node of the verdict-latency benchmark, in its own OS process: forked by bench/verdict-latency.ts,
 * driven over IPC. Starts a SkylineNode on 127.0.0.1 (HTTP off, no real builder) and makes it an
 * eligible builder (see Eligibility). When told, it announces a job (bytes made by the parent) or
 * publishes its own attestation for a job, signed with its own libp2p key.
 *
 * It records, all on the machine's shared clock (performance.timeOrigin + performance.now()):
 * - per job, the first 'verdict' event of each kind (the first 'agreed' is what the bench measures),
 * - per job, when each attestation was recorded by this node's consensus service ('attestation' event),
 * - per consensus-topic message, its validation outcome and how long VerdictService.validate took
 *   (measured around the instance's validate, which the topic validator looks up at call time),
 * - per announcement, how long the node's own builder assignment (JobRunner.onAnnouncement) took,
 * - the event loop's delay (how long ready work waited for the CPU),
 * and sends it back in one batch on 'collect', so IPC does not compete with the measurement.
 */
import { mkdirSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { loadConfig, SkylineNode } from '../../src/node/index.ts'
import { loadOrCreateIdentity } from '../../src/node/identity.ts'
import { stringifyTopic } from '../../src/protocols/ids.ts'
import { createAttestation, encodeConsensusMessage } from '../../src/protocols/attestation.ts'
import { BUILDER_PROTOCOL } from '../../src/services/candidates.ts'
import { buildHash } from '../../src/rules/build-hash.ts'
import type { PrivateKey } from '@libp2p/interface'
import type { Builder } from '../../src/builder/index.ts'

/** stands in for rpmbuild in 'builder' mode; never called, as the mesh is halted */
const standInBuilder = {
  kind: 'rpmbuild',
  limits: { maxConcurrentBuilds: 1, maxBuildTimeMs: 60_000, maxDiskBytes: 2 ** 30, maxOutputBytes: 2 ** 30, maxLogBytes: 2 ** 20 },
  build: async () => { throw new Error('bench: no builds') }
} as unknown as Builder
let eligibility: Eligibility = 'protocol'

/**
 * How a worker is made an eligible builder:
 * - 'protocol': builder 'none', and the worker registers the builder protocol itself. The other nodes
 *   count it as eligible; the node itself does not (its consensus service has selfEligible = false), so
 *   its own attestation never counts in its own tally and an attester holds q - 1 attestations: the q
 *   attesters reach no verdict in this mode.
 * - 'builder': a stand-in Builder (never runs: the mesh is halted by a signed control message first, so
 *   no node takes jobs), so the node registers the protocol, counts itself as eligible, and attests
 *   through VerdictService.attest (record, then publish), as a real builder does.
 */
export type Eligibility = 'protocol' | 'builder'

/** Parent → worker */
export type WorkerRequest =
  | { type: 'start', dataDir: string, bootstrap: string[], announcers: string[], eligibility: Eligibility, halt: string }
  | { type: 'reidentify' }
  | { type: 'status' }
  | { type: 'announce', envelope: string }
  | { type: 'attest', job: string, files: Array<{ name: string, size: number, sha256: string }> }
  | { type: 'collect' }
  | { type: 'stop' }

export interface VerdictRecord { job: string, verdict: string, at: number, hash: string | null, final: boolean }

/** Worker → parent; every request gets one reply of the same `type` (or `error`), with the request's id */
export type WorkerReply =
  | { type: 'start', peerId: string, addrs: string[] }
  | { type: 'reidentify', identified: number, failed: number }
  | { type: 'status', connections: number, meshPeers: number, builderPeers: number, knownPeers: number, verdicts: number }
  | { type: 'announce', job: string, at: number }
  | { type: 'attest', job: string, before: number, after: number }
  | {
    type: 'collect'
    /** first verdict event of each kind per job */
    verdicts: VerdictRecord[]
    /** [job, builder, time recorded] for each attestation this node's consensus service took */
    attestations: Array<[string, string, number]>
    /** [result:reason, time the validator finished, ms the validator took] for each consensus-topic message */
    validations: Array<[string, number, number]>
    /** [job, ms the node's own assignment of the job took] */
    assignments: Array<[string, number]>
    /** event loop delay over the run, ms */
    loopDelay: { p50: number, p99: number, max: number }
  }
  | { type: 'stop' }
  | { type: 'error', request: string, message: string }

/** Milliseconds on the machine's clock, comparable across processes on one host */
const now = (): number => performance.timeOrigin + performance.now()

let node: SkylineNode | undefined
let privateKey: PrivateKey | undefined
const verdicts = new Map<string, VerdictRecord>()
const attestations: Array<[string, string, number]> = []
const validations: Array<[string, number, number]> = []
const assignments: Array<[string, number]> = []
const loop = monitorEventLoopDelay({ resolution: 10 })

function instrument (n: SkylineNode): void {
  n.verdicts.addEventListener('verdict', evt => {
    const at = now()
    const v = evt.detail
    const key = `${v.job}:${v.verdict}`
    if (!verdicts.has(key)) verdicts.set(key, { job: v.job, verdict: v.verdict, at, hash: v.hash ?? null, final: v.final })
  })
  n.verdicts.addEventListener('attestation', evt => {
    attestations.push([evt.detail.job, evt.detail.builder, now()])
  })
  // time VerdictService.validate (the consensus topic's validator) and the node's own assignment of
  // each job; both are looked up on the instance at call time, so wrapping the instance's methods works
  const consensus = n.verdicts
  const validate = consensus.validate.bind(consensus)
  consensus.validate = async msg => {
    const t0 = now()
    let outcome = 'accept:ok'
    try {
      await validate(msg)
    } catch (err: any) {
      outcome = `${String(err?.action ?? 'error')}:${String(err?.reason ?? err?.name)}`
      throw err
    } finally {
      const t1 = now()
      validations.push([outcome, t1, t1 - t0])
    }
  }
  const jobs = n.jobs
  const onAnnouncement = jobs.onAnnouncement.bind(jobs)
  jobs.onAnnouncement = async a => {
    const t0 = now()
    const p = onAnnouncement(a)
    p.then(() => assignments.push([a.job, now() - t0]), () => assignments.push([a.job, -1]))
    return p
  }
}

async function handle (req: WorkerRequest): Promise<WorkerReply> {
  switch (req.type) {
    case 'start': {
      mkdirSync(req.dataDir, { recursive: true })
      // the node loads the same identity file in start(): this is its libp2p key
      privateKey = (await loadOrCreateIdentity(req.dataDir)).privateKey
      const config = loadConfig({ dataDir: req.dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], http: 'off', bootstrap: req.bootstrap, builder: 'none', announcers: req.announcers })
      config.inboundConnectionThreshold = 1000
      eligibility = req.eligibility
      node = new SkylineNode(config, eligibility === 'builder' ? { builder: standInBuilder } : {})
      await node.start()
      if (eligibility === 'protocol') {
        // bench-only: advertise the builder protocol, so the other nodes count this one as eligible
        await node.libp2p.handle(BUILDER_PROTOCOL, async stream => {
          await stream.close({ signal: AbortSignal.timeout(5_000) }).catch(err => stream.abort(err))
        }, { maxInboundStreams: 4, maxOutboundStreams: 1 })
      } else {
        // no node takes jobs (they would fetch an SRPM that does not exist); assignment still runs
        await node.control(new Uint8Array(Buffer.from(req.halt, 'base64'))).catch(() => {}) // a copy may have come by gossip first
      }
      instrument(node)
      loop.enable()
      return { type: 'start', peerId: node.peerId, addrs: node.libp2p.getMultiaddrs().map(String) }
    }
    case 'reidentify': {
      // identify ran on connections opened before a peer registered the builder protocol (and there is no
      // identify push): ask every connected peer again, now that all of them advertise it
      let identified = 0
      let failed = 0
      await Promise.all(node!.libp2p.getConnections().map(async conn => {
        try {
          await node!.libp2p.services.identify.identify(conn, { signal: AbortSignal.timeout(10_000) })
          identified++
        } catch {
          failed++
        }
      }))
      return { type: 'reidentify', identified, failed }
    }
    case 'status': {
      const s = node!.status().topics[stringifyTopic('consensus')]
      let builderPeers = 0
      const peers = await node!.libp2p.peerStore.all()
      for (const p of peers) if (p.protocols.includes(BUILDER_PROTOCOL)) builderPeers++
      return { type: 'status', connections: node!.libp2p.getConnections().length, meshPeers: s.meshPeers.length, builderPeers, knownPeers: peers.length, verdicts: [...verdicts.values()].filter(v => v.verdict === 'agreed').length }
    }
    case 'announce': {
      const at = now()
      const checked = await node!.announce(new Uint8Array(Buffer.from(req.envelope, 'base64')))
      return { type: 'announce', job: checked.job, at }
    }
    case 'attest': {
      if (eligibility === 'builder') {
        const before = now()
        await node!.verdicts.attest({
          job: req.job,
          status: 'ok',
          buildHash: buildHash(req.files),
          files: req.files,
          environment: { builder: 'bench', rpmVersion: '4.18.0', target: 'x86_64-redhat-linux-gnu', binaryPayload: 'w19.zstdio' },
          durationMs: 0,
          logExcerpt: undefined,
          finishedAt: Date.now()
        })
        return { type: 'attest', job: req.job, before, after: now() }
      }
      const envelope = createAttestation({
        job: req.job,
        status: 'ok',
        files: req.files,
        environment: { builder: 'bench', rpmVersion: '4.18.0', target: 'x86_64-redhat-linux-gnu', binaryPayload: 'w19.zstdio' },
        time: Date.now()
      }, privateKey!)
      const data = encodeConsensusMessage({ attestation: envelope })
      const before = now()
      await node!.publish('consensus', data)
      return { type: 'attest', job: req.job, before, after: now() }
    }
    case 'collect': {
      loop.disable()
      const ms = (ns: number): number => ns / 1e6
      return {
        type: 'collect',
        verdicts: [...verdicts.values()],
        attestations,
        validations,
        assignments,
        loopDelay: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) }
      }
    }
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
