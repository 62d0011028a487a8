/**
 * `skyline fetch --koji-cg DIR` on a real mesh: a job built in a buildroot manifest's packages is written
 * as a `koji import-cg` directory whose metadata.json passes Koji's documented schema, lists the manifest's
 * packages as the buildroot's components and the agreed RPMs with their sha256; a job announced without a
 * manifest is refused with the reason.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { chmodSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Server } from 'node:http'
import { startMesh, waitFor, waitForBuilders, tempDir, type TestMesh } from '../helpers/mesh.ts'
import { testAnnouncer, seedSrpm } from '../helpers/announce.ts'
import { makeSignedSrpm, missingTools, type SrpmFixture } from '../helpers/srpm.ts'
import { makeBuildrootPackage, manifestOf, serveMirror } from '../helpers/buildroot.ts'
import { runCli } from '../helpers/cli.ts'
import { cgMetadataProblems } from '../helpers/koji-cg.ts'
import { writeKojiCg, KojiCgError } from '../../src/services/koji-cg.ts'

function sha256 (path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}

describe('skyline fetch --koji-cg', function () {
  this.timeout(180_000)
  const announcer = testAnnouncer()
  let mesh: TestMesh
  let dir: string
  let srpm: SrpmFixture
  let server: Server | undefined

  before(async function () {
    if (missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap', 'createrepo_c']) !== undefined || process.getuid?.() !== 0) this.skip()
    dir = tempDir('skyline-koji-cg-')
    chmodSync(dir, 0o711)
    srpm = await makeSignedSrpm(join(dir, 'srpm'), { spec: 'skyline-uses-dep' })
    const pkgs = join(dir, 'pkgs')
    const dep = await makeBuildrootPackage(pkgs, 'skyline-dep', '1.0')
    const lib = await makeBuildrootPackage(pkgs, 'skyline-lib', '1.0', 'skyline-dep')
    const mirror = await serveMirror(join(dir, 'mirror'), [dep, lib])
    server = mirror.server
    mesh = await startMesh(3, { announcers: [announcer.line], builder: 'rpmbuild', keyring: srpm.keyPath }, () => ({}), () => ({ buildrootMirrors: [mirror.url] }))
    await waitForBuilders(mesh.nodes)
    writeFileSync(join(dir, 'announcer.pub'), announcer.line + '\n')
  })
  after(async () => {
    await mesh?.stop()
    server?.close()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('writes the agreed RPMs and a metadata.json that passes Koji\'s schema, with the manifest as the buildroot\'s components', async () => {
    const { bytes, manifest } = await manifestOf(await Promise.all(['skyline-dep-1.0-1.noarch.rpm', 'skyline-lib-1.0-1.noarch.rpm'].map(n => join(dir, 'pkgs', n))))
    const a = await seedSrpm(mesh.nodes[0], announcer, { path: srpm.srpmPath, nevra: srpm.nevra }, { replicas: 3, quorum: 2, buildroot: bytes })
    await waitFor('an agreed final verdict', () => mesh.nodes.every(n => n.store.verdict(a.job)?.final === true), 150_000)
    assert.equal(mesh.nodes[0].store.verdict(a.job)?.verdict, 'agreed')

    const out = join(dir, 'koji-cg')
    const r = await runCli(['fetch', '--koji-cg', out, '--bootstrap', mesh.nodes[0].libp2p.getMultiaddrs()[0].toString(), '--announcer', join(dir, 'announcer.pub'),
      '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(dir, 'fetch-node'), '--wait', '60', '--json', a.job], { timeoutMs: 120_000 })
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
    const line = JSON.parse(r.stdout.trim().split('\n').at(-1)!)
    assert.equal(line.type, 'fetched')
    const buildDir = join(out, 'skyline-uses-dep-1.0-1')
    assert.equal(line.kojiCg.dir, buildDir)
    assert.equal(line.repo, undefined, 'no dnf repository without --repo')

    const metadata = JSON.parse(readFileSync(join(buildDir, 'metadata.json'), 'utf8'))
    assert.deepEqual(cgMetadataProblems(metadata), [])
    assert.deepEqual([metadata.build.name, metadata.build.version, metadata.build.release], ['skyline-uses-dep', '1.0', '1'])
    assert.deepEqual(metadata.buildroots[0].components.map((c: any) => `${c.name}-${c.version}-${c.release}.${c.arch} ${c.sigmd5}`),
      manifest.packages.map(p => `${p.name}-${p.version}-${p.release}.${p.arch} ${p.sigmd5}`))
    assert.equal(metadata.buildroots[0].extra.skyline.manifest_sha256, Buffer.from(a.announcement.buildrootSha256).toString('hex'))
    assert.equal(metadata.build.extra.skyline.job, a.job)
    // every output is in the directory, with the size and sha256 the metadata gives (what koji import-cg uploads and the hub checks)
    const rpms = readdirSync(buildDir).filter(n => n.endsWith('.rpm')).sort()
    assert.deepEqual(metadata.output.map((o: any) => o.filename).sort(), rpms)
    for (const o of metadata.output) {
      assert.equal(o.checksum, sha256(join(buildDir, o.filename)))
      assert.equal(o.filesize, statSync(join(buildDir, o.filename)).size)
    }
  })

  it('refuses a job announced without a buildroot manifest, saying why', async () => {
    const a = await seedSrpm(mesh.nodes[1], announcer, { path: srpm.srpmPath, nevra: srpm.nevra }, { replicas: 3, quorum: 2 })
    const result = { job: a.job, nevra: srpm.nevra, hash: '0'.repeat(64), files: [], agreeing: [], signed: {}, attestations: [] }
    await assert.rejects(writeKojiCg(mesh.nodes[1], result, join(dir, 'koji-cg-2')),
      (err: Error) => err instanceof KojiCgError && /announced without a buildroot manifest/.test(err.message))
    assert.throws(() => readdirSync(join(dir, 'koji-cg-2')), /ENOENT/, 'nothing written')
  })
})
