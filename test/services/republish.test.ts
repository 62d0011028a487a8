/**
 * A builder's own attestation made while no peer is on the consensus topic (it just restarted, or was
 * cut off) would be published to nobody: it waits for topic peers and is gossiped once one joins
 * (src/services/republish.ts). The peer here is a bare gossipsub peer, without Skyline's sync, so only
 * gossip can bring it the attestation.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { rmSync } from 'node:fs'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Message } from '@libp2p/gossipsub'
import type { SkylineNode } from '../../src/node/index.ts'
import { stringifyTopic } from '../../src/protocols/ids.ts'
import { checkConsensusMessage } from '../../src/protocols/attestation.ts'
import { startNode } from '../helpers/mesh.ts'
import { randomPeerId, testAnnouncement, testAnnouncer } from '../helpers/announce.ts'
import { startRawPeer, type RawPeer } from '../stress/lib/raw-peer.ts'

describe('own attestations made with no peer on the consensus topic', function () {
  this.timeout(60_000)
  const announcer = testAnnouncer()
  let node: SkylineNode | undefined
  let peer: RawPeer | undefined

  afterEach(async () => {
    await peer?.stop()
    await node?.stop()
    if (node !== undefined) rmSync(node.config.dataDir, { recursive: true, force: true })
  })

  it('are gossiped once a peer joins the topic', async () => {
    node = await startNode({ builder: 'none', announcers: [announcer.line] })
    const self = peerIdFromString(node.libp2p.peerId.toString())
    const checked = node.announcements.add(testAnnouncement(announcer, { replicas: 3, quorum: 2, candidates: [self, randomPeerId(), randomPeerId()] }))
    const files = [{ name: 'pkg-1.0-1.fc41.x86_64.rpm', size: 1, sha256: createHash('sha256').update('x').digest('hex') }]
    // alone: the attestation is recorded, and gossip would reach nobody
    await node.verdicts.attest({ job: checked.job, status: 'ok', buildHash: undefined, files, environment: {}, durationMs: 1, logExcerpt: undefined, finishedAt: Date.now() })
    assert.ok(node.store.attestation(checked.job, self.toString()) !== undefined)
    // a peer comes later than gossipsub's message cache keeps it (5 heartbeats of 1 s): IHAVE cannot bring it
    await new Promise(resolve => setTimeout(resolve, 7_000))

    const topic = stringifyTopic('consensus')
    peer = await startRawPeer()
    const received = new Promise<Uint8Array>(resolve => {
      peer!.node.services.pubsub.addEventListener('message', (evt: CustomEvent<Message>) => { if (evt.detail.topic === topic) resolve(evt.detail.data) })
    })
    peer.node.services.pubsub.subscribe(topic)
    await peer.dial([node.libp2p.getMultiaddrs()[0].toString()])
    const data = await Promise.race([received, new Promise<undefined>(resolve => setTimeout(() => { resolve(undefined) }, 15_000))])
    assert.ok(data !== undefined, 'the attestation was not gossiped to the peer that joined the topic')
    const m = checkConsensusMessage(data, Date.now())
    assert.equal(m.type, 'attestation')
    assert.equal(m.type === 'attestation' ? `${m.attestation.job}/${m.attestation.builder}` : '', `${checked.job}/${self.toString()}`)
  })
})
