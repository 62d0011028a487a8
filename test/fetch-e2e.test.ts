/**
 * End to end, as a user runs it: `skyline demo --keep` (a mesh of node processes that builds and agrees
 * on the bundled SRPM), then `skyline fetch` into a new repository, then `dnf repoquery` with a config
 * of its own (only that repository, from file://) lists the package, and the RPM in the repository has
 * the sha256 that the agreeing builders signed (read from a node's own store, not from fetch's output).
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { tempDir } from './helpers/mesh.ts'
import { SKYLINE, collect, runCli } from './helpers/cli.ts'
import { replicasFor } from '../src/cli/demo/seed.ts'
import { checkAttestation } from '../src/protocols/attestation.ts'

function sha256 (path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}

/** `dnf repoquery` against one file:// repository and nothing else: its own config, cache and reposdir */
function repoquery (dir: string, repo: string, args: string[]): string {
  const conf = join(dir, 'dnf.conf')
  mkdirSync(join(dir, 'repos.d'), { recursive: true })
  writeFileSync(conf, [
    '[main]', `cachedir=${join(dir, 'cache')}`, `reposdir=${join(dir, 'repos.d')}`, `logdir=${dir}`, `persistdir=${join(dir, 'persist')}`,
    'gpgcheck=0', 'install_weak_deps=0', '',
    '[skyline-e2e]', 'name=Skyline agreed RPMs', `baseurl=file://${repo}`, 'enabled=1', 'gpgcheck=0', 'metadata_expire=0', ''
  ].join('\n'))
  return execFileSync('dnf', ['-q', '-c', conf, '--releasever', '0', '--disablerepo', '*', '--enablerepo', 'skyline-e2e', 'repoquery', ...args], { encoding: 'utf8', timeout: 60_000 })
}

describe('results as a dnf repository: demo, skyline fetch, dnf repoquery', function () {
  this.timeout(300_000)
  let dir = ''
  let pids: number[] = []

  before(() => {
    for (const tool of ['dnf', 'createrepo_c', 'rpmbuild', 'bwrap']) {
      try { execFileSync('sh', ['-c', `command -v ${tool}`]) } catch { throw new Error(`${tool} is missing: run npm run setup`) }
    }
    dir = tempDir('skyline-fetch-e2e-')
  })

  after(() => {
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch {} }
    rmSync(dir, { recursive: true, force: true })
  })

  it('fetches the agreed RPM into a repository dnf can query, with the sha256 the builders attested', async () => {
    const work = join(dir, 'work')
    const demoRepo = join(dir, 'demo-repo')
    const demo = await collect(spawn(SKYLINE, ['demo', '--nodes', '4', '--keep', '--work-dir', work, '--repo', demoRepo, '--timeout', '150'], { stdio: ['ignore', 'pipe', 'pipe'] }), 220_000)
    const kill = /stop it with: {2}kill ([\d ]+)$/m.exec(demo.stdout)
    pids = kill === null ? [] : kill[1].trim().split(/\s+/).map(Number)
    assert.equal(demo.code, 0, `${demo.stdout}\n${demo.stderr}`)
    assert.match(demo.stdout, /^RESULT: AGREED {2}hello-skyline-1\.0-1\.src$/m)
    assert.equal(pids.length, 4, 'the kept nodes')
    const job = /^ {2}job {10}([0-9a-f]{64})$/m.exec(demo.stdout)?.[1]
    assert.ok(job !== undefined, demo.stdout)
    const boot = /node-0 .*(\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\w+)/.exec(demo.stdout)?.[1]
    assert.ok(boot !== undefined, demo.stdout)

    // skyline fetch by NEVRA into a new repository, as a requester elsewhere would
    const repo = join(dir, 'repo')
    const fetched = await runCli(['fetch', '--repo', repo, '--bootstrap', boot, '--announcer', join(work, 'announcer.key.pub'), '--listen', '/ip4/127.0.0.1/tcp/0',
      '--data-dir', join(dir, 'fetch-node'), '--wait', '60', '--json', 'hello-skyline-1.0-1.src'], { timeoutMs: 120_000 })
    assert.equal(fetched.code, 0, `${fetched.stdout}\n${fetched.stderr}`)
    const line = JSON.parse(fetched.stdout.trim().split('\n').at(-1)!)
    assert.equal(line.type, 'fetched')
    assert.equal(line.job, job)
    assert.deepEqual(line.written, ['hello-skyline-1.0-1.noarch.rpm'])

    // the agreed attestations, from a builder's own store (the nodes are stopped first: kill -TERM, wait)
    for (const pid of pids) { try { process.kill(pid, 'SIGTERM') } catch {} }
    const deadline = Date.now() + 15_000
    while (pids.some(p => existsSync(`/proc/${p}`)) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
    const db = new DatabaseSync(join(work, 'node-0', 'skyline.db'), { readOnly: true })
    const verdict = db.prepare('SELECT verdict, hash, final, detail FROM verdicts WHERE job = ?').get(job) as any
    const envelopes = (db.prepare('SELECT envelope FROM attestations WHERE job = ?').all(job) as any[]).map(r => new Uint8Array(r.envelope))
    db.close()
    assert.equal(verdict.verdict, 'agreed')
    assert.equal(verdict.final, 1)
    const agreeing: string[] = JSON.parse(verdict.detail).agreeing
    const attested = envelopes.map(e => checkAttestation(e, Number.POSITIVE_INFINITY)).filter(a => agreeing.includes(a.builder))
    // the 4-node demo's panel: all of its stage-1 seats agree (src/cli/demo/seed.ts replicasFor)
    assert.ok(attested.length >= replicasFor(4).replicas, `${attested.length} agreeing attestations`)
    const file = attested[0].files.find(f => f.name === 'hello-skyline-1.0-1.noarch.rpm')
    assert.ok(file !== undefined)
    for (const a of attested) assert.equal(a.buildHash, verdict.hash)

    // dnf, with a config of its own, sees the package in the repository
    const q = repoquery(dir, repo, ['--qf', '%{name} %{version}-%{release} %{arch} %{location}'])
    assert.match(q, /^hello-skyline 1\.0-1 noarch hello-skyline-1\.0-1\.noarch\.rpm$/m)
    assert.equal(sha256(join(repo, 'hello-skyline-1.0-1.noarch.rpm')), file.sha256, 'the RPM in the repository is the one the builders attested')
    // the demo's own repository holds the same file
    assert.equal(sha256(join(demoRepo, 'hello-skyline-1.0-1.noarch.rpm')), file.sha256)
    assert.ok(readdirSync(join(repo, '.skyline')).includes(`${job}.json`), 'provenance recorded')
  })

  it('refuses bad usage with exit 2', async () => {
    const none = await runCli(['fetch', '--bootstrap', '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGRUVh7dbYB6SVzsSSQpK6jyW4d5QhZ2PJvuMqN5ohc7L', 'x'])
    assert.equal(none.code, 2)
    assert.match(none.stderr, /--repo DIR/)
    const noJobs = await runCli(['fetch', '--repo', join(dir, 'r2'), '--bootstrap', '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGRUVh7dbYB6SVzsSSQpK6jyW4d5QhZ2PJvuMqN5ohc7L'])
    assert.equal(noJobs.code, 2)
    assert.match(noJobs.stderr, /--all/)
  })
})
