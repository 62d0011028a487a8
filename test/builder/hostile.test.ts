/**
 * Spec files that attack the node rather than the sandbox (issue 15, docs/threat-model.md "A hostile spec
 * file"): each is a signed SRPM built by the real rpmbuild builder in bubblewrap. Skipped (with the reason)
 * only when rpmbuild, rpmsign, gpg or bwrap are not installed.
 */
import assert from 'node:assert/strict'
import { chmod, lstat, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { detectBuilder, type Builder } from '../../src/builder/index.ts'
import { makeSignedSrpm, rpmbuildForTest } from '../helpers/srpm.ts'

/**
 * The number a spec printed as `<label>: <n> bytes`, or -1 when it printed none. Not anchored to a line:
 * the build log takes rpmbuild's stdout and stderr from two pipes, so a piece of a shell trace line
 * (stderr, `+ rm` and ` -f ...` written apart) can land between a line's start and the echo's output; the
 * echo's own line arrives whole (one write), and so does the value in its trace line.
 */
function reported (log: string, label: string): number {
  const m = new RegExp(`\\b${label}: (\\d+) bytes`).exec(log)
  return m === null ? -1 : Number(m[1])
}

describe('build: hostile spec files attacking the node', function () {
  this.timeout(60_000)
  let dir: string
  let builder: Builder

  before(async function () {
    // were the build to reach the host as uid 65534, the directory's mode would not stop it
    ({ builder, dir } = await rpmbuildForTest(this, 'skyline-hostile-test-'))
  })

  after(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('symlinks left at /build/build.log and /build/output are not followed: the log and the RPMs stay with the node', async () => {
    const target = join(dir, 'precious.conf')
    const outDir = join(dir, 'elsewhere')
    await writeFile(target, 'precious host file\n', { mode: 0o666 })
    await mkdir(outDir, { mode: 0o777 })
    await chmod(outDir, 0o777)
    const srpm = await makeSignedSrpm(join(dir, 'linkback'), { spec: 'skyline-linkback', substitutions: { LOG_TARGET: target, OUT_DIR: outDir } })
    const workDir = join(dir, 'wlinkback')
    const r = await builder.build(srpm.srpmPath, { workDir })
    assert.equal(await readFile(target, 'utf8'), 'precious host file\n', 'the node wrote its log through the link')
    assert.deepEqual(await readdir(outDir), [], 'the node moved the RPMs through the link')
    assert.equal(r.status, 'ok', `${r.reason}\n${r.logExcerpt}`)
    assert.deepEqual(await readdir(r.outputDir), ['skyline-linkback-1.0-1.noarch.rpm'])
    assert.ok((await lstat(r.outputDir)).isDirectory())
    assert.ok((await lstat(r.logPath)).isFile())
    assert.match(await readFile(r.logPath, 'utf8'), /planted \/build\/build\.log/)
  })

  it('an RPMS replaced by a symlink to a host directory hands the node nothing of that directory, and removes nothing there', async () => {
    const hostDir = join(dir, 'host-rpms')
    await mkdir(join(hostDir, 'noarch'), { recursive: true, mode: 0o755 })
    await chmod(hostDir, 0o777)
    const planted = join(hostDir, 'noarch', 'planted-1.0-1.noarch.rpm')
    await writeFile(planted, 'not built by this job', { mode: 0o644 })
    const srpm = await makeSignedSrpm(join(dir, 'hostrpms'), { spec: 'skyline-hostrpms', substitutions: { HOST_DIR: hostDir } })
    const r = await builder.build(srpm.srpmPath, { workDir: join(dir, 'whostrpms') })
    assert.equal(await readFile(planted, 'utf8'), 'not built by this job', 'the host file was taken')
    assert.ok(!r.files.some(f => f.name.startsWith('planted')), `attested a host file: ${JSON.stringify(r.files)}`)
    assert.equal(r.status, 'failed')
    assert.match(r.reason ?? '', /no binary RPMs/)
    assert.match(r.logExcerpt ?? '', /RPMS now points at/)
  })

  it('/dev is read-only and /dev/shm capped: the build cannot fill the host memory through them', async () => {
    const srpm = await makeSignedSrpm(join(dir, 'devfill'), { spec: 'skyline-devfill' })
    const r = await builder.build(srpm.srpmPath, { workDir: join(dir, 'wdevfill') })
    assert.equal(r.status, 'ok', `${r.reason}\n${r.logExcerpt}`)
    const log = await readFile(r.logPath, 'utf8')
    assert.equal(reported(log, 'dev'), 0, log)
    const shm = reported(log, 'shm')
    assert.ok(shm >= 0 && shm <= 64 * 1024 * 1024, `wrote ${shm} bytes to /dev/shm`)
  })

  it('the disk limit is a file system limit: neither fallocate nor writing gets past maxDiskBytes, and the reason says so', async () => {
    const limit = 64 * 1024 * 1024
    const { builder: limited } = await detectBuilder('rpmbuild', { limits: { maxDiskBytes: limit } })
    assert.ok(limited !== undefined)
    const srpm = await makeSignedSrpm(join(dir, 'diskfill'), { spec: 'skyline-diskfill' })
    const r = await limited.build(srpm.srpmPath, { workDir: join(dir, 'wdiskfill') })
    const log = await readFile(r.logPath, 'utf8')
    assert.equal(reported(log, 'allocated'), -1, 'fallocate got 1 GiB')
    const wrote = reported(log, 'wrote')
    assert.ok(wrote >= 0 && wrote <= limit, `wrote ${wrote} bytes with a limit of ${limit}`)
    assert.equal(r.status, 'failed')
    assert.match(r.reason ?? '', /out of space: the build tree holds at most 67108864 bytes \(maxDiskBytes\)/)
  })

  it('an output RPM whose name cannot be attested fails the build, with the reason', async () => {
    const srpm = await makeSignedSrpm(join(dir, 'badname'), { spec: 'skyline-badname' })
    const r = await builder.build(srpm.srpmPath, { workDir: join(dir, 'wbadname') })
    assert.equal(r.status, 'failed', `built ${JSON.stringify(r.files)}`)
    assert.match(r.reason ?? '', /"skyline badname-1\.0-1\.noarch\.rpm" has a name that cannot be attested/)
    assert.deepEqual(r.files, [])
    assert.equal(r.buildHash, undefined)
    assert.deepEqual((await readdir(join(dir, 'wbadname'))).sort(), ['build.log'])
  })
})
