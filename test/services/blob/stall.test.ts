/**
 * The attack of issue 15 (4): a plain relay, neither listed nor a builder, makes itself a source of a
 * builder's SRPM fetch (it asks the builder for the blob, and provides it in the DHT), advertises every
 * chunk but one and then all of them, and holds every CHUNK request 25 s before answering NOT_HAVE. The
 * fetch must not wait on it: the seeder finishes the blob, the relay is dropped and penalised, and a
 * fetch whose only source stalls fails with NoProvidersError once nothing arrives for `noProvidersTimeout`.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, rmSync } from 'node:fs'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { startNode, tempDir } from '../../helpers/mesh.ts'
import { startRawPeer, type RawPeer } from '../../stress/lib/raw-peer.ts'
import { blobService, manifestFor, refOf, type BlobService, type Misbehaviour } from '../../../src/services/blob/index.ts'
import { DHT_PROTOCOL } from '../../../src/node/constants.ts'
import type { SkylineNode } from '../../../src/node/index.ts'

const MB = 1024 * 1024
const STALL_MS = 25_000

describe('blob swarm: a relay that advertises every chunk and holds every request', function () {
  this.timeout(60_000)
  let fetcher: SkylineNode | undefined
  let seeder: RawPeer | undefined
  let relay: RawPeer | undefined

  after(async () => {
    await Promise.allSettled([fetcher?.stop(), seeder?.stop(), relay?.stop()])
    if (fetcher !== undefined) rmSync(fetcher.config.dataDir, { recursive: true, force: true })
  })

  it('does not stall the fetch: the seeder finishes it, and the relay is dropped and penalised', async () => {
    fetcher = await startNode()
    seeder = await startRawPeer()
    relay = await startRawPeer()
    const data = randomBytes(3 * MB)
    const m = await manifestFor(data)
    // the seeder is honest and a little slow (100 ms a chunk), so the relay is in the fetch before it ends
    seeder.serve(m, data, 100)
    relay.serve(m, data, 0, { stallMs: STALL_MS, leechFirst: true })
    await seeder.dial(fetcher.libp2p.getMultiaddrs().map(String))
    await relay.dial(fetcher.libp2p.getMultiaddrs().map(String))
    const events: Misbehaviour[] = []
    fetcher.libp2p.services.blobs.addEventListener('peer:misbehaved', e => { events.push(e.detail) })

    const t0 = Date.now()
    const fetching = fetcher.libp2p.services.blobs.fetch(refOf(m), {
      // as a job names the announcement's author
      seeder: seeder.node.peerId,
      providers: [seeder.node.peerId],
      signal: AbortSignal.timeout(STALL_MS - 5_000)
    })
    // the relay asks for the blob too: a fetcher of it, so a source
    await relay.ask(fetcher.libp2p.peerId, m.sha256)
    const path = await fetching
    const seconds = (Date.now() - t0) / 1000

    assert.equal(createHash('sha256').update(readFileSync(path)).digest('hex'), m.sha256)
    assert.ok(seconds < 15, `the fetch took ${seconds.toFixed(1)} s`)
    const relayId = relay.node.peerId
    const reported = events.filter(e => e.peer.equals(relayId))
    assert.ok(reported.length >= 1, 'the relay was reported')
    assert.equal(reported[0].severity, 'low')
    assert.match(reported[0].reason, /stalled/)
    assert.ok(events.every(e => e.peer.equals(relayId)), 'only the relay was reported')
    assert.ok(fetcher.penalties.score(relayId.toString()) < 0, 'the relay was penalised')
    assert.equal(fetcher.penalties.score(seeder.node.peerId.toString()), 0, 'the seeder was not')
    assert.equal(fetcher.libp2p.services.blobs.stats().peers[relayId.toString()]?.downloaded ?? 0, 0)
  })
})

describe('blob swarm: a fetch whose only source stalls', function () {
  this.timeout(60_000)
  let node: Libp2p<{ blobs: BlobService }> | undefined
  let relay: RawPeer | undefined
  const dir = tempDir('skyline-stall-')

  after(async () => {
    await Promise.allSettled([node?.stop(), relay?.stop()])
    rmSync(dir, { recursive: true, force: true })
  })

  it('fails with NoProvidersError once no chunk has arrived for noProvidersTimeout', async () => {
    node = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: {
        identify: identify(),
        ping: ping(),
        dht: kadDHT({ protocol: DHT_PROTOCOL, clientMode: false, peerInfoMapper: passthroughMapper }),
        blobs: blobService({ directory: dir, noProvidersTimeout: 3_000 })
      }
    }) as unknown as Libp2p<{ blobs: BlobService }>
    relay = await startRawPeer()
    const data = randomBytes(3 * MB)
    const m = await manifestFor(data)
    relay.serve(m, data, 0, { stallMs: STALL_MS })
    await relay.dial(node.getMultiaddrs().map(String))

    const t0 = Date.now()
    await assert.rejects(node.services.blobs.fetch(refOf(m), { providers: [relay.node.peerId], signal: AbortSignal.timeout(15_000) }), (err: Error) => {
      assert.equal(err.name, 'NoProvidersError', err.message)
      assert.match(err.message, /delivered a chunk for 3000 ms/)
      return true
    })
    const seconds = (Date.now() - t0) / 1000
    assert.ok(seconds < 10, `failed after ${seconds.toFixed(1)} s`)
  })
})
