/**
 * The comparison with the official build on real packages: the same signed SRPM rebuilt in the sandbox
 * (rpmbuildForTest) reproduces an official build made the same way, and an official build made with
 * another build host and build time reproduces it partly, naming BUILDTIME and BUILDHOST.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { reproducibleDefines, type Builder, type BuildResult } from '../../src/builder/index.ts'
import { copyFile } from 'node:fs/promises'
import { compareWithOfficial, officialEntry, withOfficialEntries } from '../../src/rpm/official.ts'
import { encodeManifest, parseManifest, type BuildrootManifest } from '../../src/rules/buildroot.ts'
import { DEMO_SPEC, makeSignedSrpm, rpmbuildForTest, type SrpmFixture } from '../helpers/srpm.ts'

const run = promisify(execFile)

describe('comparison with the official build, on packages rpmbuild makes', function () {
  this.timeout(180_000)
  let builder: Builder
  let dir: string
  let srpm: SrpmFixture
  let ours: BuildResult

  before(async function () {
    ({ builder, dir } = await rpmbuildForTest(this, 'skyline-official-test-'))
    // the demo package: what it ships does not depend on how it is built (skyline-hello records its priority)
    srpm = await makeSignedSrpm(join(dir, 'srpm'), { spec: DEMO_SPEC })
    ours = await builder.build(srpm.srpmPath, { workDir: join(dir, 'ours') })
    assert.equal(ours.status, 'ok', ours.reason)
  })
  after(async () => { if (dir !== undefined) await rm(dir, { recursive: true, force: true }) })

  const outputs = (r: BuildResult): Array<{ name: string, path: string }> => r.files.map(f => ({ name: f.name, path: join(r.outputDir, f.name) }))

  /** The official entries of a build's packages, through a manifest's canonical bytes as a builder gets them */
  async function officialOf (paths: string[]): Promise<NonNullable<BuildrootManifest['official']>> {
    const official = await Promise.all(paths.map(async p => officialEntry(p)))
    const manifest: BuildrootManifest = { packages: [{ name: 'bash', epoch: null, version: '5', release: '1', arch: 'x86_64', sigmd5: 'a'.repeat(32), size: 1, sha256: 'b'.repeat(64) }], macros: {}, tools: {}, official }
    return parseManifest(encodeManifest(manifest)).official!
  }

  it('an identical rebuild reproduces it: yes', async () => {
    const official = await builder.build(srpm.srpmPath, { workDir: join(dir, 'official-same') })
    assert.equal(official.status, 'ok', official.reason)
    const claim = await compareWithOfficial(outputs(ours), await officialOf(outputs(official).map(o => o.path)))
    assert.deepEqual(claim, { reproduces: 'yes', differences: [] })
  })

  it('an official build with another build host and time: partly, naming BUILDTIME and BUILDHOST, not the payload', async () => {
    const top = join(dir, 'koji')
    await mkdir(top, { recursive: true })
    await run('rpmbuild', ['--rebuild', '--define', `_topdir ${top}`, ...reproducibleDefines(),
      '--define', '_buildhost buildvm-x86-01.koji.example', '--define', 'use_source_date_epoch_as_buildtime 0', srpm.srpmPath],
    { env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', HOME: '/nonexistent', LANG: 'C.UTF-8', TZ: 'UTC' } })
    const rpms = join(top, 'RPMS', 'noarch')
    const official = await officialOf((await readdir(rpms)).map(n => join(rpms, n)))
    const claim = await compareWithOfficial(outputs(ours), official)
    assert.equal(claim.reproduces, 'partly', JSON.stringify(claim))
    assert.equal(claim.differences.length, ours.files.length)
    for (const d of claim.differences) {
      assert.ok(d.fields.includes('BUILDTIME') && d.fields.includes('BUILDHOST'), JSON.stringify(d))
      assert.ok(!d.fields.includes('PAYLOADDIGEST') && !d.fields.includes('FILEDIGESTS'), JSON.stringify(d))
    }
  })

  it('a seeder\'s official entries: named as rpm names the file, whatever it is called; a source package refused', async () => {
    const renamed = join(dir, 'renamed.rpm')
    await copyFile(outputs(ours)[0].path, renamed)
    const base: BuildrootManifest = { packages: [{ name: 'bash', epoch: null, version: '5', release: '1', arch: 'x86_64', sigmd5: 'a'.repeat(32), size: 1, sha256: 'b'.repeat(64) }], macros: {}, tools: {} }
    const m = parseManifest(encodeManifest(await withOfficialEntries(base, [renamed])))
    assert.equal(m.official?.[0].name, ours.files[0].name)
    assert.ok(Object.keys(m.official?.[0].tags ?? {}).includes('1006'), 'BUILDTIME has a digest')
    await assert.rejects(withOfficialEntries(base, [srpm.srpmPath]), /is a source package/)
  })

  it('other file sets, or no per-tag digests: no, naming what is missing', async () => {
    const official = await officialOf(outputs(ours).map(o => o.path))
    const extra = { name: 'hello-extra-1-1.noarch.rpm', sha256: 'c'.repeat(64) }
    const claim = await compareWithOfficial(outputs(ours), [...official, extra])
    assert.equal(claim.reproduces, 'no')
    assert.deepEqual(claim.differences, [{ name: extra.name, fields: ['NOT_BUILT'] }])
    // an official entry without tags: the package differs, no field can be named
    const untagged = official.map(f => ({ name: f.name, sha256: 'd'.repeat(64) }))
    const blind = await compareWithOfficial(outputs(ours), untagged)
    assert.equal(blind.reproduces, 'no')
    assert.deepEqual(blind.differences.map(d => d.fields), official.map(() => []))
  })
})
