/**
 * A bare libp2p peer for the stress tests, outside the product: the same transports, the Skyline DHT and
 * plain gossipsub, with none of Skyline's validators. Tests use it as
 * - a seeder that serves an SRPM over /skyline/blob/1.0.0 as slowly as they like (one chunk at a time,
 *   `chunkDelayMs` each), so a fetch can be caught midway, and publishes announcements;
 * - an attacker that publishes whatever it wants on Skyline's topics;
 * - a misbehaving blob source (`serve(..., { stallMs, leechFirst, bogusManifest })`): one that holds chunk
 *   requests and then refuses them while advertising every chunk, or serves a hash list that is not the
 *   blob's; and a fetcher (`ask`) that makes itself a source of someone else's fetch.
 */
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerId, PrivateKey, Stream } from '@libp2p/interface'
import { PROTOCOL, cidForSha256, type Manifest } from '../../../src/services/blob/index.ts'
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../../src/services/blob/wire.ts'
import { MSG_CHUNK, MSG_HAVE, MSG_MANIFEST, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, STATUS_NOT_FOUND, STATUS_NOT_HAVE } from '../../../src/services/blob/constants.ts'
import { joinHashes } from '../../../src/services/blob/manifest.ts'
import { DHT_PROTOCOL } from '../../../src/node/constants.ts'
import { GOSSIP_SIGNATURE_POLICY, gossipMessageId } from '../../../src/node/libp2p.ts'

export type RawLibp2p = Libp2p<{ pubsub: GossipSub, identify: any, ping: any, dht: any }>

/** How a raw peer lies about a blob it serves (over the real protocol, frame by frame) */
export interface BlobMisbehaviour {
  /** holds every CHUNK request this long, then answers NOT_HAVE (while every HAVE claims the chunk) */
  stallMs?: number
  /** the first HAVE lacks the last chunk (so the peer counts as a fellow fetcher), every later one has all */
  leechFirst?: boolean
  /** answers MANIFEST with a hash list of the right size and chunk size that is not the blob's */
  bogusManifest?: boolean
}

export interface RawPeer {
  node: RawLibp2p
  /** serves a blob: one chunk at a time, each after `chunkDelayMs` (or as `misbehave` says) */
  serve: (m: Manifest, data: Uint8Array, chunkDelayMs: number, misbehave?: BlobMisbehaviour) => void
  /** sends one HAVE request for a blob to a peer, as a fetcher of it does (making us a source of its fetch) */
  ask: (peer: PeerId, sha256: string) => Promise<void>
  /** chunks served so far, per blob sha256 */
  served: Map<string, number>
  dial: (addresses: string[]) => Promise<void>
  stop: () => Promise<void>
}

export async function startRawPeer (opts: { gossip?: Partial<Parameters<typeof gossipsub>[0]>, privateKey?: PrivateKey } = {}): Promise<RawPeer> {
  const node = await createLibp2p({
    ...(opts.privateKey !== undefined ? { privateKey: opts.privateKey } : {}),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { inboundConnectionThreshold: 1000 },
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({ protocol: DHT_PROTOCOL, clientMode: false, peerInfoMapper: passthroughMapper }),
      pubsub: gossipsub({ globalSignaturePolicy: GOSSIP_SIGNATURE_POLICY, allowPublishToZeroTopicPeers: true, msgIdFn: gossipMessageId, emitSelf: false, ...opts.gossip })
    }
  }) as unknown as RawLibp2p
  const blobs = new Map<string, { m: Manifest, data: Uint8Array, delay: number, misbehave: BlobMisbehaviour, haves: number }>()
  const served = new Map<string, number>()
  // chunks go out one after the other, whoever asks
  let queue: Promise<void> = Promise.resolve()
  await node.handle(PROTOCOL, async (stream: Stream) => {
    const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_BYTES })
    try {
      while (true) {
        const req = decodeRequest(await lp.read({ signal: AbortSignal.timeout(30_000) }))
        const blob = blobs.get(req.sha256)
        if (blob === undefined) {
          await lp.write(encodeResponse({ type: req.type, status: STATUS_NOT_FOUND }))
          continue
        }
        const { m, data, delay, misbehave } = blob
        if (req.type === MSG_MANIFEST) {
          const hashes = misbehave.bogusManifest === true ? m.chunkHashes.map(h => Uint8Array.from(h, b => b ^ 0xff)) : m.chunkHashes
          await lp.write(encodeResponse({ type: req.type, size: m.size, chunkSize: m.chunkSize, chunkHashes: joinHashes(hashes) }))
        } else if (req.type === MSG_HAVE) {
          const bitfield = fullBitfield(m.chunkHashes.length)
          if (misbehave.leechFirst === true && blob.haves++ === 0) bitfield[(m.chunkHashes.length - 1) >> 3] &= ~(0x80 >> ((m.chunkHashes.length - 1) & 7))
          await lp.write(encodeResponse({ type: req.type, bitfield }))
        } else if (req.type === MSG_CHUNK && misbehave.stallMs !== undefined) {
          await new Promise(resolve => setTimeout(resolve, misbehave.stallMs))
          await lp.write(encodeResponse({ type: req.type, index: req.index, status: STATUS_NOT_HAVE }))
        } else if (req.type === MSG_CHUNK) {
          const turn = queue.then(async () => { await new Promise(resolve => setTimeout(resolve, delay)) })
          queue = turn
          await turn
          served.set(m.sha256, (served.get(m.sha256) ?? 0) + 1)
          await lp.write(encodeResponse({ type: req.type, index: req.index, data: data.subarray(req.index * m.chunkSize, (req.index + 1) * m.chunkSize) }))
        }
      }
    } catch (err: any) {
      stream.abort(err)
    }
  }, { maxInboundStreams: 64 })
  return {
    node,
    served,
    serve: (m, data, chunkDelayMs, misbehave = {}) => {
      blobs.set(m.sha256, { m, data, delay: chunkDelayMs, misbehave, haves: 0 })
      node.contentRouting.provide(cidForSha256(m.sha256), { signal: AbortSignal.timeout(10_000) }).catch(() => {})
    },
    ask: async (peer, sha256) => {
      const stream = await node.dialProtocol(peer, PROTOCOL, { signal: AbortSignal.timeout(10_000) })
      const lp = lpStream(stream, { maxDataLength: MAX_RESPONSE_BYTES })
      await lp.write(encodeRequest({ type: MSG_HAVE, sha256 }))
      decodeResponse(await lp.read({ signal: AbortSignal.timeout(10_000) }), MSG_HAVE)
      await stream.close()
    },
    dial: async addresses => {
      await Promise.all(addresses.map(async a => node.dial(multiaddr(a), { signal: AbortSignal.timeout(10_000) })))
    },
    stop: async () => { await node.stop() }
  }
}

function fullBitfield (n: number): Uint8Array {
  const b = new Uint8Array(Math.ceil(n / 8))
  for (let i = 0; i < n; i++) b[i >> 3] |= 0x80 >> (i & 7)
  return b
}
