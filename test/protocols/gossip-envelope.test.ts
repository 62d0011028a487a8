/**
 * The gossip envelope (docs/protocols/gossip.md, "Messages"): a Skyline message carries no gossipsub
 * author, sequence number, signature or key; the payload's own signature is what counts. A node refuses a
 * message signed at the gossip level (as a StrictSign peer sends it) and scores its sender for it, accepts
 * an unsigned one whose payload checks out, and publishes its own messages unsigned.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { gossipsub, type GossipSub, type SignaturePolicy } from '@libp2p/gossipsub'
import type { SkylineNode } from '../../src/node/index.ts'
import type { CheckedAnnouncement } from '../../src/protocols/announce.ts'
import type { ValidationOutcome } from '../../src/protocols/gossip.ts'
import { stringifyTopic } from '../../src/protocols/ids.ts'
import { gossipMessageId } from '../../src/node/libp2p.ts'
import { startNode, waitFor } from '../helpers/mesh.ts'
import { testAnnouncer, testAnnouncement } from '../helpers/announce.ts'

const TOPIC = stringifyTopic('announce')
/** how long a message that should not arrive is given to arrive anyway */
const SILENCE_MS = 1500

type RawPeer = Libp2p<{ pubsub: GossipSub, identify: unknown }>

/** A plain gossipsub peer with the given signature policy, subscribed to the announce topic and connected to `node` */
async function rawPeer (node: SkylineNode, policy: SignaturePolicy): Promise<RawPeer> {
  const peer = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), pubsub: gossipsub({ globalSignaturePolicy: policy, msgIdFn: gossipMessageId, allowPublishToZeroTopicPeers: true, emitSelf: false }) }
  })
  peer.services.pubsub.subscribe(TOPIC)
  await peer.dial(node.libp2p.getMultiaddrs()[0])
  await waitFor(`a ${policy} peer and the node to see each other on the topic`, () =>
    peer.services.pubsub.getSubscribers(TOPIC).some(p => p.toString() === node.peerId) &&
    node.libp2p.services.pubsub.getSubscribers(TOPIC).some(p => p.equals(peer.peerId)))
  return peer
}

/** The payloads a raw peer receives on the topic */
function received (peer: RawPeer): Uint8Array[] {
  const got: Uint8Array[] = []
  peer.services.pubsub.addEventListener('message', evt => { if (evt.detail.topic === TOPIC) got.push(evt.detail.data) })
  return got
}

const sleep = async (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
const holds = (list: Uint8Array[], bytes: Uint8Array): boolean => list.some(d => Buffer.from(d).equals(bytes))

describe('the gossip envelope: no gossip-level author or signature', function () {
  this.timeout(60_000)
  const announcer = testAnnouncer()
  let node: SkylineNode
  let signing: RawPeer
  let plain: RawPeer
  const announced: CheckedAnnouncement[] = []
  const outcomes: ValidationOutcome[] = []

  before(async () => {
    node = await startNode({ builder: 'none', announcers: [announcer.line] })
    node.addEventListener('announcement', (e: CustomEvent<CheckedAnnouncement>) => announced.push(e.detail))
    node.addEventListener('validation', (e: CustomEvent<ValidationOutcome>) => outcomes.push(e.detail))
    signing = await rawPeer(node, 'StrictSign')
    plain = await rawPeer(node, 'StrictNoSign')
  })

  after(async () => {
    await Promise.allSettled([signing?.stop(), plain?.stop()])
    if (node !== undefined) {
      await node.stop()
      rmSync(node.config.dataDir, { recursive: true, force: true })
    }
  })

  it('an unsigned message whose payload checks out is accepted, and attributed to the peer that sent the copy', async () => {
    const bytes = testAnnouncement(announcer)
    await plain.services.pubsub.publish(TOPIC, bytes)
    await waitFor('the announcement at the node', () => announced.length === 1, 10_000)
    assert.ok(Buffer.from(announced[0].envelope).equals(bytes))
    assert.deepEqual(outcomes.map(o => [o.result, o.propagationSource]), [['accept', plain.peerId.toString()]])
    // the SRPM's first source comes from the signed provider hint only (this announcement has none), never from the gossip path
    assert.equal(announced[0].source, undefined)
  })

  it('a message signed at the gossip level (a StrictSign peer\'s) is refused before validation, and its sender scored for it', async () => {
    const validated = outcomes.length
    const delivered = announced.length
    await signing.services.pubsub.publish(TOPIC, testAnnouncement(announcer))
    await sleep(SILENCE_MS)
    assert.equal(announced.length, delivered, 'the signed message was delivered')
    assert.equal(outcomes.length, validated, 'the signed message reached a topic validator')
    // the implementation's score, which the GossipSub interface does not expose
    const score = (node.libp2p.services.pubsub as unknown as { getScore: (peer: string) => number }).getScore(signing.peerId.toString())
    assert.ok(score < 0, `the StrictSign peer's score is ${score}: an invalid delivery scores below 0`)
  })

  it('the node publishes unsigned: a StrictNoSign peer accepts its message, a StrictSign peer refuses it', async () => {
    const atPlain = received(plain)
    const atSigning = received(signing)
    const bytes = testAnnouncement(announcer)
    await node.announce(bytes)
    await waitFor('the node\'s announcement at the StrictNoSign peer', () => holds(atPlain, bytes), 10_000)
    await sleep(SILENCE_MS)
    assert.ok(!holds(atSigning, bytes), 'a StrictSign peer accepted the node\'s message: it was signed at the gossip level')
  })
})
