/**
 * What a node reports about itself: `GET /status`, `skyline status` and the dashboard read this
 * (docs/protocols/status.md describes the JSON). Built from the node's parts on each request.
 */
import type { SingleKadDHT } from '@libp2p/kad-dht'
import { TOPIC_NAMES, stringifyTopic } from '../protocols/ids.ts'
import { storedRetryLink } from '../protocols/announce.ts'
import type { SkylineLibp2p } from '../services/components.ts'
import type { Store } from '../store/store.ts'
import type { VerdictService } from '../services/verdicts.ts'
import type { JobProgress } from '../services/jobs.ts'
import type { HaltState } from '../services/control.ts'
import type { OfficialVerdict } from '../rules/official.ts'
import type { EligibilityReport } from '../services/eligibility.ts'
import type { PackageCacheStats } from '../services/buildroot/package-cache.ts'

export interface NodeStatus {
  peerId: string
  version: string
  uptimeSeconds: number
  /** MB */
  memory: { rss: number, heapUsed: number, external: number }
  dataDir: string
  listenAddresses: string[]
  connections: Array<{ peerId: string, address: string, direction: string }>
  connectedPeers: number
  dht: { mode: string, routingTableSize: number, protocol: string }
  topics: Record<string, { meshPeers: string[], subscribers: number }>
  builder: { kind: string | null, note: string | null, warnings: string[] }
  halted: HaltState | null
  throttle: { throttled: boolean, disputedShare: number, window: { size: number, disputed: number, ms: number } }
  alerts: Array<{ kind: string, message: string, at: number }>
  reputation: { agree: number, dissent: number, flagged: boolean }
  /** `retryOf` and `attempt`: a re-announcement of a blocked job (announce.md, "Re-announcement") */
  verdicts: Array<{ job: string, nevra: string | null, retryOf?: string, attempt?: number, verdict: string, hash?: string, agreeing: string[], dissenters: string[], failedBuilders: string[], equivocators: string[], final: boolean, official?: OfficialVerdict }>
  /** rules v2: the latest 50 jobs whose stage 1 escalated, and how they ended */
  escalations: Array<{ job: string, nevra: string | null, verdict: string, hash?: string, final: boolean, dissenters: string[], updatedAt: number }>
  /** rules v2: the policy in force, this node's standing (eligible or on probation), ejected builders, omissions found */
  eligibility: EligibilityReport
  jobs: Array<{ job: string, nevra: string | null, state: string, error: string | null, updatedAt: number, progress?: { phase: string, done?: number, total?: number } }>
  /** buildroot package bytes since the node started: downloaded from mirrors, from peers, used from its cache; cached files refused */
  buildrootPackages: PackageCacheStats
}

/** The parts a status is read from */
export interface StatusSources {
  libp2p: SkylineLibp2p
  store: Store
  verdicts: VerdictService
  version: string
  dataDir: string
  dhtProtocol: string
  startedAt: number
  builder: NodeStatus['builder']
  halted: HaltState | undefined
  /** the latest progress of this node's unfinished jobs */
  progress: ReadonlyMap<string, JobProgress>
  buildrootPackages: PackageCacheStats
}

function memoryMb (): NodeStatus['memory'] {
  const m = process.memoryUsage()
  const mb = (n: number): number => Math.round(n / 1e5) / 10
  return { rss: mb(m.rss), heapUsed: mb(m.heapUsed), external: mb(m.external) }
}

/** The last 50 verdicts and 200 jobs this node holds, with its mesh, DHT and topic view */
export function nodeStatus (s: StatusSources): NodeStatus {
  const lp = s.libp2p
  const pubsub = lp.services.pubsub as unknown as { getMeshPeers?: (topic: string) => unknown[] }
  const topics: NodeStatus['topics'] = {}
  for (const name of TOPIC_NAMES) {
    const t = stringifyTopic(name)
    topics[t] = {
      meshPeers: (pubsub.getMeshPeers?.(t) ?? []).map(String),
      subscribers: lp.services.pubsub.getSubscribers(t).length
    }
  }
  const nevra = (job: string): string | null => s.store.announcementForJob(job)?.nevra ?? null
  const retry = (job: string): { retryOf?: string, attempt?: number } => {
    const envelope = s.store.announcementForJob(job)?.envelope
    const link = envelope === undefined ? undefined : storedRetryLink(envelope)
    return link === undefined ? {} : { retryOf: link.of, attempt: link.attempt }
  }
  return {
    peerId: lp.peerId.toString(),
    version: s.version,
    uptimeSeconds: Math.round((Date.now() - s.startedAt) / 1000),
    memory: memoryMb(),
    dataDir: s.dataDir,
    listenAddresses: lp.getMultiaddrs().map(String),
    connections: lp.getConnections().map(c => ({ peerId: c.remotePeer.toString(), address: c.remoteAddr.toString(), direction: c.direction })),
    connectedPeers: lp.getPeers().length,
    dht: { mode: lp.services.dht.getMode(), routingTableSize: (lp.services.dht as SingleKadDHT).routingTable.size, protocol: s.dhtProtocol },
    topics,
    builder: s.builder,
    halted: s.halted ?? null,
    throttle: s.verdicts.throttleState(),
    alerts: s.verdicts.alerts,
    reputation: s.verdicts.standing(lp.peerId.toString()),
    verdicts: s.store.verdicts().slice(-50).map(v => ({ job: v.job, nevra: nevra(v.job), ...retry(v.job), ...JSON.parse(v.detail) })),
    escalations: escalations(s.store, nevra),
    eligibility: s.verdicts.eligibility.report(lp.peerId.toString(), new Set(s.verdicts.ejectedBuilders()), Date.now()),
    buildrootPackages: { ...s.buildrootPackages },
    jobs: s.store.jobs().slice(-200).map(j => {
      const p = s.progress.get(j.job)
      const active = p !== undefined && (j.state === 'fetching' || j.state === 'building')
      return {
        job: j.job,
        nevra: nevra(j.job),
        state: j.state,
        error: j.error ?? null,
        updatedAt: j.updatedAt,
        ...(active ? { progress: { phase: p.phase, ...(p.total !== undefined ? { done: p.done, total: p.total } : {}) } } : {})
      }
    })
  }
}

/** The latest 50 escalated rules-v2 jobs (stage 1 not unanimous), with how they ended */
function escalations (store: Store, nevra: (job: string) => string | null): NodeStatus['escalations'] {
  const out: NodeStatus['escalations'] = []
  for (const v of store.verdicts()) {
    const d = JSON.parse(v.detail)
    if (d.escalated === true) out.push({ job: v.job, nevra: nevra(v.job), verdict: v.verdict, ...(v.hash !== undefined ? { hash: v.hash } : {}), final: v.final, dissenters: d.dissenters ?? [], updatedAt: v.updatedAt })
  }
  return out.slice(-50)
}
