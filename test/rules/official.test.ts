/**
 * "Reproduces Koji's build" (docs/protocols/consensus.md, "Comparison with the official build"): the
 * summary of per-package comparisons, the claim's bounds, the verdict's choice among the agreeing
 * builders' claims, and attestation v3 fields 13–14 on the wire (encode, decode, validation).
 */
import assert from 'node:assert/strict'
import { checkAttestation, checkCommitment, createAttestation, createCommitment, officialClaimOf } from '../../src/protocols/attestation.ts'
import { Attestation, SignedAttestation } from '../../src/protocols/pb/attestation.ts'
import {
  MAX_DIFFERENCES_BYTES, MAX_DIFFERING_FIELDS, MAX_OFFICIAL_DIFFERENCES, NOT_BUILT, NOT_IN_OFFICIAL, agreedClaim, boundDifferences, claimProblem,
  describeClaim, summarise, type OfficialClaim
} from '../../src/rules/official.ts'
import { rawAttestation, randomJob, signAttestation, signRaw, testBuilder, testFiles, type TestBuilder } from './helpers.ts'

const rpm = (n: string): string => `${n}-1.0-1.fc42.x86_64.rpm`
const partly: OfficialClaim = { reproduces: 'partly', differences: [{ name: rpm('hello'), fields: ['BUILDTIME', 'BUILDHOST'] }] }

function rejectsMalformed (fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: any) => {
    assert.equal(err.name, 'GossipValidationError', err.stack)
    assert.equal(err.reason, 'malformed')
    assert.match(err.message, message)
    return true
  })
}

describe('official build comparison: the claim', () => {
  it('summarises: every package identical is yes; some identical or only header fields differing is partly; none, or other file sets, is no', () => {
    const same = { identical: true, fields: [], samePayload: true }
    assert.deepEqual(summarise([{ name: rpm('a'), ...same }, { name: rpm('b'), ...same }]), { reproduces: 'yes', differences: [] })
    // one identical, one with another payload: partly, the differing one named
    assert.deepEqual(summarise([{ name: rpm('a'), ...same }, { name: rpm('b'), identical: false, fields: ['FILEDIGESTS', 'PAYLOADDIGEST'], samePayload: false }]),
      { reproduces: 'partly', differences: [{ name: rpm('b'), fields: ['FILEDIGESTS', 'PAYLOADDIGEST'] }] })
    // nothing identical, but the payload is the official one: only header fields differ
    assert.equal(summarise([{ name: rpm('a'), identical: false, fields: ['BUILDTIME'], samePayload: true }]).reproduces, 'partly')
    assert.equal(summarise([{ name: rpm('a'), identical: false, fields: ['PAYLOADDIGEST'], samePayload: false }]).reproduces, 'no')
    // the file sets differ: no, whatever else is identical
    assert.deepEqual(summarise([{ name: rpm('a'), ...same }, { name: rpm('b'), identical: false, fields: [NOT_BUILT], samePayload: false }]),
      { reproduces: 'no', differences: [{ name: rpm('b'), fields: [NOT_BUILT] }] })
    assert.equal(summarise([{ name: rpm('a'), ...same }, { name: rpm('c'), identical: false, fields: [NOT_IN_OFFICIAL], samePayload: false }]).reproduces, 'no')
    assert.deepEqual(summarise([]), { reproduces: 'unknown', differences: [] })
  })

  it('bounds the differences (64 packages, 32 fields each, 8 KiB) so a claim always fits an attestation', () => {
    const many = Array.from({ length: 100 }, (_, i) => ({ name: rpm(`p${String(i).padStart(3, '0')}`), fields: Array.from({ length: 40 }, (_, j) => `TAG_${5000 + j}`) }))
    const kept = boundDifferences(many)
    assert.ok(kept.length > 0 && kept.length <= MAX_OFFICIAL_DIFFERENCES)
    assert.ok(kept.every(d => d.fields.length === MAX_DIFFERING_FIELDS))
    assert.equal(kept[0].name, many[0].name)
    assert.equal(claimProblem({ reproduces: 'no', differences: kept }), undefined)
    const bytes = kept.reduce((n, d) => n + d.name.length + d.fields.join('').length, 0)
    assert.ok(bytes <= MAX_DIFFERENCES_BYTES, String(bytes))
  })

  it('names what breaks the rules of a claim', () => {
    assert.equal(claimProblem(partly), undefined)
    assert.match(claimProblem({ reproduces: 'yes', differences: partly.differences }) ?? '', /names no differences/)
    assert.match(claimProblem({ reproduces: 'partly', differences: [] }) ?? '', /names the differing packages/)
    assert.match(claimProblem({ reproduces: 'no', differences: [{ name: '../x.rpm', fields: [] }] }) ?? '', /bad package name/)
    assert.match(claimProblem({ reproduces: 'no', differences: [{ name: rpm('a'), fields: [] }, { name: rpm('a'), fields: [] }] }) ?? '', /named twice/)
    assert.match(claimProblem({ reproduces: 'no', differences: [{ name: rpm('a'), fields: ['buildtime'] }] }) ?? '', /bad field name/)
    assert.match(claimProblem({ reproduces: 'no', differences: [{ name: rpm('a'), fields: ['SIZE', 'SIZE'] }] }) ?? '', /named twice/)
    assert.match(claimProblem({ reproduces: 'no', differences: [{ name: rpm('a'), fields: Array.from({ length: 33 }, (_, i) => `TAG_${i}`) }] }) ?? '', /33 fields/)
  })

  it('a verdict takes the claim a strict majority of the agreeing builders made, in any order', () => {
    const yes: OfficialClaim = { reproduces: 'yes', differences: [] }
    assert.deepEqual(agreedClaim([partly, partly, yes]), { ...partly, claimedBy: 2, of: 3 })
    assert.deepEqual(agreedClaim([yes, partly, partly]), { ...partly, claimedBy: 2, of: 3 })
    assert.equal(agreedClaim([partly, yes]), undefined)
    assert.equal(agreedClaim([{ reproduces: 'unknown', differences: [] }, { reproduces: 'unknown', differences: [] }]), undefined)
    assert.equal(describeClaim(partly), `partly (${rpm('hello')}: BUILDTIME, BUILDHOST)`)
  })
})

describe('official build comparison: attestation v3 fields 13–14', () => {
  let alice: TestBuilder
  before(async () => { alice = await testBuilder() })
  const now = Date.now()

  it('round-trips a claim: signed with the attestation, outside the build hash', () => {
    const job = randomJob()
    const plain = checkAttestation(createAttestation({ job, status: 'ok', files: testFiles(), time: now }, alice.key), now)
    const claimed = checkAttestation(createAttestation({ job, status: 'ok', files: testFiles(), time: now, official: partly }, alice.key), now)
    assert.deepEqual(claimed.official, partly)
    assert.equal(plain.official, undefined)
    assert.equal(claimed.buildHash, plain.buildHash)
    assert.notEqual(claimed.id, plain.id)
    assert.deepEqual(officialClaimOf(claimed.envelope), partly)
    assert.deepEqual(officialClaimOf(plain.envelope), { reproduces: 'unknown', differences: [] })
    const decoded = Attestation.decode(SignedAttestation.decode(claimed.envelope).payload)
    assert.equal(decoded.official, 2)
    assert.deepEqual(decoded.officialDifferences, [{ name: rpm('hello'), fields: ['BUILDTIME', 'BUILDHOST'] }])
  })

  it('refuses unknown codes, bad and oversized differences, and claims where none belongs', async () => {
    const check = async (over: Partial<Attestation>, message: RegExp): Promise<void> => {
      const bytes = await signAttestation(rawAttestation(alice, over), alice.key)
      rejectsMalformed(() => checkAttestation(bytes, now), message)
    }
    const diff = (name: string, fields: string[]): { name: string, fields: string[] } => ({ name, fields })
    await check({ official: 4 }, /unknown official comparison code 4/)
    await check({ official: 1, officialDifferences: [diff(rpm('a'), ['SIZE'])] }, /reproduces=yes names no differences/)
    await check({ official: 0, officialDifferences: [diff(rpm('a'), ['SIZE'])] }, /reproduces=unknown names no differences/)
    await check({ official: 2 }, /names the differing packages/)
    await check({ official: 3, officialDifferences: [diff('a/../../b.rpm', [])] }, /bad package name/)
    await check({ official: 3, officialDifferences: [diff(rpm('a'), ['BUILD TIME'])] }, /bad field name/)
    await check({ official: 3, officialDifferences: [diff(rpm('a'), ['X'.repeat(33)])] }, /bad field name/)
    // over the decode limits: 65 packages, 33 fields
    await check({ official: 3, officialDifferences: Array.from({ length: 65 }, (_, i) => diff(rpm(`p${i}`), [])) }, /undecodable attestation/)
    await check({ official: 3, officialDifferences: [diff(rpm('a'), Array.from({ length: 33 }, (_, i) => `TAG_${i}`))] }, /undecodable attestation/)
    // within the counts but over 8 KiB of names
    const long = Array.from({ length: 64 }, (_, i) => diff(`${String(i).padStart(3, '0')}${'x'.repeat(200)}.rpm`, []))
    await check({ official: 3, officialDifferences: long }, /bytes > 8192/)
    // a failed build claims nothing
    await check({ status: 2, buildHash: new Uint8Array(0), files: [], official: 3, officialDifferences: [diff(rpm('a'), [])] }, /a failed build claims nothing/)
    // nor does a commitment
    const commitment = Attestation.decode(SignedAttestation.decode(createCommitment({ job: randomJob(), buildHash: undefined, nonce: new Uint8Array(32), time: now }, alice.key)).payload)
    const bad = await signRaw(Attestation.encode({ ...commitment, official: 1 }), alice.key)
    rejectsMalformed(() => checkCommitment(bad, now), /a commitment carries only/)
    // and the builder's own side refuses to sign one
    rejectsMalformed(() => createAttestation({ job: randomJob(), status: 'ok', files: testFiles(), official: { reproduces: 'partly', differences: [] } }, alice.key), /names the differing packages/)
  })
})
