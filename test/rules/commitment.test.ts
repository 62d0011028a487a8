import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import {
  checkAttestation, checkCommitment, checkConsensusMessage, checkEquivocation, createAttestation, createCommitment, createEquivocationProof,
  encodeConsensusMessage, revealMatches
} from '../../src/protocols/attestation.ts'
import { buildHash } from '../../src/rules/build-hash.ts'
import { commitDeadline, commitmentValue, committedBeforeReveals, mayReveal, PROBATION_WAIT_MS, REVEAL_GRACE_MS } from '../../src/rules/commitment.ts'
import { randomJob, rawAttestation, signAttestation, testBuilder, testFiles } from './helpers.ts'

describe('commit, then reveal (rules v2): commitments, reveals, mismatch proofs', () => {
  it('a reveal opens its commitment; another hash, another nonce or another builder does not', async () => {
    const alice = await testBuilder()
    const bob = await testBuilder()
    const job = randomJob()
    const nonce = randomBytes(32)
    const hash = buildHash(testFiles())
    const c = checkCommitment(createCommitment({ job, buildHash: hash, nonce }, alice.key), Date.now())
    assert.equal(c.commitment, Buffer.from(commitmentValue(job, alice.builder, Buffer.from(hash, 'hex'), nonce)).toString('hex'))
    const reveal = checkAttestation(createAttestation({ job, status: 'ok', files: testFiles(), nonce }, alice.key), Date.now())
    assert.equal(reveal.nonce, nonce.toString('hex'))
    assert.ok(revealMatches(c, reveal))
    assert.ok(!revealMatches(c, checkAttestation(createAttestation({ job, status: 'ok', files: testFiles('b'), nonce }, alice.key), Date.now())))
    assert.ok(!revealMatches(c, checkAttestation(createAttestation({ job, status: 'ok', files: testFiles(), nonce: randomBytes(32) }, alice.key), Date.now())))
    assert.ok(!revealMatches(c, checkAttestation(createAttestation({ job, status: 'ok', files: testFiles(), nonce }, bob.key), Date.now())))
    // a failed build commits to no hash
    const failed = checkCommitment(createCommitment({ job, buildHash: undefined, nonce }, alice.key), Date.now())
    assert.ok(revealMatches(failed, checkAttestation(createAttestation({ job, status: 'failed', nonce }, alice.key), Date.now())))
  })

  it('the commitment carries no hash: it is 32 bytes that name nothing without the nonce, and the checkers keep the two kinds apart', async () => {
    const alice = await testBuilder()
    const job = randomJob()
    const envelope = createCommitment({ job, buildHash: buildHash(testFiles()), nonce: randomBytes(32) }, alice.key)
    assert.ok(!Buffer.from(envelope).includes(Buffer.from(buildHash(testFiles()), 'hex')))
    assert.throws(() => checkAttestation(envelope, Date.now()), /commitment where an attestation/)
    assert.throws(() => checkCommitment(createAttestation({ job, status: 'ok', files: testFiles() }, alice.key), Date.now()), /attestation where a commitment/)
    const m = checkConsensusMessage(encodeConsensusMessage({ commitment: envelope }), Date.now())
    assert.equal(m.type, 'commitment')
  })

  it('malformed commitments and nonces are refused', async () => {
    const alice = await testBuilder()
    const commitment = new Uint8Array(randomBytes(32))
    const empty = { status: 0, buildHash: new Uint8Array(0), files: [], environment: [], durationMs: 0n, commitment }
    const signed = async (over: Parameters<typeof rawAttestation>[1]): Promise<Uint8Array> => signAttestation(rawAttestation(alice, over), alice.key)
    const ok = await signed(empty)
    assert.doesNotThrow(() => checkCommitment(ok, Date.now()))
    const short = await signed({ ...empty, commitment: commitment.subarray(0, 31) })
    assert.throws(() => checkCommitment(short, Date.now()), /commitment must be 32 bytes/)
    const withStatus = await signed({ ...empty, status: 1 })
    assert.throws(() => checkCommitment(withStatus, Date.now()), /carries only/)
    const withNonce = await signed({ ...empty, nonce: new Uint8Array(32) })
    assert.throws(() => checkCommitment(withNonce, Date.now()), /carries only/)
    const badNonce = await signed({ nonce: new Uint8Array(31) })
    assert.throws(() => checkAttestation(badNonce, Date.now()), /nonce must be 32 bytes/)
  })

  it('a reveal that does not open its commitment is an equivocation; so are two commitments; a matching pair and an attestation without a nonce are not', async () => {
    const alice = await testBuilder()
    const job = randomJob()
    const nonce = randomBytes(32)
    const guess = createCommitment({ job, buildHash: buildHash(testFiles('guess')), nonce }, alice.key)
    const copy = createAttestation({ job, status: 'ok', files: testFiles(), nonce }, alice.key)
    const e = checkEquivocation(createEquivocationProof(guess, copy))
    assert.equal(e.builder, alice.id)
    const other = createCommitment({ job, buildHash: buildHash(testFiles()), nonce: randomBytes(32) }, alice.key)
    assert.equal(checkEquivocation(createEquivocationProof(guess, other)).builder, alice.id)
    const honest = createCommitment({ job, buildHash: buildHash(testFiles()), nonce }, alice.key)
    assert.throws(() => checkEquivocation(createEquivocationProof(honest, copy)), /same claim/)
    assert.throws(() => checkEquivocation(createEquivocationProof(guess, createAttestation({ job, status: 'ok', files: testFiles() }, alice.key))), /same claim/)
  })

  it('stage 2 commits one stage later, never past halfway to the job deadline; a seat reveals when its stage committed or after the deadline and the grace', () => {
    const w = { issuedAt: 0, stageDeadline: 1000, expiresAt: 10_000 }
    assert.equal(commitDeadline(w, 1), 1000)
    assert.equal(commitDeadline(w, 2), 2000)
    assert.equal(commitDeadline({ ...w, expiresAt: 1500 }, 2), 1250)
    const stageSeats = ['a', 'b']
    assert.equal(mayReveal({ stageSeats, committed: new Map([['a', 10]]), deadline: 1000, now: 1000 + REVEAL_GRACE_MS }), false)
    assert.equal(mayReveal({ stageSeats, committed: new Map([['a', 10]]), deadline: 1000, now: 1001 + REVEAL_GRACE_MS }), true)
    assert.equal(mayReveal({ stageSeats, committed: new Map([['a', 10], ['b', 20]]), deadline: 1000, now: 0 }), true)
  })

  it('probation: stage 1 waits for the probation seats\' commitments at most PROBATION_WAIT_MS after its own last one; a probation reveal is compared only when committed before stage 1\'s first reveal', () => {
    const stageSeats = ['a', 'b']
    const committed = new Map([['a', 100], ['b', 200]])
    const deadline = 10 * PROBATION_WAIT_MS
    assert.equal(mayReveal({ stageSeats, committed, deadline, now: 300, probation: ['p'] }), false)
    assert.equal(mayReveal({ stageSeats, committed, deadline, now: 200 + PROBATION_WAIT_MS, probation: ['p'] }), false)
    assert.equal(mayReveal({ stageSeats, committed, deadline, now: 201 + PROBATION_WAIT_MS, probation: ['p'] }), true)
    assert.equal(mayReveal({ stageSeats, committed: new Map([...committed, ['p', 250]]), deadline, now: 300, probation: ['p'] }), true)
    assert.equal(mayReveal({ stageSeats: ['a', 'b', 'c'], committed, deadline, now: 201 + PROBATION_WAIT_MS, probation: ['p'] }), false)
    assert.equal(committedBeforeReveals(250, [300, 400]), true)
    assert.equal(committedBeforeReveals(300, [300, 400]), false)
    assert.equal(committedBeforeReveals(undefined, []), false)
    assert.equal(committedBeforeReveals(250, []), true)
  })
})
