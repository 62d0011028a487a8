/**
 * Keyrings: one file or a folder; armored, binary, several keys per file, secret keys; what is
 * refused and what is noted.
 */
import assert from 'node:assert/strict'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Keyring } from '../../src/rpm/keyring.ts'
import { verifyRpmFile } from '../../src/rpm/index.ts'
import { fixture, fixtureBytes } from './helpers.ts'

describe('rpm keyring', function () {
  let dir: string
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'skyline-keyring-'))
  })
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true })
  })

  it('loads one armored key file', async function () {
    const k = await Keyring.load(fixture('fedora/RPM-GPG-KEY-fedora-31-primary'))
    assert.deepEqual(k.keyIds(), ['50cb390b3c3359c4'])
    assert.equal(k.lookup('50CB390B3C3359C4').length, 1)
    assert.deepEqual(k.problems, [])
  })

  it('loads a binary key file (.pgp), and secret keys as their public halves', async function () {
    const bin = await Keyring.load(fixture('rpm-upstream/keys/rpm.org-rsa-2048-test.pgp'))
    assert.deepEqual(bin.keyIds(), ['4344591e1964c5fc'])
    assert.equal(bin.lookup('185e6146f00650f8').length, 1, 'subkeys are indexed too')
    const secret = await Keyring.load(fixture('rpm-upstream/keys/keyidcollision1.asc'))
    assert.equal(secret.keys[0].isPrivate(), false)
  })

  it('loads every key of a file holding several (one armor block, or several blocks)', async function () {
    const k = await Keyring.load(fixture('rpm-rs/signing_keys/v4/rpm-testkey-v4-keyring.asc'))
    assert.deepEqual(k.keyIds().sort(), ['522e846427933839', 'bf8e5061142dccae', 'e964f9fb30d073b5'])
    const two = join(dir, 'two.asc')
    writeFileSync(two, Buffer.concat([fixtureBytes('fedora/RPM-GPG-KEY-fedora-31-primary'), Buffer.from('\n'), fixtureBytes('fedora/RPM-GPG-KEY-fedora-41-primary')]))
    assert.deepEqual((await Keyring.load(two)).keyIds(), ['50cb390b3c3359c4', 'd0622462e99d6ad1'])
  })

  it('loads a folder of RPM-GPG-KEY-*, *.asc, *.pub, *.pgp files and ignores other names', async function () {
    copyFileSync(fixture('fedora/RPM-GPG-KEY-fedora-31-primary'), join(dir, 'RPM-GPG-KEY-fedora-31-primary'))
    copyFileSync(fixture('rpm-upstream/keys/rpm.org-rsa-2048-test.pgp'), join(dir, 'rpm.org.pgp'))
    copyFileSync(fixture('rpm-upstream/keys/rpm.org-ed25519-test.pub'), join(dir, 'ed.pub'))
    writeFileSync(join(dir, 'README'), 'not a key')
    mkdirSync(join(dir, 'sub.asc'))
    const k = await Keyring.load(dir)
    assert.deepEqual(k.keyIds().sort(), ['4344591e1964c5fc', '50cb390b3c3359c4', 'b0645aec757bf69e'])
    assert.deepEqual(k.problems, [])
  })

  it('in a folder, a broken or unreadable key file is a problem, not a failure', async function () {
    copyFileSync(fixture('fedora/RPM-GPG-KEY-fedora-31-primary'), join(dir, 'RPM-GPG-KEY-fedora-31-primary'))
    writeFileSync(join(dir, 'garbage.asc'), '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n')
    copyFileSync(fixture('rpm-upstream/keys/rpm.org-v6-mldsa87-test.asc'), join(dir, 'mldsa.asc'))
    const k = await Keyring.load(dir)
    assert.deepEqual(k.keyIds(), ['50cb390b3c3359c4'])
    assert.equal(k.problems.length, 2)
    assert.match(k.problems.map(p => p.message).join('\n'), /garbage\.asc: not an OpenPGP key.*file skipped/)
    assert.match(k.problems.map(p => p.message).join('\n'), /mldsa\.asc: no key OpenPGP\.js can read \(unsupported algorithm\?\) \(file skipped\)/)
  })

  it('refuses, as rpm 4.18 does, a key with a subkey without a valid binding (CVE-2021-3521 keys, type-confusion.asc): a package its primary key signed is not accepted', async function () {
    const signed = fixture('rpm-upstream/RPMS/hello-2.0-1.x86_64-signed.rpm')
    // the packages the rpm.org test key signs verify with the sound copy of that key
    assert.equal((await verifyRpmFile(signed, await Keyring.load(fixture('rpm-upstream/keys/rpm.org-rsa-2048-test.pub')))).verdict, 'accepted')
    copyFileSync(fixture('rpm-upstream/keys/rpm.org-ed25519-test.pub'), join(dir, 'ed25519.pub'))
    for (const f of ['CVE-2021-3521-badbind.asc', 'CVE-2021-3521-nosubsig.asc', 'CVE-2021-3521-nosubsig-last.asc', 'type-confusion.asc']) {
      await assert.rejects(Keyring.load(fixture(`rpm-upstream/keys/${f}`)), { name: 'KeyringError', message: /key 771b18d3d7baa28734333c424344591e1964c5fc refused .*subkey 185e6146f00650f8: .*binding/ }, f)
      // in a folder beside a sound key: that key loads, this one is a problem, and the package is untrusted
      copyFileSync(fixture(`rpm-upstream/keys/${f}`), join(dir, f))
      const k = await Keyring.load(dir)
      assert.deepEqual(k.keyIds(), ['b0645aec757bf69e'], f)
      assert.match(k.problems.map(p => p.message).join('\n'), new RegExp(`${f.replace('.', '\\.')}: key 771b18d3d7baa28734333c424344591e1964c5fc refused`), f)
      const r = await verifyRpmFile(signed, k)
      assert.equal(r.verdict, 'rejected', f)
      assert.match(r.reason ?? '', /untrusted key|not in the keyring|no key/i, f)
      rmSync(join(dir, f))
    }
  })

  it('refuses what cannot be a keyring: a missing path, an empty folder, a file with no key', async function () {
    await assert.rejects(Keyring.load(join(dir, 'nope')), { name: 'KeyringError', message: /no such file or folder/ })
    await assert.rejects(Keyring.load(dir), { name: 'KeyringError', message: /no usable key in 0 key file/ })
    writeFileSync(join(dir, 'x.asc'), 'hello')
    await assert.rejects(Keyring.load(join(dir, 'x.asc')), { name: 'KeyringError', message: /not an OpenPGP key/ })
    await assert.rejects(Keyring.load(fixture('rpm-upstream/RPMS/hello-2.0-1.x86_64.rpm')), { name: 'KeyringError' })
  })
})
