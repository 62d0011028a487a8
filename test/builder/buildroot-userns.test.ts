/**
 * A node that is not root installs a buildroot (src/builder/buildroot.ts installBuildroot): rpm --root runs in
 * a user namespace that maps the node's uid to 0. Run as root, the test drops to uid 65534 (setpriv) in a
 * child process, as the packaged `skyline` user would be; skipped where the tools or user namespaces are missing.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { makeBuildrootPackage } from '../helpers/buildroot.ts'
import { missingTools } from '../helpers/srpm.ts'

const SRC = resolve(import.meta.dirname, '../../src/builder/buildroot.ts')

describe('build: a buildroot installed without root', function () {
  this.timeout(120_000)
  let dir: string
  let dep: string, lib: string

  before(async function () {
    if (missingTools(['rpmbuild', 'setpriv', 'unshare']) !== undefined || process.getuid?.() !== 0) this.skip()
    if (spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'unshare', '--user', '--map-root-user', 'true']).status !== 0) this.skip()
    // uid 65534 runs the checkout's own code: a checkout under a private directory (0700) is out of its reach
    if (spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-r', SRC]).status !== 0) this.skip()
    dir = await mkdtemp(join(tmpdir(), 'skyline-userns-'))
    await chmod(dir, 0o777)
    dep = await makeBuildrootPackage(join(dir, 'pkgs'), 'skyline-dep', '1.0')
    lib = await makeBuildrootPackage(join(dir, 'pkgs'), 'skyline-lib', '1.0', 'skyline-dep')
    execFileSync('chmod', ['-R', 'a+rX', join(dir, 'pkgs')])
  })
  after(async () => { if (dir !== undefined) await rm(dir, { recursive: true, force: true }) })

  /** Runs installBuildroot (and removeRoot) as uid 65534; returns its output */
  const asNobody = (paths: string[]): { status: number | null, out: string } => {
    const script = `import { installBuildroot, makeRootDir, removeRoot } from ${JSON.stringify(SRC)}
const root = await makeRootDir()
try {
  await installBuildroot('rpm', root, ${JSON.stringify(paths)})
  const { execFileSync } = await import('node:child_process')
  console.log('uid', process.getuid(), execFileSync('rpm', ['--root', root, '--dbpath', '/usr/lib/sysimage/rpm', '-qa'], { encoding: 'utf8' }).trim().split('\\n').sort().join(' '))
  console.log('file', JSON.stringify((await import('node:fs')).statSync(root + '/usr/share/skyline-lib/version')))
  console.log('root', root)
} catch (err) { console.log('error', err.message); process.exitCode = 3 } finally { await removeRoot(root) }`
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', cwd: dir, env: { PATH: process.env.PATH, HOME: dir, TMPDIR: dir } })
    return { status: r.status, out: r.stdout + r.stderr }
  }

  it('installs exactly the packages as an unprivileged user, files owned by that user, and removes the root', async () => {
    const r = asNobody([dep, lib])
    assert.equal(r.status, 0, r.out)
    assert.match(r.out, /uid 65534 skyline-dep-1\.0-1\.noarch skyline-lib-1\.0-1\.noarch/)
    assert.match(r.out, /"uid":65534/)
    const root = /root (\S+)/.exec(r.out)![1]
    await assert.rejects(stat(root), /ENOENT/)
  })

  it('a set whose dependencies are not met is declined with rpm\'s reason', () => {
    const r = asNobody([lib])
    assert.equal(r.status, 3, r.out)
    assert.match(r.out, /buildroot mismatch: the manifest's packages do not install together \(in a user namespace[^)]*\): .*skyline-dep/)
  })
})
