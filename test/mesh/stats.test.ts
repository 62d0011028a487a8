/**
 * The stats tracker on a real mesh: builders sign their contributor name and build time into their
 * attestations, and every node, builders and a relay alike, computes the same leaderboard from what was
 * gossiped; credit goes to the agreeing builders of agreed jobs only.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { startNode, waitFor, waitForBuilders, tempDir, type TestMesh } from '../helpers/mesh.ts'
import { testAnnouncer, seedSrpm } from '../helpers/announce.ts'
import { makeSignedSrpms } from '../helpers/srpms.ts'
import { missingTools } from '../helpers/srpm.ts'
import type { SkylineNode } from '../../src/node/index.ts'

describe('stats tracker on a mesh: 5 builders, 2 jobs, r = 4', function () {
  this.timeout(240_000)
  const announcer = testAnnouncer()
  let mesh: TestMesh
  let relay: SkylineNode | undefined
  let dir: string

  before(async function () {
    if (missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap']) !== undefined) this.skip()
    dir = tempDir()
    const made = await makeSignedSrpms(dir, 2)
    // two nodes belong to 'alice' (with r = 4 of 5, she builds every job), the others have no name
    const base = { announcers: [announcer.line], builder: 'rpmbuild', keyring: made.keyPath }
    const first = await startNode({ ...base, contributor: 'alice' })
    const boot = [first.libp2p.getMultiaddrs()[0].toString()]
    const rest = await Promise.all([0, 1, 2, 3].map(async i => startNode({ ...base, bootstrap: boot, ...(i === 0 ? { contributor: 'alice' } : {}) })))
    const nodes = [first, ...rest]
    mesh = { nodes, dirs: nodes.map(n => n.config.dataDir), stop: async () => { await Promise.allSettled(nodes.map(async n => n.stop())); for (const n of nodes) rmSync(n.config.dataDir, { recursive: true, force: true }) } }
    await waitForBuilders(mesh.nodes)
    for (const srpm of made.srpms) await seedSrpm(mesh.nodes[4], announcer, srpm, { replicas: 4, quorum: 3 })
    await waitFor('2 final agreed verdicts on every node', () => mesh.nodes.every(n => n.store.verdicts().filter(v => v.final && v.verdict === 'agreed').length === 2), 180_000, 250)
    // a relay that joins afterwards learns everything by sync
    relay = await startNode({ announcers: [announcer.line], builder: 'none', bootstrap: [mesh.nodes[0].libp2p.getMultiaddrs()[0].toString()] })
    await waitFor('the relay to sync both verdicts', () => relay!.store.verdicts().filter(v => v.final && v.verdict === 'agreed').length === 2, 60_000, 250)
  })

  after(async () => {
    await relay?.stop()
    await mesh?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('every node computes the same leaderboard; credit only for the agreeing builders', () => {
    const now = Date.now()
    // the same moment for all (recent credit decays with time); `self` differs by design
    const all = [...mesh.nodes, relay!].map(n => ({ ...n.stats(now), self: '' }))
    for (const s of all.slice(1)) assert.deepEqual(s, all[0])
    const s = all[0]
    assert.equal(s.totals.agreed, 2)
    const builders = s.nodes.filter(n => n.builds > 0)
    assert.equal(builders.reduce((sum, n) => sum + n.builds, 0), 8, '2 jobs × 4 builders')
    for (const n of builders) {
      assert.equal(n.agreed, n.builds)
      assert.ok(n.credit >= n.agreed, `at least 1 credit per agreed build: ${JSON.stringify(n)}`)
      assert.ok(n.rac > 0)
    }
    assert.equal(s.totals.credit, Math.round(builders.reduce((sum, n) => sum + n.credit, 0) * 1000) / 1000)
  })

  it('groups the nodes of one contributor, by the name they signed', () => {
    const s = relay!.stats()
    const alice = mesh.nodes.slice(0, 2).map(n => n.peerId)
    for (const n of s.nodes) assert.equal(n.contributor, alice.includes(n.peerId) ? 'alice' : null)
    const row = s.contributors.find(c => c.contributor === 'alice')
    const aliceBuilders = s.nodes.filter(n => alice.includes(n.peerId))
    assert.ok(aliceBuilders.length >= 1)
    assert.deepEqual(row?.nodes, aliceBuilders.map(n => n.peerId).sort())
    assert.equal(row?.builds, aliceBuilders.reduce((sum, n) => sum + n.builds, 0))
    assert.equal(row?.credit, Math.round(aliceBuilders.reduce((sum, n) => sum + n.credit, 0) * 1000) / 1000)
    for (const n of s.nodes.filter(x => !alice.includes(x.peerId))) assert.ok(s.contributors.some(c => c.contributor === n.peerId))
  })
})
