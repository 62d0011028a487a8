import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import type { CheckedAnnouncement } from '../../src/protocols/announce.ts'
import { GOSSIP_MESSAGE_ID_BYTES } from '../../src/node/libp2p.ts'
import { stringifyTopic } from '../../src/protocols/ids.ts'
import { startMesh, waitFor, type TestMesh } from '../helpers/mesh.ts'
import { testAnnouncer, testAnnouncement } from '../helpers/announce.ts'

const TOPIC = stringifyTopic('announce')

interface ControlIds { messageIDs?: Uint8Array[] }
interface Rpc { control?: { ihave?: ControlIds[], iwant?: ControlIds[], idontwant?: ControlIds[] } }

describe('gossip message ids on the wire', function () {
  this.timeout(60_000)
  let mesh: TestMesh | undefined

  after(async () => { await mesh?.stop() })

  it('are the first 20 bytes of sha256(topic || 0 || data): every IDONTWANT, IHAVE and IWANT a node receives carries them', async () => {
    const announcer = testAnnouncer()
    mesh = await startMesh(4, { announcers: [announcer.line] })
    // what each node's gossipsub decoded from its peers' RPCs, part by part
    const received: Array<{ part: string, id: Uint8Array }> = []
    for (const n of mesh.nodes) {
      const pubsub = n.libp2p.services.pubsub as unknown as { handleReceivedRpc: (from: unknown, rpc: Rpc) => Promise<void> }
      const handle = pubsub.handleReceivedRpc.bind(pubsub)
      pubsub.handleReceivedRpc = async (from, rpc) => {
        for (const part of ['ihave', 'iwant', 'idontwant'] as const) {
          for (const c of rpc.control?.[part] ?? []) for (const id of c.messageIDs ?? []) received.push({ part, id })
        }
        return handle(from, rpc)
      }
    }
    await waitFor('announce meshes', () => mesh!.nodes.every(n => n.status().topics[TOPIC].meshPeers.length >= 2))
    const delivered = new Map(mesh.nodes.map(n => [n.peerId, false]))
    for (const n of mesh.nodes) n.addEventListener('announcement', (_e: CustomEvent<CheckedAnnouncement>) => delivered.set(n.peerId, true))

    const bytes = testAnnouncement(announcer)
    assert.ok(bytes.byteLength >= 128, 'the announcement is large enough to be refused by IDONTWANT')
    await mesh.nodes[0].announce(bytes)
    await waitFor('delivery at every other node', () => mesh!.nodes.slice(1).every(n => delivered.get(n.peerId) === true), 10_000)
    // a receiver tells its other mesh peers at once; wait for those and a heartbeat's IHAVE
    await waitFor('an IDONTWANT of the announcement', () => received.some(r => r.part === 'idontwant'), 5_000)
    await new Promise(resolve => setTimeout(resolve, 1_500))

    const expected = createHash('sha256').update(TOPIC).update(new Uint8Array(1)).update(bytes).digest().subarray(0, 20)
    for (const r of received) assert.equal(r.id.byteLength, 20, `a ${r.part} id of ${r.id.byteLength} bytes`)
    const dontwant = received.filter(r => r.part === 'idontwant')
    assert.ok(dontwant.length >= 1)
    assert.ok(dontwant.every(r => Buffer.from(r.id).equals(expected)), 'an IDONTWANT names another message than the announcement')
    assert.equal(GOSSIP_MESSAGE_ID_BYTES, 20)
  })
})
