/**
 * The node's build directories (src/builder/workdir.ts): made by the node in its data directory, 0700, and
 * a directory someone else prepared is refused. The attacks are a local user's: a directory made first
 * (other owner), left open (mode), or a symlink where the node will write.
 */
import assert from 'node:assert/strict'
import { chmod, chown, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildWorkDir, makeJobDir, prepareWorkDir } from '../../src/builder/workdir.ts'

const JOB = 'ab'.repeat(32)

describe('build: the node\'s work directories', () => {
  let dataDir: string

  beforeEach(async () => { dataDir = await mkdtemp(join(tmpdir(), 'skyline-workdir-')) })
  afterEach(async () => { await rm(dataDir, { recursive: true, force: true }) })

  it('builds under the data directory, in a directory the node creates with mode 0700', async () => {
    const root = buildWorkDir(dataDir)
    assert.equal(root, join(dataDir, 'work'))
    const st = await stat(root)
    assert.equal(st.mode & 0o777, 0o700)
    assert.equal(st.uid, process.geteuid?.())
    assert.equal(buildWorkDir(dataDir), root, 'its own directory is used again')
    const job = makeJobDir(root, JOB)
    assert.equal((await stat(job)).mode & 0o777, 0o700)
  })

  it('refuses a work directory another user made first', async function () {
    if (process.geteuid?.() !== 0) this.skip() // only root can make a directory owned by someone else
    await mkdir(join(dataDir, 'work'), { mode: 0o700 })
    await chown(join(dataDir, 'work'), 4321, 4321)
    assert.throws(() => buildWorkDir(dataDir), /owned by uid 4321, not by this node/)
  })

  it('refuses a work directory of its own that others can enter or write', async () => {
    await mkdir(join(dataDir, 'work'))
    await chmod(join(dataDir, 'work'), 0o1777)
    assert.throws(() => buildWorkDir(dataDir), /has mode 1777: it must be 700/)
    await chmod(join(dataDir, 'work'), 0o711)
    assert.throws(() => buildWorkDir(dataDir), /has mode 711/)
  })

  it('refuses a symlink in place of the work directory, and never follows one', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'skyline-elsewhere-'))
    try {
      await symlink(elsewhere, join(dataDir, 'work'))
      assert.throws(() => buildWorkDir(dataDir), /is not a directory \(a symlink\)/)
    } finally {
      await rm(elsewhere, { recursive: true, force: true })
    }
  })

  it('a job directory left over is removed without following the links in it', async () => {
    const root = buildWorkDir(dataDir)
    const outside = join(dataDir, 'outside')
    await mkdir(outside)
    await writeFile(join(outside, 'keep'), 'kept')
    await mkdir(join(root, JOB))
    await symlink(outside, join(root, JOB, 'link'))
    makeJobDir(root, JOB)
    assert.equal((await stat(join(outside, 'keep'))).size, 4)
    assert.throws(() => makeJobDir(root, '../escape'), /bad job id/)
  })

  it('a build\'s work directory must be an empty directory of the node, not a symlink', async () => {
    await prepareWorkDir(join(dataDir, 'w'))
    await writeFile(join(dataDir, 'w', 'x'), '')
    await assert.rejects(prepareWorkDir(join(dataDir, 'w')), /is not empty/)
    await symlink(join(dataDir, 'w'), join(dataDir, 'l'))
    await assert.rejects(prepareWorkDir(join(dataDir, 'l')), /a symlink/)
  })
})
