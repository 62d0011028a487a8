/**
 * Build attestations, equivocation proofs and the consensus-topic wrapper under fuzzing (fixed seed;
 * SKYLINE_FUZZ_RUNS for a long run): checkAttestation, checkEquivocation and checkConsensusMessage
 * (src/protocols/attestation.ts) and BuilderKeyCache, fed arbitrary bytes, byte- and field-level mutants
 * of valid messages, payloads mutated field by field and signed again by the builder's own key, and
 * attestations of arbitrary field values. Every failure is a GossipValidationError with a documented
 * reason; a mutant is never accepted (the envelope is canonical, so the signed bytes are all of it);
 * whatever is accepted obeys docs/protocols/consensus.md, checked by an independent oracle.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { Attestation, ConsensusMessage, EquivocationProof, SignedAttestation } from '../../src/protocols/pb/attestation.ts'
import {
  BuilderKeyCache, checkAttestation, checkConsensusMessage, checkEquivocation, createAttestation, createEquivocationProof,
  encodeConsensusMessage, type CheckedAttestation
} from '../../src/protocols/attestation.ts'
import { buildHash } from '../../src/rules/build-hash.ts'
import { rawAttestation, signRaw, testBuilder, testEnvironment, testFiles, type TestBuilder } from '../rules/helpers.ts'
import { check, checkAsync } from './runs.ts'
import { applyFieldMutation, assertNamed, edgeBytes, edgeVarint, equalBytes, fieldMutation, garbage, mutants, timed } from './mutate.ts'

const NOW = Date.now()
const BUDGET_MS = 2000
const REASONS = ['oversized', 'malformed', 'bad-signature', 'not-yet-valid', 'not-equivocation']
const JOB = createHash('sha256').update('a job').digest('hex')

let alice: TestBuilder
let bob: TestBuilder
let okA: Uint8Array
let failedA: Uint8Array
let okB: Uint8Array
let proof: Uint8Array

const sha256hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** The rules of docs/protocols/consensus.md, written out again, that every accepted attestation obeys */
function assertAttestationRules (c: CheckedAttestation, now: number, signers: TestBuilder[]): void {
  assert.match(c.job, /^[0-9a-f]{64}$/)
  assert.ok(signers.some(s => s.id === c.builder), `builder ${c.builder} is not the key that signed`)
  assert.ok(Number.isSafeInteger(c.time) && c.time >= 1 && c.time <= now + 5 * 60_000, `time ${c.time}`)
  if (c.status === 'ok') {
    assert.ok(c.files.length >= 1 && c.files.length <= 1000)
    assert.equal(c.buildHash, buildHash(c.files))
  } else {
    assert.equal(c.status, 'failed')
    assert.equal(c.files.length, 0)
    assert.equal(c.buildHash, undefined)
  }
  const names = new Set<string>()
  for (const f of c.files) {
    assert.ok(f.name.length >= 1 && f.name.length <= 255 && /^[A-Za-z0-9_+~^][A-Za-z0-9._+~^-]*\.rpm$/.test(f.name) && !f.name.includes('..'), `file name ${JSON.stringify(f.name)}`)
    assert.ok(!names.has(f.name), 'file names are unique')
    names.add(f.name)
    assert.ok(Number.isSafeInteger(f.size) && f.size >= 1 && f.size <= 64 * 2 ** 30, `size ${f.size}`)
    assert.match(f.sha256, /^[0-9a-f]{64}$/)
  }
  assert.ok(c.environment.length <= 32)
  const keys = new Set<string>()
  let bytes = 0
  for (const { key, value } of c.environment) {
    assert.ok(key.length >= 1 && key.length <= 64 && /^[A-Za-z][A-Za-z0-9_.-]*$/.test(key), `key ${JSON.stringify(key)}`)
    assert.ok(!keys.has(key))
    keys.add(key)
    // eslint-disable-next-line no-control-regex
    assert.ok(value.length <= 1024 && !/[\u0000-\u001f\u007f]/.test(value), `value of ${key}`)
    bytes += Buffer.byteLength(key) + Buffer.byteLength(value)
  }
  assert.ok(bytes <= 8192)
  const extra = c as unknown as { contributor?: string, durationMs?: number }
  if (extra.contributor !== undefined) {
    // eslint-disable-next-line no-control-regex
    assert.ok(extra.contributor === '' || (extra.contributor.length <= 64 && !/[\u0000-\u001f\u007f-\u009f]/.test(extra.contributor) && extra.contributor.trim() === extra.contributor), `contributor ${JSON.stringify(extra.contributor)}`)
  }
  if (extra.durationMs !== undefined) {
    assert.ok(Number.isSafeInteger(extra.durationMs) && extra.durationMs >= 0 && extra.durationMs <= 7 * 24 * 3600_000, `duration ${extra.durationMs}`)
  }
  assert.equal(c.id, sha256hex(c.payload))
  assert.ok(equalBytes(SignedAttestation.decode(c.envelope).payload, c.payload))
}

function attempt<T> (what: string, fn: () => T): T | undefined {
  try {
    return timed(what, BUDGET_MS, fn)
  } catch (err) {
    assertNamed(err, ['GossipValidationError'], what)
    assert.ok(REASONS.includes(err.reason), `${what}: unexpected reason ${err.reason}: ${err.message}`)
    assert.equal(err.action, 'reject', `${what}: every failure is a REJECT`)
    return undefined
  }
}

const tryAttestation = (bytes: Uint8Array, now = NOW): CheckedAttestation | undefined => attempt('checkAttestation', () => checkAttestation(bytes, now))

/** A payload mutated field by field, signed again by `who` */
function resigned (payload: Uint8Array, who: TestBuilder, ms: Parameters<typeof applyFieldMutation>[1][]): Promise<Uint8Array> {
  return signRaw(ms.reduce<Uint8Array>((p, m) => applyFieldMutation(p, m), payload), who.key)
}

describe('fuzz: attestations, equivocation proofs, consensus messages (attestation.ts)', function () {
  this.timeout(180_000)

  before(async function () {
    alice = await testBuilder()
    bob = await testBuilder()
    okA = createAttestation({ job: JOB, status: 'ok', files: testFiles(), environment: testEnvironment, time: NOW }, alice.key)
    failedA = createAttestation({ job: JOB, status: 'failed', environment: testEnvironment, time: NOW + 1 }, alice.key)
    okB = createAttestation({ job: JOB, status: 'ok', files: testFiles(), environment: testEnvironment, time: NOW }, bob.key)
    proof = createEquivocationProof(okA, failedA)
  })

  it('the valid messages are valid (so the properties below test something)', function () {
    for (const a of [okA, failedA, okB]) assertAttestationRules(checkAttestation(a, NOW), NOW, [alice, bob])
    assert.equal(checkEquivocation(proof).builder, alice.id)
    assert.equal(checkConsensusMessage(encodeConsensusMessage({ attestation: okA }), NOW).type, 'attestation')
  })

  it('arbitrary bytes: refused by every checker with a documented reason', function () {
    check(fc.property(garbage, bytes => {
      assert.equal(tryAttestation(bytes), undefined)
      assert.equal(attempt('checkEquivocation', () => checkEquivocation(bytes)), undefined)
      assert.equal(attempt('checkConsensusMessage', () => checkConsensusMessage(bytes, NOW)), undefined)
    }), { runs: 1000 })
  })

  it('mutants of a signed attestation are never accepted', function () {
    check(fc.property(fc.constantFrom('ok', 'failed'), fc.nat(), (which, seed) => {
      const valid = which === 'ok' ? okA : failedA
      const [bytes] = fc.sample(mutants(valid), { seed, numRuns: 1 })
      const c = tryAttestation(bytes)
      if (c !== undefined) assert.ok(equalBytes(bytes, valid), `a mutant was accepted: ${Buffer.from(bytes).toString('hex')}`)
    }), { runs: 2000 })
  })

  it('payloads mutated field by field and signed again: accepted only when every rule holds', async function () {
    let accepted = 0
    const payloads = [SignedAttestation.decode(okA).payload, SignedAttestation.decode(failedA).payload]
    await checkAsync(fc.asyncProperty(fc.constantFrom(0, 1), fc.array(fieldMutation, { minLength: 1, maxLength: 3 }), fc.integer({ min: -600_000, max: 600_000 }), async (i, ms, skew) => {
      const c = tryAttestation(await resigned(payloads[i], alice, ms), NOW + skew)
      if (c === undefined) return
      accepted++
      assertAttestationRules(c, NOW + skew, [alice])
    }), { runs: 1500 })
    assert.ok(accepted > 0, 'nothing accepted: the oracle was never consulted')
  })

  it('attestations of arbitrary field values, signed: accepted only when every rule holds', async function () {
    const name = fc.oneof(fc.constantFrom('a.rpm', 'hello-1.0-1.fc41.x86_64.rpm', '.rpm', '-a.rpm', 'a..b.rpm', 'a/b.rpm', 'a b.rpm', 'a.RPM', 'x'.repeat(251) + '.rpm', 'x'.repeat(252) + '.rpm', 'ä.rpm', 'a\n.rpm'), fc.string({ maxLength: 20 }).map(s => `${s}.rpm`))
    const file = fc.record({ name, size: fc.oneof(edgeVarint, fc.constantFrom(64n * 2n ** 30n, 64n * 2n ** 30n + 1n, 3n * 2n ** 30n)), sha256: edgeBytes })
    const kv = fc.record({ key: fc.oneof(fc.constantFrom('builder', 'a', '1a', 'a'.repeat(64), 'a'.repeat(65), ''), fc.string({ maxLength: 10 })), value: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('x'.repeat(1024), 'x'.repeat(1025), 'a\tb', '\u0085')) })
    let accepted = 0
    await checkAsync(fc.asyncProperty(
      fc.record({
        job: fc.oneof(fc.constant(Buffer.from(JOB, 'hex')), edgeBytes),
        status: fc.oneof(fc.constantFrom(1, 2), fc.integer({ min: 0, max: 5 }), fc.constant(2 ** 32 - 1)),
        files: fc.oneof(fc.constant(undefined), fc.array(file, { maxLength: 4 })),
        environment: fc.oneof(fc.constant(undefined), fc.array(kv, { maxLength: 5 })),
        time: fc.oneof(fc.constant(BigInt(NOW)), edgeVarint),
        fixHash: fc.boolean()
      }, { requiredKeys: [] }),
      async over => {
        const base = rawAttestation(alice, { job: new Uint8Array(Buffer.from(JOB, 'hex')), time: BigInt(NOW) })
        const a = { ...base, ...Object.fromEntries(Object.entries(over).filter(([k, v]) => k !== 'fixHash' && v !== undefined)) } as typeof base
        // often give the files their right build hash, so the checks past it are reached
        if (over.fixHash === true) {
          try { a.buildHash = new Uint8Array(Buffer.from(buildHash(a.files.map(f => ({ name: f.name, size: Number(f.size), sha256: Buffer.from(f.sha256).toString('hex') }))), 'hex')) } catch {}
        }
        const c = tryAttestation(await signRaw(Attestation.encode(a), alice.key))
        if (c === undefined) return
        accepted++
        assertAttestationRules(c, NOW, [alice])
      }), { runs: 1500 })
    assert.ok(accepted > 0)
  })

  it('a signature by another builder, or over another payload, never verifies', async function () {
    const payloadA = SignedAttestation.decode(okA).payload
    const sigB = SignedAttestation.decode(okB).signature
    // alice's payload with bob's signature; and bob's key put into alice's builder field, signed by alice
    assert.throws(() => checkAttestation(SignedAttestation.encode({ payload: payloadA, signature: sigB }), NOW), (e: any) => e.reason === 'bad-signature')
    await checkAsync(fc.asyncProperty(fc.array(fieldMutation, { minLength: 1, maxLength: 2 }), async ms => {
      const payload = ms.reduce<Uint8Array>((p, m) => applyFieldMutation(p, m), payloadA)
      const c = tryAttestation(await signRaw(payload, bob.key))
      // signed by bob, so accepted only as bob's own claim: the builder field names the signer
      if (c !== undefined) assert.equal(c.builder, bob.id)
    }), { runs: 500 })
  })

  it('equivocation proofs: mutants are accepted only as the same pair of signed attestations', function () {
    const pair = new Set([Buffer.from(okA).toString('hex'), Buffer.from(failedA).toString('hex')])
    check(fc.property(mutants(proof), bytes => {
      const e = attempt('checkEquivocation', () => checkEquivocation(bytes))
      if (e === undefined) return
      assert.equal(e.builder, alice.id)
      assert.deepEqual(new Set(e.attestations.map(a => Buffer.from(a.envelope).toString('hex'))), pair, 'a proof was accepted with other attestations inside')
    }), { runs: 1500 })
  })

  it('equivocation proofs of arbitrary pairs: accepted only for one builder, one job, two claims', function () {
    const okA2 = createAttestation({ job: JOB, status: 'ok', files: testFiles(), environment: { ...testEnvironment, builder: 'mock' }, time: NOW + 5 }, alice.key)
    const okAother = createAttestation({ job: JOB, status: 'ok', files: testFiles('b'), environment: testEnvironment, time: NOW }, alice.key)
    const otherJob = createAttestation({ job: sha256hex(Buffer.from('other')), status: 'failed', environment: testEnvironment, time: NOW }, alice.key)
    const pool = [okA, failedA, okB, okA2, okAother, otherJob, new Uint8Array(0), new Uint8Array([1, 2, 3])]
    check(fc.property(fc.array(fc.constantFrom(...pool), { maxLength: 4 }), list => {
      const e = attempt('checkEquivocation', () => checkEquivocation(EquivocationProof.encode({ attestations: list.map(x => new Uint8Array(x)) })))
      if (e === undefined) return
      assert.equal(list.length, 2)
      const [a, b] = e.attestations as [CheckedAttestation, CheckedAttestation]
      assert.equal(a.builder, b.builder)
      assert.equal(a.job, b.job)
      assert.ok(a.status !== b.status || a.buildHash !== b.buildHash, 'the same claim twice is no equivocation')
    }), { runs: 500 })
  })

  it('consensus messages: mutants are accepted only carrying the original attestation or proof', function () {
    const wrapped = [encodeConsensusMessage({ attestation: okA }), encodeConsensusMessage({ equivocation: proof })]
    check(fc.property(fc.constantFrom(0, 1), fc.nat(), (i, seed) => {
      const [bytes] = fc.sample(mutants(wrapped[i]), { seed, numRuns: 1 })
      const m = attempt('checkConsensusMessage', () => checkConsensusMessage(bytes, NOW))
      if (m === undefined) return
      if (m.type === 'attestation') assert.ok(equalBytes(m.attestation.envelope, okA))
      else assert.ok(m.type === 'equivocation' && equalBytes(m.equivocation.proof, ConsensusMessage.decode(bytes).equivocation) && m.equivocation.builder === alice.id)
    }), { runs: 1500 })
  })

  it('size bounds: 64 KiB is the most any checker reads', function () {
    for (const n of [64 * 1024 + 1, 1024 * 1024]) {
      const big = new Uint8Array(n)
      assert.throws(() => checkAttestation(big, NOW), (e: any) => e.reason === 'oversized')
      assert.throws(() => checkEquivocation(big), (e: any) => e.reason === 'oversized')
      assert.throws(() => checkConsensusMessage(big, NOW), (e: any) => e.reason === 'oversized')
    }
  })

  it('output RPMs of 2 to 4 GiB can be attested (uint64 sizes across 2^31..2^32 survive encoding)', function () {
    for (const size of [2 ** 31 - 1, 2 ** 31, 3 * 2 ** 30, 2 ** 32 - 1, 2 ** 32]) {
      const files = [{ name: 'big-debuginfo-1.0-1.fc41.x86_64.rpm', size, sha256: sha256hex(Buffer.from(String(size))) }]
      const c = checkAttestation(createAttestation({ job: JOB, status: 'ok', files, environment: testEnvironment, time: NOW }, alice.key), NOW)
      assert.equal(c.files[0].size, size)
    }
  })

  it('BuilderKeyCache: arbitrary builder bytes give a key or GossipValidationError(malformed)', function () {
    const cache = new BuilderKeyCache(8)
    const prefix = Uint8Array.of(0x00, 0x24, 0x08, 0x01, 0x12, 0x20)
    check(fc.property(fc.oneof(fc.uint8Array({ maxLength: 50 }), fc.uint8Array({ minLength: 32, maxLength: 32 }).map(k => new Uint8Array([...prefix, ...k]))), builder => {
      try {
        const { peerId } = cache.get(builder)
        assert.match(peerId, /^12D3KooW/)
      } catch (err) {
        assertNamed(err, ['GossipValidationError'], 'BuilderKeyCache.get')
        assert.equal(err.reason, 'malformed')
      }
      assert.ok(cache.size <= 8)
    }), { runs: 500 })
  })
})
