/**
 * The buildroot package cache against a real mirror (a createrepo_c repository over HTTP on 127.0.0.1):
 * packages located by exact NEVRA, every file checked before use, a damaged cached file fetched again.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Server } from 'node:http'
import { logger } from '@libp2p/logger'
import { PackageCache } from '../../src/services/buildroot/package-cache.ts'
import { BuildrootUnavailableError } from '../../src/builder/index.ts'
import { makeBuildrootPackage, manifestOf, serveMirror } from '../helpers/buildroot.ts'
import { missingTools } from '../helpers/srpm.ts'

describe('buildroot package cache', function () {
  this.timeout(60_000)
  let dir: string
  let mirror: { url: string, server: Server, requests: string[] }
  let dep1: string, dep2: string

  before(async function () {
    if (missingTools(['rpmbuild', 'createrepo_c']) !== undefined) this.skip()
    dir = await mkdtemp(join(tmpdir(), 'skyline-pkgcache-'))
    dep1 = await makeBuildrootPackage(join(dir, 'pkgs'), 'skyline-dep', '1.0')
    dep2 = await makeBuildrootPackage(join(dir, 'pkgs'), 'skyline-dep', '2.0')
    mirror = await serveMirror(join(dir, 'mirror'), [dep1, dep2])
  })
  after(async () => {
    mirror?.server.close()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('fetches the pinned version, serves it from the cache next time, and refetches a cached copy one byte off', async () => {
    const cache = new PackageCache({ directory: join(dir, 'cache'), mirrors: [mirror.url], log: logger('test') })
    const { manifest } = await manifestOf([dep1])
    const first = await cache.obtain(manifest)
    const path = first.packages.get(manifest.packages[0].sha256)!
    assert.deepEqual(await readFile(path), await readFile(dep1))
    first.release()
    assert.equal(cache.stats.fromMirrors, (await readFile(dep1)).length)
    await cache.obtain(manifest)
    assert.equal(cache.stats.fromCache, (await readFile(dep1)).length)
    const fetched = mirror.requests.filter(r => r.endsWith('.rpm'))
    assert.deepEqual(fetched, ['/Packages/skyline-dep-1.0-1.noarch.rpm'])
    // one byte of the cached file flipped: refused, removed, fetched again
    const bytes = await readFile(path)
    bytes[bytes.length - 20] ^= 0x01
    await writeFile(path, bytes)
    await cache.obtain(manifest)
    assert.equal(cache.stats.refused, 1)
    assert.deepEqual(await readFile(path), await readFile(dep1))
    assert.equal(mirror.requests.filter(r => r.endsWith('.rpm')).length, 2)
  })

  it('a package no mirror has is a BuildrootUnavailableError naming it', async () => {
    const cache = new PackageCache({ directory: join(dir, 'cache2'), mirrors: [mirror.url], log: logger('test') })
    const dep3 = await makeBuildrootPackage(join(dir, 'pkgs'), 'skyline-dep', '3.0')
    const { manifest } = await manifestOf([dep3])
    await assert.rejects(cache.obtain(manifest), (err: Error) => err instanceof BuildrootUnavailableError && /buildroot package missing: skyline-dep-3\.0-1\.noarch.*not there/.test(err.message))
  })

  it('stays within its size limit, least recently used out', async () => {
    const size = (await readFile(dep1)).length
    const cache = new PackageCache({ directory: join(dir, 'cache3'), mirrors: [mirror.url], maxBytes: size + 10, log: logger('test') })
    const a = await cache.obtain((await manifestOf([dep1])).manifest)
    a.release()
    const b = await cache.obtain((await manifestOf([dep2])).manifest)
    b.release()
    const left = (await import('node:fs')).readdirSync(join(dir, 'cache3'))
    assert.deepEqual(left, [`${(await manifestOf([dep2])).manifest.packages[0].sha256}.rpm`])
  })
})
