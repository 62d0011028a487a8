/** The blob service's types: its Init, components, events and the options of add and fetch. */
import type { AbortOptions, ComponentLogger, ContentRouting, Metrics, PeerId, PeerStore, Startable, Stream, StreamHandler, StreamHandlerOptions, TypedEventTarget } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { BlobRef, Manifest } from './manifest.ts'
import type { PenaltySeverity } from '../../rules/penalty.ts'

export interface BlobServiceInit {
  /** where blobs are stored; @default `<tmpdir>/skyline-blobs/<peer id>` */
  directory?: string
  /** @default 2 GiB */
  maxBlobSize?: number
  /** chunk size of added blobs; @default 256 KiB */
  chunkSize?: number
  /**
   * announce blobs in the DHT: when added (unless `add` is told otherwise), and when a fetch of a swarmed
   * blob (`swarmMinChunks`) starts; @default true
   */
  provide?: boolean
  /** blobs of at least this many chunks are swarmed (fetchers provide them and find each other); @default 8 */
  swarmMinChunks?: number
  /** per connection; @default 32 */
  maxInboundStreams?: number
  /** per connection; @default 32 */
  maxOutboundStreams?: number
  /** inbound streams at once from one peer; @default 16 */
  maxStreamsPerPeer?: number
  /** requests per second from one peer; @default 1000 */
  maxRequestsPerSecond?: number
  /** chunk reads served at once; @default 48 */
  maxConcurrentUploads?: number
  /** @default 30_000 ms */
  streamIdleTimeout?: number
  /** one MANIFEST or HAVE request (client); @default 30_000 ms */
  requestTimeout?: number
  /** one CHUNK request; a source past it, or asked and silent for half of it, is stalling; @default 10_000 ms */
  chunkTimeout?: number
  /** parallel chunk requests to one non-seed peer; @default 4 */
  peerSlots?: number
  /** parallel chunk requests to a peer that held the whole blob when first seen; @default 1 */
  seedSlots?: number
  /** parallel chunk requests of one fetch; @default 24 */
  maxInflight?: number
  /** how often each peer's HAVE bitfield is refreshed; @default 200 ms */
  haveInterval?: number
  /** the first wait between DHT provider lookups of a fetch, doubled after each; @default 2_000 ms */
  findProvidersInterval?: number
  /** the longest wait between DHT provider lookups of a fetch; @default 30_000 ms */
  findProvidersMaxInterval?: number
  /** how long a misbehaving peer stays banned; @default 1 hour */
  banDuration?: number
  /** a fetch that receives no verified chunk for this long fails with NoProvidersError; @default 60_000 ms */
  noProvidersTimeout?: number
  /** chunk bytes served per second, all peers together (above it a chunk request is answered BUSY); @default 0: no cap */
  maxUpload?: number
  /** chunk bytes fetched per second, all fetches together; @default 0: no cap */
  maxDownload?: number
}

/** The parts of libp2p's registrar the service uses */
export interface BlobRegistrar {
  handle: (protocol: string, handler: StreamHandler, options?: StreamHandlerOptions) => Promise<void>
  unhandle: (protocol: string, options?: AbortOptions) => Promise<void>
}

/** The parts of libp2p's connection manager the service uses */
export interface BlobConnectionManager {
  openStream: (peer: PeerId, protocol: string, options?: AbortOptions & { maxOutboundStreams?: number }) => Promise<Stream>
}

export interface BlobServiceComponents {
  registrar: BlobRegistrar
  connectionManager: BlobConnectionManager
  contentRouting: ContentRouting
  /** where a seeder's addresses from its announcement are kept, so a fetcher not connected to it can dial it */
  peerStore?: Pick<PeerStore, 'merge'>
  peerId: PeerId
  logger: ComponentLogger
  metrics?: Metrics
}

export type Severity = PenaltySeverity

export interface Misbehaviour {
  peer: PeerId
  reason: string
  severity: Severity
  sha256?: string
}

export interface BlobProgress {
  sha256: string
  /** bytes of verified chunks held */
  done: number
  total: number
}

/** A progress event, in the shape of libp2p's ProgressEvent */
export interface BlobProgressEvent {
  type: 'blob:fetch:progress'
  detail: BlobProgress
}

export interface AddOptions extends AbortOptions {
  /**
   * Announce the blob in the DHT (when the service provides at all). A blob others are told where to
   * fetch from (an output RPM, fetched from the agreeing builders by peer id) needs no provider record.
   * @default true
   */
  provide?: boolean
}

export interface FetchOptions extends AbortOptions {
  onProgress?: (evt: BlobProgressEvent) => void
  /** peers to ask besides those found in the DHT; scored like any source (dropped when they stall) */
  providers?: PeerId[]
  /**
   * the blob's origin (a job's SRPM: the peer its announcement's provider hint names): always kept as a
   * source, never dropped for stalling or failures (only for provable lies), and the one the fetch falls
   * back on when others stall
   */
  seeder?: PeerId
  /** where the seeder listens (the provider hint's addresses), for a fetcher not connected to it */
  seederAddrs?: Multiaddr[]
  /**
   * peers likely to hold or be fetching the blob (a job's SRPM: the job's other stage-1 seats), made
   * sources only once the fetch wants more than it knows, when it would look in the DHT: a small blob no
   * known peer serves within the grace (the seeder unreachable), or any swarmed blob
   */
  fallback?: PeerId[]
  /**
   * the peers whose signed claim the reference's root is (a result's agreeing builders), when no trusted
   * key signed it: only they are blamed for a hash list or chunk that contradicts it; any other peer that
   * does is dropped from the fetch unpunished. Unset: the root is trusted (an announcement's) and anyone
   * contradicting it is blamed.
   */
  rootSignedBy?: PeerId[]
}

export interface PeerHave {
  /** chunks the peer holds, verified */
  have: number
  chunks: number
  complete: boolean
  bitfield: Uint8Array
}

export interface BlobCounters {
  uploaded: number
  downloaded: number
}

export interface BlobStats extends BlobCounters {
  /** per blob (hex sha256) */
  blobs: Record<string, BlobCounters>
  /** per peer (string peer id): bytes this node uploaded to it / downloaded from it */
  peers: Record<string, BlobCounters>
  /** bad chunks received */
  badChunks: number
}

export interface BlobServiceEvents {
  'peer:misbehaved': CustomEvent<Misbehaviour>
  /** blob transfer was paused (a metered link) or resumed */
  transfer: CustomEvent<{ paused: boolean }>
}

export interface BlobService extends TypedEventTarget<BlobServiceEvents>, Startable {
  /** Stores a file (by path) or bytes, announces it in the DHT (unless `provide: false`), and returns its manifest */
  add: (input: string | Uint8Array, options?: AddOptions) => Promise<Manifest>
  /**
   * Announces a blob this node holds in the DHT, in the background (a seeder's delayed provide: `skyline
   * seed`); nothing when the service does not provide
   */
  provide: (sha256: string) => void
  /** Fetches a blob (or finds it held already) and returns its path in the store */
  fetch: (ref: BlobRef, options?: FetchOptions) => Promise<string>
  has: (sha256: string) => boolean
  path: (sha256: string) => string | undefined
  manifest: (sha256: string) => Promise<Manifest | undefined>
  /**
   * Asks one peer which chunks of a blob it holds (verified). Undefined if the peer does not know the blob.
   * The chunk count comes from our own manifest if we have one, else from the peer's (a status query: nothing
   * is trusted or stored).
   */
  peerHave: (peer: PeerId, sha256: string, options?: AbortOptions) => Promise<PeerHave | undefined>
  /**
   * Asks one peer for a blob's manifest and computes its chunk root, for a blob known only by its sha256
   * (a built RPM named by an attestation). Nothing in it is trusted until the fetch that uses it has
   * checked the whole blob against the sha256: a wrong hash list only makes that fetch fail.
   */
  peerManifest: (peer: PeerId, sha256: string, options?: AbortOptions) => Promise<Manifest | undefined>
  /** Whether a peer is in the local ban set (it misbehaved recently) */
  isBanned: (peer: PeerId) => boolean
  stats: () => BlobStats
  /**
   * Pauses blob transfer (a metered link): chunk requests from peers are answered BUSY, and this node's
   * fetches wait before their next chunk request (without failing for lack of progress) until resume().
   * Manifest and HAVE requests are still answered.
   */
  pause: () => void
  resume: () => void
  /** Whether blob transfer is paused */
  readonly paused: boolean
}
