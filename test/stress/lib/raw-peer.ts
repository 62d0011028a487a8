/**
 * A bare libp2p peer for the stress tests, outside the product: the same transports, the Skyline DHT and
 * plain gossipsub, with none of Skyline's validators. Tests use it as
 * - a seeder that serves an SRPM over /skyline/blob/1.0.0 as slowly as they like (one chunk at a time,
 *   `chunkDelayMs` each), so a fetch can be caught midway, and publishes announcements;
 * - an attacker that publishes whatever it wants on Skyline's topics.
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
import type { Stream } from '@libp2p/interface'
import { PROTOCOL, cidForSha256, type Manifest } from '../../../src/services/blob/index.ts'
import { decodeRequest, encodeResponse } from '../../../src/services/blob/wire.ts'
import { MSG_CHUNK, MSG_HAVE, MSG_MANIFEST, MAX_REQUEST_BYTES, STATUS_NOT_FOUND } from '../../../src/services/blob/constants.ts'
import { joinHashes } from '../../../src/services/blob/manifest.ts'
import { DHT_PROTOCOL } from '../../../src/node/constants.ts'
import { gossipMessageId } from '../../../src/node/libp2p.ts'

export type RawLibp2p = Libp2p<{ pubsub: GossipSub, identify: any, ping: any, dht: any }>

export interface RawPeer {
  node: RawLibp2p
  /** serves a blob: one chunk at a time, each after `chunkDelayMs` */
  serve: (m: Manifest, data: Uint8Array, chunkDelayMs: number) => void
  /** chunks served so far, per blob sha256 */
  served: Map<string, number>
  dial: (addresses: string[]) => Promise<void>
  stop: () => Promise<void>
}

export async function startRawPeer (opts: { gossip?: Partial<Parameters<typeof gossipsub>[0]> } = {}): Promise<RawPeer> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { inboundConnectionThreshold: 1000 },
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({ protocol: DHT_PROTOCOL, clientMode: false, peerInfoMapper: passthroughMapper }),
      pubsub: gossipsub({ globalSignaturePolicy: 'StrictSign', allowPublishToZeroTopicPeers: true, msgIdFn: gossipMessageId, emitSelf: false, ...opts.gossip })
    }
  }) as unknown as RawLibp2p
  const blobs = new Map<string, { m: Manifest, data: Uint8Array, delay: number }>()
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
        const { m, data, delay } = blob
        if (req.type === MSG_MANIFEST) await lp.write(encodeResponse({ type: req.type, size: m.size, chunkSize: m.chunkSize, chunkHashes: joinHashes(m.chunkHashes) }))
        else if (req.type === MSG_HAVE) await lp.write(encodeResponse({ type: req.type, bitfield: fullBitfield(m.chunkHashes.length) }))
        else if (req.type === MSG_CHUNK) {
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
    serve: (m, data, chunkDelayMs) => {
      blobs.set(m.sha256, { m, data, delay: chunkDelayMs })
      node.contentRouting.provide(cidForSha256(m.sha256), { signal: AbortSignal.timeout(10_000) }).catch(() => {})
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
