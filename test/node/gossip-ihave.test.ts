/**
 * IHAVE gossip goes to `Dlazy` non-mesh peers per heartbeat, however many peers a node has: a node at its
 * connection limit (~30 topic peers) would otherwise send each message id to a quarter of them
 * (js-gossipsub's gossipFactor), twice as many frames as `Dlazy`'s 3. Checked on a started node's own
 * gossipsub, its peer selection called with candidate sets of the sizes a node has.
 */
import assert from 'node:assert/strict'
import { GOSSIP_DEGREE } from '../../src/node/libp2p.ts'
import { stringifyTopic } from '../../src/protocols/ids.ts'
import { startMesh, type TestMesh } from '../helpers/mesh.ts'

interface Emitter {
  gossip: Map<string, unknown[]>
  doEmitGossip: (topic: string, candidates: Set<string>, messageIds: Uint8Array[]) => void
}

describe('IHAVE fan-out', function () {
  this.timeout(30_000)
  let mesh: TestMesh | undefined

  after(async () => { await mesh?.stop() })

  it('is Dlazy peers a heartbeat whether a node has 8, 30 or 60 peers to gossip to', async () => {
    mesh = await startMesh(1)
    const pubsub = mesh.nodes[0].libp2p.services.pubsub as unknown as Emitter
    for (const peers of [8, 30, 60]) {
      pubsub.gossip.clear()
      const candidates = new Set(Array.from({ length: peers }, (_, i) => `peer-${i}`))
      pubsub.doEmitGossip(stringifyTopic('consensus'), candidates, [new Uint8Array(20).fill(peers)])
      const chosen = [...pubsub.gossip.keys()]
      pubsub.gossip.clear()
      assert.equal(chosen.length, GOSSIP_DEGREE.Dlazy, `IHAVE to ${chosen.length} of ${peers} candidates`)
      assert.ok(chosen.every(p => candidates.has(p)))
    }
  })
})
