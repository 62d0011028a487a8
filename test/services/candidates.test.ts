import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { startMesh, waitForBuilders, type TestMesh } from '../helpers/mesh.ts'
import { RULES_V1, RULES_V2 } from '../../src/protocols/announce.ts'
import type { SkylineNode } from '../../src/node/index.ts'

/** Counts the closest-peers lookups a node starts, around its real kad-dht */
function countLookups (node: SkylineNode): { count: number } {
  const dht = node.libp2p.services.dht
  const real = dht.getClosestPeers.bind(dht)
  const counter = { count: 0 }
  dht.getClosestPeers = (...args: Parameters<typeof real>) => {
    counter.count++
    return real(...args)
  }
  return counter
}

describe('findCandidates: the closest-peers lookup (4 builder nodes)', function () {
  this.timeout(120_000)
  let mesh: TestMesh
  let lookups: { count: number }

  before(async () => {
    mesh = await startMesh(4, { builder: 'rpmbuild' })
    await waitForBuilders(mesh.nodes)
    lookups = countLookups(mesh.nodes[0])
  })
  after(async () => { await mesh?.stop() })
  beforeEach(() => { lookups.count = 0 })

  it('rules v2: no lookup when the peers the node knows fill the list, and the list is every builder it knows', async () => {
    // one seat: candidateCount(1) = 2 of the 4 builders this node knows
    const listed = await mesh.nodes[0].findCandidates(randomBytes(32), 1, { rules: RULES_V2, beacon: randomBytes(32) })
    assert.equal(listed.length, 2)
    assert.equal(lookups.count, 0)
    const all = await mesh.nodes[0].findCandidates(randomBytes(32), 2, { rules: RULES_V2, beacon: randomBytes(32) })
    assert.deepEqual(new Set(all.map(String)), new Set(mesh.nodes.map(n => n.peerId)))
    assert.equal(lookups.count, 0)
  })

  it('rules v2: a lookup when the known peers fall short of the list', async () => {
    // three seats: candidateCount(3) = 6, more than the 4 builders of the mesh
    const listed = await mesh.nodes[0].findCandidates(randomBytes(32), 3, { rules: RULES_V2, beacon: randomBytes(32) })
    assert.equal(listed.length, 4)
    assert.equal(lookups.count, 1)
  })

  it('rules v1: always a lookup (the builders are those closest to the job key, which the lookup finds)', async () => {
    const listed = await mesh.nodes[0].findCandidates(randomBytes(32), 1, { rules: RULES_V1 })
    assert.equal(listed.length, 2)
    assert.equal(lookups.count, 1)
  })
})
