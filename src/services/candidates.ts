/**
 * Finding a job's candidate builders in the mesh, done once by the seeder before it signs the
 * announcement: the peers a DHT closest-peers lookup for the job key returns or hears named, merged with the peers the
 * seeder knows (rules v2: the lookup only when those fall short); eligible are those that advertise the builder protocol (learned through identify) —
 * relay-only nodes, seeders and watchers do not. The announcement lists them; the pure rule
 * (jobBuilders) then picks the r closest, the same on every node.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { PeerId, AbortOptions, Logger } from '@libp2p/interface'
import type { SkylineLibp2p } from './components.ts'
import { jobKadId } from '../rules/assignment.ts'
import { sortByDistance } from '../rules/distance.ts'
import { rankBySaltedPosition } from '../rules/position.ts'
import { PROTOCOLS } from '../protocols/ids.ts'

/** Registered by nodes that can build; its handler answers with the node's build capabilities */
export const BUILDER_PROTOCOL = PROTOCOLS.builder

/** @default 10 s for the closest-peers lookup */
export const LOOKUP_TIMEOUT_MS = 10_000
/** @default 3 s to reach a candidate and learn its protocols */
export const IDENTIFY_TIMEOUT_MS = 3_000

export interface FindCandidatesOptions extends AbortOptions {
  /** how many eligible peers to return (candidateCount(r) for an announcement) */
  count: number
  /** whether this node itself can build (a seeder in the mesh may) */
  selfEligible: boolean
  /** peer IDs never listed: builders this node knows are banned for equivocation (they could never take a seat) */
  excluded?: ReadonlySet<string>
  /**
   * rules v2: the announcement's beacon. Candidates are then ranked by salted per-job position over every
   * builder this node finds (its whole routing table, not only the part near the job's point)
   */
  beacon?: Uint8Array
  /**
   * rules v2 with a policy K > 0: whether a builder is eligible by this node's log. The `count` best-ranked
   * eligible builders are listed, and up to `probation` best-ranked ones that are not (probation seats)
   */
  isEligible?: (peer: string) => boolean
  probation?: number
  log?: Logger
}

/**
 * The `count` eligible peers closest to the job, closest first, as this node finds them: the peers it
 * knows (connected, and its routing table's closest to the job) merged with a DHT closest-peers lookup
 * for the job key. Only peers reachable now count: those not connected are dialled (and identified
 * when their protocols are unknown). A seeder runs this once
 * before it signs an announcement, which lists the result as the job's candidates: every other node
 * then ranks that signed list and needs no network to know a job's builders.
 *
 * Rules v2 (`beacon`) ranks by salted position, in which the peers near the job's point rank no better
 * than any other: there the lookup only widens the pool, and it is skipped when the peers this node knows
 * already fill the list (`count` eligible, and `probation` trial seats).
 */
export async function findCandidates (libp2p: SkylineLibp2p, jobKey: Uint8Array, opts: FindCandidatesOptions): Promise<PeerId[]> {
  const candidates = knownPeers(libp2p, jobKey, opts)
  const reachable = new Map<string, Promise<boolean>>()
  if (opts.beacon !== undefined) {
    const local = await pick(libp2p, candidates, jobKey, opts, reachable)
    if (local.chosen.length >= opts.count && local.trial.length >= local.probation) return [...local.chosen, ...local.trial]
  }
  const signal = AbortSignal.any([AbortSignal.timeout(LOOKUP_TIMEOUT_MS), ...(opts.signal != null ? [opts.signal] : [])])
  try {
    for await (const evt of libp2p.services.dht.getClosestPeers(jobKey, { signal })) {
      if (evt.name === 'FINAL_PEER') candidates.set(evt.peer.id.toString(), evt.peer.id)
      // and every peer a responder named: kad-dht's lookup ends once no named peer is closer than the
      // closest it has queried, so a builder named but never queried is no final peer; pick() reaches and
      // identifies it before it is listed, closest first, like any other candidate
      if (evt.name === 'PEER_RESPONSE') for (const p of evt.closer) candidates.set(p.id.toString(), p.id)
    }
  } catch (err: any) {
    opts.signal?.throwIfAborted()
    opts.log?.('closest-peers lookup ended early: %e', err)
  }
  const found = await pick(libp2p, candidates, jobKey, opts, reachable)
  return [...found.chosen, ...found.trial]
}

/** This node itself when it may build, the peers it is connected to, and its routing table's closest to the job (all of it for rules v2) */
function knownPeers (libp2p: SkylineLibp2p, jobKey: Uint8Array, opts: FindCandidatesOptions): Map<string, PeerId> {
  const candidates = new Map<string, PeerId>()
  if (opts.selfEligible) candidates.set(libp2p.peerId.toString(), libp2p.peerId)
  for (const p of libp2p.getPeers()) candidates.set(p.toString(), p)
  const table = (libp2p.services.dht as unknown as { routingTable?: ListableRoutingTable }).routingTable
  const fromTable = opts.beacon !== undefined ? WHOLE_TABLE : 20
  for (const p of table?.closestPeers?.(jobKadId(jobKey), { count: fromTable }) ?? []) candidates.set(p.toString(), p)
  return candidates
}

/** @default 5120 peers: all of a routing table (256 buckets of 20) for rules v2's salted ranking */
const WHOLE_TABLE = 256 * 20

/** kad-dht's routing table class can list its closest peers; its exported interface only declares size */
interface ListableRoutingTable {
  closestPeers?: (kadId: Uint8Array, options?: { count?: number }) => PeerId[]
}

/**
 * The `count` best-ranked eligible candidates (Ed25519 peers that advertise the builder protocol and are not
 * excluded). They are
 * judged closest first, several at a time in parallel, so unreachable ones cost one timeout per round,
 * not one each.
 */
async function pick (libp2p: SkylineLibp2p, candidates: Map<string, PeerId>, jobKey: Uint8Array, opts: FindCandidatesOptions, reachable: Map<string, Promise<boolean>>): Promise<Picked> {
  const sorted = opts.beacon !== undefined
    ? rankBySaltedPosition(jobKey, opts.beacon, candidates.values())
    : sortByDistance(jobKadId(jobKey), candidates.values())
  const chosen: PeerId[] = []
  const trial: PeerId[] = []
  const probation = opts.isEligible !== undefined ? opts.probation ?? 0 : 0
  const batchSize = Math.max(4, Math.min(opts.count, 16))
  for (let i = 0; i < sorted.length && (chosen.length < opts.count || trial.length < probation); i += batchSize) {
    const batch = sorted.slice(i, i + batchSize)
    const listable = await Promise.all(batch.map(async p => listableOnce(libp2p, p, opts, reachable)))
    batch.forEach((p, j) => {
      if (!listable[j]) return
      if (opts.isEligible?.(p.toString()) ?? true) {
        if (chosen.length < opts.count) chosen.push(p)
      } else if (trial.length < probation) {
        trial.push(p)
      }
    })
  }
  return { chosen, trial, probation }
}

/** What one pick found: the eligible candidates, the trial (probation) ones, and how many trial seats were wanted */
interface Picked {
  chosen: PeerId[]
  trial: PeerId[]
  probation: number
}

/** isListable, judged once per findCandidates call: a second pick after the lookup dials nobody again */
async function listableOnce (libp2p: SkylineLibp2p, peer: PeerId, opts: FindCandidatesOptions, judged: Map<string, Promise<boolean>>): Promise<boolean> {
  let verdict = judged.get(peer.toString())
  if (verdict === undefined) {
    verdict = isListable(libp2p, peer, opts)
    judged.set(peer.toString(), verdict)
  }
  return verdict
}

async function isListable (libp2p: SkylineLibp2p, peer: PeerId, opts: FindCandidatesOptions): Promise<boolean> {
  if (peer.type !== 'Ed25519' || opts.excluded?.has(peer.toString()) === true) return false
  if (peer.equals(libp2p.peerId)) return opts.selfEligible
  const known = await protocolsOf(libp2p, peer)
  if (known !== undefined && !known.includes(BUILDER_PROTOCOL)) return false
  // a candidate must be reachable now (a listed peer that is gone, or across a partition, wastes a seat):
  // connected already, or dialled; identify runs on a new connection
  if (known !== undefined && libp2p.getConnections(peer).length > 0) return true
  const signal = AbortSignal.any([AbortSignal.timeout(IDENTIFY_TIMEOUT_MS), ...(opts.signal != null ? [opts.signal] : [])])
  for (let attempt = 1; ; attempt++) {
    try {
      const conn = await libp2p.dial(peer, { signal })
      if (known === undefined) await libp2p.services.identify.identify(conn, { signal })
      break
    } catch (err: any) {
      opts.signal?.throwIfAborted()
      // a dial that failed before the deadline (one shared with a lookup that gave up on it, a connection
      // that closed under it) is tried once more within the same deadline: a loaded peer is not a gone one
      if (attempt < DIAL_ATTEMPTS && !signal.aborted) {
        await sleep(RETRY_AFTER_MS, undefined, { signal }).catch(() => {})
        if (!signal.aborted) continue
      }
      opts.log?.('candidate %p unreachable: %e', peer, err)
      return false
    }
  }
  return (await protocolsOf(libp2p, peer))?.includes(BUILDER_PROTOCOL) ?? false
}

/** @default 2: a candidate's dial and identify are tried this many times within IDENTIFY_TIMEOUT_MS */
const DIAL_ATTEMPTS = 2
/** @default 250 ms between a failed attempt and the next */
const RETRY_AFTER_MS = 250

async function protocolsOf (libp2p: SkylineLibp2p, peer: PeerId): Promise<string[] | undefined> {
  try {
    const p = await libp2p.peerStore.get(peer)
    return p.protocols.length > 0 ? p.protocols : undefined
  } catch {
    return undefined
  }
}
