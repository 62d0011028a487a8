import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import type { SkylineNode } from '../../src/node/index.ts'
import { startMesh, waitFor, type TestMesh } from '../helpers/mesh.ts'
import { testAnnouncer, testAnnouncement } from '../helpers/announce.ts'
import { bufferKadId, sortByDistance } from '../../src/rules/distance.ts'

describe('a mesh of 10 real nodes from one bootstrap node', function () {
  this.timeout(90_000)
  let mesh: TestMesh
  const announcer = testAnnouncer()

  before(async () => {
    mesh = await startMesh(10, { announcers: [announcer.line] })
    await waitFor('every routing table to hold the other 9 peers', async () => {
      for (const n of mesh.nodes) {
        for (const other of mesh.nodes) {
          if (other !== n && await routingTable(n).find(other.libp2p.peerId) === undefined) return false
        }
      }
      return true
    }, 30_000)
  })
  after(async () => { await mesh?.stop() })

  it('every node\'s routing table holds every other node\'s ID', async () => {
    for (const node of mesh.nodes) {
      for (const other of mesh.nodes) {
        if (other === node) continue
        assert.ok(await routingTable(node).find(other.libp2p.peerId), `${node.peerId} lacks ${other.peerId}`)
      }
    }
  })

  it('getClosestPeers for a random key gives the same closest set from every node', async () => {
    const all = mesh.nodes.map(n => n.libp2p.peerId)
    for (let round = 0; round < 3; round++) {
      const key = randomBytes(32)
      const kadKey = bufferKadId(key)
      const truth = sortByDistance(kadKey, all).slice(0, 5).map(String)
      for (const node of mesh.nodes) {
        const found = new Map<string, PeerId>([[node.peerId, node.libp2p.peerId]])
        for await (const evt of node.libp2p.services.dht.getClosestPeers(key, { signal: AbortSignal.timeout(10_000) })) {
          if (evt.name === 'FINAL_PEER') found.set(evt.peer.id.toString(), evt.peer.id)
        }
        assert.equal(found.size, 10, `node ${node.peerId} found ${found.size} of 10 peers`)
        assert.deepEqual(sortByDistance(kadKey, found.values()).slice(0, 5).map(String), truth)
        // our XOR ordering is kad-dht's own: its routing table sorts the same peers the same way
        const others = sortByDistance(kadKey, all.filter(p => !p.equals(node.libp2p.peerId))).map(String)
        assert.deepEqual(routingTable(node).closestPeers(kadKey, { count: 20 }).map(String), others)
      }
    }
  })

  it('a gossipsub message published by one node reaches all 10', async () => {
    await waitFor('announce-topic meshes to form', () => mesh.nodes.every(n => n.status().topics['/skyline/2/announce'].meshPeers.length > 0))
    const payload = testAnnouncement(announcer)
    const received = new Set<string>()
    const listeners = mesh.nodes.map(n => {
      const l = (evt: CustomEvent<{ topic: string, data: Uint8Array }>): void => {
        if (evt.detail.topic === 'announce' && Buffer.from(evt.detail.data).equals(payload)) received.add(n.peerId)
      }
      n.addEventListener('message', l)
      return () => n.removeEventListener('message', l)
    })
    const publisher = mesh.nodes[7]
    const result = await publisher.libp2p.services.pubsub.publish('/skyline/2/announce', payload)
    received.add(publisher.peerId) // the publisher holds its own message
    assert.ok(result.recipients.length > 0)
    await waitFor('the message at all 10 nodes', () => received.size === 10, 10_000)
    listeners.forEach(off => off())
  })
})

/** kad-dht's routing table class has find(); its exported interface only declares size */
function routingTable (node: SkylineNode): { find: (p: PeerId) => Promise<PeerId | undefined>, closestPeers: (k: Uint8Array, o: { count: number }) => PeerId[] } {
  return (node.libp2p.services.dht as any).routingTable
}
