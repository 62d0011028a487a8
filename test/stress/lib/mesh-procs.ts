/**
 * A mesh of `skyline node` processes on 127.0.0.1 for the stress tests, with a bare seeder peer that
 * announces (signed by the test's announcer) and serves the SRPMs, and helpers to read what every node
 * holds. test/stress/crash.test.ts and adversaries.test.ts build on it.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { NodeProc, waitUntil, verdictSummary } from '../../helpers/stress.ts'
import type { TestAnnouncer } from '../../helpers/announce.ts'
import { startRawPeer, type RawPeer } from './raw-peer.ts'
import { manifestFor } from '../../../src/services/blob/index.ts'
import { createAnnouncement } from '../../../src/protocols/announce.ts'
import { assignBuilders } from '../../../src/rules/assignment.ts'
import { jobKey } from '../../../src/rules/job.ts'
import { stringifyTopic } from '../../../src/protocols/ids.ts'
import { candidateCount } from '../../../src/rules/assignment.ts'

export const TARGET = 'fedora-41-x86_64'

export interface ProcMesh {
  builders: NodeProc[]
  /** builders, then tally-only nodes */
  nodes: NodeProc[]
  seeder: RawPeer
  nameOf: (peer: string) => string
  /** announces an SRPM with a beacon whose builders pass `want`; returns the job, its builders and the envelope */
  announce: (srpm: { path: string, nevra: string }, opts?: { want?: (assigned: string[]) => boolean, chunkSize?: number, delayMs?: number, validityMs?: number, replicas?: number, quorum?: number }) => Promise<{ job: string, assigned: string[], sha256: string, envelope: Uint8Array }>
  /** waits until every node holds exactly `attesters`' attestations for the job and the given verdict; returns the common verdict summary */
  converged: (job: string, attesters: string[], verdict: string, final: boolean, timeoutMs?: number) => Promise<string>
}

export async function startProcMesh (opts: { dir: string, builders: number, tallies?: number, keyring: string, announcer: TestAnnouncer, replicas: number, quorum: number }): Promise<ProcMesh> {
  const pub = join(opts.dir, 'announcer.pub')
  writeFileSync(pub, opts.announcer.line + '\n')
  const common = { listen: '/ip4/127.0.0.1/tcp/0', http: '127.0.0.1:0', keyring: opts.keyring, announcer: pub }
  const builders = Array.from({ length: opts.builders }, (_, i) => new NodeProc({ name: `n${i}`, dir: join(opts.dir, `n${i}`), builder: 'rpmbuild', ...common }))
  const tallies = Array.from({ length: opts.tallies ?? 0 }, (_, i) => new NodeProc({ name: `t${i}`, dir: join(opts.dir, `t${i}`), builder: 'none', ...common }))
  const nodes = [...builders, ...tallies]
  mkdirSync(opts.dir, { recursive: true })
  await builders[0].start()
  for (const n of nodes.slice(1)) n.opts.bootstrap = [builders[0].address]
  await Promise.all(nodes.slice(1).map(async n => n.start()))
  await waitUntil('every node connected to every other', async () => {
    const ss = await Promise.all(nodes.map(async n => n.tryStatus()))
    return ss.every(s => s !== undefined && s.connectedPeers >= nodes.length - 1 && s.dht.routingTableSize >= nodes.length - 1)
  }, 120_000, 500)
  const seeder = await startRawPeer()
  await seeder.dial(nodes.map(n => n.address))
  await waitUntil('the seeder to see every node on the announce topic', () => seeder.node.services.pubsub.getSubscribers(stringifyTopic('announce')).length >= nodes.length, 30_000, 100)
  const nameOf = (peer: string): string => nodes.find(n => n.peerId === peer)?.name ?? peer.slice(-6)

  const announce: ProcMesh['announce'] = async (srpm, o = {}) => {
    const data = readFileSync(srpm.path)
    const m = await manifestFor(data, o.chunkSize ?? 16 * 1024)
    const sha = Buffer.from(m.sha256, 'hex')
    const peers = builders.map(b => peerIdFromString(b.peerId))
    const r = o.replicas ?? opts.replicas
    for (let tries = 0; tries < 10_000; tries++) {
      const beacon = randomBytes(32)
      const key = jobKey(sha, TARGET, beacon)
      const assigned = assignBuilders(key, peers, r).map(String)
      if (o.want !== undefined && !o.want(assigned)) continue
      seeder.serve(m, data, o.delayMs ?? 0)
      const envelope = createAnnouncement({
        nevra: srpm.nevra, srpmSha256: sha, srpmSize: m.size, target: TARGET, replicas: r, quorum: o.quorum ?? opts.quorum,
        chunkSize: m.chunkSize, chunkRoot: Buffer.from(m.root, 'hex'), beacon, validityMs: o.validityMs,
        candidates: assignBuilders(key, peers, candidateCount(r)),
        provider: { peer: seeder.node.peerId, addrs: seeder.node.getMultiaddrs() }
      }, opts.announcer.key)
      await seeder.node.services.pubsub.publish(stringifyTopic('announce'), envelope)
      return { job: Buffer.from(key).toString('hex'), assigned, sha256: m.sha256, envelope }
    }
    throw new Error('no beacon found')
  }

  const converged: ProcMesh['converged'] = async (job, attesters, verdict, final, timeoutMs = 240_000) => {
    const want = [...attesters].sort().join()
    await waitUntil(`every node to hold ${attesters.length} attestations and a${final ? ' final' : 'n'} ${verdict} verdict for job ${job.slice(0, 12)}`, () => nodes.every(n => {
      const s = n.store({ integrity: false })
      const v = s.verdicts.find(x => x.job === job)
      return s.attestations.filter(a => a.job === job).map(a => a.builder).join() === want && v?.verdict === verdict && v.final === final
    }), timeoutMs, 500, () => nodes.map(n => {
      const s = n.store({ integrity: false })
      return `${n.name}: ${s.attestations.filter(a => a.job === job).map(a => nameOf(a.builder)).join('+') || '-'} ${s.verdicts.find(x => x.job === job)?.verdict ?? '-'}`
    }).join('; '))
    const summaries = nodes.map(n => {
      const s = n.store()
      if (s.integrity !== 'ok') throw new Error(`${n.name}: store integrity ${s.integrity}`)
      const mine = s.attestations.filter(a => a.job === job)
      if (mine.length !== new Set(mine.map(a => a.builder)).size) throw new Error(`${n.name}: two attestations by one builder`)
      if (new Set(mine.filter(a => a.status === 'ok').map(a => a.buildHash)).size > 1) throw new Error(`${n.name}: build hashes differ`)
      return verdictSummary(s.verdicts.find(v => v.job === job))
    })
    if (new Set(summaries).size !== 1) throw new Error(`verdicts differ: ${summaries.join(' | ')}`)
    return summaries[0]
  }

  return { builders, nodes, seeder, nameOf, announce, converged }
}

/** The gossip validation counters of a node's /metrics, by `topic:result:reason` */
export async function validationCounts (n: NodeProc): Promise<Map<string, number>> {
  const r = await n.get('/metrics', 10_000)
  const out = new Map<string, number>()
  for (const m of r.body.matchAll(/^skyline_gossip_validation_total\{topic_result_reason="([^"]+)"\} (\d+)/gm)) out.set(m[1], Number(m[2]))
  return out
}

/** The sum of counters matching `filter` */
export function total (counts: Map<string, number>, filter: (key: string) => boolean = () => true): number {
  let sum = 0
  for (const [k, v] of counts) if (filter(k)) sum += v
  return sum
}
