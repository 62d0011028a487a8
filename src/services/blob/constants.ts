/** Defaults and hard limits of the blob store and the `/skyline/blob/1.0.0` protocol. */
import { PROTOCOLS } from '../../protocols/ids.ts'
import { MAX_CHUNK_SIZE, MAX_CHUNKS, MIN_CHUNK_SIZE } from '../../protocols/blob-limits.ts'

export const PROTOCOL = PROTOCOLS.blob

/**
 * Chunk size used when adding a blob. 256 KiB: a 50 MB SRPM is ~200 chunks (enough pieces for ten peers to
 * trade), its hash list is 6.4 KB, one chunk fits a yamux receive window, and per-request overhead
 * (a round trip, two hashes) is amortised over 256 KiB.
 *
 * @default 262144
 */
export const DEFAULT_CHUNK_SIZE = 256 * 1024
/** The chunking limits of the protocol (src/protocols/blob-limits.ts) */
export { MIN_CHUNK_SIZE, MAX_CHUNK_SIZE, MAX_CHUNKS }
/**
 * Largest blob accepted, added or fetched.
 *
 * @default 2 GiB
 */
export const DEFAULT_MAX_BLOB_SIZE = 2 * 1024 * 1024 * 1024

/** Largest request frame (a request is ~40 bytes) */
export const MAX_REQUEST_BYTES = 128
/** Largest response frame: a MANIFEST (≤ 512 KiB of hashes) or a CHUNK (≤ 1 MiB of data), plus fields */
export const MAX_RESPONSE_BYTES = MAX_CHUNK_SIZE + 1024

/** @default 32 */
export const MAX_INBOUND_STREAMS = 32
/** @default 32 */
export const MAX_OUTBOUND_STREAMS = 32
/** Concurrent inbound streams from one peer, over all its connections. @default 16 */
export const MAX_STREAMS_PER_PEER = 16
/** Requests per second accepted from one peer. @default 1000 */
export const MAX_REQUESTS_PER_SECOND = 1000
/** Chunk reads served at once, over all peers (bounds memory to this × chunk size). @default 48 */
export const MAX_CONCURRENT_UPLOADS = 48
/** How long a server waits for the next request on an open stream. @default 30_000 */
export const STREAM_IDLE_TIMEOUT = 30_000
/** How long a client waits for one response. @default 30_000 */
export const REQUEST_TIMEOUT = 30_000

/** Concurrent chunk requests a fetcher keeps open to one non-seed peer. @default 4 */
export const PEER_SLOTS = 4
/** Concurrent chunk requests a fetcher keeps open to a peer that held the whole blob when first seen. @default 1 */
export const SEED_SLOTS = 1
/** Concurrent chunk requests of one fetch, over all peers. @default 24 */
export const MAX_INFLIGHT = 24
/** How often a fetcher asks each peer for its HAVE bitfield. @default 200 */
export const HAVE_INTERVAL = 200
/**
 * The first wait between a fetcher's DHT provider lookups; each later wait is twice the last, up to
 * FIND_PROVIDERS_MAX_INTERVAL. @default 2_000
 */
export const FIND_PROVIDERS_INTERVAL = 2_000
/** The longest wait between a fetcher's DHT provider lookups. @default 30_000 */
export const FIND_PROVIDERS_MAX_INTERVAL = 30_000
/**
 * Blobs of at least this many chunks are swarmed: a fetcher provides the blob in the DHT when it starts and
 * looks for fellow fetchers there, so that they trade chunks and the seeder uploads about one copy. A
 * smaller blob (8 chunks: 2 MiB at the default chunk size) comes whole from the peers the caller names
 * (the announcement's author) or from one provider found in the DHT; its fetchers do not provide it.
 *
 * @default 8
 */
export const SWARM_MIN_CHUNKS = 8
/** A swarming fetcher stops looking for providers once it knows this many live peers (kad-dht's k). @default 20 */
export const SWARM_MAX_PEERS = 20
/** How long a misbehaving peer stays banned. @default 3_600_000 */
export const BAN_DURATION = 60 * 60 * 1000
/** A fetch that receives no verified chunk for this long fails with NoProvidersError. @default 60_000 */
export const NO_PROVIDERS_TIMEOUT = 60_000
/** Failures (timeouts, errors) after which a peer is dropped from one fetch. @default 3 */
export const MAX_PEER_FAILURES = 3
/**
 * How long a fetcher waits for one chunk. A source that holds a request past it, or that has been asked
 * and has delivered nothing for half of it, is stalling (docs/protocols/blob.md, sources.ts). @default 10_000
 */
export const CHUNK_TIMEOUT = 10_000
/** Stalls and refusals after which a source (not the seeder) is dropped from a fetch and reported. @default 3 */
export const MAX_PEER_STRIKES = 3
/** The slowest whole-blob rate a fetch deadline allows for (bytes per second). @default 262144 */
export const MIN_FETCH_RATE = 256 * 1024
/** What a fetch deadline allows besides the transfer: finding peers, a first stall. @default 120_000 */
export const FETCH_DEADLINE_BASE = 120_000

/**
 * How long a whole fetch of a blob of `size` bytes may take before its caller gives up on it (a job's
 * SRPM, a result's RPM): FETCH_DEADLINE_BASE plus the transfer at MIN_FETCH_RATE. 50 MB: 5.3 minutes.
 */
export function fetchDeadline (size: number): number {
  return FETCH_DEADLINE_BASE + Math.ceil(size / MIN_FETCH_RATE * 1000)
}
/** How often a partial download's bitfield is made durable (also every 32 chunks and at the end). @default 1_000 */
export const PERSIST_INTERVAL = 1_000

export const MSG_MANIFEST = 1
export const MSG_HAVE = 2
export const MSG_CHUNK = 3

export const STATUS_OK = 0
export const STATUS_NOT_FOUND = 1
export const STATUS_NOT_HAVE = 2
export const STATUS_BAD_REQUEST = 3
export const STATUS_BUSY = 4
