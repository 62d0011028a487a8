/**
 * A buildroot manifest from a Koji buildroot listing (src/services/buildroot/koji.ts): the recorded listing in
 * test/fixtures/koji/ (Koji's getBuildroot and listRPMs shapes; its rpm-sign entry is the real Fedora package
 * in test/fixtures/rpm/fedora/), and a listing of packages the test builds, served from a mirror on 127.0.0.1.
 */
import assert from 'node:assert/strict'
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Server } from 'node:http'
import { KojiListingError, manifestFromKoji, parseKojiListing } from '../../src/services/buildroot/koji.ts'
import { encodeManifest, parseManifest } from '../../src/rules/buildroot.ts'
import { packageIdentity } from '../../src/rpm/index.ts'
import { makeBuildrootPackage, serveMirror } from '../helpers/buildroot.ts'
import { missingTools } from '../helpers/srpm.ts'
import { runCli } from '../helpers/cli.ts'

const FIXTURES = join(import.meta.dirname, '..', 'fixtures')
const LISTING = join(FIXTURES, 'koji', 'rpm-sign-f31-buildroot.json')
const RPM_SIGN = join(FIXTURES, 'rpm', 'fedora', 'rpm-sign-4.15.1-1.fc31.x86_64.rpm')

/** The recorded listing, its listRPMs cut to the entries `keep` names */
async function listing (keep?: string[]): Promise<any> {
  const json = JSON.parse(await readFile(LISTING, 'utf8'))
  if (keep !== undefined) json.listRPMs = json.listRPMs.filter((r: any) => keep.includes(r.name))
  return json
}
const bytesOf = (json: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(json))

describe('Koji buildroot listing → manifest', function () {
  this.timeout(60_000)
  let dir: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skyline-koji-'))
    await mkdir(join(dir, 'pkgs', 'x86_64'), { recursive: true })
    // Koji's own layout: <arch>/<file>
    await copyFile(RPM_SIGN, join(dir, 'pkgs', 'x86_64', 'rpm-sign-4.15.1-1.fc31.x86_64.rpm'))
  })
  after(async () => { if (dir !== undefined) await rm(dir, { recursive: true, force: true }) })

  it('makes a manifest of the real Fedora package: Koji\'s payloadhash checked, content sha256 from the file', async () => {
    const parsed = parseKojiListing(bytesOf(await listing(['rpm-sign'])))
    assert.equal(parsed.buildroot.tag_name, 'f31-build')
    const manifest = await manifestFromKoji(parsed, { directory: join(dir, 'pkgs') })
    const id = await packageIdentity(RPM_SIGN)
    assert.deepEqual(manifest.packages, [{ name: 'rpm-sign', epoch: null, version: '4.15.1', release: '1.fc31', arch: 'x86_64', sigmd5: 'f4a895d5a7eb0b957b11546a7eaeb123', size: 25056, sha256: id.sha256 }])
    // a valid manifest, canonical
    assert.deepEqual(parseManifest(encodeManifest(manifest)), manifest)
  })

  it('names every listed package it cannot find', async () => {
    const parsed = parseKojiListing(bytesOf(await listing()))
    await assert.rejects(manifestFromKoji(parsed, { directory: join(dir, 'pkgs') }), (err: Error) =>
      err instanceof KojiListingError && /2 of 3 packages/.test(err.message) && /bash-5\.0\.7-3\.fc31\.x86_64: not found/.test(err.message) && /rpm-4\.15\.1-1\.fc31\.x86_64: not found/.test(err.message))
  })

  it('refuses a file whose sigmd5 is not Koji\'s payloadhash', async () => {
    const json = await listing(['rpm-sign'])
    json.listRPMs[0].payloadhash = '0'.repeat(32)
    await assert.rejects(manifestFromKoji(parseKojiListing(bytesOf(json)), { directory: join(dir, 'pkgs') }), /sigmd5 f4a895d5a7eb0b957b11546a7eaeb123 .* Koji's payloadhash is 0{32}/)
  })

  it('refuses listings not in Koji\'s shape with the field named', async () => {
    const bad = async (edit: (j: any) => void, re: RegExp): Promise<void> => {
      const j = await listing()
      edit(j)
      assert.throws(() => parseKojiListing(bytesOf(j)), re)
    }
    await bad(j => { delete j.getBuildroot }, /getBuildroot must be/)
    await bad(j => { j.listRPMs = [] }, /listRPMs must be the non-empty array/)
    await bad(j => { j.listRPMs[1].payloadhash = 'XYZ' }, /listRPMs\[1\] \(bash\): payloadhash must be 32 lowercase hex/)
    await bad(j => { j.listRPMs[0].epoch = '1' }, /epoch must be null or a non-negative integer/)
    await bad(j => { delete j.listRPMs[2].size }, /size must be a positive integer/)
    assert.throws(() => parseKojiListing(new TextEncoder().encode('[1,')), /not JSON/)
  })

  describe('with built packages on a mirror', function () {
    let mirror: { url: string, server: Server }
    let dep1: string, dep2: string
    before(async function () {
      if (missingTools(['rpmbuild', 'createrepo_c']) !== undefined) this.skip()
      dep1 = await makeBuildrootPackage(join(dir, 'built'), 'skyline-dep', '1.0')
      dep2 = await makeBuildrootPackage(join(dir, 'built'), 'skyline-dep', '2.0')
      mirror = await serveMirror(join(dir, 'mirror'), [dep1, dep2])
    })
    after(() => { mirror?.server.close() })

    it('fetches the listed version by exact NEVRA from a mirror that offers a newer one', async () => {
      const id = await packageIdentity(dep1)
      const json = await listing(['rpm-sign'])
      json.listRPMs = [{ ...json.listRPMs[0], name: id.name, version: id.version, release: id.release, arch: id.arch, epoch: null, nvr: `${id.name}-${id.version}-${id.release}`, payloadhash: id.sigmd5, size: id.size }]
      const manifest = await manifestFromKoji(parseKojiListing(bytesOf(json)), { mirror: mirror.url })
      assert.equal(manifest.packages[0].version, '1.0')
      assert.equal(manifest.packages[0].sha256, id.sha256)
    })
  })

  it('skyline seed --koji-buildroot says which packages are missing before joining the mesh', async () => {
    const r = await runCli(['seed', '--key', '/nonexistent', '--keyring', '/nonexistent', '--koji-buildroot', LISTING, '--koji-packages', join(dir, 'pkgs'), '/nonexistent.src.rpm'])
    assert.equal(r.code, 2, r.stdout + r.stderr)
    assert.match(r.stderr, /--koji-buildroot .*bash-5\.0\.7-3\.fc31\.x86_64: not found/)
    const both = await runCli(['seed', '--key', '/nonexistent', '--keyring', '/nonexistent', '--koji-buildroot', LISTING, '/nonexistent.src.rpm'])
    assert.match(both.stderr, /needs one of --koji-packages DIR or --mirror URL/)
  })
})
