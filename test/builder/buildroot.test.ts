/**
 * Builds in a buildroot manifest's packages (src/builder/buildroot.ts): packages the test builds with rpmbuild,
 * installed with rpm --root into a root the sandbox binds as its /. Skipped only when the tools are missing.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BuildrootUnavailableError, detectBuilder, type Builder } from '../../src/builder/index.ts'
import { makeSignedSrpm, missingTools, type SrpmFixture } from '../helpers/srpm.ts'
import { buildrootInput, makeBuildrootPackage } from '../helpers/buildroot.ts'

describe('build: in a buildroot manifest', function () {
  this.timeout(120_000)
  let dir: string
  let builder: Builder
  let srpm: SrpmFixture
  let dep1: string, dep2: string, lib: string

  before(async function () {
    if (missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap']) !== undefined || process.getuid?.() !== 0) this.skip()
    const detected = await detectBuilder('rpmbuild')
    assert.ok(detected.builder !== undefined, detected.reason)
    builder = detected.builder
    dir = await mkdtemp(join(tmpdir(), 'skyline-buildroot-test-'))
    await chmod(dir, 0o711)
    srpm = await makeSignedSrpm(join(dir, 'srpm'), { spec: 'skyline-uses-dep' })
    dep1 = await makeBuildrootPackage(join(dir, 'pkgs'), 'skyline-dep', '1.0')
    dep2 = await makeBuildrootPackage(join(dir, 'pkgs'), 'skyline-dep', '2.0')
    lib = await makeBuildrootPackage(join(dir, 'pkgs'), 'skyline-lib', '1.0', 'skyline-dep')
  })
  after(async () => { if (dir !== undefined) await rm(dir, { recursive: true, force: true }) })

  /** The versions the package was built with, from its file list */
  const builtWith = (rpm: string): string => execFileSync('rpm', ['-qpl', '--nosignature', rpm], { encoding: 'utf8' }).match(/built-with-(\S+)/)?.[1] ?? ''

  it('builds a package with BuildRequires in exactly the pinned packages, the same bytes twice', async () => {
    const input = await buildrootInput([dep1, lib])
    const [a, b] = [
      await builder.build(srpm.srpmPath, { workDir: join(dir, 'w1'), buildroot: input }),
      await builder.build(srpm.srpmPath, { workDir: join(dir, 'w2'), buildroot: input })
    ]
    assert.equal(a.status, 'ok', `${a.reason}\n${a.logExcerpt}`)
    assert.equal(a.buildHash, b.buildHash)
    assert.equal(a.environment.buildroot, input.sha256)
    assert.equal(builtWith(join(a.outputDir, a.files[0].name)), 'skyline-dep-1.0_skyline-lib-1.0_')
    // the root is gone with the build
    assert.deepEqual((await readdir(join(dir, 'w1'))).sort(), ['build.log', 'output'])
  })

  it('another pinned version is another output', async () => {
    const r = await builder.build(srpm.srpmPath, { workDir: join(dir, 'w3'), buildroot: await buildrootInput([dep2, lib]) })
    assert.equal(r.status, 'ok', `${r.reason}\n${r.logExcerpt}`)
    assert.equal(builtWith(join(r.outputDir, r.files[0].name)), 'skyline-dep-2.0_skyline-lib-1.0_')
  })

  it('without the BuildRequires in the manifest, rpmbuild fails on them: the host database is never consulted', async () => {
    const r = await builder.build(srpm.srpmPath, { workDir: join(dir, 'w4'), buildroot: await buildrootInput([dep1]) })
    assert.equal(r.status, 'failed')
    assert.match(r.logExcerpt ?? '', /skyline-lib is needed/)
  })

  it('declines a manifest whose set does not install (a Requires outside it)', async () => {
    await assert.rejects(builder.build(srpm.srpmPath, { workDir: join(dir, 'w5'), buildroot: await buildrootInput([lib]) }),
      (err: Error) => err instanceof BuildrootUnavailableError && /do not install together.*skyline-dep/s.test(err.message))
  })

  it('declines a package file that is not the one listed (one byte changed)', async () => {
    const input = await buildrootInput([dep1, lib])
    const bad = join(dir, 'bad.rpm')
    const bytes = execFileSync('cat', [dep1])
    bytes[bytes.length - 10] ^= 1
    await writeFile(bad, bytes)
    const packages = new Map(input.packages)
    packages.set(input.manifest.packages.find(p => p.name === 'skyline-dep')!.sha256, bad)
    await assert.rejects(builder.build(srpm.srpmPath, { workDir: join(dir, 'w6'), buildroot: { ...input, packages } }),
      (err: Error) => err instanceof BuildrootUnavailableError && /buildroot mismatch: skyline-dep-1\.0-1\.noarch: sigmd5/.test(err.message))
  })

  it('declines a missing package', async () => {
    const input = await buildrootInput([dep1, lib])
    await assert.rejects(builder.build(srpm.srpmPath, { workDir: join(dir, 'w7'), buildroot: { ...input, packages: new Map() } }),
      (err: Error) => err instanceof BuildrootUnavailableError && /buildroot package missing: skyline-dep-1\.0-1\.noarch/.test(err.message))
  })
})
