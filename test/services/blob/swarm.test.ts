import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { startMesh, startNode, type TestMesh } from '../../helpers/mesh.ts'
import { refOf, manifestFor, cidForSha256, PROTOCOL, PartialBlob, type Manifest, type Misbehaviour } from '../../../src/services/blob/index.ts'
import { decodeRequest, encodeResponse } from '../../../src/services/blob/wire.ts'
import { MSG_CHUNK, MSG_HAVE, MSG_MANIFEST, MAX_REQUEST_BYTES } from '../../../src/services/blob/constants.ts'
import { joinHashes } from '../../../src/services/blob/manifest.ts'
import { DHT_PROTOCOL } from '../../../src/node/constants.ts'
import type { SkylineNode } from '../../../src/node/index.ts'

const MB = 1024 * 1024

async function sha256File (path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const b of createReadStream(path)) h.update(b)
  return h.digest('hex')
}

describe('blob swarm: one seeder, ten fetchers, 50 MB', function () {
  this.timeout(120_000)
  let mesh: TestMesh

  before(async () => { mesh = await startMesh(11) })
  after(async () => { await mesh?.stop() })

  it('every fetcher gets the blob through DHT provider records, and the seeder uploads at most 2x its size', async () => {
    const [seeder, ...fetchers] = mesh.nodes
    const data = randomBytes(50 * MB)
    const m = await seeder.libp2p.services.blobs.add(data)
    const progress = new Map<string, number>()
    const t0 = Date.now()
    const paths = await Promise.all(fetchers.map(async f => f.libp2p.services.blobs.fetch(refOf(m), {
      signal: AbortSignal.timeout(100_000),
      onProgress: e => { progress.set(f.peerId, e.detail.done) }
    })))
    const seconds = (Date.now() - t0) / 1000
    for (const p of paths) assert.equal(await sha256File(p), m.sha256)
    for (const f of fetchers) assert.equal(progress.get(f.peerId), m.size)
    const ratio = seeder.libp2p.services.blobs.stats().uploaded / m.size
    const fetcherUploads = fetchers.map(f => f.libp2p.services.blobs.stats().blobs[m.sha256]?.uploaded ?? 0)
    console.log(`      seeder upload ratio ${ratio.toFixed(3)} (${seconds.toFixed(1)} s; fetchers uploaded ${fetcherUploads.map(u => (u / m.size).toFixed(2)).join(' ')} x)`)
    assert.ok(ratio <= 2.0, `seeder uploaded ${ratio.toFixed(2)}x the blob`)
    assert.ok(fetcherUploads.filter(u => u > 0).length >= 5, 'fetchers traded chunks among themselves')
    // every fetcher counted what it downloaded, and the totals add up
    const downloaded = fetchers.reduce((s, f) => s + f.libp2p.services.blobs.stats().blobs[m.sha256].downloaded, 0)
    assert.equal(downloaded, 10 * m.size)
  })
})

/**
 * A test-only peer that speaks /skyline/blob/1.0.0 honestly about the manifest (it matches the root) and
 * advertises half the chunks, but serves every chunk with one byte flipped. Product code has no corruption
 * switch: this is a separate bare libp2p node with its own handler.
 */
async function corruptPeer (m: Manifest, data: Uint8Array): Promise<{ node: Libp2p, served: () => number }> {
  let served = 0
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({ protocol: DHT_PROTOCOL, clientMode: false, peerInfoMapper: passthroughMapper })
    }
  })
  const n = m.chunkHashes.length
  const bitfield = new Uint8Array(Math.ceil(n / 8))
  for (let i = 0; i < n; i += 2) bitfield[i >> 3] |= 0x80 >> (i & 7)
  await node.handle(PROTOCOL, async (stream: Stream) => {
    const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_BYTES })
    try {
      while (true) {
        const req = decodeRequest(await lp.read({ signal: AbortSignal.timeout(10_000) }))
        if (req.type === MSG_MANIFEST) await lp.write(encodeResponse({ type: req.type, size: m.size, chunkSize: m.chunkSize, chunkHashes: joinHashes(m.chunkHashes) }))
        else if (req.type === MSG_HAVE) await lp.write(encodeResponse({ type: req.type, bitfield }))
        else if (req.type === MSG_CHUNK) {
          const chunk = Buffer.from(data.subarray(req.index * m.chunkSize, (req.index + 1) * m.chunkSize))
          chunk[chunk.length >> 1] ^= 0x01
          served++
          await lp.write(encodeResponse({ type: req.type, index: req.index, data: chunk }))
        }
      }
    } catch (err: any) {
      stream.abort(err)
    }
  }, { maxInboundStreams: 32 })
  return { node, served: () => served }
}

describe('blob swarm: a peer serving corrupted chunks', function () {
  this.timeout(60_000)
  let seeder: SkylineNode
  let fetcher: SkylineNode
  let bad: { node: Libp2p, served: () => number }

  after(async () => {
    await Promise.allSettled([seeder?.stop(), fetcher?.stop(), bad?.node.stop()])
  })

  it('is detected, reported and banned, and the fetch completes from the honest seeder with the right sha256', async () => {
    seeder = await startNode()
    const boot = seeder.libp2p.getMultiaddrs()[0].toString()
    fetcher = await startNode({ bootstrap: [boot] })
    const data = randomBytes(4 * MB)
    const m = await manifestFor(data)
    bad = await corruptPeer(m, data)
    await bad.node.dial(seeder.libp2p.getMultiaddrs()[0])
    await fetcher.libp2p.dial(bad.node.getMultiaddrs()[0])
    await seeder.libp2p.services.blobs.add(data)
    // the corrupt peer also announces itself as a provider
    await bad.node.contentRouting.provide(cidForSha256(m.sha256), { signal: AbortSignal.timeout(10_000) }).catch(() => {})

    const events: Misbehaviour[] = []
    fetcher.libp2p.services.blobs.addEventListener('peer:misbehaved', e => { events.push(e.detail) })
    const path = await fetcher.libp2p.services.blobs.fetch(refOf(m), { signal: AbortSignal.timeout(40_000), providers: [bad.node.peerId, seeder.libp2p.peerId] })

    assert.equal(await sha256File(path), m.sha256)
    assert.ok(bad.served() >= 1, 'the corrupt peer was asked for chunks')
    const mine = events.filter(e => e.peer.equals(bad.node.peerId))
    assert.ok(mine.length >= 1, 'a peer:misbehaved event names the corrupt peer')
    assert.equal(mine[0].severity, 'high')
    assert.match(mine[0].reason, /bad chunk/)
    assert.ok(events.every(e => e.peer.equals(bad.node.peerId)), 'the honest seeder was not blamed')
    assert.equal(fetcher.libp2p.services.blobs.isBanned(bad.node.peerId), true)
    assert.equal(fetcher.libp2p.services.blobs.isBanned(seeder.libp2p.peerId), false)
    const stats = fetcher.libp2p.services.blobs.stats()
    assert.ok(stats.badChunks >= 1)
    assert.equal(stats.peers[bad.node.peerId.toString()]?.downloaded ?? 0, 0, 'no byte from the corrupt peer was kept')
    assert.equal(stats.blobs[m.sha256].downloaded, m.size)
    // peerHave: a status query of one peer
    const n = m.chunkHashes.length
    assert.deepEqual({ ...(await fetcher.libp2p.services.blobs.peerHave(seeder.libp2p.peerId, m.sha256))!, bitfield: undefined }, { have: n, chunks: n, complete: true, bitfield: undefined })
    const half = (await fetcher.libp2p.services.blobs.peerHave(bad.node.peerId, m.sha256))!
    assert.equal(half.complete, false)
    assert.equal(half.have, Math.ceil(n / 2))
    assert.equal(await fetcher.libp2p.services.blobs.peerHave(seeder.libp2p.peerId, 'ab'.repeat(32)), undefined)
  })
})

/** DHT requests a node has sent, by message type, from its own kad-dht counter */
async function dhtRequests (node: SkylineNode): Promise<Record<string, number>> {
  const metric = node.registry.getSingleMetric('skyline_kad_dht_outbound_rpc_requests_total')
  const out: Record<string, number> = {}
  for (const v of (await metric?.get())?.values ?? []) out[String(Object.values(v.labels)[0])] = v.value
  return out
}

describe('blob swarm: DHT use of a small blob', function () {
  this.timeout(60_000)
  let mesh: TestMesh

  before(async () => { mesh = await startMesh(3) })
  after(async () => { await mesh?.stop() })

  it('from a named provider: fetched with no provider lookup and no provide; added with provide: false, not provided', async () => {
    const [seeder, fetcher] = mesh.nodes
    const m = await seeder.libp2p.services.blobs.add(randomBytes(100 * 1024), { provide: false })
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.equal((await dhtRequests(seeder)).ADD_PROVIDER ?? 0, 0, 'the seeder provided a blob added with provide: false')
    const before = await dhtRequests(fetcher)
    const path = await fetcher.libp2p.services.blobs.fetch(refOf(m), { signal: AbortSignal.timeout(20_000), providers: [seeder.libp2p.peerId] })
    assert.equal(await sha256File(path), m.sha256)
    await new Promise(resolve => setTimeout(resolve, 500))
    const after = await dhtRequests(fetcher)
    assert.equal((after.GET_PROVIDERS ?? 0) - (before.GET_PROVIDERS ?? 0), 0, 'the fetcher looked for providers')
    assert.equal((after.ADD_PROVIDER ?? 0) - (before.ADD_PROVIDER ?? 0), 0, 'the fetcher provided a small blob')
  })

  it('from its seeder, while the finished download is checked and moved into place: no provider lookup', async () => {
    // a disk under load: the whole-file check and its syncs take a while after the last chunk is written
    const finish = PartialBlob.prototype.finish
    PartialBlob.prototype.finish = async function (this: PartialBlob) {
      await new Promise(resolve => setTimeout(resolve, 1_000))
      return finish.call(this)
    }
    try {
      const [seeder, fetcher] = mesh.nodes
      const m = await seeder.libp2p.services.blobs.add(randomBytes(100 * 1024), { provide: false })
      const before = await dhtRequests(fetcher)
      const path = await fetcher.libp2p.services.blobs.fetch(refOf(m), { signal: AbortSignal.timeout(20_000), seeder: seeder.libp2p.peerId })
      assert.equal(await sha256File(path), m.sha256)
      const after = await dhtRequests(fetcher)
      assert.equal((after.GET_PROVIDERS ?? 0) - (before.GET_PROVIDERS ?? 0), 0, 'the fetcher looked for providers of a blob it held whole')
    } finally {
      PartialBlob.prototype.finish = finish
    }
  })

  it('with no provider named: found through the seeder\'s provider record', async () => {
    const [seeder, , fetcher] = mesh.nodes
    const m = await seeder.libp2p.services.blobs.add(randomBytes(100 * 1024))
    const before = await dhtRequests(fetcher)
    const path = await fetcher.libp2p.services.blobs.fetch(refOf(m), { signal: AbortSignal.timeout(30_000) })
    assert.equal(await sha256File(path), m.sha256)
    assert.ok(((await dhtRequests(fetcher)).GET_PROVIDERS ?? 0) > (before.GET_PROVIDERS ?? 0), 'the fetcher did not ask the DHT')
  })
})
