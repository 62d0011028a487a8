/**
 * Every fixture file against the policy, with the keyrings rpmkeys 4.18 was given
 * (rpmkeys-4.18-verdicts.txt), and, when rpmkeys is installed, against rpmkeys itself.
 */
import assert from 'node:assert/strict'
import { readRpm } from '../../src/rpm/reader.ts'
import { verifyRpm, verifyRpmFile, type VerifyResult } from '../../src/rpm/verify.ts'
import type { Keyring } from '../../src/rpm/keyring.ts'
import { allFixtureFiles, fixture, fixtureBytes, hasRpmkeys, keyringOf, LiveRpmkeys, loadVerdicts } from './helpers.ts'

const { sets, unimportable, verdicts } = loadVerdicts()
const files = allFixtureFiles()
const packages = files.filter(f => /\.rpm(-v3)?$/.test(f))

/** rpm's name for each digest we report. */
const RPM_DIGEST_NAMES: Record<string, string> = {
  'Header SHA256 digest': 'header-sha256',
  'Header SHA1 digest': 'header-sha1',
  'Header SHA3-256 digest': 'header-sha3-256',
  'Payload SHA256 digest': 'payload-sha256',
  'MD5 digest': 'md5'
}

const keyrings = new Map<string, Keyring>()
async function keyringFor (set: string): Promise<Keyring> {
  let k = keyrings.get(set)
  if (k === undefined) {
    k = await keyringOf(...(sets.get(set) ?? []))
    keyrings.set(set, k)
  }
  return k
}

describe('rpm fixtures: every file against rpmkeys 4.18', function () {
  it('the verdicts file lists every package fixture, and names the keyrings', function () {
    assert.deepEqual([...verdicts.keys()].sort(), packages)
    assert.deepEqual([...sets.keys()], ['upstream', 'rpm-rs', 'fedora'])
    assert.ok(unimportable.has('rpm-rs/signing_keys/v4/rpm-testkey-v4-ecdsa-nistp256.asc'))
  })

  const results = new Map<string, VerifyResult>()

  for (const file of packages) {
    const v = verdicts.get(file)
    it(`${file}: rpm rc=${v?.rc}`, async function () {
      assert.ok(v !== undefined, 'no rpmkeys verdict recorded')
      const keyring = await keyringFor(v.set)
      const result = await verifyRpmFile(fixture(file), keyring)
      results.set(file, result)
      // The in-memory path agrees with the streaming one.
      const inMemory = await verifyRpm(fixtureBytes(file), keyring)
      assert.equal(inMemory.verdict, result.verdict)
      assert.equal(inMemory.reason, result.reason)

      const sigLines = v.lines.filter(l => /signature/i.test(l) && !/: NOTFOUND$/.test(l))
      const signedOk = sigLines.filter(l => /Signature, key ID ([0-9a-f]+): OK$/.test(l))
      const allOk = v.lines.every(l => /: OK$/.test(l) || /: NOTFOUND$/.test(l))

      // Never accept what rpm rejected.
      if (v.rc !== 0) assert.equal(result.verdict, 'rejected', `rpm rejected it, we said ${result.verdict}`)

      // What rpm 4.18 calls unsigned (digests only, rc 0) is rejected; "no signature" when there is none at all.
      if (v.rc === 0 && sigLines.length === 0) {
        assert.equal(result.verdict, 'rejected')
        const pkg = readRpm(fixtureBytes(file))
        if (pkg.signatures.length === 0) {
          assert.equal(result.reason, 'no signature')
        } else {
          // v6 packages: signed only in RPMSIGTAG_OPENPGP, which rpm 4.18 does not read; the recorded
          // keyring has no v6 keys.
          assert.ok(pkg.signatures.every(s => s.tag === 278))
          assert.match(result.reason ?? '', /tag 278/)
        }
      }

      // Signed, every signature and digest OK, key importable: accepted, by that key.
      if (v.rc === 0 && signedOk.length > 0 && allOk) {
        assert.equal(result.verdict, 'accepted', result.reason)
        const rpmKeyId = /key ID ([0-9a-f]+)/.exec(signedOk[0])?.[1] as string
        assert.ok(result.keyId?.endsWith(rpmKeyId), `${result.keyId} is not ${rpmKeyId}`)
      }

      // Each digest rpm reports OK or BAD, we report the same.
      for (const line of v.lines) {
        const m = /^(.* digest): (OK|BAD)/.exec(line)
        if (m === null || RPM_DIGEST_NAMES[m[1]] === undefined) continue
        const ours = result.digests.find(d => d.name === RPM_DIGEST_NAMES[m[1]])
        assert.equal(ours?.status, m[2] === 'OK' ? 'ok' : 'bad', `${m[1]}`)
      }

      // Each signature rpm reports, we report with the same description and a matching status.
      for (const line of sigLines) {
        const m = /^(Header )?(V\d \S+) Signature, key ID ([0-9a-f]+): (\w+)/.exec(line)
        if (m === null) {
          // "Header DSA signature: BAD (package tag 267: invalid OpenPGP signature)"
          assert.match(line, /BAD/)
          const tag = Number(/tag (\d+)/.exec(line)?.[1])
          const ours = result.signatures.find(s => s.tag === tag)
          assert.ok(ours !== undefined && ours.status !== 'ok' && ours.fatal)
          continue
        }
        const range = m[1] === undefined ? 'header+payload' : 'header'
        const ours = result.signatures.find(s => s.range === range && s.tag !== 278 && s.description === m[2])
        assert.ok(ours !== undefined, `no ${range} signature ${m[2]}`)
        assert.ok(ours.keyId?.endsWith(m[3]))
        assert.equal(ours.status, { OK: 'ok', NOKEY: 'nokey', BAD: 'bad' }[m[4]])
      }
    })
  }

  for (const file of files.filter(f => !packages.includes(f))) {
    it(`${file}: not a package, rejected as malformed`, async function () {
      const result = await verifyRpmFile(fixture(file), await keyringFor('upstream'))
      assert.equal(result.verdict, 'rejected')
      assert.match(result.reason ?? '', /^malformed: lead/)
    })
  }

  describe('live rpmkeys (when installed)', function () {
    before(function () {
      if (!hasRpmkeys()) this.skip()
    })

    it('rpmkeys --checksig with a temporary --dbpath agrees: we never accept what it rejects', async function () {
      this.timeout(60_000)
      for (const [set, keys] of sets) {
        const live = new LiveRpmkeys(keys.map(fixture))
        try {
          const keyring = await keyringFor(set)
          for (const file of packages.filter(f => verdicts.get(f)?.set === set)) {
            const { rc, output } = live.checksig(fixture(file))
            const ours = results.get(file) ?? await verifyRpmFile(fixture(file), keyring)
            if (rc !== 0) assert.equal(ours.verdict, 'rejected', `${file}: rpmkeys rc=${rc}\n${output}`)
            assert.equal(rc, verdicts.get(file)?.rc, `${file}: live rpmkeys disagrees with the recorded verdict`)
          }
        } finally {
          live.close()
        }
      }
    })
  })
})
