/**
 * Announcer-signed envelopes under fuzzing (fixed seed; SKYLINE_FUZZ_RUNS for a long run): openEnvelope
 * and openGossipEnvelope (src/protocols/signing.ts), checkAnnouncement (announce.ts) and checkControl
 * (control.ts), fed arbitrary bytes, byte- and field-level mutants of valid envelopes, and payloads
 * mutated field by field then signed again by the trusted key (so the field checks, not the signature,
 * decide). Every failure is an EnvelopeError or a GossipValidationError with a known reason; no mutant is
 * accepted (the signature covers domain and payload, and the envelope must be canonical); whatever is accepted obeys
 * docs/protocols/announce.md and control.md, checked here by an independent oracle.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { Announcement, Control, SignedEnvelope } from '../../src/protocols/pb/announce.ts'
import { checkAnnouncement, createAnnouncement, type CheckedAnnouncement } from '../../src/protocols/announce.ts'
import { checkControl, createControl, type CheckedControl } from '../../src/protocols/control.ts'
import { ENVELOPE_KIND, openEnvelope, openGossipEnvelope, signEnvelope, TrustedKeys } from '../../src/protocols/signing.ts'
import { jobKey } from '../../src/rules/job.ts'
import { DEFAULT_MAX_BLOB_SIZE, validateRef } from '../../src/services/blob/index.ts'
import { randomPeerId, testAnnouncer } from '../helpers/announce.ts'
import { check } from './runs.ts'
import { applyFieldMutation, assertNamed, edgeBytes, edgeVarint, equalBytes, fieldMutation, garbage, mutants, timed } from './mutate.ts'

const A = testAnnouncer()
const B = testAnnouncer()
const trusted = new TrustedKeys()
trusted.add(A.key.publicKey)
const NOW = Date.now()
/** per check: far above the ~0.1 ms one takes, far below a hang (GC pauses and a shared CPU included) */
const BUDGET_MS = 2000

const ENVELOPE_CODES = ['malformed', 'untrusted', 'bad-signature', 'wrong-kind']
const ANNOUNCE_REASONS = [...ENVELOPE_CODES, 'expired', 'not-yet-valid', 'unsupported-rules']
const CONTROL_REASONS = [...ENVELOPE_CODES, 'not-yet-valid']

const validAnnouncement = createAnnouncement({
  nevra: 'hello-2:1.0-1.fc41.src',
  srpmSha256: createHash('sha256').update('hello').digest(),
  srpmSize: 12345,
  target: 'fedora-41-x86_64',
  replicas: 5,
  quorum: 3,
  chunkSize: 256 * 1024,
  chunkRoot: createHash('sha256').update('root').digest(),
  candidates: Array.from({ length: 10 }, randomPeerId),
  now: NOW
}, A.key)
const validControl = createControl({ action: 'halt', reason: 'a bad toolchain', now: NOW }, A.key)
const announcementPayload = SignedEnvelope.decode(validAnnouncement).payload
const controlPayload = SignedEnvelope.decode(validControl).payload

function sha256hex (b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

/** The rules of docs/protocols/announce.md, written out again: what any accepted announcement must obey */
function assertAnnouncementRules (c: CheckedAnnouncement, now: number): void {
  const a = c.announcement
  assert.ok(a.nevra.length <= 256 && /^[A-Za-z0-9._+~^-]+-(\d+:)?[A-Za-z0-9._+~^]+-[A-Za-z0-9._+~^]+\.src$/.test(a.nevra), `nevra ${JSON.stringify(a.nevra)}`)
  assert.ok(!/[\s;|&$`'"<>()\\]/.test(a.nevra), 'no spaces or shell characters in the NEVRA')
  assert.match(a.target, /^[A-Za-z0-9._+-]{1,64}$/)
  assert.equal(a.srpmSha256.length, 32)
  assert.ok(a.srpmSize >= 1n && a.srpmSize <= 2n ** 31n, `size ${a.srpmSize}`)
  assert.ok(a.replicas >= 1 && a.replicas <= 64 && a.quorum <= a.replicas && 2 * a.quorum > a.replicas, `r=${a.replicas} q=${a.quorum}`)
  assert.equal(a.beacon.length, 32)
  assert.ok(a.expiresAt > a.issuedAt && a.expiresAt - a.issuedAt <= 7n * 24n * 3600n * 1000n, 'validity window')
  assert.ok(Number(a.issuedAt) <= now + 5 * 60_000, 'issued at most 5 minutes ahead')
  assert.ok(Number(a.expiresAt) > now, 'not expired')
  assert.notEqual(a.sequence, 0n)
  assert.ok(a.chunkSize >= 16 * 1024 && a.chunkSize <= 4 * 1024 * 1024, `chunk size ${a.chunkSize}`)
  assert.equal(a.chunkRoot.length, 32)
  // what is announced can be fetched: the blob protocol takes its reference (chunk size, chunk count)
  assert.doesNotThrow(() => validateRef({ sha256: Buffer.from(a.srpmSha256).toString('hex'), size: Number(a.srpmSize), chunkSize: a.chunkSize, root: Buffer.from(a.chunkRoot).toString('hex') }, DEFAULT_MAX_BLOB_SIZE), 'an accepted announcement names a blob no node can fetch')
  // identity and job key derive from the signed bytes alone
  assert.equal(c.id, sha256hex(SignedEnvelope.decode(c.envelope).payload))
  assert.equal(c.job, Buffer.from(jobKey(a.srpmSha256, a.target, a.beacon)).toString('hex'))
  assert.equal(c.announcer, Buffer.from(A.key.publicKey).toString('hex'))
}

function assertControlRules (c: CheckedControl, now: number): void {
  assert.ok(c.action === 'halt' || c.action === 'resume')
  assert.ok(c.reason.length <= 512)
  assert.ok(c.issuedAt > 0 && c.issuedAt <= now + 5 * 60_000)
  assert.notEqual(c.sequence, 0n)
  assert.equal(c.id, sha256hex(SignedEnvelope.decode(c.envelope).payload))
  assert.equal(c.announcer, Buffer.from(A.key.publicKey).toString('hex'))
}

function tryAnnouncement (bytes: Uint8Array, now = NOW): CheckedAnnouncement | undefined {
  try {
    return timed('checkAnnouncement', BUDGET_MS, () => checkAnnouncement(bytes, trusted, now))
  } catch (err) {
    assertNamed(err, ['GossipValidationError'], 'checkAnnouncement')
    assert.ok(ANNOUNCE_REASONS.includes(err.reason), `unexpected reason ${err.reason}: ${err.message}`)
    assert.ok(err.action === 'reject' || (err.action === 'ignore' && err.reason === 'expired'), `${err.action} ${err.reason}`)
    return undefined
  }
}

function tryControl (bytes: Uint8Array, now = NOW): CheckedControl | undefined {
  try {
    return timed('checkControl', BUDGET_MS, () => checkControl(bytes, trusted, now))
  } catch (err) {
    assertNamed(err, ['GossipValidationError'], 'checkControl')
    assert.ok(CONTROL_REASONS.includes(err.reason), `unexpected reason ${err.reason}: ${err.message}`)
    assert.equal(err.action, 'reject')
    return undefined
  }
}

/** The bytes a signature covers: kind (its domain), payload and key */
function signedPart (bytes: Uint8Array): { kind: number, payload: Uint8Array, publicKey: Uint8Array } {
  const e = SignedEnvelope.decode(bytes)
  return { kind: e.kind, payload: e.payload, publicKey: e.publicKey }
}

function sameSignedPart (a: Uint8Array, b: Uint8Array): boolean {
  const x = signedPart(a)
  const y = signedPart(b)
  return x.kind === y.kind && equalBytes(x.payload, y.payload) && equalBytes(x.publicKey, y.publicKey)
}

/** Arbitrary Announcement field values, biased to the edges of the rules */
const announcementFields: fc.Arbitrary<Partial<Announcement>> = fc.record({
  nevra: fc.oneof(fc.constantFrom('hello-1.0-1.fc41.src', 'a-0:1-1.src', 'x-1-1.src ', 'x-1-1.src;rm', '-1-1.src', 'x-1.src', 'a'.repeat(250) + '-1-1.src', 'b'.repeat(300) + '-1-1.src', ''), fc.string({ maxLength: 40 })),
  srpmSha256: edgeBytes,
  srpmSize: fc.oneof(edgeVarint, fc.constantFrom(2n ** 31n, 2n ** 31n + 1n)),
  target: fc.oneof(fc.constantFrom('fedora-41-x86_64', '', 'a'.repeat(64), 'a'.repeat(65), 'x y', 'ä'), fc.string({ maxLength: 70 })),
  replicas: fc.oneof(fc.integer({ min: 0, max: 70 }), fc.constantFrom(2 ** 31, 2 ** 32 - 1)),
  quorum: fc.oneof(fc.integer({ min: 0, max: 70 }), fc.constantFrom(2 ** 31, 2 ** 32 - 1)),
  beacon: edgeBytes,
  issuedAt: fc.oneof(fc.constant(BigInt(NOW)), fc.bigInt({ min: BigInt(NOW) - 10n ** 9n, max: BigInt(NOW) + 10n ** 9n }), edgeVarint),
  expiresAt: fc.oneof(fc.constant(BigInt(NOW + 3_600_000)), fc.bigInt({ min: BigInt(NOW) - 10n ** 9n, max: BigInt(NOW) + 10n ** 10n }), edgeVarint),
  sequence: edgeVarint,
  chunkSize: fc.oneof(fc.constantFrom(0, 16383, 16384, 4194304, 4194305, 2 ** 32 - 1), fc.nat()),
  chunkRoot: edgeBytes
}, { requiredKeys: [] })

const validFields = Announcement.decode(announcementPayload)

describe('fuzz: announcer-signed envelopes (signing.ts, announce.ts, control.ts)', function () {
  this.timeout(120_000)

  it('the valid messages are valid (so the properties below test something)', function () {
    assertAnnouncementRules(checkAnnouncement(validAnnouncement, trusted, NOW), NOW)
    assertControlRules(checkControl(validControl, trusted, NOW), NOW)
  })

  it('openEnvelope and openGossipEnvelope: arbitrary bytes give EnvelopeError / GossipValidationError with a known code', function () {
    check(fc.property(garbage, fc.constantFrom(undefined, ENVELOPE_KIND.announcement, ENVELOPE_KIND.control), (bytes, kind) => {
      try {
        openEnvelope(bytes, trusted, kind)
        assert.fail('garbage opened as a trusted envelope')
      } catch (err) {
        assertNamed(err, ['EnvelopeError', 'AssertionError'], 'openEnvelope')
        if (err.name === 'AssertionError') throw err
        assert.ok(ENVELOPE_CODES.includes(err.code), err.code)
      }
      try {
        openGossipEnvelope(bytes, trusted, kind ?? ENVELOPE_KIND.announcement, p => Announcement.decode(p), 'announcement')
        assert.fail('garbage opened as a trusted envelope')
      } catch (err) {
        assertNamed(err, ['GossipValidationError', 'AssertionError'], 'openGossipEnvelope')
        if (err.name === 'AssertionError') throw err
        assert.ok(ENVELOPE_CODES.includes(err.reason), err.reason)
      }
    }), { runs: 1000 })
  })

  it('checkAnnouncement and checkControl: arbitrary bytes are refused with a known reason', function () {
    check(fc.property(garbage, bytes => {
      assert.equal(tryAnnouncement(bytes), undefined)
      assert.equal(tryControl(bytes), undefined)
    }), { runs: 1000 })
  })

  it('mutants of a valid announcement: refused, or accepted with the very bytes that were signed', function () {
    let accepted = 0
    check(fc.property(mutants(validAnnouncement), bytes => {
      const c = tryAnnouncement(bytes)
      if (c === undefined) return
      accepted++
      assert.ok(sameSignedPart(bytes, validAnnouncement), 'a mutated announcement was accepted: its signature did not break')
      // and the envelope is canonical: no other bytes carry the same signed content
      assert.ok(equalBytes(bytes, validAnnouncement), 'a re-encoded envelope was accepted')
      assertAnnouncementRules(c, NOW)
      assert.equal(c.id, sha256hex(announcementPayload), 'the same payload has the same identity (replays stay duplicates)')
    }), { runs: 1500 })
    if (process.env.DEBUG_FUZZ !== undefined) process.stderr.write(`accepted mutants: ${accepted}\n`)
  })

  it('mutants of a valid control message likewise; and neither passes as the other', function () {
    check(fc.property(mutants(validControl), bytes => {
      const c = tryControl(bytes)
      if (c !== undefined) {
        assert.ok(sameSignedPart(bytes, validControl), 'a mutated control message was accepted')
        assert.ok(equalBytes(bytes, validControl), 'a re-encoded envelope was accepted')
        assertControlRules(c, NOW)
      }
      assert.equal(tryAnnouncement(bytes), undefined, 'a control message passed as an announcement')
    }), { runs: 1000 })
    check(fc.property(mutants(validAnnouncement), bytes => {
      assert.equal(tryControl(bytes), undefined, 'an announcement passed as a control message')
    }), { runs: 500 })
  })

  it('relabelled kinds and other keys: the signature breaks (domain separation, trust)', function () {
    const relabel = (bytes: Uint8Array, kind: number): Uint8Array => SignedEnvelope.encode({ ...SignedEnvelope.decode(bytes), kind })
    for (const kind of [0, 1, 2, 3, 255]) {
      if (kind !== 1) assert.equal(tryAnnouncement(relabel(validAnnouncement, kind)), undefined)
      if (kind !== 2) assert.equal(tryControl(relabel(validControl, kind)), undefined)
    }
    assert.throws(() => checkControl(relabel(validAnnouncement, 2), trusted, NOW), (e: any) => e.reason === 'bad-signature')
    assert.throws(() => checkAnnouncement(relabel(validControl, 1), trusted, NOW), (e: any) => e.reason === 'bad-signature')
    // signed by an untrusted key, or carrying the trusted key with another's signature
    const byB = signEnvelope(ENVELOPE_KIND.announcement, announcementPayload, B.key)
    assert.throws(() => checkAnnouncement(byB, trusted, NOW), (e: any) => e.reason === 'untrusted')
    const forged = SignedEnvelope.encode({ ...SignedEnvelope.decode(byB), publicKey: new Uint8Array(A.key.publicKey) })
    assert.throws(() => checkAnnouncement(forged, trusted, NOW), (e: any) => e.reason === 'bad-signature')
  })

  it('announcement payloads mutated field by field and signed again: accepted only when every rule holds', function () {
    let accepted = 0
    check(fc.property(fc.array(fieldMutation, { minLength: 1, maxLength: 3 }), fc.integer({ min: -8 * 24 * 3600_000, max: 8 * 24 * 3600_000 }), (ms, skew) => {
      const payload = ms.reduce<Uint8Array>((p, m) => applyFieldMutation(p, m), announcementPayload)
      const c = tryAnnouncement(signEnvelope(ENVELOPE_KIND.announcement, payload, A.key), NOW + skew)
      if (c === undefined) return
      accepted++
      assertAnnouncementRules(c, NOW + skew)
    }), { runs: 1500 })
    assert.ok(accepted > 0, 'no mutant was accepted: the oracle was never consulted')
  })

  it('announcements of arbitrary field values, signed: accepted only when every rule holds', function () {
    let accepted = 0
    // most cases change one or two fields of a valid announcement, so each rule is met alone
    const keys = Object.keys(validFields)
    check(fc.property(announcementFields, fc.oneof(fc.uniqueArray(fc.constantFrom(...keys), { minLength: 1, maxLength: 2 }), fc.constant(keys)), (over, chosen) => {
      const a = { ...validFields, ...Object.fromEntries(Object.entries(over).filter(([k]) => chosen.includes(k))) }
      const c = tryAnnouncement(signEnvelope(ENVELOPE_KIND.announcement, Announcement.encode(a), A.key))
      if (c === undefined) return
      accepted++
      assertAnnouncementRules(c, NOW)
    }), { runs: 1500 })
    assert.ok(accepted > 0)
  })

  it('control payloads of arbitrary fields, signed: accepted only when every rule holds', function () {
    const controlFields = fc.record({
      action: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom(2 ** 31, 2 ** 32 - 1)),
      reason: fc.oneof(fc.string({ maxLength: 600 }), fc.constantFrom('x'.repeat(512), 'x'.repeat(513), 'ü'.repeat(512))),
      issuedAt: fc.oneof(fc.constant(BigInt(NOW)), edgeVarint, fc.bigInt({ min: BigInt(NOW) - 10n ** 7n, max: BigInt(NOW) + 10n ** 7n })),
      sequence: edgeVarint
    }, { requiredKeys: [] })
    check(fc.property(fc.oneof(controlFields.map(c => Control.encode(c)), fc.array(fieldMutation, { minLength: 1, maxLength: 3 }).map(ms => ms.reduce<Uint8Array>((p, m) => applyFieldMutation(p, m), controlPayload))), payload => {
      const c = tryControl(signEnvelope(ENVELOPE_KIND.control, payload, A.key))
      if (c !== undefined) assertControlRules(c, NOW)
    }), { runs: 1500 })
  })

  it('expiry: a just-expired announcement is IGNOREd, a long-expired one REJECTed, never accepted', function () {
    const expires = Number(validFields.expiresAt)
    check(fc.property(fc.integer({ min: -120_000, max: 120_000 }), delta => {
      const now = expires + delta
      try {
        checkAnnouncement(validAnnouncement, trusted, now)
        assert.ok(now < expires, `accepted ${delta} ms after expiry`)
      } catch (err) {
        assertNamed(err, ['GossipValidationError'], 'checkAnnouncement')
        assert.ok(now >= expires)
        assert.equal(err.action, now - expires < 60_000 ? 'ignore' : 'reject')
      }
    }), { runs: 300 })
  })
})
