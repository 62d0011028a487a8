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

  it('--nodes 4 seeds, builds and prints an agreed verdict with its build hash on every node, then stops every node', async () => {
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
    assert.equal(r.stdout.match(/node-\d +built and attested/g)?.length, 2, r.stdout)
    for (let i = 0; i < 4; i++) assert.match(r.stdout, new RegExp(`node-${i} +final verdict( changed)?: agreed`))
    assert.match(r.stdout, /node-3 +http:\/\/127\.0\.0\.1:\d+\/status/)
    assert.match(r.stdout, new RegExp(`^REPO: ${repo}$`, 'm'))
    assert.ok(readdirSync(repo).includes('hello-skyline-1.0-1.noarch.rpm') && readdirSync(repo).includes('repodata'), readdirSync(repo).join(' '))
    assert.match(r.stdout, /^dashboard: http:\/\/127\.0\.0\.1:\d+\/ /m)
    assert.match(r.stdout, /every node stopped cleanly/)
    assert.deepEqual(processesMentioning(work), [])
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
