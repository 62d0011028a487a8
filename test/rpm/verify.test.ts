/**
 * Signature verification: Fedora's V3 signature, the corrupted payload, subkeys (bound, expired,
 * revoked, unbound, grafted: CVE-2021-3521), key-ID collisions, v6 packages, and the rpm 4.18 limits.
 */
import assert from 'node:assert/strict'
import * as openpgp from 'openpgp'
import { RPM_TYPE, SIGTAG } from '../../src/rpm/constants.ts'
import { Keyring } from '../../src/rpm/keyring.ts'
import { readRpm } from '../../src/rpm/reader.ts'
import { verifyRpm, verifyRpmFile } from '../../src/rpm/verify.ts'
import {
  binEntry, fixture, fixtureBytes, handSignEdDSA, hasRpmkeys, keyOf, keyringOf, LiveRpmkeys, repackage,
  signatureEntries, subpacket
} from './helpers.ts'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const FEDORA = 'fedora/rpm-sign-4.15.1-1.fc31.x86_64.rpm'
const SIGNED = 'rpm-upstream/RPMS/hello-2.0-1.x86_64-signed.rpm'
const UNSIGNED = 'rpm-upstream/RPMS/hello-2.0-1.x86_64.rpm'
const SUBKEY_SIGNED = 'rpm-upstream/RPMS/hello-2.0-1.x86_64-signed-with-subkey.rpm'
const RSA_TEST_KEY = 'rpm-upstream/keys/rpm.org-rsa-2048-test.pub'

/** A keyring of the keys in `key` after `edit` rewrites its packet list. */
async function editedKeyring (rel: string, edit: (packets: openpgp.AnyPacket[]) => openpgp.AnyPacket[]): Promise<Keyring> {
  const key = await keyOf(rel)
  const list = new openpgp.PacketList<openpgp.AnyPacket>()
  for (const p of edit([...key.toPacketList()])) list.push(p)
  // Re-read from bytes so nothing OpenPGP.js cached about the original key carries over.
  return new Keyring(await openpgp.readKeys({ binaryKeys: list.write() }) as openpgp.PublicKey[])
}

function isSubkeyBinding (p: openpgp.AnyPacket): boolean {
  return p instanceof openpgp.SignaturePacket && p.signatureType === openpgp.enums.signature.subkeyBinding
}

describe('rpm verification', function () {
  describe('Fedora 31 package, V3 RSA/SHA256 signature (key 3c3359c4)', function () {
    it('is accepted with RPM-GPG-KEY-fedora-31-primary', async function () {
      const r = await verifyRpmFile(fixture(FEDORA), await keyringOf('fedora/RPM-GPG-KEY-fedora-31-primary'))
      assert.equal(r.verdict, 'accepted', r.reason)
      assert.equal(r.nevra, 'rpm-sign-4.15.1-1.fc31.x86_64')
      assert.equal(r.keyId, '50cb390b3c3359c4')
      const header = r.signatures.find(s => s.tag === SIGTAG.RSA)
      assert.equal(header?.description, 'V3 RSA/SHA256')
      assert.equal(header?.status, 'ok')
      // the header+payload V3 signature (RPMSIGTAG_PGP) is verified too, by streaming the payload
      assert.equal(r.signatures.find(s => s.tag === SIGTAG.PGP)?.status, 'ok')
      assert.deepEqual(r.digests.map(d => [d.name, d.status]), [['header-sha256', 'ok'], ['header-sha1', 'ok'], ['md5', 'ok'], ['payload-sha256', 'ok']])
    })

    it('is rejected as untrusted key 3c3359c4 with the Fedora 41 key, or any other key', async function () {
      for (const keys of [['fedora/RPM-GPG-KEY-fedora-41-primary'], [RSA_TEST_KEY], ['rpm-rs/signing_keys/v4/rpm-testkey-v4-keyring.asc']]) {
        const r = await verifyRpmFile(fixture(FEDORA), await keyringOf(...keys))
        assert.equal(r.verdict, 'rejected')
        assert.match(r.reason ?? '', /^untrusted key [0-9a-f]*3c3359c4\b/)
      }
    })

    it('a changed bit anywhere in the signed header is a bad signature or a digest mismatch, never accepted', async function () {
      const keyring = await keyringOf('fedora/RPM-GPG-KEY-fedora-31-primary')
      const bytes = fixtureBytes(FEDORA)
      const pkg = readRpm(bytes)
      // a byte inside the header's data area that only the signature and digests protect: the last string
      const at = pkg.payloadOffset - 20
      const copy = bytes.slice()
      copy[at] ^= 0x01
      const r = await verifyRpm(copy, keyring)
      assert.equal(r.verdict, 'rejected')
      assert.match(r.reason ?? '', /^(digest mismatch|bad signature|malformed)/)
    })

    it('V3 signature check: a hash-prefix match with a wrong RSA value is a bad signature', async function () {
      const keyring = await keyringOf('fedora/RPM-GPG-KEY-fedora-31-primary')
      const bytes = fixtureBytes(FEDORA)
      const entries = signatureEntries(bytes)
      const rsa = entries.find(e => e.tag === SIGTAG.RSA)
      assert.ok(rsa !== undefined)
      const mutated = rsa.data.slice()
      mutated[mutated.byteLength - 1] ^= 0x01 // last byte of the RSA MPI
      rsa.data = mutated
      const r = await verifyRpm(repackage(bytes, entries), keyring)
      assert.equal(r.verdict, 'rejected')
      assert.match(r.reason ?? '', /^bad signature \(tag 268, V3 RSA\/SHA256, key 50cb390b3c3359c4\): RSA signature does not verify/)
    })
  })

  describe('corrupted payload', function () {
    it('hello-2.0-1.x86_64-corrupted.rpm has a good header signature but is rejected naming the payload digest', async function () {
      const r = await verifyRpmFile(fixture('rpm-upstream/RPMS/hello-2.0-1.x86_64-corrupted.rpm'), await keyringOf(RSA_TEST_KEY))
      assert.equal(r.verdict, 'rejected')
      assert.equal(r.signatures.find(s => s.tag === SIGTAG.RSA)?.status, 'ok')
      assert.match(r.reason ?? '', /^digest mismatch: payload SHA256 digest \(tag 5092\): expected 84a7338287bf1971\w+, got e3b0c44298fc1c14\w+/)
    })

    it('a payload byte flipped in a good package: payload SHA256, MD5 and the header+payload signature all fail', async function () {
      const bytes = fixtureBytes(SIGNED)
      const copy = bytes.slice()
      copy[copy.byteLength - 100] ^= 0x40
      const r = await verifyRpm(copy, await keyringOf(RSA_TEST_KEY))
      assert.equal(r.verdict, 'rejected')
      assert.match(r.reason ?? '', /payload SHA256 digest/)
      assert.equal(r.digests.find(d => d.name === 'md5')?.status, 'bad')
      assert.equal(r.signatures.find(s => s.tag === SIGTAG.PGP)?.status, 'bad')
      assert.equal(r.signatures.find(s => s.tag === SIGTAG.RSA)?.status, 'ok')
    })

    it('a truncated payload is rejected (digest and size mismatch)', async function () {
      const bytes = fixtureBytes(SIGNED)
      const r = await verifyRpm(bytes.subarray(0, bytes.byteLength - 1), await keyringOf(RSA_TEST_KEY))
      assert.equal(r.verdict, 'rejected')
      assert.match(r.reason ?? '', /^digest mismatch: .*payload SHA256/)
    })
  })

  describe('policy', function () {
    it('an unsigned package is rejected: no signature', async function () {
      const r = await verifyRpmFile(fixture(UNSIGNED), await keyringOf(RSA_TEST_KEY))
      assert.equal(r.verdict, 'rejected')
      assert.equal(r.reason, 'no signature')
      assert.ok(r.digests.length > 0 && r.digests.every(d => d.status === 'ok'))
    })

    it('only a header+payload signature (no header signature) is not enough', async function () {
      const bytes = fixtureBytes(SIGNED)
      const entries = signatureEntries(bytes).filter(e => e.tag !== SIGTAG.RSA)
      const r = await verifyRpm(repackage(bytes, entries), await keyringOf(RSA_TEST_KEY))
      assert.equal(r.signatures.find(s => s.tag === SIGTAG.PGP)?.status, 'ok')
      assert.equal(r.verdict, 'rejected')
      assert.equal(r.reason, 'no header signature (only header+payload signatures)')
    })

    it('a bad header+payload signature rejects, even with a good header signature', async function () {
      const bytes = fixtureBytes(SIGNED)
      const entries = signatureEntries(bytes)
      const pgp = entries.find(e => e.tag === SIGTAG.PGP)
      assert.ok(pgp !== undefined)
      const mutated = pgp.data.slice()
      mutated[mutated.byteLength - 3] ^= 0x10
      pgp.data = mutated
      const r = await verifyRpm(repackage(bytes, entries), await keyringOf(RSA_TEST_KEY))
      assert.equal(r.signatures.find(s => s.tag === SIGTAG.RSA)?.status, 'ok')
      assert.equal(r.verdict, 'rejected')
      assert.match(r.reason ?? '', /^bad signature \(tag 1002, V4 RSA\/SHA256/)
    })

    it('a wrong header SHA1 digest in the (unsigned) signature header rejects', async function () {
      const bytes = fixtureBytes(SIGNED)
      const entries = signatureEntries(bytes)
      const sha1 = entries.find(e => e.tag === SIGTAG.SHA1)
      assert.ok(sha1 !== undefined)
      sha1.data = new TextEncoder().encode('0'.repeat(40) + '\0')
      const r = await verifyRpm(repackage(bytes, entries), await keyringOf(RSA_TEST_KEY))
      assert.equal(r.verdict, 'rejected')
      assert.match(r.reason ?? '', /^digest mismatch: header SHA1 digest \(tag 269\)/)
    })

    it('the package is accepted from a file and from memory alike, and exposes what it verified', async function () {
      const keyring = await keyringOf(RSA_TEST_KEY)
      const r = await verifyRpmFile(fixture(SIGNED), keyring)
      assert.equal(r.verdict, 'accepted')
      assert.equal(r.keyId, '4344591e1964c5fc')
      assert.equal(r.fingerprint, '771b18d3d7baa28734333c424344591e1964c5fc')
      assert.equal(r.isSource, false)
      assert.deepEqual(await verifyRpm(fixtureBytes(SIGNED), keyring).then(x => [x.verdict, x.keyId]), ['accepted', '4344591e1964c5fc'])
    })

    it('a signature dated after `now` is refused', async function () {
      const r = await verifyRpmFile(fixture(SIGNED), await keyringOf(RSA_TEST_KEY), { now: new Date('2017-01-01') })
      assert.equal(r.verdict, 'rejected')
      assert.match(r.reason ?? '', /created in the future|newer than the signature/)
    })
  })

  describe('subkeys', function () {
    it('signed by a properly bound subkey (alice.asc): accepted, named by the subkey and the primary fingerprint', async function () {
      const r = await verifyRpmFile(fixture(SUBKEY_SIGNED), await keyringOf('rpm-upstream/keys/alice.asc'))
      assert.equal(r.verdict, 'accepted', r.reason)
      assert.equal(r.keyId, '1f71177215217ee0')
      assert.equal(r.fingerprint, 'b6542f92f30650c36b6f41bcb3a771bfeb04e625')
    })

    it('an expired subkey is not trusted', async function () {
      const r = await verifyRpmFile(fixture(SUBKEY_SIGNED), await keyringOf('rpm-upstream/keys/alice-expired-subkey.asc'))
      assert.equal(r.verdict, 'rejected')
      assert.match(r.reason ?? '', /^untrusted key 1f71177215217ee0 .*expired/i)
    })

    it('a revoked subkey is not trusted', async function () {
      const r = await verifyRpmFile(fixture(SUBKEY_SIGNED), await keyringOf('rpm-upstream/keys/alice-revoked-subkey.asc'))
      assert.equal(r.verdict, 'rejected')
      assert.match(r.reason ?? '', /^untrusted key 1f71177215217ee0 .*revoked/i)
    })

    it('a new EdDSA subkey of the rpm.org key (rpm.org-rsa-2048-add-subkey.asc) verifies', async function () {
      const pkg = 'rpm-upstream/RPMS/hello-2.0-1.x86_64-signed-with-new-subkey.rpm'
      assert.equal((await verifyRpmFile(fixture(pkg), await keyringOf(RSA_TEST_KEY))).verdict, 'rejected')
      const r = await verifyRpmFile(fixture(pkg), await keyringOf('rpm-upstream/keys/rpm.org-rsa-2048-add-subkey.asc'))
      assert.equal(r.verdict, 'accepted', r.reason)
      assert.equal(r.keyId, '6323c42711450b6c')
      assert.equal(r.fingerprint, '771b18d3d7baa28734333c424344591e1964c5fc')
    })

    describe('CVE-2021-3521: a subkey without a valid binding is never trusted', function () {
      it('alice with the subkey binding signature removed', async function () {
        const keyring = await editedKeyring('rpm-upstream/keys/alice.asc', ps => ps.filter(p => !isSubkeyBinding(p)))
        const r = await verifyRpmFile(fixture(SUBKEY_SIGNED), keyring)
        assert.equal(r.verdict, 'rejected')
        assert.match(r.reason ?? '', /^untrusted key 1f71177215217ee0 .*binding/)
      })

      it('alice with a corrupted subkey binding signature', async function () {
        const key = await keyOf('rpm-upstream/keys/alice.asc')
        const packets = key.toPacketList()
        const whole = Buffer.from(packets.write())
        const binding = Buffer.from((packets.find(isSubkeyBinding) as openpgp.SignaturePacket).write())
        const at = whole.indexOf(binding)
        assert.ok(at > 0)
        whole[at + binding.byteLength - 1] ^= 0x01 // last byte of the binding's signature MPI
        const keyring = new Keyring(await openpgp.readKeys({ binaryKeys: new Uint8Array(whole) }) as openpgp.PublicKey[])
        const r = await verifyRpmFile(fixture(SUBKEY_SIGNED), keyring)
        assert.equal(r.verdict, 'rejected')
        assert.match(r.reason ?? '', /^untrusted key 1f71177215217ee0 .*binding/)
      })

      it("alice's subkey and its binding grafted onto the trusted rpm.org key", async function () {
        const alice = [...(await keyOf('rpm-upstream/keys/alice.asc')).toPacketList()]
        const subkeyAt = alice.findIndex(p => p instanceof openpgp.PublicSubkeyPacket)
        const graft = alice.slice(subkeyAt) // subkey packet + binding signature (made by alice's primary)
        const keyring = await editedKeyring(RSA_TEST_KEY, ps => [...ps, ...graft])
        assert.equal(keyring.lookup('1f71177215217ee0').length, 1, 'the grafted subkey is in the keyring')
        const r = await verifyRpmFile(fixture(SUBKEY_SIGNED), keyring)
        assert.equal(r.verdict, 'rejected')
        assert.match(r.reason ?? '', /^untrusted key 1f71177215217ee0 /)
      })

      it("the fixture keys' subkey 185e6146f00650f8 (bad, missing or foreign binding) is never a signer", async function () {
        // A signature that claims that subkey: rewrite the (unhashed) issuer of hello-2.0-1's RSA signature.
        const bytes = fixtureBytes(SIGNED)
        const entries = signatureEntries(bytes)
        const rsa = entries.find(e => e.tag === SIGTAG.RSA)
        assert.ok(rsa !== undefined)
        const data = Buffer.from(rsa.data)
        const at = data.indexOf(Buffer.from('4344591e1964c5fc', 'hex'))
        assert.ok(at > 0)
        Buffer.from('185e6146f00650f8', 'hex').copy(data, at)
        rsa.data = new Uint8Array(data)
        const forged = repackage(bytes, entries)
        for (const key of ['CVE-2021-3521-badbind.asc', 'CVE-2021-3521-nosubsig.asc', 'CVE-2021-3521-nosubsig-last.asc', 'type-confusion.asc', 'rpm.org-rsa-2048-test.pub']) {
          const keyring = await keyringOf(`rpm-upstream/keys/${key}`)
          const r = await verifyRpm(forged, keyring)
          assert.equal(r.verdict, 'rejected', key)
          assert.equal(r.signatures.find(s => s.tag === SIGTAG.RSA)?.status, 'untrusted', key)
          // the primary key itself verifies when a keyring holds it (Keyring.load refuses these files whole,
          // as rpm does: test/rpm/keyring.test.ts; this checks the verifier alone)
          assert.equal((await verifyRpm(bytes, keyring)).verdict, 'accepted', key)
        }
      })
    })
  })

  describe('key ID collision (keyidcollision1/2 share key ID 42655a75156b3de0)', function () {
    let signedWith1: Uint8Array
    let signedWith1NoFingerprint: Uint8Array

    before(async function () {
      const priv = await openpgp.readPrivateKey({ armoredKey: Buffer.from(fixtureBytes('rpm-upstream/keys/keyidcollision1.asc')).toString() })
      const bytes = fixtureBytes(UNSIGNED)
      const header = readRpm(bytes).header.bytes
      const base = signatureEntries(bytes)
      signedWith1 = repackage(bytes, [binEntry(SIGTAG.DSA, handSignEdDSA(header, priv)), ...base])
      signedWith1NoFingerprint = repackage(bytes, [binEntry(SIGTAG.DSA, handSignEdDSA(header, priv, { fingerprint: false })), ...base])
    })

    it('with only the other key: never accepted', async function () {
      const keyring = await keyringOf('rpm-upstream/keys/keyidcollision2.pub')
      const withFp = await verifyRpm(signedWith1, keyring)
      assert.equal(withFp.verdict, 'rejected')
      assert.match(withFp.reason ?? '', /^untrusted key 42655a75156b3de0 .*names fingerprint 79cc07f1/)
      const noFp = await verifyRpm(signedWith1NoFingerprint, keyring)
      assert.equal(noFp.verdict, 'rejected')
      assert.match(noFp.reason ?? '', /^bad signature \(tag 267, V4 EdDSA\/SHA256, key 42655a75156b3de0\)/)
    })

    it('with both keys, in either order: accepted, by the right one', async function () {
      for (const order of [['keyidcollision2.pub', 'keyidcollision1.pub'], ['keyidcollision1.pub', 'keyidcollision2.pub']]) {
        const keyring = await keyringOf(...order.map(k => `rpm-upstream/keys/${k}`))
        for (const pkg of [signedWith1, signedWith1NoFingerprint]) {
          const r = await verifyRpm(pkg, keyring)
          assert.equal(r.verdict, 'accepted', r.reason)
          assert.equal(r.fingerprint, '79cc07f167fee8841829acaa42655a75156b3de0')
        }
      }
    })

    it('rpmkeys 4.18 agrees on the hand-made signatures (when installed)', async function () {
      if (!hasRpmkeys()) this.skip()
      const dir = mkdtempSync(join(tmpdir(), 'skyline-rpm-'))
      const live = new LiveRpmkeys([fixture('rpm-upstream/keys/keyidcollision1.pub')])
      try {
        for (const [name, pkg] of [['fp.rpm', signedWith1], ['nofp.rpm', signedWith1NoFingerprint]] as const) {
          writeFileSync(join(dir, name), pkg)
          const { rc, output } = live.checksig(join(dir, name))
          assert.equal(rc, 0, output)
        }
      } finally {
        live.close()
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })

  describe('rpm 4.18 limits on the rpm 4 signature tags', function () {
    it('ECDSA in RPMSIGTAG_DSA is refused even with the key (rpm 4.18 cannot verify it)', async function () {
      const r = await verifyRpmFile(fixture('rpm-rs/RPMS/v4/signed/rpm-basic-with-ecdsa-2.3.4-5.el9.noarch.rpm'), await keyringOf('rpm-rs/signing_keys/v4/rpm-testkey-v4-ecdsa-nistp256.asc'))
      assert.equal(r.verdict, 'rejected')
      assert.match(r.reason ?? '', /^unsupported signature \(tag 267, V4 ECDSA\/SHA256\): rpm 4.18 cannot verify it/)
    })

    it('an unknown critical subpacket is refused in tag 267 (rpm 4.18 refuses it)', async function () {
      const priv = await openpgp.readPrivateKey({ armoredKey: Buffer.from(fixtureBytes('rpm-upstream/keys/keyidcollision1.asc')).toString() })
      const bytes = fixtureBytes(UNSIGNED)
      const header = readRpm(bytes).header.bytes
      const sig = handSignEdDSA(header, priv, { extraHashed: [subpacket(20, new Uint8Array(8), true)] })
      const r = await verifyRpm(repackage(bytes, [binEntry(SIGTAG.DSA, sig), ...signatureEntries(bytes)]), await keyringOf('rpm-upstream/keys/keyidcollision1.pub'))
      assert.equal(r.verdict, 'rejected')
      assert.match(r.reason ?? '', /critical hashed subpacket 20/)
    })

    it('a signature of type text (0x01) is a bad signature', async function () {
      const priv = await openpgp.readPrivateKey({ armoredKey: Buffer.from(fixtureBytes('rpm-upstream/keys/keyidcollision1.asc')).toString() })
      const bytes = fixtureBytes(UNSIGNED)
      const header = readRpm(bytes).header.bytes
      const sig = handSignEdDSA(header, priv, { sigType: 1 })
      const r = await verifyRpm(repackage(bytes, [binEntry(SIGTAG.DSA, sig), ...signatureEntries(bytes)]), await keyringOf('rpm-upstream/keys/keyidcollision1.pub'))
      assert.equal(r.verdict, 'rejected')
      assert.match(r.reason ?? '', /signature type 0x01/)
    })
  })

  describe('v6 packages (RPMSIGTAG_OPENPGP)', function () {
    const V6 = 'rpm-rs/RPMS/v6/signed/'
    const V6_KEYS = 'rpm-rs/signing_keys/v6/rpm-testkey-v6-keyring.asc'

    it('Ed25519, RSA 4k and multiply-signed v6 packages verify with the v6 keys', async function () {
      const keyring = await keyringOf(V6_KEYS)
      for (const [file, keyId] of [['rpm-basic-with-ed25519-2.3.4-5.el9.noarch.rpm', '715619ae2365d909'], ['rpm-basic-with-rsa4k-2.3.4-5.el9.noarch.rpm', '12e1f31e46105918'], ['rpm-basic-multiple-signatures-2.3.4-5.el9.noarch.rpm', '715619ae2365d909']] as const) {
        const r = await verifyRpmFile(fixture(V6 + file), keyring)
        assert.equal(r.verdict, 'accepted', `${file}: ${r.reason}`)
        assert.equal(r.keyId, keyId)
        assert.equal(r.package?.format, 6)
      }
    })

    it('a multiply-signed package with only one of its keys: the unknown key is skipped', async function () {
      const r = await verifyRpmFile(fixture(V6 + 'rpm-basic-multiple-signatures-2.3.4-5.el9.noarch.rpm'), await keyringOf('rpm-rs/signing_keys/v6/rpm-testkey-v6-rsa4k.asc'))
      assert.equal(r.verdict, 'accepted', r.reason)
      assert.deepEqual(r.signatures.map(s => s.status), ['nokey', 'ok'])
    })

    it('ML-DSA signatures are not supported: rejected when they are the only signature', async function () {
      const r = await verifyRpmFile(fixture(V6 + 'rpm-basic-with-mldsa65-ed25519-2.3.4-5.el9.noarch.rpm'), await keyringOf(V6_KEYS))
      assert.equal(r.verdict, 'rejected')
      assert.match(r.reason ?? '', /^unsupported signature \(tag 278\[0\], V6 ML-DSA-65\+Ed25519/)
    })

    it('an ML-DSA signature next to verified RSA ones (hello-2.0-1 signed-mldsa87) is skipped', async function () {
      const r = await verifyRpmFile(fixture('rpm-upstream/RPMS/hello-2.0-1.x86_64-signed-mldsa87.rpm'), await keyringOf(RSA_TEST_KEY))
      assert.equal(r.verdict, 'accepted', r.reason)
      assert.deepEqual(r.signatures.filter(s => s.tag === SIGTAG.OPENPGP).map(s => s.status), ['unsupported', 'ok'])
    })

    it('a corrupted OpenPGP signature in tag 278 rejects, even next to good ones', async function () {
      const bytes = fixtureBytes(V6 + 'rpm-basic-multiple-signatures-2.3.4-5.el9.noarch.rpm')
      const entries = signatureEntries(bytes)
      const pgp = entries.find(e => e.tag === SIGTAG.OPENPGP)
      assert.ok(pgp !== undefined && pgp.type === RPM_TYPE.STRING_ARRAY)
      const [first, second] = Buffer.from(pgp.data).toString('latin1').split('\0')
      const raw = Buffer.from(second, 'base64')
      raw[raw.byteLength - 5] ^= 0x01
      pgp.data = new Uint8Array(Buffer.from(`${first}\0${raw.toString('base64')}\0`, 'latin1'))
      const r = await verifyRpm(repackage(bytes, entries), await keyringOf(V6_KEYS))
      assert.equal(r.verdict, 'rejected')
      assert.match(r.reason ?? '', /^bad signature \(tag 278\[1\], V6 RSA\/SHA512/)
    })
  })
})
