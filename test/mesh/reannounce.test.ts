import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { startMesh, waitFor, waitForBuilders, tempDir, type TestMesh } from '../helpers/mesh.ts'
import { testAnnouncer, seedSrpm } from '../helpers/announce.ts'
import { makeSignedSrpms } from '../helpers/srpms.ts'
import { missingTools } from '../helpers/srpm.ts'
import { PoisoningBuilder } from '../helpers/byzantine.ts'
import { rankBySaltedPosition } from '../../src/rules/position.ts'
import { jobKey } from '../../src/rules/job.ts'
import { attemptOf, createAnnouncement, type CheckedAnnouncement, type RetryLink } from '../../src/protocols/announce.ts'
import { stringifyTopic } from '../../src/protocols/ids.ts'
import { detectBuilder } from '../../src/builder/index.ts'
import { followVerdicts, type SeededJob } from '../../src/cli/seed-verdicts.ts'
import type { PeerId } from '@libp2p/interface'

const TARGET = 'fedora-41-x86_64'
/** four seats, all of the four builders: two stage-1 seats, two escalation seats, three of the four decide */
const PANEL = { panel: 2, escalation: 2, threshold: 3, stageMs: 10 * 60_000 }

describe('rules v2: a blocked job is announced again with a fresh beacon (the seeder\'s verdict follower, 5 nodes, real builders)', function () {
  this.timeout(600_000)
  const announcer = testAnnouncer()
  let mesh: TestMesh
  let dir: string
  let srpms: Array<{ path: string, nevra: string }>
  let poisoners: PoisoningBuilder[]
  let builders: PeerId[]

  before(async function () {
    if (missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap']) !== undefined) this.skip()
    dir = tempDir()
    const made = await makeSignedSrpms(dir, 2)
    srpms = made.srpms
    const real = (await detectBuilder('rpmbuild')).builder!
    poisoners = Array.from({ length: 5 }, () => new PoisoningBuilder(real))
    mesh = await startMesh(5, { announcers: [announcer.line], builder: 'rpmbuild', keyring: made.keyPath }, i => ({ builder: poisoners[i] }))
    await waitForBuilders(mesh.nodes)
    // node 0 seeds; nodes 1..4 are the only candidates, so every attempt seats all four; 3 and 4 poison
    builders = mesh.nodes.slice(1).map(n => n.libp2p.peerId)
    poisoners[3].poison = true
    poisoners[4].poison = true
  })

  after(async () => {
    await mesh?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  /**
   * Announces the SRPM from node 0 with a beacon that seats exactly one poisoner in stage 1 (two in stage 1
   * would own it): two poisoned seats of four then block every attempt (2 + 2 < T = 3)
   */
  async function announce (srpm: { path: string, nevra: string }, retry?: RetryLink): Promise<CheckedAnnouncement> {
    const seeder = mesh.nodes[0]
    const m = await seeder.libp2p.services.blobs.add(srpm.path)
    const bad = new Set([mesh.nodes[3].peerId, mesh.nodes[4].peerId])
    let beacon = randomBytes(32)
    const stage1 = (b: Buffer): string[] => rankBySaltedPosition(jobKey(Buffer.from(m.sha256, 'hex'), TARGET, b), b, builders).slice(0, 2).map(String)
    while (stage1(beacon).filter(p => bad.has(p)).length !== 1) beacon = randomBytes(32)
    return seedSrpm(seeder, announcer, srpm, { replicas: 0, quorum: 0, target: TARGET, beacon, panel: PANEL, candidates: builders, retry })
  }

  const seeded = (c: CheckedAnnouncement): SeededJob => ({ job: c.job, nevra: c.announcement.nevra, attempt: attemptOf(c.announcement), v2: true })

  /** Follows one SRPM from its first announcement with the seeder's own follower; returns its attempts and the follower's output */
  async function follow (srpm: { path: string, nevra: string }, before?: (next: number) => void): Promise<{ ok: boolean, attempts: CheckedAnnouncement[], output: string }> {
    const attempts = [await announce(srpm)]
    let output = ''
    const ok = await followVerdicts([seeded(attempts[0])], {
      node: mesh.nodes[0],
      deadline: Date.now() + 500_000,
      signal: AbortSignal.timeout(500_000),
      out: { write: (s: string) => { output += s; return true } } as unknown as NodeJS.WritableStream,
      reannounce: async blocked => {
        before?.(blocked.attempt + 1)
        const next = await announce(srpm, { of: blocked.job, attempt: blocked.attempt + 1 })
        attempts.push(next)
        return seeded(next)
      }
    })
    return { ok, attempts, output }
  }

  it('a job blocked on every attempt is announced again twice, then stays blocked: every node holds the chain and counts one blocked job in the throttle', async () => {
    const { ok, attempts, output } = await follow(srpms[0])
    assert.equal(ok, false, output)
    assert.equal(attempts.length, 3, output)
    assert.match(output, /blocked \(attempt 3 of 3\): not fetched/)
    for (const [i, a] of attempts.entries()) assert.deepEqual(a.retry, i === 0 ? undefined : { of: attempts[i - 1].job, attempt: i + 1 })
    await waitFor('every node to hold three final blocked verdicts', () => mesh.nodes.every(n => attempts.every(a => {
      const v = n.store.verdict(a.job)
      return v?.final === true && v.verdict === 'blocked'
    })), 60_000, 200)
    for (const n of mesh.nodes) {
      for (const a of attempts.slice(1)) assert.deepEqual(n.announcements.get(a.job)?.retry, a.retry, `node ${n.peerId}`)
      const t = n.verdicts.throttleState()
      assert.deepEqual([t.window.size, t.window.disputed], [1, 1], `node ${n.peerId}: ${JSON.stringify(t)}`)
      assert.deepEqual(n.status().verdicts.filter(v => v.retryOf !== undefined).map(v => [v.retryOf, v.attempt]).sort(), attempts.slice(1).map(a => [a.retry!.of, a.retry!.attempt]).sort())
    }
  })

  it('a retry ends agreed once the poisoners stop; the blocked attempt no longer counts in the throttle, and every node refuses a retry of the agreed job', async () => {
    const { ok, attempts, output } = await follow(srpms[1], () => { poisoners[3].poison = false; poisoners[4].poison = false })
    assert.equal(ok, true, output)
    assert.equal(attempts.length, 2, output)
    const agreed = attempts[1]
    await waitFor('every node to hold the agreed retry', () => mesh.nodes.every(n => n.store.verdict(agreed.job)?.verdict === 'agreed' && n.store.verdict(attempts[0].job)?.final === true), 60_000, 200)
    for (const n of mesh.nodes) {
      const t = n.verdicts.throttleState()
      // the first test's last attempt (blocked) and this retry (agreed); this SRPM's blocked attempt is superseded
      assert.deepEqual([t.window.size, t.window.disputed], [2, 1], `node ${n.peerId}: ${JSON.stringify(t)}`)
    }
    // a re-announcement of the agreed job, gossiped: every node refuses it (IGNORE retry-not-blocked)
    const m = await mesh.nodes[0].libp2p.services.blobs.add(srpms[1].path)
    const envelope = createAnnouncement({
      nevra: srpms[1].nevra, srpmSha256: Buffer.from(m.sha256, 'hex'), srpmSize: m.size, target: TARGET, chunkSize: m.chunkSize, chunkRoot: Buffer.from(m.root, 'hex'),
      candidates: builders, panel: PANEL, retry: { of: agreed.job, attempt: 3 }
    }, announcer.key)
    await mesh.nodes[0].libp2p.services.pubsub.publish(stringifyTopic('announce'), envelope)
    await new Promise(resolve => setTimeout(resolve, 3_000))
    for (const n of mesh.nodes.slice(1)) {
      assert.ok(!n.store.listAnnouncements().some(a => Buffer.from(a.envelope).equals(envelope)), `node ${n.peerId} took a retry of an agreed job`)
    }
  })
})
