/**
 * Kademlia's routing table without a dial per peer it hears of. kad-dht adds every peer named in every
 * FIND_NODE answer to its routing table, and first checks that it is alive by pinging it: a ping to a peer
 * the node holds no connection to is a dial (TCP, a Noise handshake at both ends, identify, kad-dht's and
 * gossipsub's streams), so a newcomer's self-query, whose answers name 20 peers each, dialled nearly every
 * peer it heard of (the routing table holds up to 2^6 × 20 peers: all of a 1,000-node mesh), and the
 * connection trimmer then closed most of those connections again (docs/bench.md, "The CPU of a join").
 *
 * kad-dht's check goes through its `ping` component; this gives kad-dht a check of its own:
 * - a peer the node is connected to is alive: the connection answered lately, and the liveness service
 *   closes one that stops answering (src/services/liveness.ts), so no ping stream is opened either;
 * - a peer the node was connected to before (identify recorded it speaks the DHT protocol) but is not now
 *   gets kad-dht's real ping, a dial: an old contact in a full bucket keeps its place if it answers, as
 *   Kademlia prefers;
 * - a peer only named in an answer (a stranger) is dialled and pinged, as kad-dht does, only while the routing
 *   table holds fewer than k (20) peers, what a node's own lookups need; past that it enters the routing table
 *   when the node queries it (a query connects) or it connects to the node. A small mesh thus still fills
 *   every routing table, and a newcomer to a large one dials about k strangers, not hundreds.
 * libp2p's own ping service is unchanged.
 */
import { isPeerId, type AbortOptions, type PeerId, type PeerStore } from '@libp2p/interface'
import type { SingleKadDHT } from '@libp2p/kad-dht'
import type { Ping } from '@libp2p/ping'
import type { Multiaddr } from '@multiformats/multiaddr'

/** @default 20 (kad-dht's k): below this many routing table entries, a stranger is dialled to be checked */
export const STRANGER_CHECKS_BELOW = 20

export interface KadContactCheckInit {
  /** the DHT's protocol: a peer identify saw speak it was a contact before */
  protocol: string
  /** the routing table's current size */
  tableSize: () => number
  /** @default STRANGER_CHECKS_BELOW (Infinity: every stranger is dialled, as kad-dht does) */
  strangerChecksBelow?: number
}

export interface KadContactCheckComponents {
  connectionManager: { getConnections: (peer?: PeerId) => unknown[] }
  peerStore: Pick<PeerStore, 'get'>
  ping: Pick<Ping, 'ping'>
}

/** What kad-dht calls to check a contact before adding it to (or keeping it in) its routing table */
export class KadContactCheck implements Pick<Ping, 'ping'> {
  private readonly components: KadContactCheckComponents
  private readonly protocol: string
  private readonly tableSize: () => number
  private readonly strangerChecksBelow: number

  constructor (components: KadContactCheckComponents, init: KadContactCheckInit) {
    this.components = components
    this.protocol = init.protocol
    this.tableSize = init.tableSize
    this.strangerChecksBelow = init.strangerChecksBelow ?? STRANGER_CHECKS_BELOW
  }

  /**
   * 0 ms for a connected peer; a real ping for a known DHT peer, and for a stranger while the table is small;
   * otherwise an error, without a dial
   */
  async ping (peer: PeerId | Multiaddr | Multiaddr[], options?: AbortOptions): Promise<number> {
    if (!isPeerId(peer)) return this.components.ping.ping(peer, options)
    if (this.components.connectionManager.getConnections(peer).length > 0) return 0
    if (this.tableSize() < this.strangerChecksBelow || await this.knownDhtPeer(peer)) return this.components.ping.ping(peer, options)
    throw new Error(`not dialling ${peer.toString()} to check it: not connected, never identified as a DHT peer, and the routing table holds ${this.tableSize()} peers`)
  }

  private async knownDhtPeer (peer: PeerId): Promise<boolean> {
    try {
      return (await this.components.peerStore.get(peer)).protocols.includes(this.protocol)
    } catch {
      return false
    }
  }
}

/**
 * kad-dht with its `ping` component replaced by a KadContactCheck: wrap kad-dht's factory with it
 * (`dht: withKadContactCheck(kadDHT({ ... }), { protocol })`)
 */
export function withKadContactCheck<C extends object, T> (factory: (components: C) => T, init: Omit<KadContactCheckInit, 'tableSize'>): (components: C) => T {
  return components => {
    // a single (not dual) kad-dht exposes its routing table (kad-dht's SingleKadDHT); checks run once it started
    const tableSize = (): number => (dht as Partial<SingleKadDHT>).routingTable?.size ?? 0
    const check = new KadContactCheck(components as unknown as KadContactCheckComponents, { ...init, tableSize })
    const dht = factory(new Proxy(components, { get: (target, key) => key === 'ping' ? check : Reflect.get(target, key) }))
    return dht
  }
}
