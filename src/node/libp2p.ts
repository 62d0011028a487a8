/**
 * The libp2p stack of a Skyline node: TCP, Noise, Yamux, identify, ping, Kademlia (Skyline's own
 * protocol, server mode) and gossipsub (no gossip-level signing: GOSSIP_SIGNATURE_POLICY), plus bootstrap dialing and Prometheus metrics.
 */
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
// window updates at half the window, not after every frame (yamux-window.ts)
import './yamux-window.ts'
// Noise's reads learn "no whole frame left" without a new RangeError each (short-reads.ts)
import './short-reads.ts'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { gossipsub, type Message } from '@libp2p/gossipsub'
import type { RPC } from '@libp2p/gossipsub/message'
import { createTopicScoreParams, type PeerScoreParams, type TopicScoreParams } from '@libp2p/gossipsub/score'
import { createHash } from 'node:crypto'
import { bootstrap } from '@libp2p/bootstrap'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { isPrivate } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { PrivateKey } from '@libp2p/interface'
import { Registry } from 'prom-client'
import { DHT_PROTOCOL } from './constants.ts'
import { coalescedWrites } from './write-coalescing.ts'
import { TOPIC_NAMES, stringifyTopic } from '../protocols/ids.ts'
import { blobService } from '../services/blob/index.ts'
import { connectionAdmission, connectionLimits } from '../services/connection-trim.ts'
import { gossipForward } from '../services/gossip-forward.ts'
import { withKadContactCheck } from '../services/kad-contacts.ts'
import { connectionLiveness } from '../services/liveness.ts'
import type { SkylineLibp2p } from '../services/components.ts'

export interface Libp2pOptions {
  privateKey: PrivateKey
  listen: Multiaddr[]
  announce?: Multiaddr[]
  bootstrap?: Multiaddr[]
  maxConnections: number
  inboundConnectionThreshold: number
  dhtClientMode?: boolean
  /** gossipsub's flood publishing of this node's own messages (default on; off: its topic mesh only, `skyline seed`) */
  floodPublish?: boolean
  /** Skyline's application-level peer score (gossipsub P5): the node's penalties and builder reputation */
  appSpecificScore?: (peer: string) => number
  /** a registry of its own per node, so several nodes can share one process */
  registry?: Registry
  /** the blob store's directory (default: a per-peer directory under the system temp dir) */
  blobDir?: string
  /** blob bytes served / fetched per second (0 or absent: no cap) */
  maxUpload?: number
  maxDownload?: number
}

/** @default 25 redials of a lost keep-alive peer (about 35 minutes with the backoff below) */
export const RECONNECT_RETRIES = 25
/** @default 2 s before the first redial */
export const RECONNECT_RETRY_INTERVAL_MS = 2_000
/** @default 1.25: each wait between redials is this much longer than the last */
export const RECONNECT_BACKOFF_FACTOR = 1.25
/** @default 20 (kad-dht's k): lost keep-alive peers redialled at once (each holds a slot while it retries) */
export const MAX_PARALLEL_RECONNECTS = 20

/**
 * Liveness: libp2p's connection monitor is off. It opened a stream per connection and ping (negotiation,
 * framing and a peer-store merge at both ends), most of an idle node's CPU and growing with its connections;
 * the liveness service pings with a Yamux PING frame instead, no stream, and closes a connection that does
 * not answer, so a silently dead connection (a partition) is still closed within a minute, which starts the
 * redials above (src/services/liveness.ts). Yamux's own keep-alive sends the same frame but never closes a
 * connection, so it is off: the liveness service sends them.
 */
const YAMUX_OPTIONS = { enableKeepAlive: false }

/**
 * Gossipsub's mesh and gossip degrees. Skyline's messages are few and small (an attestation is a few
 * hundred bytes), so what a message costs each node is the number of copies it receives: about one per
 * mesh peer. js-gossipsub's defaults (D 6, Dhi 12, IDONTWANT only above 512 bytes, IHAVE to 6 peers)
 * cost every node 40 copies of a job's 6 messages (~55 KB per node per job on a 20-node mesh); a mesh
 * of degree 3 to 6, IDONTWANT for every message worth suppressing, and IHAVE to 3 peers a heartbeat
 * cost about half (bench/control-bytes.ts).
 * A mesh of degree ≥ 3 stays connected under churn, IHAVE gossip repairs what the mesh misses, and sync
 * (src/services/sync.ts) repairs the rest; peer scoring, graylisting and the flood penalties are unchanged.
 */
export const GOSSIP_DEGREE = { D: 4, Dlo: 3, Dhi: 6, Dscore: 2, Dlazy: 3 }
/**
 * Heartbeats in which a message is advertised by IHAVE to peers outside the mesh. Flood publishing, the mesh
 * and IDONTWANT deliver every message in a healthy mesh (bench/control-bytes.ts: no IWANT at all), so
 * gossipsub's 3 had each node send each message id 9 times, 2.2 KB per node per job, for nothing; one
 * heartbeat's IHAVE still reaches a node that missed the message then, and sync repairs what gossip misses.
 *
 * @default 1
 */
export const GOSSIP_IHAVE_HEARTBEATS = 1
/**
 * The share of a topic's non-mesh peers sent IHAVE each heartbeat, when that is more than `Dlazy`.
 * js-gossipsub's 0.25 made it a quarter of them: with ~30 connections about 6 peers, not `Dlazy`'s 3, and
 * each IHAVE is a frame of its own to each. 0: exactly `Dlazy` peers, whatever the node's connections, so
 * IHAVE gossip stays flat in the mesh size (docs/bench.md).
 *
 * @default 0
 */
export const GOSSIP_IHAVE_FACTOR = 0
/** @default 128 bytes: smaller messages are cheaper to receive twice than to refuse with an IDONTWANT */
export const GOSSIP_IDONTWANT_MIN_BYTES = 128

/**
 * The resolution of prom-client's event-loop delay monitor (`nodejs_eventloop_lag_*`): its default of
 * 10 ms wakes the process 100 times a second, which was most of an idle node's CPU (0.45-0.48% of a core
 * for one idle node, 0.085-0.088% at 1 s: docs/bench.md). A daemon's lag is still visible at 1 s.
 *
 * @default 1_000
 */
export const EVENT_LOOP_MONITOR_MS = 1_000

/**
 * Gossipsub's signature policy. Every Skyline payload is signed by its author at the application layer
 * (announcer key: announcements, halts and resumes; builder key: attestations, commitments and reveals;
 * an equivocation proof carries two signed items), so messages carry no gossipsub author, sequence number,
 * signature or key, and a message that carries a signature, a sequence number or a key is refused (scored
 * as an invalid delivery of the peer that sent it). `StrictSign` signed and checked every message a second
 * time with the libp2p key: an Ed25519 verification of the first copy at every node and ~110 bytes per
 * message (docs/bench.md). A wire change: the topics' version says which (TOPIC_VERSION).
 */
export const GOSSIP_SIGNATURE_POLICY = 'StrictNoSign'

/** Largest gossip RPC frame accepted from a peer: the biggest topic payload plus framing and control. */
const MAX_GOSSIP_RPC = 256 * 1024

/**
 * Bytes of a gossip message id: the first 20 of the SHA-256, as Ethereum's consensus layer cuts its
 * gossipsub ids. IHAVE, IWANT and IDONTWANT carry one per message, so every id is 12 bytes less on the
 * wire and in each seen-cache; a second payload under an honest message's id is still a 2^160 search.
 */
export const GOSSIP_MESSAGE_ID_BYTES = 20

/** msg-id = the first 20 bytes of sha256(topic || 0x00 || data), identical on every Skyline node */
export function gossipMessageId (msg: Message): Uint8Array {
  return contentAddress(msg.topic, msg.data)
}

/** The first GOSSIP_MESSAGE_ID_BYTES of sha256(topic || 0x00 || data): the message id and the fast id alike */
function contentAddress (topic: string, data: Uint8Array): Buffer {
  return createHash('sha256').update(topic).update(ZERO).update(data).digest().subarray(0, GOSSIP_MESSAGE_ID_BYTES)
}

/**
 * The same content address, of a message as it arrives (gossipsub's `fastMsgIdFn`). Gossipsub checks the
 * envelope of every copy it receives (no signature, sequence number or key) before it computes the msg-id
 * and finds a duplicate. With a fast id a copy of a payload already accepted is a duplicate before any
 * check; the first copy is checked in full, and only a copy whose envelope passed is cached.
 */
export function gossipFastMessageId (msg: RPC.Message): string {
  return contentAddress(msg.topic, msg.data ?? EMPTY).toString('base64')
}
const EMPTY = new Uint8Array(0)
const ZERO = new Uint8Array(1)

/**
 * Peer scoring. Skyline's topics carry few messages, so mesh-delivery quotas (P3) are off; invalid
 * messages (P4) cost a lot: three rejected messages take a peer past the graylist threshold, and the
 * penalty decays with a half-life of about a minute. The application score (P5) carries Skyline's own
 * penalties (bad blob chunks, later dissent). On a LAN or loopback mesh every peer shares an address,
 * so IP colocation (P6) is not counted there.
 */
export function scoreParams (lan: boolean, appSpecificScore?: (peer: string) => number): Partial<PeerScoreParams> {
  const topics: Record<string, TopicScoreParams> = {}
  for (const name of TOPIC_NAMES) {
    topics[stringifyTopic(name)] = createTopicScoreParams({
      topicWeight: 1,
      timeInMeshWeight: 0.01,
      timeInMeshQuantum: 1000,
      timeInMeshCap: 300,
      firstMessageDeliveriesWeight: 1,
      firstMessageDeliveriesDecay: 0.9,
      firstMessageDeliveriesCap: 10,
      meshMessageDeliveriesWeight: 0,
      meshFailurePenaltyWeight: 0,
      invalidMessageDeliveriesWeight: -10,
      invalidMessageDeliveriesDecay: 0.99
    })
  }
  return {
    topics,
    topicScoreCap: 10,
    appSpecificScore: appSpecificScore ?? (() => 0),
    appSpecificWeight: 1,
    IPColocationFactorWeight: lan ? 0 : -5,
    IPColocationFactorThreshold: 10
  }
}

export const SCORE_THRESHOLDS = { gossipThreshold: -10, publishThreshold: -50, graylistThreshold: -80, acceptPXThreshold: 10, opportunisticGraftThreshold: 5 }

export async function createSkylineLibp2p (opts: Libp2pOptions): Promise<SkylineLibp2p> {
  // A mesh of loopback or LAN addresses (tests, a lab, network namespaces) keeps private addresses in
  // DHT records; a node with a public listen address drops them, as the public DHT does.
  const lan = [...opts.listen, ...(opts.announce ?? [])].every(ma => isPrivate(ma))
  const limits = connectionLimits(opts.maxConnections)
  const admission = connectionAdmission({ limits })
  const libp2p = await createLibp2p({
    // started by the caller once its protocol handlers are registered, so that the first identify
    // exchange with every peer already lists them (a builder seen without its builder protocol would be
    // left out of assignments until an identify push caught up)
    start: false,
    privateKey: opts.privateKey,
    addresses: {
      listen: opts.listen.map(ma => ma.toString()),
      announce: opts.announce?.map(ma => ma.toString())
    },
    // one socket write per connection per turn of the event loop, not two per Noise message (write-coalescing.ts)
    transports: [coalescedWrites(tcp())],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux(YAMUX_OPTIONS)],
    peerDiscovery: (opts.bootstrap?.length ?? 0) > 0
      ? [bootstrap({ list: opts.bootstrap!.map(ma => ma.toString()), timeout: 0 })]
      : [],
    connectionManager: {
      // libp2p refuses inbound connections past its limit: it is set above the node's own, so that a full
      // node still lets newcomers in long enough to learn peers; the trim service below holds the limit
      // (src/services/connection-trim.ts)
      maxConnections: limits.hard,
      inboundConnectionThreshold: opts.inboundConnectionThreshold,
      // kad-dht keeps its closest peers alive (a KEEP_ALIVE tag) and libp2p redials them when they drop:
      // by default five times over about 30 s, which a partition or an outage of a few minutes outlasts,
      // and the mesh then stays split until kad-dht's next self-query (5 minutes). Retrying for about
      // 35 minutes (every 2 s at first, each wait 1.25 times the last) brings a healed mesh back within
      // about a quarter of the partition's length (test/stress/netns-partition.test.ts).
      reconnectRetries: RECONNECT_RETRIES,
      reconnectRetryInterval: RECONNECT_RETRY_INTERVAL_MS,
      reconnectBackoffFactor: RECONNECT_BACKOFF_FACTOR,
      maxParallelReconnects: MAX_PARALLEL_RECONNECTS
    },
    connectionGater: admission.gater,
    connectionMonitor: { enabled: false },
    metrics: prometheusMetrics({ registry: opts.registry, collectDefaultMetrics: true, defaultMetrics: { eventLoopMonitoringPrecision: EVENT_LOOP_MONITOR_MS } }),
    services: {
      identify: identify(),
      ping: ping(),
      // kad-dht checks a peer before it enters the routing table without dialling a peer only named in an
      // answer once it holds k peers (src/services/kad-contacts.ts): those dials were most of a newcomer's
      // connections. A DHT client (the seeder, watchers) dials them all as before: the seeder ranks every
      // builder in its routing table (docs/protocols/assignment.md), so its view stays as wide
      dht: withKadContactCheck(kadDHT({
        protocol: DHT_PROTOCOL,
        clientMode: opts.dhtClientMode ?? false,
        peerInfoMapper: lan ? passthroughMapper : removePrivateAddressesMapper,
        logPrefix: 'skyline:kad-dht',
        metricsPrefix: 'skyline_kad_dht',
        datastorePrefix: '/skyline-dht'
      }), { protocol: DHT_PROTOCOL, strangerChecksBelow: opts.dhtClientMode === true ? Infinity : undefined }),
      pubsub: gossipsub({
        globalSignaturePolicy: GOSSIP_SIGNATURE_POLICY,
        // content-addressed message IDs: the same payload re-wrapped by another peer is a duplicate
        msgIdFn: gossipMessageId,
        fastMsgIdFn: gossipFastMessageId,
        scoreParams: scoreParams(lan, opts.appSpecificScore),
        scoreThresholds: SCORE_THRESHOLDS,
        allowPublishToZeroTopicPeers: true,
        // flood publishing stays on: a peer with a negative score (a flagged builder, P5) is pruned from
        // every mesh and sent no IHAVE, and the publishers' own copies are how it still hears every
        // message (test/mesh/verdicts.test.ts); it costs each node a few KB per job. A seeder turns it off
        // (NodeConfig.floodPublish): builders' flooded attestations bring such a node its announcement by sync
        floodPublish: opts.floodPublish ?? true,
        ...GOSSIP_DEGREE,
        mcacheGossip: GOSSIP_IHAVE_HEARTBEATS,
        gossipFactor: GOSSIP_IHAVE_FACTOR,
        idontwantMinDataSize: GOSSIP_IDONTWANT_MIN_BYTES,
        emitSelf: false,
        allowedTopics: TOPIC_NAMES.map(stringifyTopic),
        maxInboundDataLength: MAX_GOSSIP_RPC,
        // one peer's RPCs, and the messages in each, are handled one after the other: a sender faster
        // than validation is held back by flow control rather than queued without bound (a flood would
        // otherwise run as one long chain of microtasks, starving timers, I/O and the status server)
        awaitRpcHandler: true,
        awaitRpcMessageHandler: true,
        // a validated message is delivered at once and forwarded when the forward service below reports it,
        // after a short hold that lets the copies and IDONTWANTs of peers that already hold it arrive
        // (src/services/gossip-forward.ts)
        asyncValidation: true
      }),
      forward: gossipForward(),
      blobs: blobService({ directory: opts.blobDir, maxUpload: opts.maxUpload, maxDownload: opts.maxDownload }),
      trim: admission.trim,
      liveness: connectionLiveness()
    }
  })
  return libp2p
}
