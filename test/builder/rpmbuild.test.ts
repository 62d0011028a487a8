/**
 * The rpmbuild backend, for real: rpmbuild inside bubblewrap on this machine. Skipped (with the reason) only
 * when rpmbuild, rpmsign, gpg or bwrap are not installed; a bwrap that cannot sandbox here fails the suite.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { detectBuilder, sha256File, type Builder, type BuildProgressEvent } from '../../src/builder/index.ts'
import { makeSignedSrpm, rpmbuildForTest, type SrpmFixture } from '../helpers/srpm.ts'

/** Paths of the files in an RPM */
function listFiles (rpm: string): string[] {
  return execFileSync('rpm', ['-qpl', '--nosignature', rpm], { encoding: 'utf8' }).trim().split('\n')
}

function pgrep (pattern: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', pattern], { encoding: 'utf8' }).trim().split('\n').filter(l => l !== '' && !l.includes('pgrep'))
  } catch {
    return [] // exit 1: nothing matched
  }
}

describe('build: rpmbuild in bubblewrap', function () {
  this.timeout(60_000)
  let dir: string
  let builder: Builder
  let hello: SrpmFixture

  before(async function () {
    ({ builder, dir } = await rpmbuildForTest(this, 'skyline-build-test-'))
    hello = await makeSignedSrpm(join(dir, 'hello'))
  })

  after(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('two builds of the same signed SRPM in separate work dirs give the same build hash', async () => {
    const events: BuildProgressEvent[] = []
    const [a, b] = [
      await builder.build(hello.srpmPath, { workDir: join(dir, 'w1'), onProgress: e => events.push(e) }),
      await builder.build(hello.srpmPath, { workDir: join(dir, 'w2') })
    ]
    assert.equal(a.status, 'ok', `${a.reason}\n${a.logExcerpt}`)
    assert.equal(b.status, 'ok', `${b.reason}\n${b.logExcerpt}`)
    assert.equal(hello.nevra, 'skyline-hello-1.2-3.src')
    assert.deepEqual(a.files.map(f => f.name), ['skyline-hello-1.2-3.noarch.rpm'])
    assert.match(a.buildHash ?? '', /^[0-9a-f]{64}$/)
    assert.equal(a.buildHash, b.buildHash)
    // and not by luck (two builds in the same second): the reproducibility macros are in force
    const header = execFileSync('rpm', ['-qp', '--nosignature', '--qf', '%{BUILDTIME} %{BUILDHOST} %{PAYLOADCOMPRESSOR} %{PAYLOADFLAGS}',
      join(a.outputDir, a.files[0].name)], { encoding: 'utf8' })
    assert.equal(header, `${Date.UTC(2026, 10, 20) / 1000} reproducible zstd 19`) // the newest %changelog date
    assert.deepEqual(a.files, b.files)
    // the reported sha256 is the file's, and the files are where the result says
    assert.equal(await sha256File(join(a.outputDir, a.files[0].name)), a.files[0].sha256)
    assert.equal((await stat(join(a.outputDir, a.files[0].name))).size, a.files[0].size)
    // only binary RPMs in the output; the topdir is gone; the log is kept
    assert.deepEqual(await readdir(a.outputDir), ['skyline-hello-1.2-3.noarch.rpm'])
    assert.deepEqual((await readdir(join(dir, 'w1'))).sort(), ['build.log', 'output'])
    assert.equal(a.environment.builder, 'rpmbuild')
    assert.match(a.environment.rpmVersion, /^4\.\d+/)
    assert.equal(a.environment.binaryPayload, 'w19.zstdio')
    assert.equal(a.isolation.sandbox, 'bwrap')
    assert.ok(events.some(e => e.type === 'build:phase' && e.detail.phase === 'build'))
    assert.ok(events.some(e => e.type === 'build:output' && e.detail.name === a.files[0].name))
  })

  it('builds at nice 19 and SCHED_IDLE, as the packaged record of the build shows', async () => {
    const r = await builder.build(hello.srpmPath, { workDir: join(dir, 'prio') })
    assert.equal(r.status, 'ok', r.reason)
    const files = listFiles(join(r.outputDir, r.files[0].name))
    assert.ok(files.includes('/usr/share/skyline-hello/nice-19'), files.join(' '))
    assert.equal(r.isolation.priority.nice, 19)
    if (r.isolation.priority.schedPolicy === 'SCHED_IDLE') {
      assert.ok(files.includes('/usr/share/skyline-hello/policy-5'), files.join(' ')) // 5 is SCHED_IDLE
    }
    assert.match(await readFile(r.logPath, 'utf8'), /built with nice 19, policy 5/)
  })

  it('a spec that reaches for the network fails in the sandbox, and the host listener sees nothing', async () => {
    let connections = 0
    const server: Server = createServer(s => { connections++; s.destroy() })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    try {
      const port = (server.address() as { port: number }).port
      // the listener is reachable from the host: the spec's connection would succeed without the sandbox
      const { connect } = await import('node:net')
      await new Promise<void>((resolve, reject) => { const c = connect(port, '127.0.0.1', () => { c.destroy(); resolve() }); c.on('error', reject) })
      assert.equal(connections, 1)
      const net = await makeSignedSrpm(join(dir, 'net'), { spec: 'skyline-net', substitutions: { PORT: String(port) } })
      const r = await builder.build(net.srpmPath, { workDir: join(dir, 'wnet') })
      assert.equal(r.status, 'failed')
      assert.match(r.reason ?? '', /rpmbuild exited with code 1/)
      assert.match(r.logExcerpt ?? '', /no network: cannot connect to 127\.0\.0\.1/)
      assert.equal(r.files.length, 0)
      assert.equal(r.buildHash, undefined)
      await new Promise(resolve => setTimeout(resolve, 100))
      assert.equal(connections, 1, 'the build connected to the host')
    } finally {
      server.close()
    }
  })

  it('the build sees no host file outside the system dirs, and runs as uid 65534', async () => {
    const secret = join(dir, 'secret', 'node.key')
    await mkdir(join(dir, 'secret'), { mode: 0o711 })
    await writeFile(secret, 'the node key', { mode: 0o644 }) // world-readable, yet not in the sandbox
    const snoop = await makeSignedSrpm(join(dir, 'snoop'), { spec: 'skyline-snoop', substitutions: { SECRET: secret } })
    const r = await builder.build(snoop.srpmPath, { workDir: join(dir, 'wsnoop') })
    const log = await readFile(r.logPath, 'utf8')
    assert.equal(r.status, 'ok', `${r.reason}\n${r.logExcerpt}`)
    assert.doesNotMatch(log, /LEAK/)
    assert.match(log, /id: 65534:65534 host: reproducible/)
    assert.equal(r.isolation.uid, 65534)
  })

  it('a build over the time limit is killed and reported failed', async () => {
    const slow = await makeSignedSrpm(join(dir, 'slow'), { spec: 'skyline-slow', substitutions: { SECONDS: '3217' } })
    const { builder: limited } = await detectBuilder('rpmbuild', { limits: { maxBuildTimeMs: 3000 } })
    assert.ok(limited !== undefined)
    const started = Date.now()
    const r = await limited.build(slow.srpmPath, { workDir: join(dir, 'wslow') })
    assert.equal(r.status, 'failed')
    assert.match(r.reason ?? '', /timed out after 3000 ms/)
    assert.ok(Date.now() - started < 15_000, 'killed promptly')
    assert.match(r.logExcerpt ?? '', /sleeping 3217 s/)
    assert.deepEqual(pgrep('sleep 3217'), [])
    assert.deepEqual(pgrep(join(dir, 'wslow')), [])
  })

  it('aborting via the signal kills the build and leaves no process behind', async () => {
    const slow = await makeSignedSrpm(join(dir, 'slow2'), { spec: 'skyline-slow', substitutions: { SECONDS: '3218' } })
    const controller = new AbortController()
    const workDir = join(dir, 'wabort')
    const building = builder.build(slow.srpmPath, {
      workDir,
      signal: controller.signal,
      onProgress: e => { if (e.type === 'build:phase' && e.detail.phase === 'build') setTimeout(() => controller.abort(), 300) }
    })
    await assert.rejects(building, (err: any) => err.name === 'AbortError')
    // it really was running (in the sandbox) before the abort
    const log = await readFile(join(workDir, 'build.log'), 'utf8')
    assert.match(log, /sleeping 3218 s/)
    assert.deepEqual(pgrep('sleep 3218'), [])
    assert.deepEqual(pgrep(workDir), [])
    assert.deepEqual((await readdir(workDir)).sort(), ['build.log'])
  })
})
