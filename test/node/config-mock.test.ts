/**
 * The mock builder's settings in the node config (src/node/config.ts, docs/config.md): mockConfig,
 * mockIsolation, and for hermetic builds a buildroot_lock.json mock wrote with the repository
 * mock-hermetic-repo made from it.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/node/config.ts'

/** The parts of a buildroot_lock.json (as mock 6 writes it) that a hermetic build reads */
const LOCK = {
  version: '1.1.0',
  buildroot: { rpms: [] },
  bootstrap: { image_digest: `sha256:${'b'.repeat(64)}`, pull_digest: `sha256:${'a'.repeat(64)}`, architecture: 'amd64', id: 'c'.repeat(64) },
  config: { bootstrap_image: 'registry.fedoraproject.org/fedora:42', bootstrap_image_ready: true, target_arch: 'x86_64' }
}

describe('node config: the mock builder', () => {
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'skyline-config-mock-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  const load = async (fields: Record<string, unknown>): Promise<ReturnType<typeof loadConfig>> => {
    const file = join(dir, 'config.json')
    await writeFile(file, JSON.stringify({ dataDir: 'data', ...fields }))
    return loadConfig({ configFile: file }, {})
  }

  it('defaults to mock\'s own defaults and no hermetic builds', async () => {
    assert.deepEqual((await load({})).mock, { config: undefined, isolation: undefined })
  })

  it('takes mockConfig, mockIsolation, and the bootstrap image from a lockfile mock wrote', async () => {
    await writeFile(join(dir, 'lock.json'), JSON.stringify(LOCK))
    const c = await load({ mockConfig: 'fedora-42-x86_64', mockIsolation: 'simple', mockHermeticLock: 'lock.json', mockHermeticRepo: 'hermetic-repo' })
    assert.equal(c.mock.config, 'fedora-42-x86_64')
    assert.equal(c.mock.isolation, 'simple')
    assert.deepEqual(c.mock.hermetic?.bootstrap, {
      image: LOCK.config.bootstrap_image, pullDigest: LOCK.bootstrap.pull_digest, imageDigest: LOCK.bootstrap.image_digest, architecture: 'amd64', id: LOCK.bootstrap.id
    })
    // where mock-hermetic-repo put the image: <repo>/<image without its tag>@<pull digest>
    assert.equal(c.mock.hermetic?.imageDir, join(dir, 'hermetic-repo', `registry.fedoraproject.org/fedora@${LOCK.bootstrap.pull_digest}`))
  })

  it('refuses bad settings with one line naming the field', async () => {
    await assert.rejects(load({ mockIsolation: 'chroot' }), /mockIsolation must be nspawn or simple/)
    await assert.rejects(load({ mockConfig: '--enable-network' }), /mockConfig: bad mock config/)
    await assert.rejects(load({ mockHermeticLock: 'lock.json' }), /mockHermeticLock and mockHermeticRepo go together/)
    await writeFile(join(dir, 'unready.json'), JSON.stringify({ ...LOCK, config: { ...LOCK.config, bootstrap_image_ready: false } }))
    await assert.rejects(load({ mockHermeticLock: 'unready.json', mockHermeticRepo: 'r' }), /bootstrap_image_ready/)
    await writeFile(join(dir, 'nobootstrap.json'), JSON.stringify({ ...LOCK, bootstrap: {} }))
    await assert.rejects(load({ mockHermeticLock: 'nobootstrap.json', mockHermeticRepo: 'r' }), /no usable bootstrap\.pull_digest/)
    await writeFile(join(dir, 'broken.json'), '{')
    await assert.rejects(load({ mockHermeticLock: 'broken.json', mockHermeticRepo: 'r' }), { name: 'ConfigError' })
    await assert.rejects(load({ mockHermeticLock: 'missing.json', mockHermeticRepo: 'r' }), /cannot read mock lockfile/)
  })
})
