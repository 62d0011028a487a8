/**
 * The mesh-level assignment decision: candidates are the peers a DHT closest-peers lookup for the job key
 * returns, merged with the peers this node is connected to; eligible are those that advertise the
 * builder protocol (learned through identify) — relay-only nodes, seeders and watchers do not. The pure
 * rule (assignBuilders) then picks the r closest. In a converged mesh every node computes the same set.
 */
import type { PeerId, AbortOptions, Logger } from '@libp2p/interface'
import type { SkylineLibp2p } from '../node/libp2p.ts'
import { jobKadId } from './assignment.ts'
import { sortByDistance } from './distance.ts'

/** Registered by nodes that can build; its handler answers with the node's build capabilities */
export const BUILDER_PROTOCOL = '/skyline/builder/1.0.0'

/** @default 10 s for the closest-peers lookup */
export const LOOKUP_TIMEOUT_MS = 10_000
/** @default 3 s to learn an unknown candidate's protocols */
export const IDENTIFY_TIMEOUT_MS = 3_000

export interface MeshAssignmentOptions extends AbortOptions {
  replicas: number
  /** whether this node itself can build */
  selfEligible: boolean
  /**
   * 'auto' (default): ask the DHT only when this node might be a builder; 'always': always ask;
   * 'never': only what this node knows, no network at all (the tally and attestation checks)
   */
  lookup?: 'auto' | 'always' | 'never'
  /** more candidates, e.g. builders that attested (their eligibility is checked like any other's) */
  extra?: PeerId[]
  /** candidates taken as eligible without asking: builders that signed an attestation for the job */
  attesters?: PeerId[]
  log?: Logger
}

/** kad-dht's routing table class can list its closest peers; its exported interface only declares size */
interface ListableRoutingTable {
  size?: number
  closestPeers?: (kadId: Uint8Array, options?: { count?: number }) => PeerId[]
  addEventListener?: (type: 'peer:add' | 'peer:remove', listener: () => void) => void
}

/** @default 20 (kad-dht's k): a settled routing table smaller than this holds every peer the node heard of */
export const WHOLE_MESH_BELOW = 20
/** @default 10 s without a routing-table change before the table counts as settled */
export const SETTLED_AFTER_MS = 10_000

const tableChanges = new WeakMap<object, { last: number }>()

/** Starts watching a node's routing table for changes (called when the node starts) */
export function trackRoutingTable (libp2p: SkylineLibp2p): void {
  wholeMeshKnown(libp2p)
}

function wholeMeshKnown (libp2p: SkylineLibp2p): boolean {
  const table = (libp2p.services.dht as unknown as { routingTable?: ListableRoutingTable }).routingTable
  if (table?.size === undefined || table.addEventListener === undefined) return false
  let changes = tableChanges.get(table)
  if (changes === undefined) {
    // first call: nothing is known of the table's history, so it counts as just changed
    const c = { last: Date.now() }
    changes = c
    tableChanges.set(table, c)
    table.addEventListener('peer:add', () => { c.last = Date.now() })
    table.addEventListener('peer:remove', () => { c.last = Date.now() })
  }
  return table.size < WHOLE_MESH_BELOW && Date.now() - changes.last >= SETTLED_AFTER_MS
}

/**
 * The r eligible peers closest to the job, closest first, as this node sees the mesh.
 *
 * Most nodes need no network for this: the peers it already knows (connected, and its routing table's
 * closest to the job) are ranked first; when at least r of them are eligible and closer to the job than
 * this node, this node cannot be among the builders (more peers only push it further away), and that
 * local answer is final for its build decision; a node that cannot build decides nothing and never
 * looks further either. Only a node that might be a builder asks the DHT.
 * (`lookup: 'always'` forces the DHT lookup.)
 */
export async function assignInMesh (libp2p: SkylineLibp2p, jobKey: Uint8Array, opts: MeshAssignmentOptions): Promise<PeerId[]> {
  const candidates = new Map<string, PeerId>()
  candidates.set(libp2p.peerId.toString(), libp2p.peerId)
  for (const p of libp2p.getPeers()) candidates.set(p.toString(), p)
  const table = (libp2p.services.dht as unknown as { routingTable?: ListableRoutingTable }).routingTable
  for (const p of table?.closestPeers?.(jobKadId(jobKey), { count: 20 }) ?? []) candidates.set(p.toString(), p)
  for (const p of [...(opts.extra ?? []), ...(opts.attesters ?? [])]) candidates.set(p.toString(), p)

  if (opts.lookup !== 'always') {
    const local = await pick(libp2p, candidates, jobKey, opts, false)
    if (opts.lookup === 'never') return local
    // a node that cannot build is never a builder: what it knows locally is its answer
    if (!opts.selfEligible || (local.length >= opts.replicas && !local.some(p => p.equals(libp2p.peerId)))) return local
    // a settled routing table with fewer peers than a k-bucket holds every peer the node heard of: the
    // whole mesh is known and a lookup would tell nothing new (not while the table is still filling,
    // as it does for a while after the node or a peer starts)
    if (wholeMeshKnown(libp2p)) return pick(libp2p, candidates, jobKey, opts, true)
  }
  const signal = AbortSignal.any([AbortSignal.timeout(LOOKUP_TIMEOUT_MS), ...(opts.signal != null ? [opts.signal] : [])])
  try {
    for await (const evt of libp2p.services.dht.getClosestPeers(jobKey, { signal })) {
      if (evt.name === 'FINAL_PEER') candidates.set(evt.peer.id.toString(), evt.peer.id)
    }
  } catch (err: any) {
    opts.signal?.throwIfAborted()
    opts.log?.('closest-peers lookup ended early: %e', err)
  }
  return pick(libp2p, candidates, jobKey, opts, true)
}

/**
 * The r closest eligible candidates; `identify` decides whether peers of unknown protocols are asked.
 * Candidates are judged closest first, r at a time in parallel, so unreachable ones cost one timeout
 * per round, not one each.
 */
async function pick (libp2p: SkylineLibp2p, candidates: Map<string, PeerId>, jobKey: Uint8Array, opts: MeshAssignmentOptions, identify: boolean): Promise<PeerId[]> {
  const sorted = sortByDistance(jobKadId(jobKey), candidates.values())
  const attesters = new Set((opts.attesters ?? []).map(String))
  const chosen: PeerId[] = []
  for (let i = 0; i < sorted.length && chosen.length < opts.replicas; i += opts.replicas) {
    const batch = sorted.slice(i, i + opts.replicas)
    const eligible = await Promise.all(batch.map(async p => attesters.has(p.toString()) || isEligible(libp2p, p, opts, identify)))
    batch.forEach((p, j) => { if (eligible[j] && chosen.length < opts.replicas) chosen.push(p) })
  }
  return chosen
}

async function isEligible (libp2p: SkylineLibp2p, peer: PeerId, opts: MeshAssignmentOptions, identify: boolean): Promise<boolean> {
  if (peer.equals(libp2p.peerId)) return opts.selfEligible
  const known = await protocolsOf(libp2p, peer)
  if (known !== undefined) return known.includes(BUILDER_PROTOCOL)
  if (!identify) return false
  // not identified yet: connect, and identify runs
  try {
    const signal = AbortSignal.any([AbortSignal.timeout(IDENTIFY_TIMEOUT_MS), ...(opts.signal != null ? [opts.signal] : [])])
    const conn = await libp2p.dial(peer, { signal })
    await libp2p.services.identify.identify(conn, { signal })
  } catch (err: any) {
    opts.signal?.throwIfAborted()
    opts.log?.('candidate %p unreachable: %e', peer, err)
    return false
  }
  return (await protocolsOf(libp2p, peer))?.includes(BUILDER_PROTOCOL) ?? false
}

async function protocolsOf (libp2p: SkylineLibp2p, peer: PeerId): Promise<string[] | undefined> {
  try {
    const p = await libp2p.peerStore.get(peer)
    return p.protocols.length > 0 ? p.protocols : undefined
  } catch {
    return undefined
  }
}
