/** Defaults for a volunteer's node. Each is overridable from the config file or the command line. */
import { PROTOCOLS } from '../protocols/ids.ts'

/** @default '127.0.0.1:7771' — the local HTTP server (status, metrics, dashboard) */
export const DEFAULT_HTTP = '127.0.0.1:7771'

/** @default ['/ip4/0.0.0.0/tcp/7770'] — where the node listens for peers */
export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/7770']

/** Kademlia protocol prefix: Skyline's DHT is its own, separate from the public IPFS DHT */
export const DHT_PROTOCOL = PROTOCOLS.dht

/** @default 100 — connection cap; a volunteer's node stays small */
export const DEFAULT_MAX_CONNECTIONS = 100

/**
 * @default 5 — inbound connections per second per host before libp2p rate-limits; a local mesh of many
 * nodes on 127.0.0.1 needs more (scripts/ and tests raise it)
 */
export const DEFAULT_INBOUND_CONNECTION_THRESHOLD = 5

/** File in the data directory holding the node's libp2p private key (protobuf, mode 0600) */
export const IDENTITY_FILE = 'identity.key'

/** Config file looked up in the data directory when --config is not given */
export const CONFIG_FILE = 'config.json'
