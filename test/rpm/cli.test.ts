/**
 * `skyline verify` as a process: output lines and exit codes 0 (all accepted), 1 (any rejected),
 * 2 (unreadable input or bad usage).
 */
import assert from 'node:assert/strict'
import { fixture, skyline } from './helpers.ts'

const FEDORA = fixture('fedora/rpm-sign-4.15.1-1.fc31.x86_64.rpm')
const F31 = fixture('fedora/RPM-GPG-KEY-fedora-31-primary')
const F41 = fixture('fedora/RPM-GPG-KEY-fedora-41-primary')
const CORRUPTED = fixture('rpm-upstream/RPMS/hello-2.0-1.x86_64-corrupted.rpm')
const UNSIGNED = fixture('rpm-upstream/RPMS/hello-2.0-1.x86_64.rpm')
const SIGNED = fixture('rpm-upstream/RPMS/hello-2.0-1.x86_64-signed.rpm')

describe('skyline verify (CLI)', function () {
  this.timeout(60_000)

  it('exit 0 and one "accepted" line per file when every file is accepted', function () {
    const r = skyline(['verify', '--keyring', F31, FEDORA])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, `${FEDORA}: accepted (rpm-sign-4.15.1-1.fc31.x86_64, signed by 50cb390b3c3359c4)\n`)
  })

  it('exit 1 when any file is rejected; reasons name the key or the digest', function () {
    const r = skyline(['verify', '--keyring', fixture('rpm-upstream/keys/rpm.org-rsa-2048-test.pub'), SIGNED, CORRUPTED, UNSIGNED, fixture('README.md')])
    assert.equal(r.status, 1, r.stderr)
    const lines = r.stdout.trimEnd().split('\n')
    assert.equal(lines.length, 4)
    assert.equal(lines[0], `${SIGNED}: accepted (hello-2.0-1.x86_64, signed by 4344591e1964c5fc)`)
    assert.match(lines[1], new RegExp(`^${CORRUPTED}: rejected: digest mismatch: payload SHA256 digest \\(tag 5092\\)`))
    assert.equal(lines[2], `${UNSIGNED}: rejected: no signature`)
    assert.match(lines[3], /README\.md: rejected: malformed: lead: bad magic/)

    const untrusted = skyline(['verify', '--keyring', F41, FEDORA])
    assert.equal(untrusted.status, 1)
    assert.match(untrusted.stdout, /: rejected: untrusted key 50cb390b3c3359c4 \(tag 268, V3 RSA\/SHA256\)/)
  })

  it('exit 2 when a file is missing, after reporting the others', function () {
    const r = skyline(['verify', '--keyring', F31, '/nonexistent/x.rpm', FEDORA])
    assert.equal(r.status, 2)
    assert.deepEqual(r.stdout.trimEnd().split('\n'), [
      '/nonexistent/x.rpm: unreadable: no such file',
      `${FEDORA}: accepted (rpm-sign-4.15.1-1.fc31.x86_64, signed by 50cb390b3c3359c4)`
    ])
  })

  it('--json prints one object per line', function () {
    const r = skyline(['verify', '--json', '--keyring', F31, FEDORA, CORRUPTED, '/nonexistent/x.rpm'])
    assert.equal(r.status, 2)
    const [ok, bad, missing] = r.stdout.trimEnd().split('\n').map(l => JSON.parse(l))
    assert.equal(ok.file, FEDORA)
    assert.equal(ok.verdict, 'accepted')
    assert.equal(ok.nevra, 'rpm-sign-4.15.1-1.fc31.x86_64')
    assert.equal(ok.keyId, '50cb390b3c3359c4')
    assert.equal(ok.reason, undefined)
    assert.deepEqual(ok.digests.map((d: any) => [d.name, d.status]), [['header-sha256', 'ok'], ['header-sha1', 'ok'], ['md5', 'ok'], ['payload-sha256', 'ok']])
    assert.equal(bad.verdict, 'rejected')
    assert.match(bad.reason, /^digest mismatch: payload SHA256 digest/)
    assert.equal(bad.signatures[0].status, 'nokey') // the Fedora keyring does not hold the rpm.org key
    assert.equal(bad.digests.find((d: any) => d.name === 'payload-sha256').status, 'bad')
    assert.deepEqual(missing, { file: '/nonexistent/x.rpm', verdict: 'unreadable', reason: 'no such file' })
  })

  it('exit 2 for usage errors and an unreadable keyring; --help exits 0', function () {
    const noFiles = skyline(['verify', '--keyring', F31])
    assert.equal(noFiles.status, 2)
    assert.match(noFiles.stderr, /no package files given/)
    const noKeyring = skyline(['verify', FEDORA])
    assert.equal(noKeyring.status, 2)
    assert.match(noKeyring.stderr, /--keyring PATH is required/)
    const badFlag = skyline(['verify', '--keyring', F31, '--frobnicate', FEDORA])
    assert.equal(badFlag.status, 2)
    assert.match(badFlag.stderr, /frobnicate/)
    const missingKeyring = skyline(['verify', '--keyring', '/nonexistent/keys', FEDORA])
    assert.equal(missingKeyring.status, 2)
    assert.match(missingKeyring.stderr, /keyring \/nonexistent\/keys: no such file or folder/)
    assert.equal(missingKeyring.stdout, '')
    const help = skyline(['verify', '--help'])
    assert.equal(help.status, 0)
    assert.match(help.stdout, /^usage: skyline verify --keyring PATH \[--json\] FILE\.rpm\.\.\./)
  })
})
