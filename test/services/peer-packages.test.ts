/**
 * Buildroot packages from peers (src/services/buildroot/peer-packages.ts) on real libp2p nodes on 127.0.0.1:
 * a package one volunteer fetched from the mirror is fetched by the next from it, checked against the
 * manifest; a peer that serves another file under the package's content sha256 is refused and the mirror used.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Server } from 'node:http'
import { makeBuildrootPackage, manifestOf, serveMirror } from '../helpers/buildroot.ts'
import { connectAll, startVolunteer, stopVolunteers, type Volunteer } from '../helpers/package-peers.ts'
import { missingTools } from '../helpers/srpm.ts'
import { decodeAnswer, encodeAnswer, PACKAGE_ANSWER_BYTES } from '../../src/services/buildroot/peer-packages.ts'

describe('buildroot packages from peers', function () {
  this.timeout(120_000)
  let dir: string
  let mirror: { url: string, server: Server, requests: string[] }
  let dep1: string, dep2: string, lib: string
  let vs: Volunteer[] = []

  before(async function () {
    if (missingTools(['rpmbuild', 'createrepo_c']) !== undefined) this.skip()
    dir = await mkdtemp(join(tmpdir(), 'skyline-peerpkg-'))
    dep1 = await makeBuildrootPackage(join(dir, 'pkgs'), 'skyline-dep', '1.0')
    dep2 = await makeBuildrootPackage(join(dir, 'pkgs'), 'skyline-dep', '2.0')
    lib = await makeBuildrootPackage(join(dir, 'pkgs'), 'skyline-lib', '1.0', 'skyline-dep')
    mirror = await serveMirror(join(dir, 'mirror'), [dep1, dep2, lib])
  })
  afterEach(async () => { await stopVolunteers(vs); vs = [] })
  after(async () => {
    mirror?.server.close()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  const mirrorGets = (): number => mirror.requests.filter(r => r.endsWith('.rpm')).length

  it('the second volunteer fetches from the first, not the mirror, and serves on to the third', async () => {
    vs = [await startVolunteer([mirror.url]), await startVolunteer([mirror.url]), await startVolunteer([mirror.url])]
    await connectAll(vs)
    const { manifest } = await manifestOf([dep1, lib])
    const before = mirrorGets()
    ;(await vs[0].cache.obtain(manifest)).release()
    assert.equal(mirrorGets() - before, 2)
    assert.equal(vs[0].cache.stats.fromPeers, 0)
    ;(await vs[1].cache.obtain(manifest)).release()
    ;(await vs[2].cache.obtain(manifest)).release()
    assert.equal(mirrorGets() - before, 2, mirror.requests.join(' '))
    assert.ok(vs[1].cache.stats.fromPeers > 0 && vs[1].cache.stats.fromMirrors === 0)
    assert.ok(vs[2].cache.stats.fromPeers > 0 && vs[2].cache.stats.fromMirrors === 0)
  })

  it('a peer serving another file under the content sha256 is refused; the mirror gives the package', async () => {
    vs = [await startVolunteer([mirror.url]), await startVolunteer([mirror.url])]
    await connectAll(vs)
    const { manifest } = await manifestOf([dep1])
    // the liar's cache holds skyline-dep 2.0 under 1.0's content sha256
    const wanted = manifest.packages[0].sha256
    await writeFile(join(vs[0].dir, 'cache', `${wanted}.rpm`), await readFile(dep2))
    const before = mirrorGets()
    const got = await vs[1].cache.obtain(manifest)
    got.release()
    assert.equal(vs[1].cache.stats.fromPeers, 0)
    assert.equal(mirrorGets() - before, 1)
    // what it kept is the pinned package
    const { manifest: again } = await manifestOf([got.packages.get(wanted)!])
    assert.deepEqual(again.packages, manifest.packages)
  })

  it('answers are fixed-size and refused otherwise', () => {
    const ref = { sha256: 'ab'.repeat(32), size: 12345, chunkSize: 262144, root: 'cd'.repeat(32) }
    const bytes = encodeAnswer(ref)
    assert.equal(bytes.byteLength, PACKAGE_ANSWER_BYTES)
    assert.deepEqual(decodeAnswer(bytes), ref)
    assert.equal(decodeAnswer(encodeAnswer(undefined)), undefined)
    assert.throws(() => decodeAnswer(bytes.subarray(0, 40)), /bad package answer/)
  })
})
