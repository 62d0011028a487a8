import assert from 'node:assert/strict'
import { generateKeyPair, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  BuilderKeyCache, attestationsConflict, checkAttestation, checkConsensusMessage, checkEquivocation, createAttestation,
  createEquivocationProof, encodeConsensusMessage
} from '../../src/protocols/attestation.ts'
import { Attestation, ConsensusMessage, EquivocationProof, SignedAttestation } from '../../src/protocols/pb/attestation.ts'
import { ATTESTATION_DOMAIN, MAX_ATTESTED_FILES } from '../../src/rules/constants.ts'
import { buildHash } from '../../src/rules/build-hash.ts'
import { isSafeFileName } from '../../src/rules/file-name.ts'
import { rawAttestation, randomJob, sha256Hex, signAttestation, signRaw, testBuilder, testEnvironment, testFiles, type TestBuilder } from './helpers.ts'

function rejects (fn: () => unknown, reason: string, message?: RegExp): void {
  assert.throws(fn, (err: any) => {
    assert.equal(err.name, 'GossipValidationError', err.stack)
    assert.equal(err.reason, reason, err.message)
    if (message !== undefined) assert.match(err.message, message)
    assert.equal(err.action, 'reject')
    return true
  })
}

function rejectsAttestation (bytes: Uint8Array, reason: string, now: number, message?: RegExp): void {
  rejects(() => checkAttestation(bytes, now), reason, message)
}

describe('consensus: attestations', () => {
  let alice: TestBuilder
  let bob: TestBuilder
  before(async () => {
    alice = await testBuilder()
    bob = await testBuilder()
  })

  describe('sign and verify', () => {
    it('round-trips an ok attestation: every field, the build hash (docs/protocols/consensus.md), the id', () => {
      const job = randomJob()
      const now = Date.now()
      const files = testFiles()
      const bytes = createAttestation({ job, status: 'ok', files: [...files].reverse(), environment: testEnvironment, time: now }, alice.key)
      const c = checkAttestation(bytes, now)
      assert.equal(c.job, Buffer.from(job).toString('hex'))
      assert.equal(c.builder, alice.id)
      assert.equal(c.status, 'ok')
      assert.equal(c.buildHash, buildHash(files))
      // files come out sorted by name, as createAttestation writes them
      assert.deepEqual(c.files, [...files].sort((a, b) => a.name < b.name ? -1 : 1))
      assert.deepEqual(c.environment, Object.entries(testEnvironment).map(([key, value]) => ({ key, value })))
      assert.equal(c.time, now)
      assert.equal(c.id, sha256Hex(c.payload))
      assert.deepEqual(c.envelope, bytes)
    })

    it('round-trips a failed attestation: no hash, no files', () => {
      const c = checkAttestation(createAttestation({ job: randomJob(), status: 'failed', environment: { builder: 'mock', mockConfig: undefined } }, bob.key), Date.now())
      assert.equal(c.status, 'failed')
      assert.equal(c.buildHash, undefined)
      assert.deepEqual(c.files, [])
      assert.deepEqual(c.environment, [{ key: 'builder', value: 'mock' }])
      assert.equal(c.builder, bob.id)
    })

    it('the signature is Ed25519 by the peer key over "skyline/attestation/v1\\n" || payload, exactly', async () => {
      const bytes = createAttestation({ job: randomJob(), status: 'ok', files: testFiles() }, alice.key)
      const env = SignedAttestation.decode(bytes)
      const pub = publicKeyFromRaw(alice.key.publicKey.raw)
      const domain = new TextEncoder().encode(ATTESTATION_DOMAIN)
      assert.equal(await pub.verify(Buffer.concat([domain, env.payload]), env.signature), true)
      assert.equal(await pub.verify(env.payload, env.signature), false)
      // and what libp2p's own signing produces is accepted
      const viaLibp2p = await signRaw(env.payload, alice.key)
      assert.equal(checkAttestation(viaLibp2p, Date.now()).builder, alice.id)
    })

    it('accepts a job as hex, refuses non-Ed25519 keys and fields every node would refuse', async () => {
      const job = randomJob()
      const c = checkAttestation(createAttestation({ job: Buffer.from(job).toString('hex'), status: 'ok', files: testFiles() }, alice.key), Date.now())
      assert.equal(c.job, Buffer.from(job).toString('hex'))
      await assert.rejects(async () => createAttestation({ job, status: 'ok', files: testFiles() }, await generateKeyPair('secp256k1')), TypeError)
      rejects(() => createAttestation({ job, status: 'ok', files: [{ name: '../evil.rpm', size: 1, sha256: sha256Hex('x') }] }, alice.key), 'malformed')
      rejects(() => createAttestation({ job, status: 'ok', files: [] }, alice.key), 'malformed')
      rejects(() => createAttestation({ job, status: 'failed', files: testFiles() }, alice.key), 'malformed')
      rejects(() => createAttestation({ job: 'abc', status: 'failed' }, alice.key), 'malformed')
    })
  })

  describe('rejections', () => {
    it('malformed: undecodable, non-canonical envelope, bad lengths', async () => {
      const now = Date.now()
      rejects(() => checkAttestation(new Uint8Array([0xff, 0xff, 0xff]), now), 'malformed')
      rejects(() => checkAttestation(new Uint8Array(0), now), 'malformed')
      const good = createAttestation({ job: randomJob(), status: 'ok', files: testFiles() }, alice.key)
      // an unknown field appended to the envelope: same payload and signature, other bytes
      rejects(() => checkAttestation(Buffer.concat([good, Buffer.from([0x18, 0x01])]), now), 'malformed')
      const env = SignedAttestation.decode(good)
      rejects(() => checkAttestation(SignedAttestation.encode({ ...env, signature: env.signature.subarray(0, 63) }), now), 'malformed')
      rejects(() => checkAttestation(SignedAttestation.encode({ payload: new Uint8Array(0), signature: env.signature }), now), 'malformed')
      rejects(() => checkAttestation(SignedAttestation.encode({ ...env, payload: new Uint8Array([0xff, 0xff]) }), now), 'malformed')
      rejectsAttestation(await signAttestation(rawAttestation(alice, { job: new Uint8Array(31) }), alice.key), 'malformed', now)
      rejectsAttestation(await signAttestation(rawAttestation(alice, { time: 0n }), alice.key), 'malformed', now)
    })

    it('malformed: builders that are not canonical Ed25519 peer IDs', async () => {
      const now = Date.now()
      const secp = peerIdFromPrivateKey(await generateKeyPair('secp256k1'))
      rejectsAttestation(await signAttestation(rawAttestation(alice, { builder: new Uint8Array(secp.toMultihash().bytes) }), alice.key), 'malformed', now)
      rejectsAttestation(await signAttestation(rawAttestation(alice, { builder: new Uint8Array(0) }), alice.key), 'malformed', now)
      rejectsAttestation(await signAttestation(rawAttestation(alice, { builder: alice.builder.subarray(0, 37) }), alice.key), 'malformed', now)
      const wrongPrefix = new Uint8Array(alice.builder)
      wrongPrefix[2] = 0x0a
      rejectsAttestation(await signAttestation(rawAttestation(alice, { builder: wrongPrefix }), alice.key), 'malformed', now)
    })

    it('malformed: status and build hash must agree with the files', async () => {
      const now = Date.now()
      const sign = async (over: Partial<Attestation>): Promise<Uint8Array> => signAttestation(rawAttestation(alice, over), alice.key)
      for (const status of [0, 3, 1000]) {
        const bytes = await sign({ status })
        rejects(() => checkAttestation(bytes, now), 'malformed', /unknown status/)
      }
      const failedWithHash = await sign({ status: 2, files: [] })
      rejects(() => checkAttestation(failedWithHash, now), 'malformed', /no build hash/)
      const failedWithFiles = await sign({ status: 2, buildHash: new Uint8Array(0) })
      rejects(() => checkAttestation(failedWithFiles, now), 'malformed', /no files/)
      const okWithoutFiles = await sign({ files: [] })
      rejects(() => checkAttestation(okWithoutFiles, now), 'malformed', /lists its files/)
      const okWithoutHash = await sign({ buildHash: new Uint8Array(0) })
      rejects(() => checkAttestation(okWithoutHash, now), 'malformed', /32 bytes/)
      const wrongHash = await sign({ buildHash: new Uint8Array(Buffer.from(sha256Hex('other'), 'hex')) })
      rejects(() => checkAttestation(wrongHash, now), 'malformed', /does not match/)
      // the control: the same builder, well formed, is accepted
      assert.equal(checkAttestation(await sign({}), now).status, 'ok')
      assert.equal(checkAttestation(await sign({ status: 2, files: [], buildHash: new Uint8Array(0) }), now).status, 'failed')
    })

    it('malformed: unsafe, duplicate or oversized files; too many files', async () => {
      const now = Date.now()
      const withFiles = async (files: Array<{ name: string, size?: bigint, sha256?: Uint8Array<ArrayBuffer> }>): Promise<Uint8Array> => {
        const full = files.map((f, i) => ({ name: f.name, size: f.size ?? 100n, sha256: f.sha256 ?? new Uint8Array(Buffer.from(sha256Hex(String(i)), 'hex')), chunkSize: 0, chunkRoot: new Uint8Array(0) }))
        let hash = new Uint8Array(32)
        try {
          hash = new Uint8Array(Buffer.from(buildHash(full.map(f => ({ name: f.name, sha256: Buffer.from(f.sha256).toString('hex') }))), 'hex'))
        } catch {}
        return signAttestation(rawAttestation(alice, { files: full, buildHash: hash }), alice.key)
      }
      for (const name of ['../x.rpm', 'a/b.rpm', 'x..y.rpm', 'x.txt', 'x.rpm\n', '.hidden.rpm', '-x.rpm', 'a b.rpm', 'a\\b.rpm', `${'a'.repeat(252)}.rpm`, '', 'ünï.rpm']) {
        assert.equal(isSafeFileName(name), false, name)
        const bytes = await withFiles([{ name }])
        rejects(() => checkAttestation(bytes, now), 'malformed', /unsafe file name/)
      }
      assert.equal(isSafeFileName(`${'a'.repeat(251)}.rpm`), true)
      assert.equal(isSafeFileName('glibc-2.40-1.fc41~rc1^20240101.x86_64.rpm'), true)
      const ok = await withFiles([{ name: `${'a'.repeat(251)}.rpm` }])
      assert.equal(checkAttestation(ok, now).files.length, 1)
      const dup = await withFiles([{ name: 'a.rpm' }, { name: 'a.rpm' }])
      rejects(() => checkAttestation(dup, now), 'malformed', /listed twice/)
      const empty = await withFiles([{ name: 'a.rpm', size: 0n }])
      rejects(() => checkAttestation(empty, now), 'malformed', /size of a.rpm/)
      const huge = await withFiles([{ name: 'a.rpm', size: 1n << 60n }])
      rejects(() => checkAttestation(huge, now), 'malformed', /size of a.rpm/)
      const shortSha = await withFiles([{ name: 'a.rpm', sha256: new Uint8Array(31) }])
      rejects(() => checkAttestation(shortSha, now), 'malformed', /sha256 of a.rpm/)
      const many = await withFiles(Array.from({ length: MAX_ATTESTED_FILES + 1 }, (_, i) => ({ name: `${i}.rpm` })))
      // 1001 short names still fit in 64 KiB: refused for the count, not the size
      assert.ok(many.length < 64 * 1024, `${many.length}`)
      rejects(() => checkAttestation(many, now), 'malformed', /undecodable attestation|files >/)
      const most = await withFiles(Array.from({ length: 600 }, (_, i) => ({ name: `${i}.rpm` })))
      assert.equal(checkAttestation(most, now).files.length, 600)
    })

    it('v2 file entries: chunk size and chunk root round-trip, outside the build hash; both or neither, within the blob limits', async () => {
      const now = Date.now()
      const [f] = testFiles()
      const root = sha256Hex('root')
      const c = checkAttestation(createAttestation({ job: randomJob(), status: 'ok', files: [{ ...f, chunkSize: 256 * 1024, chunkRoot: root }] }, alice.key), now)
      assert.deepEqual(c.files, [{ ...f, chunkSize: 256 * 1024, chunkRoot: root }])
      assert.equal(c.buildHash, buildHash([f]), 'the chunk root is not part of the build hash')
      const v1 = checkAttestation(createAttestation({ job: randomJob(), status: 'ok', files: [f] }, alice.key), now)
      assert.deepEqual(v1.files, [f], 'a v1 entry names no chunking')
      const withChunking = async (chunkSize: number, chunkRoot: Uint8Array, size = 100n): Promise<Uint8Array> => signAttestation(rawAttestation(alice, {
        files: [{ name: f.name, size, sha256: new Uint8Array(Buffer.from(f.sha256, 'hex')), chunkSize, chunkRoot: new Uint8Array(chunkRoot) }],
        buildHash: new Uint8Array(Buffer.from(buildHash([f]), 'hex'))
      }), alice.key)
      const root32 = Buffer.from(root, 'hex')
      const noRoot = await withChunking(256 * 1024, new Uint8Array(0))
      rejects(() => checkAttestation(noRoot, now), 'malformed', /chunk root of .* 32 bytes/)
      const noSize = await withChunking(0, root32)
      rejects(() => checkAttestation(noSize, now), 'malformed', /chunk size of/)
      const smallChunks = await withChunking(8 * 1024, root32)
      rejects(() => checkAttestation(smallChunks, now), 'malformed', /chunk size of/)
      const bigChunks = await withChunking(2 * 1024 * 1024, root32)
      rejects(() => checkAttestation(bigChunks, now), 'malformed', /chunk size of/)
      const shortRoot = await withChunking(256 * 1024, root32.subarray(0, 31))
      rejects(() => checkAttestation(shortRoot, now), 'malformed', /chunk root of/)
      const tooManyChunks = await withChunking(16 * 1024, root32, 16384n * 16384n + 1n)
      rejects(() => checkAttestation(tooManyChunks, now), 'malformed', /more than 16384 chunks/)
      assert.equal(checkAttestation(await withChunking(16 * 1024, root32, 16384n * 16384n), now).files[0].chunkSize, 16 * 1024)
    })

    it('malformed: environment too big, duplicate or bad keys, control characters', async () => {
      const now = Date.now()
      const withEnv = async (environment: Array<{ key: string, value: string }>): Promise<Uint8Array> => signAttestation(rawAttestation(alice, { environment }), alice.key)
      const cases = [
        Array.from({ length: 33 }, (_, i) => ({ key: `k${i}`, value: 'v' })),
        Array.from({ length: 9 }, (_, i) => ({ key: `k${i}`, value: 'v'.repeat(1000) })),
        [{ key: 'a', value: 'v'.repeat(1025) }],
        [{ key: 'a', value: '1' }, { key: 'a', value: '2' }],
        [{ key: '', value: 'x' }],
        [{ key: 'a b', value: 'x' }],
        [{ key: '__proto__!', value: 'x' }],
        [{ key: 'k'.repeat(65), value: 'x' }],
        [{ key: 'a', value: 'line\nbreak' }],
        [{ key: 'a', value: 'nul\u0000' }]
      ]
      for (const env of cases) {
        const bytes = await withEnv(env)
        rejects(() => checkAttestation(bytes, now), 'malformed', /environment/)
      }
      const fine = await withEnv(Array.from({ length: 32 }, (_, i) => ({ key: `k${i}`, value: 'v'.repeat(200) })))
      assert.equal(checkAttestation(fine, now).environment.length, 32)
    })

    it('bad-signature: another key, a flipped signature bit', async () => {
      const now = Date.now()
      // claims to be alice, signed by bob
      const forged = await signAttestation(rawAttestation(alice), bob.key)
      rejects(() => checkAttestation(forged, now), 'bad-signature')
      const env = SignedAttestation.decode(createAttestation({ job: randomJob(), status: 'ok', files: testFiles() }, alice.key))
      const sig = new Uint8Array(env.signature)
      sig[5] ^= 0x01
      rejects(() => checkAttestation(SignedAttestation.encode({ ...env, signature: sig }), now), 'bad-signature')
      // signed without the domain
      const bare = SignedAttestation.encode({ payload: env.payload, signature: new Uint8Array(await alice.key.sign(env.payload)) })
      rejects(() => checkAttestation(bare, now), 'bad-signature')
    })

    it('not-yet-valid: more than 5 minutes in the future (but a proof of equivocation does not care)', () => {
      const now = Date.now()
      const job = randomJob()
      rejects(() => checkAttestation(createAttestation({ job, status: 'failed', time: now + 5 * 60_000 + 1 }, alice.key), now), 'not-yet-valid')
      assert.equal(checkAttestation(createAttestation({ job, status: 'failed', time: now + 5 * 60_000 }, alice.key), now).status, 'failed')
      // old attestations are fine: they are late, not invalid
      assert.equal(checkAttestation(createAttestation({ job, status: 'failed', time: now - 30 * 86400_000 }, alice.key), now).status, 'failed')
    })

    it('oversized: more than 64 KiB', async () => {
      const env = SignedAttestation.decode(createAttestation({ job: randomJob(), status: 'ok', files: testFiles() }, alice.key))
      const big = SignedAttestation.encode({ payload: new Uint8Array(64 * 1024), signature: env.signature })
      rejects(() => checkAttestation(big, Date.now()), 'oversized')
    })

    it('a flipped bit anywhere in the envelope is refused', () => {
      const now = Date.now()
      const bytes = createAttestation({ job: randomJob(), status: 'ok', files: testFiles(), environment: testEnvironment, time: now }, alice.key)
      checkAttestation(bytes, now)
      let refused = 0
      for (let i = 0; i < bytes.length; i++) {
        for (const bit of [0x01, 0x80]) {
          const copy = new Uint8Array(bytes)
          copy[i] ^= bit
          assert.throws(() => checkAttestation(copy, now), (err: any) => err.name === 'GossipValidationError' && err.action === 'reject', `byte ${i} bit ${bit}`)
          refused++
        }
      }
      assert.equal(refused, bytes.length * 2)
    })
  })

  describe('public key cache', () => {
    it('keeps keys per builder: a cached key never verifies another builder\'s claim', async () => {
      const cache = new BuilderKeyCache(8)
      const now = Date.now()
      const a = checkAttestation(createAttestation({ job: randomJob(), status: 'ok', files: testFiles() }, alice.key), now, { cache })
      const b = checkAttestation(createAttestation({ job: randomJob(), status: 'ok', files: testFiles('b') }, bob.key), now, { cache })
      assert.equal(a.builder, alice.id)
      assert.equal(b.builder, bob.id)
      assert.equal(cache.size, 2)
      assert.ok(cache.has(alice.builder) && cache.has(bob.builder))
      // both keys cached: bob signing as alice, alice signing as bob, both refused
      const bobAsAlice = await signAttestation(rawAttestation(alice), bob.key)
      const aliceAsBob = await signAttestation(rawAttestation(bob), alice.key)
      rejects(() => checkAttestation(bobAsAlice, now, { cache }), 'bad-signature')
      rejects(() => checkAttestation(aliceAsBob, now, { cache }), 'bad-signature')
      // and the genuine ones still pass
      assert.equal(checkAttestation(await signAttestation(rawAttestation(alice), alice.key), now, { cache }).builder, alice.id)
      assert.equal(checkAttestation(await signAttestation(rawAttestation(bob), bob.key), now, { cache }).builder, bob.id)
      assert.equal(cache.size, 2)
    })

    it('is bounded, evicting the least recently used builder', async () => {
      const carol = await testBuilder()
      const cache = new BuilderKeyCache(2)
      const now = Date.now()
      const check = async (b: TestBuilder): Promise<string> => checkAttestation(await signAttestation(rawAttestation(b), b.key), now, { cache }).builder
      assert.equal(await check(alice), alice.id)
      assert.equal(await check(bob), bob.id)
      assert.equal(await check(alice), alice.id) // alice is now the most recent
      assert.equal(await check(carol), carol.id) // evicts bob
      assert.equal(cache.size, 2)
      assert.ok(cache.has(alice.builder) && cache.has(carol.builder) && !cache.has(bob.builder))
      assert.equal(await check(bob), bob.id) // re-learnt, evicts alice
      assert.ok(!cache.has(alice.builder))
    })
  })

  describe('equivocation', () => {
    it('two signed conflicting claims by one builder for one job make a proof', () => {
      const job = randomJob()
      const now = Date.now()
      const h = createAttestation({ job, status: 'ok', files: testFiles('a'), time: now }, alice.key)
      const p = createAttestation({ job, status: 'ok', files: testFiles('p'), time: now + 1 }, alice.key)
      const f = createAttestation({ job, status: 'failed', time: now + 2 }, alice.key)
      const proof = checkEquivocation(createEquivocationProof(h, p))
      assert.equal(proof.builder, alice.id)
      assert.equal(proof.job, Buffer.from(job).toString('hex'))
      assert.ok(proof.attestations[0].id < proof.attestations[1].id)
      assert.equal(checkEquivocation(createEquivocationProof(f, h)).builder, alice.id)
      // the proof is canonical whatever the argument order
      assert.deepEqual(createEquivocationProof(h, p), createEquivocationProof(p, h))
      assert.ok(attestationsConflict(checkAttestation(h, now), checkAttestation(f, now + 2)))
    })

    it('is refused when the claims agree, differ in builder or job, or an inner attestation is forged', async () => {
      const job = randomJob()
      const now = Date.now()
      const h1 = createAttestation({ job, status: 'ok', files: testFiles('a'), time: now }, alice.key)
      const h2 = createAttestation({ job, status: 'ok', files: testFiles('a'), time: now + 1000, environment: { rpmVersion: '4.19' } }, alice.key)
      const bobP = createAttestation({ job, status: 'ok', files: testFiles('p'), time: now }, bob.key)
      const otherJob = createAttestation({ job: randomJob(), status: 'ok', files: testFiles('p'), time: now }, alice.key)
      rejects(() => checkEquivocation(createEquivocationProof(h1, h2)), 'not-equivocation')
      rejects(() => checkEquivocation(createEquivocationProof(h1, bobP)), 'not-equivocation')
      rejects(() => checkEquivocation(createEquivocationProof(h1, otherJob)), 'not-equivocation')
      rejects(() => checkEquivocation(createEquivocationProof(h1, h1)), 'not-equivocation')
      const forged = await signAttestation(rawAttestation(alice, { job }), bob.key)
      rejects(() => checkEquivocation(createEquivocationProof(h1, forged)), 'bad-signature')
      rejects(() => checkEquivocation(EquivocationProof.encode({ attestations: [h1] })), 'malformed')
      rejects(() => checkEquivocation(EquivocationProof.encode({ attestations: [h1, h2, bobP] })), 'malformed')
      rejects(() => checkEquivocation(new Uint8Array([0x0a, 0xff])), 'malformed')
      // a future-dated pair still proves equivocation: the builder signed both
      const f1 = createAttestation({ job, status: 'failed', time: now + 86400_000 }, alice.key)
      assert.equal(checkEquivocation(createEquivocationProof(f1, h1)).builder, alice.id)
    })
  })

  describe('consensus message', () => {
    it('carries exactly one of an attestation and an equivocation proof', () => {
      const now = Date.now()
      const job = randomJob()
      const h = createAttestation({ job, status: 'ok', files: testFiles('a'), time: now }, alice.key)
      const p = createAttestation({ job, status: 'ok', files: testFiles('p'), time: now }, alice.key)
      const a = checkConsensusMessage(encodeConsensusMessage({ attestation: h }), now)
      assert.equal(a.type, 'attestation')
      assert.equal(a.type === 'attestation' && a.attestation.builder, alice.id)
      const proof = createEquivocationProof(h, p)
      const e = checkConsensusMessage(encodeConsensusMessage({ equivocation: proof }), now)
      assert.equal(e.type === 'equivocation' && e.equivocation.builder, alice.id)
      rejects(() => checkConsensusMessage(ConsensusMessage.encode({ attestation: h, equivocation: proof }), now), 'malformed')
      rejects(() => checkConsensusMessage(ConsensusMessage.encode({}), now), 'malformed')
      rejects(() => checkConsensusMessage(new Uint8Array([0x0a, 0x05, 0x01]), now), 'malformed')
      rejects(() => checkConsensusMessage(new Uint8Array(64 * 1024 + 1), now), 'oversized')
      // what the wrapper carries is checked
      const forged = new Uint8Array(h)
      forged[forged.length - 1] ^= 1
      rejects(() => checkConsensusMessage(encodeConsensusMessage({ attestation: forged }), now), 'bad-signature')
      assert.throws(() => encodeConsensusMessage({ attestation: new Uint8Array(0) }), TypeError)
    })
  })
})
