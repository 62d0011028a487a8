import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { startMesh, waitFor, type TestMesh } from '../helpers/mesh.ts'
import { testAnnouncer } from '../helpers/announce.ts'
import { createAnnouncement, type CheckedAnnouncement } from '../../src/protocols/announce.ts'
import { cidForSha256, refOf, type Manifest } from '../../src/services/blob/index.ts'
import { provideIfUnserved } from '../../src/cli/seed-provide.ts'
import type { SkylineNode } from '../../src/node/index.ts'

describe('skyline seed: the SRPM provided in the DHT only for a builder the seeder cannot reach', function () {
  this.timeout(120_000)
  const announcer = testAnnouncer()
  let mesh: TestMesh

  before(async () => { mesh = await startMesh(4, { builder: 'none', announcers: [announcer.line] }) })
  after(async () => { await mesh?.stop() })

  /** The seeder (the last node) stores a small SRPM unprovided and announces it for builders a and b (r = q = 2), naming itself */
  async function announce (): Promise<{ m: Manifest, checked: CheckedAnnouncement, seeder: SkylineNode }> {
    const seeder = mesh.nodes[3]
    const m = await seeder.libp2p.services.blobs.add(randomBytes(50_000), { provide: false })
    const envelope = createAnnouncement({
      candidates: [mesh.nodes[1].libp2p.peerId, mesh.nodes[2].libp2p.peerId],
      nevra: `pkg${randomBytes(3).toString('hex')}-1.0-1.src`,
      srpmSha256: Buffer.from(m.sha256, 'hex'),
      srpmSize: m.size,
      target: 'fedora-41-x86_64',
      replicas: 2,
      quorum: 2,
      chunkSize: m.chunkSize,
      chunkRoot: Buffer.from(m.root, 'hex'),
      provider: { peer: seeder.libp2p.peerId, addrs: seeder.libp2p.getMultiaddrs() }
    }, announcer.key)
    return { m, checked: await seeder.announce(envelope), seeder }
  }

  async function providers (node: SkylineNode, sha256: string): Promise<string[]> {
    const found: string[] = []
    for await (const p of node.libp2p.contentRouting.findProviders(cidForSha256(sha256), { signal: AbortSignal.timeout(5_000) })) found.push(p.id.toString())
    return found
  }

  it('every builder holds it: no provider record', async () => {
    const { m, checked, seeder } = await announce()
    for (const b of [mesh.nodes[1], mesh.nodes[2]]) await b.libp2p.services.blobs.fetch(refOf(m), { seeder: seeder.libp2p.peerId, signal: AbortSignal.timeout(20_000) })
    assert.equal(await provideIfUnserved(seeder, checked, { delayMs: 100, signal: AbortSignal.timeout(20_000) }), false)
    assert.deepEqual(await providers(mesh.nodes[0], m.sha256), [])
  })

  it('a builder holds none of it after the delay but the seeder reaches it (a slow builder): no provider record, and it fetches from the seeder', async () => {
    const { m, checked, seeder } = await announce()
    await mesh.nodes[1].libp2p.services.blobs.fetch(refOf(m), { seeder: seeder.libp2p.peerId, signal: AbortSignal.timeout(20_000) })
    assert.equal(await provideIfUnserved(seeder, checked, { delayMs: 100, signal: AbortSignal.timeout(20_000) }), false)
    assert.deepEqual(await providers(mesh.nodes[0], m.sha256), [])
    await mesh.nodes[2].libp2p.services.blobs.fetch(refOf(m), { seeder: seeder.libp2p.peerId, signal: AbortSignal.timeout(20_000) })
  })

  it('a builder that has not built and that the seeder cannot reach: the seeder provides it, and a fetcher finds the seeder in the DHT', async () => {
    const { m, checked, seeder } = await announce()
    await mesh.nodes[1].libp2p.services.blobs.fetch(refOf(m), { seeder: seeder.libp2p.peerId, signal: AbortSignal.timeout(20_000) })
    const gone = mesh.nodes[2]
    await gone.stop()
    await waitFor('the seeder to see the builder gone', async () => seeder.libp2p.getConnections(gone.libp2p.peerId).length === 0, 10_000, 100)
    assert.equal(await provideIfUnserved(seeder, checked, { delayMs: 100, reachTimeoutMs: 3_000, signal: AbortSignal.timeout(20_000) }), true)
    await waitFor('the seeder\'s provider record', async () => (await providers(mesh.nodes[0], m.sha256)).includes(seeder.peerId), 20_000, 500)
    // a fetcher named no seeder (its hint lost) finds it there
    await mesh.nodes[0].libp2p.services.blobs.fetch(refOf(m), { signal: AbortSignal.timeout(30_000) })
  })
})
