/**
 * kad-dht's contact check (src/services/kad-contacts.ts): a connected contact enters the routing table
 * without a ping stream, a peer only heard of is not dialled to be checked once the routing table holds k
 * peers (it is while it holds fewer), and a peer known to speak the DHT protocol gets a real ping (a dial).
 */
import { strict as assert } from 'node:assert'
import { DHT_PROTOCOL } from '../../src/node/constants.ts'
import type { SkylineNode } from '../../src/node/index.ts'
import { KadContactCheck, STRANGER_CHECKS_BELOW } from '../../src/services/kad-contacts.ts'
import { pingStreamBytes, routingTableSize, startNode, waitFor } from '../helpers/mesh.ts'

function connected (node: SkylineNode, peer: SkylineNode): boolean {
  return node.libp2p.getConnections(peer.libp2p.peerId).length > 0
}

describe('kad-dht contact check', function () {
  this.timeout(60_000)

  it('a connected contact enters the routing table without a ping stream', async () => {
    const a = await startNode()
    const b = await startNode({ bootstrap: [a.libp2p.getMultiaddrs()[0].toString()] })
    try {
      await waitFor('both routing tables to hold the other', () => routingTableSize(a) > 0 && routingTableSize(b) > 0, 30_000)
      assert.equal(await pingStreamBytes(a) + await pingStreamBytes(b), 0, 'kad-dht opened a ping stream to a peer it was connected to')
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  })

  it('does not dial a peer only heard of once the table holds k peers, and pings (dials) a peer known to speak the DHT protocol', async () => {
    const a = await startNode()
    const c = await startNode()
    try {
      // the check's pings, recorded: a ping to a peer not connected is the check's dial (a node with no
      // connection also dials the peers it has learned, src/services/redial.ts: CI saw it reach the stranger)
      const pinged: string[] = []
      const ping = { ping: async (peer: any, options?: any): Promise<number> => { pinged.push(peer.toString()); return a.libp2p.services.ping.ping(peer, options) } }
      // the contact as kad-dht hands it over: not connected (whatever the node has done meanwhile)
      const notConnected = { getConnections: () => [] }
      // a routing table of k peers: a stranger is not dialled to be checked
      const check = new KadContactCheck({ connectionManager: notConnected, peerStore: a.libp2p.peerStore, ping }, { protocol: DHT_PROTOCOL, tableSize: () => STRANGER_CHECKS_BELOW })
      // a stranger: its address is known (as from a FIND_NODE answer), the node never connected to it
      await a.libp2p.peerStore.merge(c.libp2p.peerId, { multiaddrs: c.libp2p.getMultiaddrs() })
      await assert.rejects(check.ping(c.libp2p.peerId), /not dialling/)
      assert.deepEqual(pinged, [], 'the check dialled a stranger')
      // below k peers, a stranger is dialled and pinged, as kad-dht does
      const smallTable = new KadContactCheck({ connectionManager: notConnected, peerStore: a.libp2p.peerStore, ping }, { protocol: DHT_PROTOCOL, tableSize: () => STRANGER_CHECKS_BELOW - 1 })
      assert.ok(await smallTable.ping(c.libp2p.peerId) >= 0 && connected(a, c), 'a stranger was not dialled while the routing table was small')
      assert.deepEqual(pinged, [c.libp2p.peerId.toString()])

      // connected: alive, no stream
      await waitFor('identify to record the DHT protocol', async () => (await a.libp2p.peerStore.get(c.libp2p.peerId)).protocols.includes(DHT_PROTOCOL))
      const bytes = await pingStreamBytes(a)
      const live = new KadContactCheck({ connectionManager: a.libp2p, peerStore: a.libp2p.peerStore, ping }, { protocol: DHT_PROTOCOL, tableSize: () => STRANGER_CHECKS_BELOW })
      assert.equal(await live.ping(c.libp2p.peerId), 0)
      assert.equal(await pingStreamBytes(a), bytes, 'a ping stream to a connected peer')
      assert.equal(pinged.length, 1)

      // an old contact, no longer connected: a real ping, which dials it
      await a.libp2p.hangUp(c.libp2p.peerId)
      await waitFor('the hang-up', () => !connected(a, c))
      const rtt = await check.ping(c.libp2p.peerId)
      assert.ok(rtt >= 0 && connected(a, c), 'a known DHT peer was not pinged')
      assert.deepEqual(pinged, [c.libp2p.peerId.toString(), c.libp2p.peerId.toString()])
      assert.ok(await pingStreamBytes(a) > bytes, 'no ping stream to the known DHT peer')
    } finally {
      await Promise.all([a.stop(), c.stop()])
    }
  })
})
