/**
 * The reader: what it exposes for real packages (v3, v4, v6, binary and source), that its file path
 * matches its in-memory path, and the messages it gives for malformed input.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HEADER_MAGIC, SIGTAG, TAG } from '../../src/rpm/constants.ts'
import { RpmFormatError } from '../../src/rpm/errors.ts'
import { readRpm, readRpmFile, type RpmPackage } from '../../src/rpm/reader.ts'
import { verifyRpmFile } from '../../src/rpm/verify.ts'
import { fixture, fixtureBytes, keyringOf, recordingHandle } from './helpers.ts'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

function u32 (bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice()
  new DataView(copy.buffer).setUint32(at, value >>> 0)
  return copy
}

function summary (p: RpmPackage): unknown {
  return {
    lead: p.lead,
    headerOffset: p.headerOffset,
    payloadOffset: p.payloadOffset,
    fileSize: p.fileSize,
    format: p.format,
    nevra: p.nevra,
    isSource: p.isSource,
    region: p.signedRegion === undefined ? undefined : createHash('sha256').update(p.signedRegion).digest('hex'),
    sigTags: p.signatureHeader.entries.map(e => e.tag),
    signatures: p.signatures.map(s => [s.tag, s.index, s.range, Buffer.from(s.packet).toString('hex')]),
    digests: p.digests
  }
}

function expectFormatError (fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: any) => {
    assert.equal(err.name, 'RpmFormatError')
    assert.ok(err instanceof RpmFormatError)
    assert.match(err.message, pattern)
    return true
  })
}

describe('rpm reader', function () {
  it('reads a signed v4 binary package', function () {
    const p = readRpm(fixtureBytes('rpm-upstream/RPMS/hello-2.0-1.x86_64-signed.rpm'))
    assert.equal(p.name, 'hello')
    assert.equal(p.epoch, undefined)
    assert.equal(p.version, '2.0')
    assert.equal(p.release, '1')
    assert.equal(p.arch, 'x86_64')
    assert.equal(p.nevra, 'hello-2.0-1.x86_64')
    assert.equal(p.isSource, false)
    assert.equal(p.format, 4)
    assert.equal(p.lead.major, 3)
    assert.equal(p.lead.type, 0)
    assert.equal(p.lead.name, 'hello-2.0-1')
    assert.deepEqual(p.signatures.map(s => [s.tag, s.range]), [[SIGTAG.RSA, 'header'], [SIGTAG.PGP, 'header+payload']])
    assert.deepEqual(p.digests.map(d => d.name), ['header-sha256', 'header-sha1', 'md5', 'payload-sha256'])
    assert.equal(p.headerPayloadSize, p.fileSize - p.headerOffset)
  })

  it('the signed region is the main header from its magic to the payload, and hashes to the header digests', function () {
    const bytes = fixtureBytes('fedora/rpm-sign-4.15.1-1.fc31.x86_64.rpm')
    const p = readRpm(bytes)
    const region = p.signedRegion as Uint8Array
    assert.deepEqual(region.subarray(0, 8), HEADER_MAGIC)
    assert.deepEqual(region, bytes.subarray(p.headerOffset, p.payloadOffset))
    assert.equal(p.headerOffset % 8, 0)
    for (const d of p.digests.filter(d => d.range === 'header')) {
      assert.equal(createHash(d.algorithm).update(region).digest('hex'), d.expected, d.name)
    }
  })

  it('reads epochs, source packages and the lead type', function () {
    const bin = readRpm(fixtureBytes('rpm-rs/RPMS/v4/rpm-basic-2.3.4-5.el9.noarch.rpm'))
    assert.equal(bin.epoch, 1)
    assert.equal(bin.nevra, 'rpm-basic-1:2.3.4-5.el9.noarch')
    const src = readRpm(fixtureBytes('rpm-rs/SRPMS/v4/rpm-basic-2.3.4-5.el9.src.rpm'))
    assert.equal(src.isSource, true)
    assert.equal(src.lead.type, 1)
    assert.equal(src.nevra, 'rpm-basic-1:2.3.4-5.el9.src')
    assert.equal(src.header.has(TAG.SOURCERPM), false)
    assert.equal(readRpm(fixtureBytes('rpm-upstream/SRPMS/foo-1.0-1.src.rpm')).nevra, 'foo-1.0-1.src')
  })

  it('reads v6 packages: format 6, signatures in RPMSIGTAG_OPENPGP, no MD5 or sizes, payload digests in the main header', function () {
    const p = readRpm(fixtureBytes('rpm-rs/RPMS/v6/signed/rpm-basic-multiple-signatures-2.3.4-5.el9.noarch.rpm'))
    assert.equal(p.format, 6)
    assert.equal(p.lead.major, 4)
    assert.deepEqual(p.signatureHeader.entries.map(e => e.tag), [SIGTAG.SHA256, SIGTAG.OPENPGP, SIGTAG.SHA3_256, SIGTAG.RESERVED])
    assert.deepEqual(p.signatures.map(s => [s.tag, s.index]), [[278, 0], [278, 1]])
    assert.equal(p.headerPayloadSize, undefined)
    assert.equal(p.payloadSize, p.fileSize - p.payloadOffset)
    assert.deepEqual(p.digests.map(d => d.name), ['header-sha256', 'header-sha3-256', 'payload-sha256', 'payload-sha512', 'payload-sha3-256', 'payload-sha256-alt', 'payload-sha512-alt', 'payload-sha3-256-alt'])
  })

  it('reads a legacy v3 package without header regions (nothing signable)', function () {
    const p = readRpm(fixtureBytes('rpm-upstream/RPMS/hello-1.0-1.x86_64.rpm-v3'))
    assert.equal(p.nevra, 'hello-1.0-1.x86_64')
    assert.equal(p.signedRegion, undefined)
    assert.equal(p.signatureHeader.region, undefined)
    assert.deepEqual(p.digests.map(d => d.name), ['md5'])
  })

  it('reads signature-header entries appended after the region (badima)', function () {
    const p = readRpm(fixtureBytes('rpm-upstream/RPMS/hello-2.0-1.x86_64-badima.rpm'))
    assert.equal(p.signatureHeader.region?.entries, 8)
    assert.equal(p.signatureHeader.entries.length, 9)
  })

  it('readRpmFile reads only the headers and matches readRpm', async function () {
    for (const rel of ['fedora/rpm-sign-4.15.1-1.fc31.x86_64.rpm', 'rpm-rs/RPMS/v6/signed/rpm-basic-with-rsa4k-2.3.4-5.el9.noarch.rpm', 'rpm-upstream/RPMS/hello-1.0-1.x86_64.rpm-v3']) {
      const bytes = fixtureBytes(rel)
      const fromFile = await readRpmFile(fixture(rel))
      assert.deepEqual(summary(fromFile), summary(readRpm(bytes)), rel)
      const { fh, maxRead } = recordingHandle(bytes)
      await readRpmFile(fh)
      assert.ok(maxRead() <= fromFile.payloadOffset, 'it never reads into the payload')
    }
  })

  describe('malformed input: RpmFormatError saying where', function () {
    const bytes = fixtureBytes('rpm-upstream/RPMS/hello-2.0-1.x86_64-signed.rpm')
    const pkg = readRpm(bytes)
    const sigEntry = (i: number): number => 96 + 16 + 16 * i
    const mainEntry = (i: number): number => pkg.headerOffset + 16 + 16 * i

    it('not an RPM, truncated lead', function () {
      expectFormatError(() => readRpm(new Uint8Array(200)), /^lead: bad magic 00000000: not an RPM package$/)
      expectFormatError(() => readRpm(bytes.subarray(0, 50)), /^lead: truncated: need 96 bytes, have 50$/)
      expectFormatError(() => readRpm(u32(bytes, 76, 0x00010004)), /^lead: signature type 4, want 5/)
    })

    it('absurd index counts and data sizes are refused before anything is read through them', function () {
      expectFormatError(() => readRpm(u32(bytes, 96 + 8, 0xffffffff)), /^signature header at byte 96: index count 4294967295 out of range 1\.\.32$/)
      expectFormatError(() => readRpm(u32(bytes, 96 + 12, 0x7fffffff)), /^signature header at byte 96: data size 2147483647 out of range 1\.\.67108864$/)
      expectFormatError(() => readRpm(u32(bytes, pkg.headerOffset + 8, 70000)), new RegExp(`^main header at byte ${pkg.headerOffset}: index count 70000 out of range 1\\.\\.65535$`))
      expectFormatError(() => readRpm(u32(bytes, pkg.headerOffset + 12, 0x0fffffff)), /^main header at byte \d+: header size \d+ over the 268435456-byte limit$/)
      expectFormatError(() => readRpm(u32(bytes, pkg.headerOffset + 12, 0x00ffffff)), /^main header at byte \d+: truncated: \d+ index entries and 16777215 data bytes need \d+ bytes, have \d+$/)
    })

    it('an index entry pointing outside the data area names the entry, tag, offset and size', function () {
      const i = pkg.signatureHeader.entries.findIndex(e => e.tag === SIGTAG.MD5) + 1
      const dl = new DataView(bytes.buffer, bytes.byteOffset).getUint32(96 + 12)
      expectFormatError(() => readRpm(u32(bytes, sigEntry(i) + 8, 99999)), new RegExp(`^signature header: index entry ${i} \\(tag 1004\\): offset 99999 beyond data size ${dl}$`))
    })

    it('overlapping entries, counts past the data, bad types, misalignment, duplicates', function () {
      expectFormatError(() => readRpm(u32(bytes, mainEntry(3) + 8, 0)), /^main header: index entry 3 \(tag \d+\): offset 0, but the previous entry's data ends at \d+ \(overlap or gap\)$/)
      expectFormatError(() => readRpm(u32(bytes, mainEntry(1) + 12, 0x00ffffff)), /^main header: index entry 1 \(tag \d+\): count 16777215 (out of range|over)/)
      expectFormatError(() => readRpm(u32(bytes, mainEntry(2) + 4, 12)), /^main header: index entry 2 \(tag \d+\): bad type 12$/)
      const i = pkg.header.entries.find(e => e.type === 4)?.index as number
      const off = new DataView(bytes.buffer, bytes.byteOffset).getUint32(mainEntry(i) + 8)
      expectFormatError(() => readRpm(u32(bytes, mainEntry(i) + 8, off + 1)), /not aligned for INT32/)
      expectFormatError(() => readRpm(u32(bytes, mainEntry(3), 1000)), /^main header: index entry 3: duplicate tag 1000$/)
    })

    it('region tag and trailer', function () {
      expectFormatError(() => readRpm(u32(bytes, sigEntry(0) + 12, 17)), /^signature header: region tag 62: type 7 count 17, want BIN of 16$/)
      expectFormatError(() => readRpm(u32(bytes, mainEntry(0) + 8, 1 << 27)), /^main header: region tag 63: trailer offset 134217728 beyond data size \d+$/)
      const trailerAt = pkg.headerOffset + 16 + 16 * (pkg.header.entries.length + 1) + (pkg.header.region?.dataLength as number) - 16
      expectFormatError(() => readRpm(u32(bytes, trailerAt + 8, -32)), /^main header: region covers 2 of \d+ entries/)
    })

    it('truncated headers, and a header that claims more than the file holds', function () {
      expectFormatError(() => readRpm(bytes.subarray(0, 100)), /^signature header at byte 96: truncated: need 16 bytes, have 4$/)
      expectFormatError(() => readRpm(bytes.subarray(0, pkg.headerOffset + 100)), new RegExp(`^main header at byte ${pkg.headerOffset}: truncated: \\d+ index entries and \\d+ data bytes need \\d+ bytes, have 100$`))
    })

    it('readRpmFile refuses a declared size over the file size before allocating for it', async function () {
      const huge = u32(u32(bytes, pkg.headerOffset + 8, 1000), pkg.headerOffset + 12, 0x0f000000)
      const { fh, maxRead } = recordingHandle(huge)
      await assert.rejects(readRpmFile(fh), (err: any) => err.name === 'RpmFormatError' && /truncated: 1000 index entries and 251658240 data bytes need 251674256 bytes, file has \d+$/.test(err.message))
      assert.ok(maxRead() <= huge.byteLength, `read of ${maxRead()} bytes`)
    })
  })

  it('streams a large payload from disk in bounded memory', async function () {
    this.timeout(120_000)
    const dir = mkdtempSync(join(tmpdir(), 'skyline-rpm-'))
    try {
      const file = join(dir, 'big.rpm')
      writeFileSync(file, fixtureBytes('rpm-upstream/RPMS/hello-2.0-1.x86_64-signed.rpm'))
      truncateSync(file, 192 * 1024 * 1024) // sparse: the payload becomes 192 MiB
      const keyring = await keyringOf('rpm-upstream/keys/rpm.org-rsa-2048-test.pub')
      // live memory, sampled after a full collection: garbage the collector has not reached yet (it
      // may let well over 100 MiB of read buffers pile up) is not what the reader holds
      setFlagsFromString('--expose-gc')
      const gc = runInNewContext('gc') as () => void
      const live = (): number => { gc(); const m = process.memoryUsage(); return m.arrayBuffers + m.heapUsed }
      const before = live()
      let peak = 0
      const timer = setInterval(() => { peak = Math.max(peak, live()) }, 500)
      const r = await verifyRpmFile(file, keyring)
      clearInterval(timer)
      peak = Math.max(peak, live())
      assert.equal(r.verdict, 'rejected')
      assert.match(r.reason ?? '', /^digest mismatch: MD5 digest .*payload SHA256 digest/)
      // the header+payload signature (tag 1002) was checked over the whole file too, through OpenPGP.js
      assert.equal(r.signatures.find(s => s.tag === SIGTAG.PGP)?.status, 'bad')
      const grew = peak - before
      assert.ok(grew < 96 * 1024 * 1024, `memory grew by ${Math.round(grew / 1048576)} MiB`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
