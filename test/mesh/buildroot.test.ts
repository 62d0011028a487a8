/**
 * Jobs with a buildroot manifest on a real mesh: builders fetch the manifest as a blob, the packages from
 * their own mirrors (createrepo_c repositories served on 127.0.0.1), and build in exactly those packages.
 */
import assert from 'node:assert/strict'
import { chmodSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Server } from 'node:http'
import { startMesh, waitFor, waitForBuilders, tempDir, type TestMesh } from '../helpers/mesh.ts'
import { testAnnouncer, seedSrpm } from '../helpers/announce.ts'
import { makeSignedSrpm, missingTools, type SrpmFixture } from '../helpers/srpm.ts'
import { makeBuildrootPackage, manifestOf, serveMirror } from '../helpers/buildroot.ts'
import type { JobEvent } from '../../src/services/jobs.ts'
import { officialEntry } from '../../src/rpm/official.ts'
import { agreedResult, fetchResult } from '../../src/services/results.ts'
import { officialPhrase } from '../../src/rules/official.ts'
import { checkAttestation } from '../../src/protocols/attestation.ts'

describe('jobs with a buildroot manifest', function () {
  this.timeout(180_000)
  const announcer = testAnnouncer()
  let mesh: TestMesh
  let dir: string
  let srpm: SrpmFixture
  let dep1: string, dep3: string, lib: string
  const servers: Server[] = []
  let newerMirror: { url: string, server: Server, requests: string[] }
  const events: JobEvent[] = []
  /** the job of the first test, agreed */
  let firstJob: string

  before(async function () {
    if (missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap', 'createrepo_c']) !== undefined || process.getuid?.() !== 0) this.skip()
    dir = tempDir()
    chmodSync(dir, 0o711)
    srpm = await makeSignedSrpm(join(dir, 'srpm'), { spec: 'skyline-uses-dep' })
    const pkgs = join(dir, 'pkgs')
    dep1 = await makeBuildrootPackage(pkgs, 'skyline-dep', '1.0')
    const dep2 = await makeBuildrootPackage(pkgs, 'skyline-dep', '2.0')
    dep3 = await makeBuildrootPackage(pkgs, 'skyline-dep', '3.0')
    lib = await makeBuildrootPackage(pkgs, 'skyline-lib', '1.0', 'skyline-dep')
    // two builders see a mirror of the pinned set; the third a mirror that also offers skyline-dep 2.0
    const pinned = await serveMirror(join(dir, 'mirror-a'), [dep1, lib])
    newerMirror = await serveMirror(join(dir, 'mirror-b'), [dep1, dep2, lib])
    servers.push(pinned.server, newerMirror.server)
    mesh = await startMesh(3, { announcers: [announcer.line], builder: 'rpmbuild', keyring: srpm.keyPath }, () => ({}),
      i => ({ buildrootMirrors: [i === 2 ? newerMirror.url : pinned.url] }))
    for (const n of mesh.nodes) n.jobs.addEventListener('job', (e: CustomEvent<JobEvent>) => events.push(e.detail))
    await waitForBuilders(mesh.nodes)
  })
  after(async () => {
    await mesh?.stop()
    for (const s of servers) s.close()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('three builders agree bit-for-bit on a package with BuildRequires, one of them offered a newer version', async () => {
    const { bytes } = await manifestOf([dep1, lib])
    const a = await seedSrpm(mesh.nodes[0], announcer, { path: srpm.srpmPath, nevra: srpm.nevra }, { replicas: 3, quorum: 2, buildroot: bytes })
    firstJob = a.job
    await waitFor('three builds', () => events.filter(e => e.job === a.job && e.state === 'built').length === 3, 120_000)
    await waitFor('a final verdict', () => mesh.nodes.every(n => n.store.verdict(a.job)?.final === true), 60_000)
    const v = mesh.nodes[0].store.verdict(a.job)!
    assert.equal(v.verdict, 'agreed')
    assert.equal(JSON.parse(v.detail).agreeing.length, 3)
    // the builder whose mirror has skyline-dep 2.0 built with 1.0, the pinned one (from its mirror or from a
    // peer that held it already: the package protocol), never 2.0
    assert.ok(!newerMirror.requests.some(r => r.includes('skyline-dep-2.0')), newerMirror.requests.join(' '))
  })

  it('with the official build\'s digests, every builder compares, and the verdict and fetch\'s provenance say: reproduces partly, BUILDTIME and BUILDHOST', async () => {
    // the official build: the agreed output of the first test, as if Koji had built it at another time on
    // another host (its BUILDTIME and BUILDHOST tag digests and so its content sha256 differ; the payload not)
    const agreedFile = mesh.nodes[0].store.build(firstJob)!.files[0]
    const entry = await officialEntry(mesh.nodes[0].libp2p.services.blobs.path(agreedFile.sha256)!)
    const official = { ...entry, sha256: 'f'.repeat(64), tags: { ...entry.tags, 1006: '0'.repeat(32), 1007: '1'.repeat(32) } }
    const { bytes } = await manifestOf([dep1, lib], { official: [official] })
    const a = await seedSrpm(mesh.nodes[2], announcer, { path: srpm.srpmPath, nevra: srpm.nevra }, { replicas: 3, quorum: 2, buildroot: bytes })
    await waitFor('a final verdict', () => mesh.nodes.every(n => n.store.verdict(a.job)?.final === true), 150_000)
    const claim = { reproduces: 'partly', differences: [{ name: agreedFile.name, fields: ['BUILDTIME', 'BUILDHOST'] }] }
    for (const n of mesh.nodes) {
      const detail = JSON.parse(n.store.verdict(a.job)!.detail)
      assert.equal(detail.verdict, 'agreed')
      assert.deepEqual(detail.official, { ...claim, claimedBy: 3, of: 3 })
      // each builder signed it into its attestation (fields 13-14)
      for (const row of n.store.attestations(a.job)) assert.deepEqual(checkAttestation(row.envelope, Date.now()).official, claim)
    }
    const r = agreedResult(mesh.nodes[0], a.job)
    assert.ok(r.ok)
    assert.equal(officialPhrase(r.result), `, reproduces Koji's build: partly (${agreedFile.name}: BUILDTIME, BUILDHOST)`)
    const repo = join(dir, 'repo')
    await fetchResult(mesh.nodes[0], r.result, repo, { signal: AbortSignal.timeout(60_000) })
    const provenance = JSON.parse(readFileSync(join(repo, '.skyline', `${a.job}.json`), 'utf8'))
    assert.deepEqual(provenance.official, { ...claim, claimedBy: 3, of: 3 })
  })

  it('a manifest listing a package nobody has is declined by every builder, never built or attested', async () => {
    const { bytes } = await manifestOf([dep3, lib])
    const a = await seedSrpm(mesh.nodes[1], announcer, { path: srpm.srpmPath, nevra: srpm.nevra }, { replicas: 3, quorum: 2, buildroot: bytes })
    await waitFor('three refusals', () => events.filter(e => e.job === a.job && e.state === 'refused').length === 3, 60_000)
    const mine = events.filter(e => e.job === a.job)
    assert.ok(!mine.some(e => e.state === 'building' || e.state === 'built' || e.state === 'failed'), JSON.stringify(mine))
    for (const r of mine.filter(e => e.state === 'refused')) assert.match(r.error ?? '', /buildroot package missing: skyline-dep-3\.0-1\.noarch/)
    for (const n of mesh.nodes) assert.notEqual(n.store.verdict(a.job)?.verdict, 'disputed')
  })
})
