import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { startMesh, tempDir, waitFor, type TestMesh } from '../helpers/mesh.ts'
import { makeSignedSrpm, missingTools } from '../helpers/srpm.ts'
import { runCli } from '../helpers/cli.ts'
import type { JobEvent } from '../../src/services/jobs.ts'
import { createAttestation, createEquivocationProof, encodeConsensusMessage } from '../../src/protocols/attestation.ts'
import { loadOrCreateIdentity } from '../../src/node/identity.ts'
import { makeBuildrootPackage, manifestOf } from '../helpers/buildroot.ts'

describe('skyline seed (as a process)', function () {
  this.timeout(180_000)
  let dir: string
  let mesh: TestMesh
  let srpm: Awaited<ReturnType<typeof makeSignedSrpm>>
  let keyFile: string
  const events: JobEvent[] = []

  before(async function () {
    if (missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap']) !== undefined) this.skip()
    dir = tempDir()
    keyFile = join(dir, 'announcer.key')
    const k = await runCli(['keys', 'generate', '--out', keyFile])
    assert.equal(k.code, 0, k.stderr)
    srpm = await makeSignedSrpm(join(dir, 'srpm'))
    mesh = await startMesh(4, { announcers: [`${keyFile}.pub`], builder: 'rpmbuild', keyring: srpm.keyPath })
    for (const n of mesh.nodes) n.jobs.addEventListener('job', (e: CustomEvent<JobEvent>) => events.push(e.detail))
  })
  after(async () => {
    await mesh?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  const seed = async (...args: string[]): Promise<Awaited<ReturnType<typeof runCli>>> => runCli(['seed', '--key', keyFile, '--keyring', srpm.keyPath,
    '--bootstrap', mesh.nodes[0].libp2p.getMultiaddrs()[0].toString(), '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(dir, 'seed'), ...args], { timeoutMs: 120_000 })

  it('verifies, announces, and stays up until every assigned builder holds the SRPM', async () => {
    const r = await seed('--replicas', '3', '--quorum', '2', srpm.srpmPath)
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout, new RegExp(`verified ${srpm.nevra}`))
    assert.match(r.stdout, /announced .* r=3 q=2/)
    assert.match(r.stdout, /reached builder .* \(3\/3\)/)
    // and those builders build it
    await waitFor('3 builds', () => events.filter(e => e.state === 'built').length === 3, 150_000).catch(err => { throw new Error(`${err.message}: ${JSON.stringify(events)}`) })
  })

  it('--buildroot: stays up until every stage-1 builder holds the buildroot manifest too (fetched after the SRPM)', async () => {
    const { bytes, sha256 } = await manifestOf([await makeBuildrootPackage(join(dir, 'pkgs'), 'skyline-dep', '1.0')])
    const manifest = join(dir, 'manifest.json')
    writeFileSync(manifest, bytes)
    // builders that take their time between the SRPM and the manifest (verifying a large SRPM does): 1.5 s here
    const slow = mesh.nodes.map(n => {
      const jobs = n.jobs as unknown as { refusal: (...args: unknown[]) => Promise<string | undefined> }
      const refusal = jobs.refusal
      jobs.refusal = async (...args) => { await new Promise(resolve => setTimeout(resolve, 1500)); return refusal.apply(jobs, args) }
      return () => { jobs.refusal = refusal }
    })
    let r
    try {
      r = await seed('--replicas', '3', '--quorum', '2', '--buildroot', manifest, srpm.srpmPath)
    } finally {
      for (const restore of slow) restore()
    }
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const tails = /: builders (.+)$/m.exec(r.stdout)![1].split(', ')
    const builders = mesh.nodes.filter(n => tails.some(t => n.peerId.endsWith(t)))
    assert.equal(builders.length, 3, r.stdout)
    // checked the moment the seeder has exited: no builder is left to find the manifest without its seeder
    for (const b of builders) assert.ok(b.libp2p.services.blobs.path(sha256) !== undefined, `${b.peerId.slice(-8)} lacks the manifest`)
  })

  it('--repo waits for the verdict and fetches the agreed RPMs into a dnf repository', async () => {
    const repo = join(dir, 'repo')
    // the same SRPM again: a new announcement (new beacon, new job), built again by its builders
    const r = await seed('--replicas', '3', '--quorum', '2', '--repo', repo, srpm.srpmPath)
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const m = new RegExp(`${srpm.nevra.replace(/[.+]/g, '\\$&')}: agreed ([0-9a-f]{16}); 1 RPM\\(s\\) checked and written to ${repo}`).exec(r.stdout)
    assert.ok(m !== null, r.stdout)
    const rpms = readdirSync(repo).filter(f => f.endsWith('.rpm'))
    assert.equal(rpms.length, 1)
    assert.ok(existsSync(join(repo, 'repodata', 'repomd.xml')))
    // the file is the one the agreeing builders built
    const builder = mesh.nodes.find(n => n.store.build(n.store.jobs().at(-1)?.job ?? '')?.status === 'ok')
    assert.ok(builder !== undefined)
    const record = builder.store.build(builder.store.jobs().at(-1)!.job)!
    assert.equal(record.buildHash?.slice(0, 16), m[1])
    assert.equal(createHash('sha256').update(readFileSync(join(repo, rpms[0]))).digest('hex'), record.files.find(f => f.name === rpms[0])?.sha256)
  })

  it('refuses an SRPM that fails verification, with the reason, and announces nothing', async () => {
    const other = await makeSignedSrpm(join(dir, 'other'))
    const before = mesh.nodes[1].store.listAnnouncements().length
    const r = await seed(other.srpmPath)
    assert.equal(r.code, 1)
    assert.match(r.stdout, /refused: .*untrusted key [0-9a-f]{16}/)
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.equal(mesh.nodes[1].store.listAnnouncements().length, before)
  })

  it('lists no builder banned for equivocation among the candidates', async () => {
    // the attack: a builder signs two different claims for one job; the proof is gossiped and every node
    // bans it. A seeder that starts afterwards learns the ban by sync, and must not list it: it could
    // never take a seat, so listing it wastes one of the 2r places (and a seat, where spares run out)
    const cheat = mesh.nodes[3]
    const { privateKey } = await loadOrCreateIdentity(cheat.config.dataDir)
    const job = createHash('sha256').update('some job').digest('hex')
    const ok = createAttestation({ job, status: 'ok', files: [{ name: 'a-1-1.noarch.rpm', size: 1, sha256: '00'.repeat(32) }], time: Date.now() }, privateKey)
    const failed = createAttestation({ job, status: 'failed', time: Date.now() }, privateKey)
    const proof = createEquivocationProof(ok, failed)
    assert.equal(await mesh.nodes[0].verdicts.ingest('equivocation', proof), true)
    await mesh.nodes[0].publish('consensus', encodeConsensusMessage({ equivocation: proof }))
    await waitFor('every other node to ban it', () => mesh.nodes.slice(1, 3).every(n => n.store.isBanned(cheat.peerId.toString())), 10_000)
    // r = 2: up to 4 candidates, and the mesh has 4 builders, the banned one included
    const before = mesh.nodes[0].store.listAnnouncements().length
    const r = await seed('--replicas', '2', '--quorum', '2', '--wait', '30', '--data-dir', join(dir, 'seed-after-ban'), srpm.srpmPath)
    const announced = mesh.nodes[0].store.listAnnouncements()
    assert.equal(announced.length, before + 1, r.stdout + r.stderr)
    const candidates = mesh.nodes[0].announcements.get(announced.at(-1)!.job)!.candidates.map(String)
    assert.ok(!candidates.includes(cheat.peerId), `the banned ${cheat.peerId} is listed: ${candidates.join(' ')}`)
    assert.equal(candidates.length, 3)
    // and the seeder does not wait for a builder that will never fetch
    assert.equal(r.code, 0, r.stdout + r.stderr)
  })

  it('an unreadable SRPM or bad flags are exit code 2', async () => {
    assert.equal((await seed(join(dir, 'missing.src.rpm'))).code, 2)
    assert.equal((await seed('--replicas', 'many', srpm.srpmPath)).code, 2)
    const noKey = await runCli(['seed', '--keyring', srpm.keyPath, srpm.srpmPath])
    assert.equal(noKey.code, 2)
    assert.match(noKey.stderr, /--key F .* is required/)
    const officialAlone = await seed('--official', srpm.srpmPath, srpm.srpmPath)
    assert.equal(officialAlone.code, 2)
    assert.match(officialAlone.stderr, /--official goes with --buildroot or --koji-buildroot/)
    const longValidity = await seed('--validity', String(8 * 24 * 3600), srpm.srpmPath)
    assert.equal(longValidity.code, 2)
    assert.match(longValidity.stderr, /--validity must be at most 604800 seconds/)
    const stageAfterDeadline = await seed('--stage', '120', '--validity', '60', srpm.srpmPath)
    assert.equal(stageAfterDeadline.code, 2)
    assert.match(stageAfterDeadline.stderr, /--stage must be shorter than --validity/)
  })
})
