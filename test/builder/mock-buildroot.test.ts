/**
 * The mock backend with a buildroot manifest (src/builder/mock-job.ts, mock-buildroot.ts, mock.ts): the
 * per-job repository of exactly the manifest's packages, the command line that uses the generated config
 * (or the lockfile), and the comparison of mock's installed_pkgs.log with the manifest, whose mismatch
 * declines the job. mock itself does not run here (not packaged for Debian).
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MockBuilder, type BuildrootInput, type MockInit } from '../../src/builder/index.ts'
import { compareInstalled, parseInstalledLog, parseNevra } from '../../src/builder/mock-buildroot.ts'
import { installedMismatch } from '../../src/builder/mock.ts'
import { GENERATED_CONFIG_NAME, HERMETIC_CONFIG_NAME, mockRootName } from '../../src/builder/mock-job.ts'
import { packageNevra, type BuildrootManifest, type BuildrootPackage } from '../../src/rules/buildroot.ts'
import { buildrootInput, makeBuildrootPackage } from '../helpers/buildroot.ts'
import { missingTools } from '../helpers/srpm.ts'

function pkg (name: string, version: string, arch = 'x86_64', epoch: number | null = null): BuildrootPackage {
  return { name, epoch, version, release: '1.fc42', arch, sigmd5: '0'.repeat(32), size: 1000, sha256: '1'.repeat(64) }
}

/** installed_pkgs.log as mock's package_state plugin writes it */
const logOf = (nevras: string[]): string => nevras.map(n => `${n} 1730000000 12345 installed\n`).join('')

describe('build: mock installed set against the manifest', () => {
  const manifest: BuildrootManifest = { packages: [pkg('bash', '5.2'), pkg('perl-libs', '5.40', 'x86_64', 4), pkg('tzdata', '2024a', 'noarch')], macros: {}, tools: {} }
  const exact = manifest.packages.map(packageNevra)

  it('reads mock\'s installed_pkgs.log lines', () => {
    assert.deepEqual(parseNevra('perl-libs-4:5.40-1.fc42.x86_64'), { name: 'perl-libs', epoch: 4, version: '5.40', release: '1.fc42', arch: 'x86_64' })
    assert.deepEqual(parseNevra('glibc-gconv-extra-2.40-3.fc41.x86_64'), { name: 'glibc-gconv-extra', epoch: null, version: '2.40', release: '3.fc41', arch: 'x86_64' })
    assert.equal(parseNevra('nonsense'), undefined)
    assert.equal(parseInstalledLog(`${logOf(exact)}gpg-pubkey-105ef944-65ca83d1 1707770833 0 installed\n\n`).length, 3, 'gpg-pubkey is not a package of the buildroot')
    assert.throws(() => parseInstalledLog('what is this\n'), /buildroot mismatch/)
  })

  it('the same set matches; an absent epoch and epoch 0 are the same', () => {
    assert.equal(compareInstalled(manifest, parseInstalledLog(logOf(exact))), undefined)
    const zero: BuildrootManifest = { ...manifest, packages: [pkg('bash', '5.2', 'x86_64', 0)] }
    assert.equal(compareInstalled(zero, parseInstalledLog(logOf(['bash-5.2-1.fc42.x86_64']))), undefined)
  })

  it('catches a missing package, an extra package and another version', () => {
    assert.equal(compareInstalled(manifest, parseInstalledLog(logOf(exact.slice(0, 2)))), 'buildroot mismatch: mock installed another set than the manifest: missing tzdata-2024a-1.fc42.noarch')
    assert.equal(compareInstalled(manifest, parseInstalledLog(logOf([...exact, 'gcc-14.2-1.fc42.x86_64']))), 'buildroot mismatch: mock installed another set than the manifest: not in the manifest gcc-14.2-1.fc42.x86_64')
    assert.equal(compareInstalled(manifest, parseInstalledLog(logOf(['bash-5.3-1.fc42.x86_64', ...exact.slice(1)]))),
      'buildroot mismatch: mock installed another set than the manifest: another version bash-5.3-1.fc42.x86_64 (the manifest says bash-5.2-1.fc42.x86_64)')
    assert.match(compareInstalled(manifest, parseInstalledLog(logOf(['perl-libs-5.40-1.fc42.x86_64', exact[0], exact[2]]))) ?? '', /another version perl-libs-5\.40-1\.fc42\.x86_64 \(the manifest says perl-libs-4:5\.40/)
    // a second package of the same name and arch is never the manifest's
    assert.match(compareInstalled(manifest, parseInstalledLog(logOf([...exact, 'bash-5.2-1.fc42.x86_64']))) ?? '', /not in the manifest bash-5\.2-1\.fc42\.x86_64/)
    // long lists are cut
    const many = Array.from({ length: 9 }, (_, i) => `extra${i}-1-1.x86_64`)
    assert.match(compareInstalled(manifest, parseInstalledLog(logOf([...exact, ...many]))) ?? '', /extra4-1-1\.x86_64 and 4 more$/)
  })

  it('no installed_pkgs.log (mock stopped before the build) is a buildroot that could not be made', () => {
    assert.match(installedMismatch(manifest, '', 30) ?? '', /^buildroot cannot be materialised: mock stopped before the build \(no installed_pkgs\.log; mock exited with code 30/)
    assert.equal(installedMismatch(manifest, logOf(exact), 1), undefined, 'a build that failed in the right buildroot is a failed build')
    assert.match(installedMismatch(manifest, logOf(exact.slice(1)), 0) ?? '', /^buildroot mismatch: .*missing bash/)
  })
})

describe('build: mock backend with a buildroot manifest', function () {
  this.timeout(120_000)
  let dir: string
  let input: BuildrootInput
  let base: string
  const host = (extra: Partial<ConstructorParameters<typeof MockBuilder>[1]> = {}): ConstructorParameters<typeof MockBuilder>[1] => ({
    mock: '/usr/bin/mock', createrepo: 'createrepo_c', hostRpmVersion: '4.19.1', priority: { prefix: [], report: { nice: 19 }, warnings: [] }, ...extra
  })
  let n = 0
  const workDir = async (): Promise<string> => {
    const w = join(dir, `w${n++}`)
    await mkdir(w)
    return w
  }

  before(async function () {
    const missing = missingTools(['rpmbuild', 'createrepo_c'])
    if (missing !== undefined) {
      console.info(`      skipped: ${missing} not found`)
      this.skip()
    }
    dir = await mkdtemp(join(tmpdir(), 'skyline-mock-job-'))
    base = await makeBuildrootPackage(join(dir, 'pkgs'), 'skyline-base', '1.0')
    const tool = await makeBuildrootPackage(join(dir, 'pkgs'), 'skyline-tool', '2.0', 'skyline-base')
    input = await buildrootInput([base, tool], { macros: { vendor: 'Fedora Project' } })
  })
  after(async () => { if (dir !== undefined) await rm(dir, { recursive: true, force: true }) })

  it('runs mock with the generated config of exactly the manifest\'s packages, the macros in it', async () => {
    const b = new MockBuilder({ mockConfig: 'fedora-41-x86_64' }, host())
    const w = await workDir()
    const job = await b.prepareJob(w, input)
    assert.deepEqual(job.chroot, { config: join(w, 'mock.cfg') })
    assert.equal(job.mockConfig, GENERATED_CONFIG_NAME)
    const argv = b.commandLine('/x/foo.src.rpm', w, job)
    assert.deepEqual(argv.slice(0, 6), ['/usr/bin/mock', '--rebuild', '/x/foo.src.rpm', '-r', join(w, 'mock.cfg'), '--resultdir'])
    assert.ok(!argv.includes('fedora-41-x86_64'), 'not the host\'s config')
    assert.ok(!argv.includes('--define'), 'the macros are in the config, where the manifest\'s win')
    const cfg = await readFile(join(w, 'mock.cfg'), 'utf8')
    assert.match(cfg, new RegExp(`config_opts\\['root'\\] = '${mockRootName(input.sha256, w)}'`))
    assert.match(cfg, /config_opts\['macros'\]\['%vendor'\] = 'Fedora Project'/)
    assert.match(cfg, new RegExp(`baseurl=file://${join(w, 'repo')}\\\\n`))
    // the repository: exactly the manifest's packages under their NEVRA names, and createrepo_c's index
    assert.deepEqual((await readdir(join(w, 'repo', 'Packages'))).sort(), ['skyline-base-1.0-1.noarch.rpm', 'skyline-tool-2.0-1.noarch.rpm'])
    assert.ok(existsSync(join(w, 'repo', 'repodata', 'repomd.xml')))
    const primary = execFileSync('sh', ['-c', `zcat ${join(w, 'repo', 'repodata')}/*primary.xml.gz 2>/dev/null || zstdcat ${join(w, 'repo', 'repodata')}/*primary.xml.zst`], { encoding: 'utf8' })
    assert.equal(primary.match(/<package type="rpm">/g)?.length, 2)
    // a job without a manifest keeps the host's config and the defines
    const plain = b.commandLine('/x/foo.src.rpm', w)
    assert.ok(plain.includes('fedora-41-x86_64') && plain.includes('--define'))
  })

  it('chroot names differ per job and per manifest', () => {
    assert.notEqual(mockRootName(input.sha256, '/w/1'), mockRootName(input.sha256, '/w/2'))
    assert.notEqual(mockRootName(input.sha256, '/w/1'), mockRootName('0'.repeat(64), '/w/1'))
    assert.match(mockRootName(input.sha256, '/w/1'), /^skyline-[0-9a-f]{16}$/)
  })

  it('with mock 5.7+ and a bootstrap image: --hermetic-build with the lockfile, the image linked into the repository', async () => {
    const bootstrap = { image: 'registry.fedoraproject.org/fedora:42', pullDigest: `sha256:${'a'.repeat(64)}`, imageDigest: `sha256:${'b'.repeat(64)}`, architecture: 'amd64', id: 'c'.repeat(64) }
    const init: MockInit = { mockHermetic: { bootstrap, imageDir: join(dir, 'image') } }
    const w = await workDir()
    const b = new MockBuilder(init, host({ mockVersion: '6.7' }))
    const job = await b.prepareJob(w, input)
    assert.equal(job.mockConfig, HERMETIC_CONFIG_NAME)
    const argv = b.commandLine('/x/foo.src.rpm', w, job)
    const at = argv.indexOf('--hermetic-build')
    assert.deepEqual(argv.slice(at, at + 3), ['--hermetic-build', join(w, 'buildroot_lock.json'), join(w, 'repo')])
    assert.ok(!argv.includes('-r'), 'mock refuses -r with --hermetic-build')
    const lock = JSON.parse(await readFile(join(w, 'buildroot_lock.json'), 'utf8'))
    assert.deepEqual(lock.buildroot.rpms.map((r: any) => r.name), ['skyline-base', 'skyline-tool'])
    assert.equal(await readlink(join(w, 'repo', `registry.fedoraproject.org/fedora@${bootstrap.pullDigest}`)), join(dir, 'image'))
    // an older mock builds from the generated config
    const old = await new MockBuilder(init, host({ mockVersion: '5.6' })).prepareJob(await workDir(), input)
    assert.equal(old.mockConfig, GENERATED_CONFIG_NAME)
  })

  it('declines (never builds elsewhere) a package that does not match, without createrepo_c, or a manifest mock cannot take', async () => {
    const b = new MockBuilder({}, host())
    const bad = join(dir, 'bad.rpm')
    await copyFile(base, bad)
    const bytes = await readFile(bad)
    bytes[bytes.length - 1] ^= 1
    await writeFile(bad, bytes)
    const corrupted: BuildrootInput = { ...input, packages: new Map([...input.packages].map(([k, v]) => [k, v === base ? bad : v])) }
    const w = await workDir()
    await assert.rejects(b.prepareJob(w, corrupted), (err: Error) => err.name === 'BuildrootUnavailableError' && /^buildroot mismatch: skyline-base-1\.0-1\.noarch/.test(err.message))
    assert.deepEqual(await readdir(w), [], 'nothing is left of the repository')
    await assert.rejects(new MockBuilder({}, host({ createrepo: undefined })).prepareJob(await workDir(), input), /createrepo_c not found/)
    const jinja: BuildrootInput = { ...input, manifest: { ...input.manifest, macros: { vendor: '{{ root }}' } } }
    await assert.rejects(b.prepareJob(await workDir(), jinja), /Jinja2/)
    const rpm: BuildrootInput = { ...input, manifest: { ...input.manifest, packages: [...input.manifest.packages, { ...input.manifest.packages[0], name: 'rpm', version: '4.19.1' }], tools: { rpm: '4.20.0' } } }
    await assert.rejects(b.prepareJob(await workDir(), rpm), /buildroot mismatch: the manifest's rpm is 4\.20\.0, its rpm package is 4\.19\.1/)
  })

  it('build() declines a job with a manifest before running mock when the buildroot cannot be made', async () => {
    const b = new MockBuilder({}, host({ mock: '/nonexistent/mock', createrepo: undefined }))
    await assert.rejects(b.build(join(dir, 'x.src.rpm'), { workDir: join(dir, 'wb'), buildroot: input }), { name: 'BuildrootUnavailableError' })
  })
})
