/**
 * A gossip flooder for test/stress/adversaries.test.ts, run as its own process so that its work never
 * slows the test that measures the honest nodes. It is a plain gossipsub peer (no validators: it
 * publishes whatever it likes, with no gossip-level signature, as the topics' StrictNoSign requires),
 * dials the given nodes, subscribes to Skyline's three topics and publishes junk as fast as it can, up to
 * `rate` messages a second, for `seconds`.
 *
 *   node flooder.ts '{"addrs":["/ip4/127.0.0.1/tcp/1234/p2p/..."],"rate":3000,"seconds":20,"kinds":["random",...]}'
 *
 * Kinds:
 * - random: random bytes (1 byte to 4 KiB) on a random topic (malformed everywhere)
 * - oversized: a payload over the topic's bound (announce 4 KiB, consensus 64 KiB, control 2 KiB)
 * - untrusted-announce: a well-formed announcement signed by a key no node trusts
 * - untrusted-control: a well-formed halt signed by a key no node trusts
 * - bad-signature: an attestation of a known job whose signature does not verify
 * - unknown-job: a well-signed attestation (by the flooder's own peer key) of a job nobody announced
 * - forged-verdict: a well-signed attestation by the flooder (not an assigned builder) of a real job,
 *   `job` in the config, claiming another build hash
 *
 * Prints `peer <id>` once dialled, then `sent <n>` every second, then `done <json of counts>`.
 */
import { randomBytes } from 'node:crypto'
import { randomPeerId } from '../../helpers/announce.ts'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@libp2p/gossipsub'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { GOSSIP_SIGNATURE_POLICY, gossipMessageId } from '../../../src/node/libp2p.ts'
import { TOPICS, TOPIC_NAMES, stringifyTopic, type TopicName } from '../../../src/protocols/ids.ts'
import { createAnnouncement } from '../../../src/protocols/announce.ts'
import { createControl } from '../../../src/protocols/control.ts'
import { createAttestation, encodeConsensusMessage } from '../../../src/protocols/attestation.ts'
import { SignedAttestation } from '../../../src/protocols/pb/attestation.ts'
import { generateAnnouncerKey, rawPublicKey } from '../../../src/protocols/signing.ts'
import { createPrivateKey, createPublicKey } from 'node:crypto'

interface Config { addrs: string[], rate: number, seconds: number, kinds: string[], job?: string }

const config = JSON.parse(process.argv[2]) as Config
const privateKey = await generateKeyPair('Ed25519')
const node = await createLibp2p({
  privateKey,
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    pubsub: gossipsub({ globalSignaturePolicy: GOSSIP_SIGNATURE_POLICY, allowPublishToZeroTopicPeers: true, msgIdFn: gossipMessageId, emitSelf: false, maxOutboundBufferSize: 64 * 1024 * 1024 })
  }
})
for (const t of TOPIC_NAMES) node.services.pubsub.subscribe(stringifyTopic(t))
await Promise.all(config.addrs.map(async a => node.dial(multiaddr(a), { signal: AbortSignal.timeout(10_000) }).catch(err => process.stderr.write(`dial ${a}: ${err.message}\n`))))
process.stdout.write(`peer ${node.peerId.toString()}\n`)
// wait until the nodes' subscriptions are known, so publishes go to them
const deadline = Date.now() + 10_000
while (Date.now() < deadline && TOPIC_NAMES.some(t => node.services.pubsub.getSubscribers(stringifyTopic(t)).length < config.addrs.length)) await new Promise(resolve => setTimeout(resolve, 50))

const g = generateAnnouncerKey()
const untrusted = { privateKey: createPrivateKey(g.privatePem), publicKey: rawPublicKey(createPublicKey(createPrivateKey(g.privatePem))) }
const otherKey = await generateKeyPair('Ed25519')

function message (kind: string): { topic: TopicName, data: Uint8Array } {
  const topics = TOPIC_NAMES
  switch (kind) {
    case 'random': return { topic: topics[Math.floor(Math.random() * topics.length)], data: randomBytes(1 + Math.floor(Math.random() * 4096)) }
    case 'oversized': {
      const topic = topics[Math.floor(Math.random() * topics.length)]
      return { topic, data: randomBytes(TOPICS[topic].maxBytes + 1 + Math.floor(Math.random() * 1024)) }
    }
    case 'untrusted-announce': return {
      topic: 'announce',
      data: createAnnouncement({ nevra: `evil-${randomBytes(4).toString('hex')}-1.0-1.src`, srpmSha256: randomBytes(32), srpmSize: 1024, target: 'fedora-41-x86_64', chunkSize: 256 * 1024, chunkRoot: randomBytes(32), candidates: Array.from({ length: 5 }, randomPeerId) }, untrusted)
    }
    case 'untrusted-control': return { topic: 'control', data: createControl({ action: 'halt', reason: `flood ${randomBytes(4).toString('hex')}` }, untrusted) }
    case 'bad-signature': {
      const signed = SignedAttestation.decode(createAttestation({ job: config.job ?? randomBytes(32), status: 'failed', time: Date.now() }, otherKey))
      signed.signature[0] ^= 1
      return { topic: 'consensus', data: encodeConsensusMessage({ attestation: SignedAttestation.encode(signed) }) }
    }
    case 'unknown-job': return { topic: 'consensus', data: encodeConsensusMessage({ attestation: createAttestation({ job: randomBytes(32), status: 'failed', time: Date.now() }, privateKey) }) }
    case 'forged-verdict': return {
      topic: 'consensus',
      data: encodeConsensusMessage({ attestation: createAttestation({ job: config.job ?? randomBytes(32), status: 'ok', files: [{ name: `evil-${randomBytes(3).toString('hex')}.noarch.rpm`, size: 1, sha256: randomBytes(32) }], time: Date.now() }, privateKey) })
    }
    default: throw new Error(`unknown kind ${kind}`)
  }
}

const counts: Record<string, number> = {}
let sent = 0
let failed = 0
const t0 = Date.now()
const ticker = setInterval(() => process.stdout.write(`sent ${sent}\n`), 1000)
while (Date.now() - t0 < config.seconds * 1000) {
  // a batch per event-loop turn, paced to the rate
  const due = Math.floor(((Date.now() - t0) / 1000) * config.rate) - sent
  for (let i = 0; i < Math.min(due, 200); i++) {
    const kind = config.kinds[sent % config.kinds.length]
    const m = message(kind)
    sent++
    counts[kind] = (counts[kind] ?? 0) + 1
    node.services.pubsub.publish(stringifyTopic(m.topic), m.data).catch(() => { failed++ })
  }
  await new Promise(resolve => setImmediate(resolve))
  if (due <= 0) await new Promise(resolve => setTimeout(resolve, 5))
}
clearInterval(ticker)
process.stdout.write(`done ${JSON.stringify({ sent, failed, seconds: (Date.now() - t0) / 1000, counts })}\n`)
await node.stop()
process.exit(0)
