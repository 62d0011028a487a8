/**
 * A live node's gossip validation under fuzzing (fixed seed; SKYLINE_FUZZ_RUNS for a long run): the
 * node's own topic validators, as gossipsub calls them (installValidators in src/protocols/gossip.ts,
 * with the node's announce, control and consensus validators behind it), fed arbitrary bytes and
 * mutants of valid announcements, halts and resumes, attestations (of a job the node knows, by an
 * assigned builder, so duplicates and equivocations are reached) and equivocation proofs, on every
 * topic. Called directly, so gossipsub's scoring does not silence the sender after three rejects. Every
 * outcome is accept, ignore or reject with a known reason, never 'internal-error' (a validator that
 * threw something else); nothing but a valid message is accepted; the node answers afterwards.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { rmSync } from 'node:fs'
import fc from 'fast-check'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { stringifyTopic, TOPIC_NAMES, type TopicName } from '../../src/protocols/ids.ts'
import type { ValidationOutcome } from '../../src/protocols/gossip.ts'
import { createControl } from '../../src/protocols/control.ts'
import { checkConsensusMessage, createAttestation, createEquivocationProof, encodeConsensusMessage } from '../../src/protocols/attestation.ts'
import { ConsensusMessage } from '../../src/protocols/pb/attestation.ts'
import { SignedEnvelope } from '../../src/protocols/pb/announce.ts'
import type { SkylineNode } from '../../src/node/index.ts'
import { startNode } from '../helpers/mesh.ts'
import { testAnnouncement, testAnnouncer } from '../helpers/announce.ts'
import { testBuilder, testEnvironment, testFiles, type TestBuilder } from '../rules/helpers.ts'
import { checkAsync } from './runs.ts'
import { bytesField, concat, equalBytes, garbage, mutants, paddedVarint } from './mutate.ts'

const REASONS = new Set(['ok', 'oversized', 'malformed', 'untrusted', 'bad-signature', 'wrong-kind', 'expired', 'not-yet-valid',
  'duplicate', 'sequence-reused', 'stale', 'not-equivocation', 'banned', 'unknown-job', 'equivocation', 'not-assigned', 'not-eligible', 'starting', 'unsupported-rules'])

describe('fuzz: gossip validation on a live node (announce, control, consensus)', function () {
  this.timeout(180_000)
  const announcer = testAnnouncer()
  const stranger = testAnnouncer()
  let node: SkylineNode
  let sender: PeerId
  let builders: TestBuilder[]
  const valid: Record<TopicName, Uint8Array[]> = { announce: [], control: [], consensus: [] }
  const outcomes: ValidationOutcome[] = []

  before(async function () {
    node = await startNode({ builder: 'none', announcers: [announcer.line] })
    node.addEventListener('validation', e => { outcomes.push(e.detail) })
    sender = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    builders = [await testBuilder(), await testBuilder()]
    // a job the node knows, with one builder: an attestation by either test builder is by an assigned peer
    const announced = testAnnouncement(announcer, { replicas: 1, quorum: 1 })
    const checked = await node.announce(announced).catch(() => undefined)
    assert.ok(checked !== undefined, 'the job could not be announced')
    for (let i = 0; i < 4; i++) valid.announce.push(testAnnouncement(announcer, { srpmSha256: createHash('sha256').update(`g${i}`).digest() }))
    valid.announce.push(announced, testAnnouncement(stranger))
    const past = Date.now() - 60_000
    valid.control.push(createControl({ action: 'resume', reason: 'fuzz', now: past }, announcer.key), createControl({ action: 'halt', reason: 'fuzz', now: past - 1000 }, announcer.key), createControl({ action: 'halt', reason: 'forged', now: Date.now() }, stranger.key))
    const job = checked.job
    const okA = createAttestation({ job, status: 'ok', files: testFiles(), environment: testEnvironment }, builders[0].key)
    const failedA = createAttestation({ job, status: 'failed', environment: testEnvironment }, builders[0].key)
    const okB = createAttestation({ job, status: 'ok', files: testFiles('b'), environment: testEnvironment }, builders[1].key)
    const other = createAttestation({ job: createHash('sha256').update('unknown job').digest('hex'), status: 'failed' }, builders[1].key)
    valid.consensus.push(...[okA, failedA, okB, other].map(a => encodeConsensusMessage({ attestation: a })), encodeConsensusMessage({ equivocation: createEquivocationProof(okA, failedA) }))
  })

  after(async function () {
    if (node !== undefined) {
      await node.stop()
      rmSync(node.config.dataDir, { recursive: true, force: true })
    }
  })

  async function validate (topic: TopicName, data: Uint8Array): Promise<ValidationOutcome> {
    const fn = node.libp2p.services.pubsub.topicValidators.get(stringifyTopic(topic))
    assert.ok(fn !== undefined, `no validator for ${topic}`)
    const msg: Message = { type: 'unsigned', topic: stringifyTopic(topic), data }
    const before = outcomes.length
    const result = await fn(sender, msg)
    assert.equal(outcomes.length, before + 1, 'the adapter reported no outcome')
    const o = outcomes[outcomes.length - 1]
    assert.equal(String(result), o.result === 'accept' ? 'accept' : o.result === 'ignore' ? 'ignore' : 'reject')
    assert.notEqual(o.reason, 'internal-error', `${topic}: a validator threw something other than a GossipValidationError on ${Buffer.from(data).toString('hex').slice(0, 200)}`)
    assert.ok(REASONS.has(o.reason), `${topic}: unknown reason ${o.reason}`)
    return o
  }

  it('arbitrary bytes on every topic: rejected or ignored with a known reason, never accepted', async function () {
    await checkAsync(fc.asyncProperty(fc.constantFrom(...TOPIC_NAMES), garbage, async (topic, data) => {
      const o = await validate(topic, data)
      assert.notEqual(o.result, 'accept', `${topic}: garbage accepted`)
    }), { runs: 600, cost: 2 })
  })

  it('valid messages and their mutants, on their own topic and on the others: known outcomes only', async function () {
    const all = TOPIC_NAMES.flatMap(t => valid[t].map(v => [t, v] as const))
    // the valid ones first, as they are: what they unlock (duplicates, equivocation, bans) is then reachable
    for (const [t, v] of all) await validate(t, v)
    const accepted: Record<TopicName, Set<string>> = { announce: new Set(), control: new Set(), consensus: new Set() }
    await checkAsync(fc.asyncProperty(fc.constantFrom(...all).chain(([, v]) => fc.tuple(fc.oneof(fc.constant(v), mutants(v)), fc.constantFrom(...TOPIC_NAMES))), async ([data, topic]) => {
      const o = await validate(topic, data)
      if (o.result === 'accept') accepted[topic].add(Buffer.from(data).toString('hex'))
    }), { runs: 800, cost: 2 })
    // what was accepted carries the signed content of a valid message, unchanged
    const payloads = new Set([...valid.announce, ...valid.control].map(v => Buffer.from(SignedEnvelope.decode(v).payload).toString('hex')))
    const inner = new Set(valid.consensus.map(v => ConsensusMessage.decode(v)).filter(m => m.attestation.length > 0).map(m => Buffer.from(m.attestation).toString('hex')))
    for (const t of ['announce', 'control'] as const) {
      for (const hex of accepted[t]) assert.ok(payloads.has(Buffer.from(SignedEnvelope.decode(Buffer.from(hex, 'hex')).payload).toString('hex')), `${t}: a changed message was accepted`)
    }
    for (const hex of accepted.consensus) {
      const m = checkConsensusMessage(Buffer.from(hex, 'hex'), Number.POSITIVE_INFINITY)
      const envelopes = m.type === 'attestation' ? [m.attestation.envelope] : m.type === 'commitment' ? [m.commitment.envelope] : m.equivocation.attestations.map(a => a.envelope)
      for (const e of envelopes) assert.ok(inner.has(Buffer.from(e).toString('hex')), 'consensus: a changed attestation was accepted')
    }
    if (process.env.DEBUG_FUZZ !== undefined) {
      const counts = new Map<string, number>()
      for (const x of outcomes) counts.set(`${x.topic}:${x.result}:${x.reason}`, (counts.get(`${x.topic}:${x.result}:${x.reason}`) ?? 0) + 1)
      process.stderr.write(`${JSON.stringify([...counts].sort())}\n`)
    }
    // the deeper paths were reached: a duplicate, an equivocation (or the ban it leaves), an unknown job
    const reasons = new Set(outcomes.map(x => x.reason))
    for (const r of ['duplicate', 'unknown-job', 'bad-signature', 'untrusted', 'malformed']) assert.ok(reasons.has(r), `no '${r}' outcome: ${[...reasons].join(', ')}`)
    assert.ok(reasons.has('equivocation') || reasons.has('banned'), 'the equivocation path was never reached')
    assert.equal(node.status().peerId, node.peerId)
  })

  /** Re-wrappings of valid messages: the same signed content in other bytes (unknown fields, padded varints) */
  function rewrapped (v: Uint8Array): fc.Arbitrary<Uint8Array> {
    return fc.oneof(
      fc.record({ num: fc.integer({ min: 5, max: 30 }), value: fc.uint8Array({ maxLength: 8 }) }).map(({ num, value }) => concat(v, bytesField(num, value))),
      fc.integer({ min: 1, max: 5 }).map(extra => concat(paddedVarint(v[0], extra), v.subarray(1)))
    ).filter(b => !equalBytes(b, v))
  }

  it('announce and control: a re-wrapped envelope is rejected, not verified again and ignored as a duplicate', async function () {
    for (const topic of ['announce', 'control'] as const) {
      await checkAsync(fc.asyncProperty(fc.constantFrom(...valid[topic]).chain(v => rewrapped(v)), async data => {
        const o = await validate(topic, data)
        assert.equal(o.result, 'reject', `${topic}: a re-wrapped envelope was ${o.result}ed (${o.reason})`)
      }), { runs: 100, cost: 4 })
    }
  })

  // A bug in src/protocols/attestation.ts (which this suite may not change): fails until fixed.
  it('consensus: a re-wrapped ConsensusMessage is rejected, not verified again and ignored as a duplicate', async function () {
    await checkAsync(fc.asyncProperty(fc.constantFrom(...valid.consensus.slice(0, 3)).chain(v => rewrapped(v)), async data => {
      const o = await validate('consensus', data)
      assert.equal(o.result, 'reject', `consensus: a re-wrapped message was ${o.result}d (${o.reason})`)
    }), { runs: 100, cost: 4 })
  })

  it('every outcome so far was known; the node still validates a fresh announcement', async function () {
    assert.ok(outcomes.every(o => o.reason !== 'internal-error'))
    const fresh = testAnnouncement(announcer, { srpmSha256: createHash('sha256').update('fresh').digest() })
    const o = await validate('announce', fresh)
    assert.equal(o.result, 'accept')
    assert.equal((await validate('announce', fresh)).reason, 'duplicate')
  })
})
