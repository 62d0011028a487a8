/** Defaults for a volunteer's node. Each is overridable from the config file or the command line. */
import { PROTOCOLS } from '../protocols/ids.ts'

/** @default '127.0.0.1:7771' — the local HTTP server (status, metrics, dashboard) */
export const DEFAULT_HTTP = '127.0.0.1:7771'

/** @default ['/ip4/0.0.0.0/tcp/7770'] — where the node listens for peers */
export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/7770']

/** Kademlia protocol prefix: Skyline's DHT is its own, separate from the public IPFS DHT */
export const DHT_PROTOCOL = PROTOCOLS.dht

/**
 * @default 40 — connection cap, the same whatever the mesh's size. What a node's protocols ask for: kad-dht
 * keeps its 20 closest peers connected, the peers that hold it among their 20 closest keep connecting to it,
 * and gossipsub's meshes (D 4, Dhi 6 per topic) are drawn from those connections; measured at 60 nodes, the
 * union of the three was 17-24 connections per node (median), at most 34-36 (bench/scale-sim.ts). 40 holds
 * that with room (trimming stops at 32, above the usual need, so kept-alive peers are rarely closed and
 * redialled). At 100 a 50-node mesh became nearly a full mesh, and a node's gossip copies, flood publishing
 * and liveness pings grew with it (docs/bench.md, "Idle CPU per node and the mesh size").
 */
export const DEFAULT_MAX_CONNECTIONS = 40

/**
 * @default 5 — inbound connections per second per host before libp2p rate-limits; a local mesh of many
 * nodes on 127.0.0.1 needs more (scripts/ and tests raise it)
 */
export const DEFAULT_INBOUND_CONNECTION_THRESHOLD = 5

/** File in the data directory holding the node's libp2p private key (protobuf, mode 0600) */
export const IDENTITY_FILE = 'identity.key'

/** Config file looked up in the data directory when --config is not given */
export const CONFIG_FILE = 'config.json'
