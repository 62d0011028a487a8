import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../helpers/mesh.ts'
import { SKYLINE, collect, runCli } from '../helpers/cli.ts'
import { findTools } from '../../src/cli/demo/tools.ts'

/** pids of processes whose command line mentions `text` (the demo's nodes and seeder name their work dir) */
function processesMentioning (text: string): string[] {
  const found: string[] = []
  for (const pid of readdirSync('/proc').filter(p => /^\d+$/.test(p) && p !== String(process.pid))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
      if (cmd.includes(text)) found.push(`${pid}: ${cmd}`)
    } catch {}
  }
  return found
}

describe('skyline demo (as a process)', function () {
  this.timeout(240_000)
  const dirs: string[] = []

  before(function () { if (findTools().missing.length > 0) this.skip() })
  after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })

  it('--nodes 4 seeds with a buildroot manifest, builds and prints an agreed verdict with its build hash on every node, shows the package cache, then stops every node', async () => {
    const dir = tempDir('skyline-demo-test-')
    dirs.push(dir)
    const work = join(dir, 'work')
    const repo = join(dir, 'repo')
    const r = await collect(spawn(SKYLINE, ['demo', '--nodes', '4', '--work-dir', work, '--repo', repo, '--timeout', '150'], { stdio: ['ignore', 'pipe', 'pipe'] }), 200_000)
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
    assert.match(r.stdout, /^RESULT: AGREED {2}hello-skyline-1\.0-1\.src$/m)
    assert.match(r.stdout, /^ {2}build hash {3}[0-9a-f]{64}$/m)
    assert.match(r.stdout, /^ {2}dissenters {3}none$/m)
    assert.match(r.stdout, /^ {2}agreeing .*\(2 of a panel of 2, threshold 3 after escalation\)$/m)
    assert.match(r.stdout, /all 4 nodes hold this same final verdict/)
    // the two stage-1 seats showed their builds, every node its final verdict, live (unanimous: no escalation)
    const firstJob = r.stdout.slice(r.stdout.indexOf('== 3/6'), r.stdout.indexOf('== 4/6'))
    assert.equal(firstJob.match(/node-\d +built and attested/g)?.length, 2, r.stdout)
    for (let i = 0; i < 4; i++) assert.match(r.stdout, new RegExp(`node-${i} +final verdict( changed)?: agreed`))
    assert.match(r.stdout, /node-3 +http:\/\/127\.0\.0\.1:\d+\/status/)
    assert.match(r.stdout, new RegExp(`^REPO: ${repo}$`, 'm'))
    assert.ok(readdirSync(repo).includes('hello-skyline-1.0-1.noarch.rpm') && readdirSync(repo).includes('repodata'), readdirSync(repo).join(' '))
    assert.match(r.stdout, /^dashboard: http:\/\/127\.0\.0\.1:\d+\/ /m)
    assert.match(r.stdout, /every node stopped cleanly/)
    assert.deepEqual(processesMentioning(work), [])

    // announced with a buildroot manifest of made-up packages, served by a createrepo_c mirror on 127.0.0.1
    assert.match(r.stdout, /^\[.{6}\] buildroot {6}3 made-up packages \(rpmbuild\), [\d.]+ KiB: skyline-demo-base-1\.0, skyline-demo-libs-1\.0, skyline-demo-tools-1\.0$/m)
    assert.match(r.stdout, /^\[.{6}\] manifest {7}buildroot\/manifest\.json, sha256 [0-9a-f]{16}…/m)
    assert.match(r.stdout, /^\[.{6}\] mirror {9}http:\/\/127\.0\.0\.1:\d+\/ .*it also offers skyline-demo-base-1\.1-1\.noarch/m)
    assert.match(firstJob, /seed \| buildroot manifest [0-9a-f]{16}: \d+ bytes/)
    // the next release in the same buildroot: agreed, and its builders took the packages from peers or their own cache
    assert.match(r.stdout, /^SECOND: AGREED {2}hello-skyline-1\.0-2\.src [0-9a-f]{16}…, all 4 nodes$/m)
    const cache = r.stdout.slice(r.stdout.indexOf('CACHE:'))
    for (let i = 0; i < 4; i++) assert.match(cache, new RegExp(`^ {2}node-${i} +hello-skyline-1\\.0-1\\.src: .+ hello-skyline-1\\.0-2\\.src: `, 'm'))
    const kib = (text: string): number => /([\d.]+) KiB/.test(text) ? Number(/([\d.]+) KiB/.exec(text)![1]) : /^\s*\d+ B\s*$/.test(text) ? 0 : NaN
    const totals = /^ {2}in all {3}from the mirror ([^,]+), from peers ([^,]+), from caches ([^(]+) \(/m.exec(cache)
    assert.ok(totals !== null, cache)
    const buildroot = kib(/buildroot {6}3 made-up packages \(rpmbuild\), ([\d.]+ KiB)/.exec(r.stdout)![1])
    const [mirror, peers, cached] = totals.slice(1).map(kib)
    // four builds (two per job) each obtained the whole buildroot; the mirror served it at most once per builder of the first job
    assert.ok(Math.abs(mirror + peers + cached - 4 * buildroot) < 0.5, cache)
    assert.ok(mirror >= buildroot - 0.1 && mirror <= 2 * buildroot + 0.1, cache)
    for (const line of cache.split('\n').filter(l => /^ {2}node-/.test(l))) assert.doesNotMatch(line.slice(line.indexOf('hello-skyline-1.0-2.src')), /mirror/, cache)
  })

  it('Ctrl-C while the mesh runs stops every node and exits 1', async () => {
    const dir = tempDir('skyline-demo-test-')
    dirs.push(dir)
    const work = join(dir, 'work')
    const child = spawn(SKYLINE, ['demo', '--nodes', '3', '--work-dir', work, '--repo', join(dir, 'repo')], { stdio: ['ignore', 'pipe', 'pipe'] })
    const done = collect(child, 60_000)
    let stdout = ''
    child.stdout.on('data', d => { stdout += String(d) })
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (/every node is connected|not fully connected/.test(stdout)) { clearInterval(timer); resolve() }
        if (child.exitCode !== null) { clearInterval(timer); reject(new Error(`exited early: ${stdout}`)) }
      }, 50)
    })
    assert.ok(processesMentioning(work).length >= 3, 'the nodes are not running')
    child.kill('SIGINT')
    const r = await done
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`)
    assert.match(r.stdout, /RESULT: interrupted/)
    assert.match(r.stdout, /every node stopped cleanly/)
    assert.deepEqual(processesMentioning(work), [])
  })

  it('bad usage exits 2', async () => {
    const r = await runCli(['demo', '--nodes', 'zero'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--nodes must be a positive integer/)
  })
})
