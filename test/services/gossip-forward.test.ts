import assert from 'node:assert/strict'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { defaultLogger } from '@libp2p/logger'
import { gossipsub, TopicValidatorResult, type GossipSub } from '@libp2p/gossipsub'
import { GossipForward, type GossipForwardComponents } from '../../src/services/gossip-forward.ts'
import { GOSSIP_SIGNATURE_POLICY, gossipMessageId } from '../../src/node/libp2p.ts'
import type { SkylineNode } from '../../src/node/index.ts'
import { startNode, waitFor } from '../helpers/mesh.ts'
import { randomPeerId, testAnnouncement, testAnnouncer } from '../helpers/announce.ts'

const ANNOUNCE = '/skyline/2/announce'

/** A stand-in for gossipsub's message event and validation report (the service's only contact with it) */
class ReportingTarget extends EventTarget {
  readonly reports: Array<{ msgId: string, source: string, acceptance: TopicValidatorResult, at: number }> = []
  reportMessageValidationResult (msgId: string, source: string, acceptance: TopicValidatorResult): void {
    this.reports.push({ msgId, source, acceptance, at: Date.now() })
  }

  message (msgId: string): void {
    this.dispatchEvent(new CustomEvent('gossipsub:message', { detail: { msgId, propagationSource: randomPeerId(), msg: {} } }))
  }
}

function forwardService (pubsub: EventTarget, holdMs: number): GossipForward {
  return new GossipForward({ pubsub: pubsub as unknown as GossipForwardComponents['pubsub'], logger: defaultLogger() }, { holdMs })
}

describe('gossip forwarding after a hold', function () {
  this.timeout(60_000)

  it('reports each validated message accepted once its hold is over, and nothing after stop', async () => {
    const target = new ReportingTarget()
    const service = forwardService(target, 100)
    service.start()
    const t0 = Date.now()
    target.message('a')
    target.message('b')
    assert.equal(target.reports.length, 0, 'forwarded before its hold')
    await waitFor('both messages forwarded', () => target.reports.length === 2, 5_000, 10)
    assert.deepEqual(target.reports.map(r => [r.msgId, r.acceptance]), [['a', TopicValidatorResult.Accept], ['b', TopicValidatorResult.Accept]])
    assert.ok(target.reports.every(r => r.at - t0 >= 95), 'a report came before the hold was over')
    target.message('c')
    service.stop()
    target.message('d')
    await new Promise(resolve => setTimeout(resolve, 250))
    assert.equal(target.reports.length, 2, 'reported after stop')
  })

  it('refuses to start on a gossipsub that cannot report validation results', () => {
    assert.throws(() => { forwardService(new EventTarget(), 10).start() }, /cannot forward validated messages/)
  })

  describe('on real nodes: a peer the author is not connected to', () => {
    const announcer = testAnnouncer()
    let author: SkylineNode
    let relay: SkylineNode
    let observer: Libp2p<{ pubsub: GossipSub }>

    after(async () => { await Promise.allSettled([author?.stop(), relay?.stop(), observer?.stop()]) })

    it('receives the message through the relay\'s forward', async () => {
      author = await startNode({ announcers: [announcer.line] })
      relay = await startNode({ announcers: [announcer.line], bootstrap: [author.libp2p.getMultiaddrs()[0].toString()] })
      // a bare gossipsub peer that knows only the relay (no DHT: the author cannot find it)
      observer = await createLibp2p({
        addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        services: { identify: identify(), pubsub: gossipsub({ globalSignaturePolicy: GOSSIP_SIGNATURE_POLICY, msgIdFn: gossipMessageId, emitSelf: false }) }
      })
      observer.services.pubsub.subscribe(ANNOUNCE)
      await observer.dial(relay.libp2p.getMultiaddrs()[0])
      await waitFor('the observer in the relay\'s announce mesh, the relay in the author\'s', () =>
        relay.status().topics[ANNOUNCE].meshPeers.includes(observer.peerId.toString()) &&
        author.status().topics[ANNOUNCE].meshPeers.includes(relay.peerId), 30_000)
      assert.ok(!author.libp2p.getConnections().some(c => c.remotePeer.equals(observer.peerId)), 'the author is connected to the observer')

      const payload = testAnnouncement(announcer)
      const got = new Promise<void>(resolve => {
        observer.services.pubsub.addEventListener('message', evt => {
          if (evt.detail.topic === ANNOUNCE && Buffer.from(evt.detail.data).equals(payload)) resolve()
        })
      })
      await author.libp2p.services.pubsub.publish(ANNOUNCE, payload)
      await Promise.race([got, new Promise((_resolve, reject) => setTimeout(() => { reject(new Error('the observer never received the message')) }, 10_000))])
    })
  })
})
