import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { Announcement, SignedEnvelope } from '../../src/protocols/pb/announce.ts'
import { signEnvelope, ENVELOPE_KIND } from '../../src/protocols/signing.ts'
import type { CheckedAnnouncement } from '../../src/protocols/announce.ts'
import type { ValidationOutcome } from '../../src/protocols/gossip.ts'
import { gossipFastMessageId, gossipMessageId } from '../../src/node/libp2p.ts'
import { stringifyTopic } from '../../src/protocols/ids.ts'
import { startMesh, waitFor, type TestMesh } from '../helpers/mesh.ts'
import { testAnnouncer, testAnnouncement } from '../helpers/announce.ts'

const TOPIC = stringifyTopic('announce')

describe('announcements on a mesh with an attacker', function () {
  this.timeout(90_000)
  const announcer = testAnnouncer()
  let mesh: TestMesh
  let attacker: Libp2p<{ pubsub: GossipSub, identify: any }>
  const delivered = new Map<string, Set<string>>() // node -> announcement ids
  const outcomes = new Map<string, ValidationOutcome[]>() // node -> validation outcomes

  before(async () => {
    mesh = await startMesh(5, { announcers: [announcer.line] })
    for (const n of mesh.nodes) {
      delivered.set(n.peerId, new Set())
      outcomes.set(n.peerId, [])
      n.addEventListener('announcement', (e: CustomEvent<CheckedAnnouncement>) => delivered.get(n.peerId)!.add(e.detail.id))
      n.addEventListener('validation', (e: CustomEvent<ValidationOutcome>) => outcomes.get(n.peerId)!.push(e.detail))
    }
    await waitFor('announce meshes', () => mesh.nodes.every(n => n.status().topics[TOPIC].meshPeers.length >= 2))
    // the attacker speaks plain gossipsub, validates nothing, and is connected to one honest node only; a
    // random message id lets it publish a payload it has seen (its replay of a valid announcement)
    attacker = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, globalSignaturePolicy: 'StrictNoSign', msgIdFn: () => randomBytes(32) }) }
    })
    attacker.services.pubsub.subscribe(TOPIC)
    await attacker.dial(mesh.nodes[0].libp2p.getMultiaddrs()[0])
    await waitFor('the attacker to see node 0 on the topic', () => attacker.services.pubsub.getSubscribers(TOPIC).some(p => p.toString() === mesh.nodes[0].peerId))
  })

  after(async () => {
    await attacker?.stop()
    await mesh?.stop()
  })

  it('a valid announcement reaches every node', async () => {
    const bytes = testAnnouncement(announcer)
    const checked = await mesh.nodes[3].announce(bytes)
    await waitFor('delivery at all 5 nodes', () => mesh.nodes.every(n => delivered.get(n.peerId)!.has(checked.id)), 10_000)
    // and the attacker, a plain gossipsub peer of node 0, got it too: keep it for the replay below
    replayable.push(bytes)
  })
  const replayable: Uint8Array[] = []

  it('every receiver keeps the fast id of the copy it accepted, so later copies skip the signature check', () => {
    const msg = { topic: TOPIC, data: replayable[0] }
    for (const n of mesh.nodes.filter((_, i) => i !== 3)) {
      const pubsub = n.libp2p.services.pubsub as any
      // gossipsub verifies a copy's signature only when its fast id is not in this cache
      assert.equal(pubsub.fastMsgIdCache?.get(gossipFastMessageId(msg)), pubsub.msgIdToStrFn(gossipMessageId({ ...msg, type: 'unsigned' })), `node ${n.peerId}`)
    }
  })

  it('forged, expired, replayed, oversized and untrusted-key announcements reach no application and are not forwarded', async () => {
    const valid = testAnnouncement(announcer)
    const env = SignedEnvelope.decode(valid)
    const a = Announcement.decode(env.payload)
    const sig = new Uint8Array(env.signature)
    sig[0] ^= 1
    const attacks: Record<string, Uint8Array> = {
      forged: SignedEnvelope.encode({ ...env, signature: sig }),
      'forged-payload': SignedEnvelope.encode({ ...env, payload: Announcement.encode({ ...a, replicas: 7, quorum: 4 }) }),
      expired: testAnnouncement(announcer, { now: Date.now() - 3 * 86400_000, validityMs: 86400_000 }),
      // the same announcer and sequence with other content: a replay dressed up as new
      'replayed-sequence': signEnvelope(ENVELOPE_KIND.announcement, Announcement.encode({ ...Announcement.decode(SignedEnvelope.decode(replayable[0]).payload), beacon: randomBytes(32) }), announcer.key),
      oversized: new Uint8Array([...valid, ...randomBytes(8 * 1024)]),
      untrusted: testAnnouncement(testAnnouncer())
    }
    const before = new Map(mesh.nodes.map(n => [n.peerId, delivered.get(n.peerId)!.size]))
    const validatedBefore = new Map(mesh.nodes.map(n => [n.peerId, outcomes.get(n.peerId)!.length]))
    for (const [name, bytes] of Object.entries(attacks)) {
      await attacker.services.pubsub.publish(TOPIC, bytes)
      await new Promise(resolve => setTimeout(resolve, 100))
      void name
    }
    // an exact replay of the valid announcement: the same content address, a duplicate
    await attacker.services.pubsub.publish(TOPIC, replayable[0])
    await new Promise(resolve => setTimeout(resolve, 1500))

    const victim = mesh.nodes[0]
    const seen = outcomes.get(victim.peerId)!.filter(o => o.propagationSource === attacker.peerId.toString())
    assert.ok(seen.length >= 1, 'node 0 validated the attacker\'s messages')
    assert.ok(seen.every(o => o.result !== 'accept'), JSON.stringify(seen))
    assert.ok(seen.some(o => o.reason === 'bad-signature'), JSON.stringify(seen))
    for (const n of mesh.nodes) {
      assert.equal(delivered.get(n.peerId)!.size, before.get(n.peerId), `node ${n.peerId} delivered an attack`)
      if (n === victim) continue
      const forwarded = outcomes.get(n.peerId)!.slice(validatedBefore.get(n.peerId))
      assert.deepEqual(forwarded, [], `node ${n.peerId} saw the attacker's messages: they were forwarded`)
    }
    // the attacker's gossipsub score at its victim has fallen below the graylist threshold
    const score = (victim.libp2p.services.pubsub as any).getScore(attacker.peerId.toString())
    assert.ok(score < -80, `attacker score ${score}`)
  })

  it('after the attacks, valid announcements still reach every node', async () => {
    const checked = await mesh.nodes[1].announce(testAnnouncement(announcer))
    await waitFor('delivery at all 5 nodes', () => mesh.nodes.every(n => delivered.get(n.peerId)!.has(checked.id)), 10_000)
  })
})
