import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { startMesh, startNode, waitFor, type TestMesh } from '../helpers/mesh.ts'
import { testAnnouncer, testAnnouncement } from '../helpers/announce.ts'
import { stringifyTopic } from '../../src/protocols/ids.ts'
import { GOSSIP_DEGREE } from '../../src/node/libp2p.ts'
import type { SkylineNode } from '../../src/node/index.ts'

const NODES = 9

describe('skyline seed: publishing without flood (floodPublish: false)', function () {
  this.timeout(120_000)
  const announcer = testAnnouncer()
  const topic = stringifyTopic('announce')
  let mesh: TestMesh
  const seeders: SkylineNode[] = []

  before(async () => {
    mesh = await startMesh(NODES, { builder: 'none', announcers: [announcer.line] })
    const boot = mesh.nodes[0].libp2p.getMultiaddrs()[0].toString()
    for (const floodPublish of [false, true]) {
      seeders.push(await startNode({ builder: 'none', announcers: [announcer.line], bootstrap: [boot] }, {}, { dhtClientMode: true, floodPublish }))
    }
    // every node connected to both seeders, so a flood would reach all of them
    for (const s of seeders) for (const n of mesh.nodes) await s.libp2p.dial(n.libp2p.getMultiaddrs()[0])
    await waitFor('the seeders\' meshes on the announce topic', () => seeders.every(s => s.libp2p.services.pubsub.getSubscribers(topic).length >= NODES && s.status().topics[topic].meshPeers.length >= GOSSIP_DEGREE.Dlo), 30_000)
  })
  after(async () => {
    for (const s of seeders) { await s.stop(); rmSync(s.config.dataDir, { recursive: true, force: true }) }
    await mesh?.stop()
  })

  it('sends the announcement to its topic mesh only, and every node still gets it; a flooding node sends it to every topic peer', async () => {
    const recipients: number[] = []
    for (const s of seeders) {
      const envelope = testAnnouncement(announcer)
      const got = new Set<string>()
      for (const n of mesh.nodes) n.addEventListener('announcement', () => { got.add(n.peerId) }, { once: true })
      recipients.push((await s.libp2p.services.pubsub.publish(topic, envelope)).recipients.length)
      await waitFor('the announcement at every node', () => got.size === NODES, 20_000)
    }
    console.log(`      copies sent by the seeder: ${recipients[0]} without flood, ${recipients[1]} with (${NODES} topic peers)`)
    assert.ok(recipients[0] <= GOSSIP_DEGREE.Dhi, `${recipients[0]} copies, more than the mesh degree`)
    assert.ok(recipients[1] >= NODES, `a flooding node sent ${recipients[1]} copies to ${NODES} topic peers`)
  })
})
