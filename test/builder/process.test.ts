import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BoundedLog, runLimited } from '../../src/builder/process.ts'
import { bwrapArgs } from '../../src/builder/sandbox.ts'
import { resolveLimits } from '../../src/builder/index.ts'

const ENV = { PATH: '/usr/bin:/bin' }

function alive (pattern: string): boolean {
  try {
    execFileSync('pgrep', ['-f', pattern])
    return true
  } catch {
    return false
  }
}

describe('build: process limits', function () {
  this.timeout(20_000)

  it('keeps the head and the tail of a long log, and says what was dropped', () => {
    const log = new BoundedLog(100)
    for (let i = 0; i < 100; i++) log.append(Buffer.from(`line ${String(i).padStart(3, '0')}\n`))
    const text = log.text()
    assert.ok(text.startsWith('line 000\nline 001\n'))
    assert.ok(text.endsWith('line 099\n'))
    assert.match(text, /\[\.\.\. 800 bytes of log dropped \.\.\.\]/)
    assert.equal(log.total, 900)
    assert.equal(log.excerpt(20), 'line 098\nline 099\n')
    const short = new BoundedLog(1000)
    short.append(Buffer.from('a\nb\n'))
    assert.equal(short.text(), 'a\nb\n')
    assert.equal(short.excerpt(100), 'a\nb\n')
  })

  it('kills the whole process group on timeout, children included', async () => {
    const r = await runLimited({ command: '/bin/sh', args: ['-c', 'sleep 4711 & sleep 4712; wait'], env: ENV, timeoutMs: 300, maxLogBytes: 1000, killGraceMs: 500 })
    assert.equal(r.killed, 'timeout')
    assert.ok(!alive('sleep 471[12]'))
  })

  it('kills on abort, and SIGKILLs what ignores SIGTERM after the grace period', async () => {
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 200)
    const started = Date.now()
    const r = await runLimited({ command: '/bin/sh', args: ['-c', 'trap "" TERM; sleep 4713 & wait; wait'], env: ENV, signal: controller.signal, timeoutMs: 10_000, maxLogBytes: 1000, killGraceMs: 300 })
    assert.equal(r.killed, 'aborted')
    assert.ok(Date.now() - started < 5000)
    assert.ok(!alive('sleep 4713'))
  })

  it('kills a command that fills its directory past the disk limit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'skyline-disk-'))
    try {
      const r = await runLimited({
        command: '/bin/sh', args: ['-c', `head -c 3000000 /dev/zero > ${dir}/big; sleep 4714`], env: ENV,
        timeoutMs: 10_000, maxLogBytes: 1000, diskDir: dir, maxDiskBytes: 1_000_000, diskCheckIntervalMs: 100, killGraceMs: 300
      })
      assert.equal(r.killed, 'disk')
      assert.ok((r.diskBytes ?? 0) > 1_000_000)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('passes only the given environment', async () => {
    process.env.SOURCE_DATE_EPOCH = '12345'
    try {
      const r = await runLimited({ command: '/usr/bin/env', args: [], env: { PATH: '/usr/bin', TZ: 'UTC' }, timeoutMs: 5000, maxLogBytes: 1000 })
      assert.equal(r.exitCode, 0)
      assert.equal(r.output.text(), 'PATH=/usr/bin\nTZ=UTC\n')
    } finally {
      delete process.env.SOURCE_DATE_EPOCH
    }
  })

  it('builds a bwrap command line with no network, nothing of the host but system dirs, and every tmpfs capped', () => {
    const args = bwrapArgs({ bwrap: 'bwrap', features: { disableUserns: true }, treeBytes: 4096, tmpfsBytes: 1024, shmBytes: 2048, srpmName: 'x.src.rpm', env: { PATH: '/usr/bin' } })
    assert.ok(args.includes('--unshare-all'))
    assert.ok(!args.includes('--share-net'))
    for (const flag of ['--die-with-parent', '--new-session', '--disable-userns']) assert.ok(args.includes(flag), flag)
    assert.deepEqual(args.slice(args.indexOf('--cap-drop'), args.indexOf('--cap-drop') + 2), ['--cap-drop', 'ALL'])
    assert.deepEqual(args.slice(args.indexOf('--uid'), args.indexOf('--uid') + 4), ['--uid', '65534', '--gid', '65534'])
    const bound = args.flatMap((a, i) => a.endsWith('bind') ? [args[i + 1]] : [])
    assert.deepEqual(bound.filter(p => !['/usr', '/etc', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'].includes(p)), [])
    assert.ok(!args.some(a => a.includes('bind') && !a.startsWith('--ro-bind')), 'no writable bind of a host path')
    // every tmpfs has a size, and /dev itself is read-only
    const tmpfs = args.flatMap((a, i) => a === '--tmpfs' ? [[args[i - 2], args[i - 1], args[i + 1]]] : [])
    assert.deepEqual(tmpfs.map(([, , dir]) => dir), ['/dev/shm', '/tmp', '/var/tmp', '/build'])
    assert.deepEqual(tmpfs.map(([flag, size]) => `${flag} ${size}`), ['--size 2048', '--size 1024', '--size 1024', '--size 4096'])
    assert.ok(args.join(' ').includes('--remount-ro /dev'))
    assert.ok(args.join(' ').includes('--file 3 /build/input/x.src.rpm'))
    assert.ok(args.includes('--clearenv'))
    assert.equal(args.at(-1), '--')
  })

  it('fills in default limits and refuses nonsense', () => {
    assert.equal(resolveLimits().maxConcurrentBuilds, 1)
    assert.equal(resolveLimits({ maxBuildTimeMs: 5 }).maxBuildTimeMs, 5)
    assert.throws(() => resolveLimits({ maxLogBytes: 0 }), RangeError)
    assert.throws(() => resolveLimits({ maxDiskBytes: 1.5 }), RangeError)
  })
})
