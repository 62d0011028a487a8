/**
 * Every generated protobuf decoder of src/protocols/pb/ on arbitrary bytes and on mutants of valid
 * encodings (fixed seed; SKYLINE_FUZZ_RUNS for a long run). The generated code is protons': it throws
 * only protons' own reader errors (the checking layers above name them, see signed.test.ts,
 * attestation.test.ts, blob.test.ts, sync.test.ts), takes bounded time, and what it returns is a
 * fixpoint: encoding the decoded value and decoding again gives the same value.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { resolve } from 'node:path'
import fc from 'fast-check'
// as in the product: every module that encodes messages loads the uint64 fix (src/protocols/pb/protons-fix.ts)
import '../../src/protocols/gossip.ts'
import * as announcePb from '../../src/protocols/pb/announce.ts'
import * as attestationPb from '../../src/protocols/pb/attestation.ts'
import * as blobPb from '../../src/protocols/pb/blob.ts'
import * as syncPb from '../../src/protocols/pb/sync.ts'
import { check } from './runs.ts'
import { garbage, mutants, timed } from './mutate.ts'

interface AnyCodec {
  encode: (obj: any) => Uint8Array
  decode: (buf: Uint8Array, opts?: any) => any
}

/** Every message codec the pb modules export (new messages are picked up without editing this file) */
const CODECS: Array<[string, AnyCodec]> = (Object.entries({ ...announcePb, ...attestationPb, ...blobPb, ...syncPb }) as Array<[string, unknown]>)
  .filter((e): e is [string, AnyCodec] => typeof (e[1] as any)?.decode === 'function' && typeof (e[1] as any)?.encode === 'function')

/** What protons' reader throws on bad input: the one acceptable failure of a raw decoder */
function isProtonsError (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  if (err.name === 'MaxLengthError' || err.name === 'MaxSizeError') return true
  if (err instanceof RangeError) return /^index out of range/.test(err.message)
  return err.constructor === Error && /^(invalid wire type|invalid varint encoding)/.test(err.message)
}

function tryDecode (name: string, codec: AnyCodec, bytes: Uint8Array): unknown {
  try {
    return timed(`${name}.decode`, 2000, () => codec.decode(bytes))
  } catch (err: any) {
    assert.ok(isProtonsError(err), `${name}.decode threw an unexpected ${err?.name}: ${err?.message}\n${err?.stack}`)
    return undefined
  }
}

/**
 * Strings made well-formed. protons decodes invalid UTF-8 without complaint, sometimes to lone
 * surrogates, which encode as U+FFFD: such a string is not a fixpoint, its well-formed form is. (The
 * checking layers never re-encode signed payloads; they refuse or bound what they display.)
 */
function wellFormed (v: unknown): unknown {
  if (typeof v === 'string') return v.toWellFormed()
  if (Array.isArray(v)) return v.map(wellFormed)
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, wellFormed(x)]))
  return v
}

/** decode ∘ encode is the identity on decoded values (strings taken in their well-formed form) */
function assertFixpoint (name: string, codec: AnyCodec, value: unknown): void {
  const again = codec.decode(codec.encode(value as any))
  assert.deepEqual(wellFormed(again), wellFormed(value), `${name}: decode(encode(v)) differs from v`)
  // and once well-formed, exactly
  assert.deepEqual(codec.decode(codec.encode(again)), again, `${name}: not a fixpoint after one round`)
}

/** Elements for the repeated fields (their element type is not visible in a decoded default) */
const REPEATED: Record<string, unknown[]> = {
  attestations: [new Uint8Array(40).fill(1), new Uint8Array(40).fill(2)],
  files: [{ name: 'a-1-1.noarch.rpm', size: 10n, sha256: new Uint8Array(32).fill(3) }, { name: 'b-1-1.noarch.rpm', size: 11n, sha256: new Uint8Array(32).fill(4) }],
  environment: [{ key: 'builder', value: 'rpmbuild' }, { key: 'rpmVersion', value: '4.18.2' }]
}

/** One valid, non-trivial value of each message, from its default plus every field set */
function sample (name: string, codec: AnyCodec): Uint8Array {
  const defaults = codec.decode(new Uint8Array(0))
  const filled: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(defaults)) {
    if (typeof v === 'number') filled[k] = 3
    else if (typeof v === 'bigint') filled[k] = 1700000000000n
    else if (typeof v === 'string') filled[k] = `${k}-value`
    else if (v instanceof Uint8Array) filled[k] = new Uint8Array(32).fill(7)
    else if (Array.isArray(v)) filled[k] = REPEATED[k] ?? []
    else filled[k] = v
  }
  const bytes = codec.encode(filled)
  assert.ok(bytes.length > 0, `${name}: sample encodes to nothing`)
  return bytes
}

describe('fuzz: protobuf decoders (src/protocols/pb)', function () {
  this.timeout(60_000)

  it('finds the codecs', function () {
    const names = CODECS.map(([n]) => n).sort()
    for (const n of ['Announcement', 'Attestation', 'BlobRequest', 'BlobResponse', 'ConsensusMessage', 'Control', 'EquivocationProof', 'SignedAttestation', 'SignedEnvelope', 'SyncItem', 'SyncRequest']) {
      assert.ok(names.includes(n), `${n} not found among ${names.join(', ')}`)
    }
  })

  for (const [name, codec] of CODECS) {
    it(`${name}: arbitrary bytes decode to a fixpoint or throw protons' reader errors, in bounded time`, function () {
      let decoded = 0
      check(fc.property(garbage, bytes => {
        const v = tryDecode(name, codec, bytes)
        if (v !== undefined) { decoded++; assertFixpoint(name, codec, v) }
      }), { runs: 300 })
      // the generator is biased to protobuf: most inputs must decode, or this test tests nothing
      assert.ok(decoded > 0, `${name}: nothing decoded`)
    })

    it(`${name}: mutants of a valid encoding likewise`, function () {
      const valid = sample(name, codec)
      check(fc.property(mutants(valid), bytes => {
        const v = tryDecode(name, codec, bytes)
        if (v !== undefined) assertFixpoint(name, codec, v)
      }), { runs: 200 })
    })
  }

  it('repeated fields honour their decode limits (Attestation files and environment, EquivocationProof)', function () {
    const { Attestation, EquivocationProof } = attestationPb
    check(fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 }), (files, limit) => {
      const a = Attestation.encode({ files: Array.from({ length: files }, (_, i) => ({ name: `f${i}.rpm`, size: 1n, sha256: new Uint8Array(32) })) } as any)
      try {
        const d = Attestation.decode(a, { limits: { files: limit } })
        assert.ok(files <= limit, `${files} files decoded under a limit of ${limit}`)
        assert.equal(d.files.length, files)
      } catch (err: any) {
        assert.equal(err.name, 'MaxLengthError')
        assert.ok(files > limit)
      }
      const p = EquivocationProof.encode({ attestations: Array.from({ length: files }, () => new Uint8Array([1])) })
      try {
        assert.ok(EquivocationProof.decode(p, { limits: { attestations: 2 } }).attestations.length <= 2)
      } catch (err: any) {
        assert.equal(err.name, 'MaxLengthError')
      }
    }), { runs: 100 })
  })

  it('uint64 fields round-trip across the 2^31..2^32 boundary (protons-runtime writes them corrupt unfixed)', function () {
    const { Announcement } = announcePb
    const { AttestedFile } = attestationPb
    const { BlobResponse } = blobPb
    const { SyncRequest } = syncPb
    check(fc.property(fc.oneof(fc.bigInt({ min: 2n ** 31n - 2n, max: 2n ** 32n + 2n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(...[0n, 1n, 2n ** 31n, 3n * 2n ** 30n, 2n ** 32n - 1n, 2n ** 64n - 1n])), v => {
      assert.equal(Announcement.decode(Announcement.encode({ srpmSize: v, issuedAt: v, sequence: v } as any)).srpmSize, v)
      assert.equal(AttestedFile.decode(AttestedFile.encode({ name: 'x.rpm', size: v, sha256: new Uint8Array(32) })).size, v)
      assert.equal(BlobResponse.decode(BlobResponse.encode({ size: v } as any)).size, v)
      assert.equal(SyncRequest.decode(SyncRequest.encode({ since: v })).since, v)
    }), { runs: 2000 })
  })

  it('every module that encodes Skyline messages loads the uint64 fix on its own', async function () {
    this.timeout(60_000)
    const root = resolve(import.meta.dirname, '../..')
    // a fresh process per entry point: nothing else loaded first
    await Promise.all(([
      ['src/protocols/announce.ts', 'm.Announcement.decode(m.Announcement.encode({ srpmSize: 2n ** 31n })).srpmSize'],
      ['src/protocols/attestation.ts', 'm.AttestedFile.decode(m.AttestedFile.encode({ name: "a.rpm", size: 3n * 2n ** 30n, sha256: new Uint8Array(32) })).size'],
      ['src/services/blob/wire.ts', 'BigInt(m.decodeResponse(m.encodeResponse({ type: 1, size: 2 ** 31 + 7 }), 1).size)'],
      ['src/services/sync-wire.ts', '(await import("../../src/protocols/pb/protons-fix.ts")).protonsUint64Fixed() ? 1n : 0n']
    ] as const).map(async ([module, expr]) => {
      const script = `const m = await import(${JSON.stringify(resolve(root, module))}); process.stdout.write(String(${expr.replace('../../', root + '/')}))`
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' })
      assert.notEqual(stdout, '0', `${module}: a uint64 of 2^31..2^32 does not survive encoding`)
    }))
  })

  it('a length prefix larger than the buffer is refused at once, whatever it claims', function () {
    // a lying length must not make the decoder allocate or wait for what it claims
    for (const [name, codec] of CODECS) {
      for (const claim of [2 ** 31 - 1, 2 ** 32 - 1, 2 ** 53]) {
        for (let field = 1; field <= 12; field++) {
          const bytes = Buffer.concat([Buffer.from([(field << 3) | 2]), Buffer.from(varintBytes(claim)), Buffer.from('abc')])
          assert.equal(tryDecode(name, codec, bytes), undefined, `${name}: field ${field} claiming ${claim} bytes of 3 decoded`)
        }
      }
    }
  })
})

function varintBytes (n: number): number[] {
  const out: number[] = []
  let v = BigInt(n)
  do { const b = Number(v & 0x7fn); v >>= 7n; out.push(v > 0n ? b | 0x80 : b) } while (v > 0n)
  return out
}
