import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { startMesh, type TestMesh } from '../../helpers/mesh.ts'
import { refOf } from '../../../src/services/blob/index.ts'

describe('blob fetch: a job\'s other seats as the fallback sources', function () {
  this.timeout(120_000)
  let mesh: TestMesh

  before(async () => { mesh = await startMesh(4, { builder: 'none' }) })
  after(async () => { await mesh?.stop() })

  it('are not asked while the seeder serves the blob', async () => {
    const [c, a, , seeder] = mesh.nodes
    const m = await seeder.libp2p.services.blobs.add(randomBytes(100_000), { provide: false })
    await a.libp2p.services.blobs.fetch(refOf(m), { seeder: seeder.libp2p.peerId, signal: AbortSignal.timeout(20_000) })
    await c.libp2p.services.blobs.fetch(refOf(m), { seeder: seeder.libp2p.peerId, fallback: [a.libp2p.peerId], signal: AbortSignal.timeout(20_000) })
    assert.equal(a.libp2p.services.blobs.stats().blobs[m.sha256].uploaded, 0, 'the fallback peer served a fetch its seeder served')
  })

  it('serve a fetcher that cannot reach the seeder (gone once the first builders held it): no DHT record needed', async () => {
    // the seeder is not the bootstrap node, which stays: b finds a through the DHT
    const [, a, b, seeder] = mesh.nodes
    const data = randomBytes(100_000)
    const m = await seeder.libp2p.services.blobs.add(data, { provide: false })
    await a.libp2p.services.blobs.fetch(refOf(m), { seeder: seeder.libp2p.peerId, signal: AbortSignal.timeout(20_000) })
    await seeder.stop()
    const t0 = Date.now()
    const path = await b.libp2p.services.blobs.fetch(refOf(m), { seeder: seeder.libp2p.peerId, fallback: [a.libp2p.peerId], signal: AbortSignal.timeout(30_000) })
    assert.equal(createHash('sha256').update(readFileSync(path)).digest('hex'), m.sha256)
    assert.equal(b.libp2p.services.blobs.stats().peers[a.peerId]?.downloaded, data.length)
    console.log(`      fetched from the fallback peer in ${Date.now() - t0} ms`)
  })
})
