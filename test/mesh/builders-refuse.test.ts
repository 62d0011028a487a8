import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { startMesh, waitFor, tempDir, type TestMesh } from '../helpers/mesh.ts'
import { testAnnouncer, seedSrpm } from '../helpers/announce.ts'
import { makeSignedSrpm, missingTools } from '../helpers/srpm.ts'
import type { JobEvent } from '../../src/services/jobs.ts'
import type { SkylineNode } from '../../src/node/index.ts'

describe('builders refuse SRPMs that fail verification', function () {
  this.timeout(120_000)
  const announcer = testAnnouncer()
  let mesh: TestMesh
  let dir: string
  let trusted: Awaited<ReturnType<typeof makeSignedSrpm>>
  const events: JobEvent[] = []

  before(async function () {
    if (missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap']) !== undefined) this.skip()
    dir = tempDir()
    trusted = await makeSignedSrpm(join(dir, 'trusted'))
    mesh = await startMesh(2, { announcers: [announcer.line], builder: 'rpmbuild', keyring: trusted.keyPath })
    for (const n of mesh.nodes) n.jobs.addEventListener('job', (e: CustomEvent<JobEvent>) => events.push(e.detail))
  })
  after(async () => {
    await mesh?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  const announce = async (node: SkylineNode, path: string, nevra: string): Promise<string> => (await seedSrpm(node, announcer, { path, nevra }, { replicas: 2, quorum: 2 })).job

  for (const [name, make, reason] of [
    ['signed by an untrusted key', async (d: string) => makeSignedSrpm(d), /untrusted key|NOKEY|no trusted/i],
    ['unsigned', async (d: string) => makeSignedSrpm(d, { sign: false }), /unsigned|no signature|not signed/i]
  ] as const) {
    it(`an SRPM ${name} is refused by every assigned builder and never built`, async () => {
      const bad = await make(join(dir, name.replaceAll(' ', '-')))
      const job = await announce(mesh.nodes[0], bad.srpmPath, bad.nevra)
      await waitFor('both builders to decide', () => events.filter(e => e.job === job && (e.state === 'refused' || e.state === 'built' || e.state === 'failed')).length === 2, 60_000)
      const mine = events.filter(e => e.job === job)
      assert.ok(!mine.some(e => e.state === 'building'), JSON.stringify(mine))
      const refused = mine.filter(e => e.state === 'refused')
      assert.equal(refused.length, 2)
      for (const r of refused) assert.match(r.error ?? '', reason)
    })
  }

  it('the same mesh builds a package signed by the trusted key', async () => {
    const job = await announce(mesh.nodes[1], trusted.srpmPath, trusted.nevra)
    await waitFor('two builds', () => events.filter(e => e.job === job && e.state === 'built').length === 2, 60_000)
  })
})
