/**
 * Property tests of the reader and verifier on mutated real packages (fixed seed): truncations, bit
 * flips, absurd counts, offsets and sizes written into index entries and preambles. The reader throws
 * nothing but RpmFormatError, takes bounded time, never asks for more bytes than the file holds, and a
 * mutated package is accepted only if the bytes its signature and digests cover are unchanged.
 * Run counts and seed follow test/fuzz/runs.ts: SKYLINE_FUZZ_RUNS for a long run, SKYLINE_FUZZ_SEED
 * (or RPM_FUZZ_SEED) for another seed.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import fc from 'fast-check'
import { RpmFormatError } from '../../src/rpm/errors.ts'
import type { Keyring } from '../../src/rpm/keyring.ts'
import { readRpm, readRpmFile, type RpmPackage } from '../../src/rpm/reader.ts'
import { verifyRpm } from '../../src/rpm/verify.ts'
import { fixture, fixtureBytes, hasRpmkeys, keyringOf, LiveRpmkeys, recordingHandle } from './helpers.ts'
import { FUZZ_SEED, STRESS, runs, timeoutFor } from '../fuzz/runs.ts'

/** Fixed, so runs are repeatable; SKYLINE_FUZZ_SEED (or RPM_FUZZ_SEED) explores other seeds. */
const SEED = process.env.SKYLINE_FUZZ_SEED !== undefined ? FUZZ_SEED : Number(process.env.RPM_FUZZ_SEED ?? 20251122)
const PARSE_BUDGET_MS = 2000

/** Signed packages, with the keyring that accepts each. */
const SIGNED: ReadonlyArray<[string, string[]]> = [
  ['rpm-upstream/RPMS/hello-2.0-1.x86_64-signed.rpm', ['rpm-upstream/keys/rpm.org-rsa-2048-test.pub']],
  ['rpm-upstream/RPMS/hello-2.0-1.x86_64-v3-signed.rpm', ['rpm-upstream/keys/rpm.org-rsa-2048-test.pub']],
  ['fedora/rpm-sign-4.15.1-1.fc31.x86_64.rpm', ['fedora/RPM-GPG-KEY-fedora-31-primary']],
  ['rpm-rs/RPMS/v4/signed/rpm-basic-with-ed25519-2.3.4-5.el9.noarch.rpm', ['rpm-rs/signing_keys/v4/rpm-testkey-v4-ed25519.asc']],
  ['rpm-rs/RPMS/v6/signed/rpm-basic-multiple-signatures-2.3.4-5.el9.noarch.rpm', ['rpm-rs/signing_keys/v6/rpm-testkey-v6-keyring.asc']]
]
const OTHERS = ['rpm-upstream/RPMS/hello-1.0-1.x86_64.rpm-v3', 'rpm-upstream/SRPMS/foo-1.0-1.src.rpm', 'rpm-upstream/RPMS/hello-2.0-1.x86_64-badima.rpm']

/** readRpm, which must return or throw RpmFormatError, within the time budget. */
function tryRead (bytes: Uint8Array): RpmPackage | RpmFormatError {
  const start = performance.now()
  try {
    return readRpm(bytes)
  } catch (err) {
    if (!(err instanceof RpmFormatError)) throw err
    return err
  } finally {
    const ms = performance.now() - start
    assert.ok(ms < PARSE_BUDGET_MS, `parse took ${ms} ms`)
  }
}

/** What a signature and the digests cover: the main header and the payload. */
function covered (bytes: Uint8Array, pkg: RpmPackage): Buffer {
  return Buffer.from(bytes.subarray(pkg.headerOffset))
}

const FIELD_VALUES = fc.oneof(
  fc.constantFrom(0, 1, 7, 8, 15, 16, 17, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffff0, 0x0fffffff, 0x10000000, 65535, 65536, 0x000fffff, 0x00100000),
  fc.integer({ min: 0, max: 0xffffffff })
)

describe('rpm reader and verifier under mutation (fast-check, fixed seed)', function () {
  // a verification costs milliseconds: a long run takes a fifth of SKYLINE_FUZZ_RUNS per property
  this.timeout(STRESS ? timeoutFor(60_000, 800, 5) : 60_000)
  const keyrings = new Map<string, Keyring>()
  const accepted: Array<{ name: string, bytes: Uint8Array, keys: string[] }> = []

  before(async function () {
    for (const [file, keys] of SIGNED) keyrings.set(file, await keyringOf(...keys))
  })

  it('truncation at every length: RpmFormatError, or a package whose payload is cut short', function () {
    for (const file of ['rpm-upstream/RPMS/hello-2.0-1.x86_64-signed.rpm', 'rpm-rs/RPMS/v6/signed/rpm-basic-with-ed25519-2.3.4-5.el9.noarch.rpm', ...OTHERS]) {
      const bytes = fixtureBytes(file)
      const full = readRpm(bytes)
      for (let n = 0; n < bytes.byteLength; n++) {
        const r = tryRead(bytes.subarray(0, n))
        if (r instanceof RpmFormatError) {
          assert.ok(n < full.payloadOffset, `${file}: cut at ${n} (payload starts at ${full.payloadOffset}): ${r.message}`)
        } else {
          assert.ok(n >= full.payloadOffset, `${file}: parsed a package cut inside its headers at ${n}`)
          assert.equal(r.payloadOffset, full.payloadOffset)
        }
      }
    }
  })

  it('truncated signed packages are never accepted', async function () {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...SIGNED), fc.noBias(fc.nat()), async ([file], cut) => {
      const bytes = fixtureBytes(file)
      const n = cut % bytes.byteLength
      const r = await verifyRpm(bytes.subarray(0, n), keyrings.get(file) as Keyring)
      assert.equal(r.verdict, 'rejected', `${file} cut at ${n}`)
    }), { seed: SEED, numRuns: runs(150, 5) })
  })

  it('random bit flips: only RpmFormatError; accepted only if the signed and digested bytes are unchanged', async function () {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...SIGNED),
      fc.array(fc.tuple(fc.boolean(), fc.noBias(fc.nat()), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 }),
      async ([file, keys], flips) => {
        const original = fixtureBytes(file)
        const origPkg = readRpm(original)
        const bytes = original.slice()
        // Half the flips land in the lead and headers, where the structure is.
        for (const [inHeaders, n, bit] of flips) {
          bytes[n % (inHeaders ? origPkg.payloadOffset : bytes.byteLength)] ^= 1 << bit
        }
        const parsed = tryRead(bytes)
        const r = await verifyRpm(bytes, keyrings.get(file) as Keyring)
        if (process.env.DEBUG_RPM_FUZZ !== undefined) process.stderr.write(`${r.verdict} ${(r.reason ?? '').slice(0, 60)}\n`)
        if (parsed instanceof RpmFormatError) {
          assert.equal(r.verdict, 'rejected')
          assert.match(r.reason ?? '', /^malformed: /)
        }
        if (r.verdict === 'accepted') {
          assert.ok(!(parsed instanceof RpmFormatError))
          assert.ok(covered(bytes, parsed).equals(covered(original, origPkg)), `${file}: accepted with changed signed bytes (${JSON.stringify(flips)})`)
          accepted.push({ name: `flip-${accepted.length}.rpm`, bytes, keys })
        }
      }), { seed: SEED, numRuns: runs(800, 5) })
  })

  it('absurd counts, offsets and types in index entries and preambles: RpmFormatError, never a crash or a hang', async function () {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...[...SIGNED.map(([f]) => f), ...OTHERS]),
      fc.constantFrom('signature', 'main'),
      fc.noBias(fc.nat()),
      fc.constantFrom(0, 4, 8, 12, -8, -4), // tag, type, offset, count; or il, dl of the preamble
      FIELD_VALUES,
      async (file, which, entry, field, value) => {
        const original = fixtureBytes(file)
        const pkg = readRpm(original)
        const header = which === 'signature' ? pkg.signatureHeader : pkg.header
        const il = header.entries.length + (header.region === undefined ? 0 : 1)
        const at = field < 0
          ? header.fileOffset + 16 + field
          : header.fileOffset + 16 + 16 * (entry % il) + field
        const bytes = original.slice()
        new DataView(bytes.buffer).setUint32(at, value >>> 0)
        const parsed = tryRead(bytes)
        // From a file handle: never a read larger than the file.
        const { fh, maxRead } = recordingHandle(bytes)
        const fromFile = await readRpmFile(fh).catch(err => {
          if (!(err instanceof RpmFormatError)) throw err
          return err
        })
        assert.ok(maxRead() <= bytes.byteLength, `asked to read ${maxRead()} bytes of a ${bytes.byteLength}-byte file`)
        assert.equal(fromFile instanceof RpmFormatError, parsed instanceof RpmFormatError)
        const keyring = keyrings.get(file)
        if (keyring !== undefined) {
          const r = await verifyRpm(bytes, keyring)
          if (r.verdict === 'accepted') {
            assert.ok(!(parsed instanceof RpmFormatError))
            assert.ok(covered(bytes, parsed).equals(covered(original, pkg)), `${file}: accepted after writing ${value} at ${at}`)
            accepted.push({ name: `field-${accepted.length}.rpm`, bytes, keys: SIGNED.find(([f]) => f === file)?.[1] ?? [] })
          }
        }
      }), { seed: SEED, numRuns: runs(800, 5) })
  })

  it('random bytes behind a valid lead and header magic: RpmFormatError only', function () {
    const lead = fixtureBytes('rpm-upstream/RPMS/hello-2.0-1.x86_64.rpm').subarray(0, 104)
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 4096 }), tail => {
      const bytes = new Uint8Array(lead.byteLength + tail.byteLength)
      bytes.set(lead)
      bytes.set(tail, lead.byteLength)
      tryRead(bytes)
    }), { seed: SEED, numRuns: runs(500, 2) })
  })

  it('mutants we accepted are accepted by rpmkeys 4.18 too (when installed)', function () {
    if (process.env.DEBUG_RPM_FUZZ !== undefined) process.stderr.write(`accepted mutants: ${accepted.length}\n`)
    if (!hasRpmkeys() || accepted.length === 0) this.skip()
    const dir = mkdtempSync(join(tmpdir(), 'skyline-rpm-'))
    try {
      const byKeys = new Map<string, typeof accepted>()
      for (const a of accepted.slice(0, 40)) byKeys.set(a.keys.join(' '), [...(byKeys.get(a.keys.join(' ')) ?? []), a])
      for (const [keys, list] of byKeys) {
        // rpm 4.18 cannot read v6 keys; those mutants are covered by the byte-equality check above.
        if (keys.includes('/v6/')) continue
        const live = new LiveRpmkeys(keys.split(' ').map(fixture))
        try {
          for (const a of list) {
            writeFileSync(join(dir, a.name), a.bytes)
            const { rc, output } = live.checksig(join(dir, a.name))
            assert.equal(rc, 0, `${a.name}: we accepted it, rpmkeys did not:\n${output}`)
          }
        } finally {
          live.close()
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
