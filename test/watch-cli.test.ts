import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startMesh, tempDir, waitFor, type TestMesh } from './helpers/mesh.ts'
import { testAnnouncer, seedSrpm } from './helpers/announce.ts'
import { makeSignedSrpm, missingTools } from './helpers/srpm.ts'
import { SKYLINE, collect } from './helpers/cli.ts'

describe('skyline watch (as a process)', function () {
  this.timeout(180_000)
  let dir: string
  let mesh: TestMesh

  before(function () { if (missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap']) !== undefined) this.skip() })
  after(async () => {
    await mesh?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('--json prints the announcement, each attestation and the verdict, one object per line', async () => {
    dir = tempDir()
    const announcer = testAnnouncer()
    writeFileSync(join(dir, 'announcer.pub'), announcer.line + '\n')
    const srpm = await makeSignedSrpm(join(dir, 'srpm'))
    mesh = await startMesh(3, { announcers: [announcer.line], builder: 'rpmbuild', keyring: srpm.keyPath })
    const child = spawn(SKYLINE, ['watch', '--json', '--bootstrap', mesh.nodes[0].libp2p.getMultiaddrs()[0].toString(), '--announcer', join(dir, 'announcer.pub'), '--data-dir', join(dir, 'watch')], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    child.stdout.on('data', d => { stdout += String(d) })
    const lines = (): any[] => stdout.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l))
    await waitFor('the watcher to join', () => mesh.nodes[0].libp2p.getPeers().length >= 3, 30_000)
    await new Promise(resolve => setTimeout(resolve, 1500))
    const { job } = await seedSrpm(mesh.nodes[1], announcer, { path: srpm.srpmPath, nevra: srpm.nevra }, { replicas: 3, quorum: 2 })
    await waitFor('a final verdict line', () => lines().some(l => l.type === 'verdict' && l.final === true), 150_000, 200)
    child.kill('SIGINT')
    const r = await collect(child, 15_000)
    assert.equal(r.code, 0)
    const all = lines()
    assert.ok(all.every(l => ['announcement', 'attestation', 'verdict'].includes(l.type)))
    assert.ok(all.some(l => l.type === 'announcement' && l.job === job && l.nevra === srpm.nevra))
    const attestations = all.filter(l => l.type === 'attestation' && l.job === job)
    assert.equal(attestations.length, 3)
    const verdict = all.filter(l => l.type === 'verdict' && l.job === job).at(-1)
    assert.equal(verdict.verdict, 'agreed')
    assert.equal(verdict.nevra, srpm.nevra)
    assert.equal(verdict.hash, attestations[0].hash)
    assert.deepEqual(verdict.dissenters, [])
  })

  it('without a trusted announcer it says so and exits 2', async () => {
    const r = await collect(spawn(SKYLINE, ['watch', '--bootstrap', '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, XDG_CONFIG_HOME: '/nonexistent' } }), 15_000)
    assert.equal(r.code, 2)
    assert.match(r.stderr, /no trusted announcer/)
  })
})
