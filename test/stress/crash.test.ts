/**
 * Stress: `skyline node` processes killed with SIGKILL in the middle of the work, then restarted on the
 * same data directory. test/mesh/crash-jobs.test.ts covers one node killed once mid-build; here a mesh of five
 * builders and a tally node (r = 3, q = 2) loses
 * - a builder in the middle of fetching a 2 MiB SRPM (served slowly, one chunk at a time): the job is
 *   fetched again after the restart, built, attested once;
 * - a builder in the middle of its build, three times: the job is reported failed (attempts used up) and
 *   attested as a failed build, no build process outlives the node, and the other two builders' agreement
 *   is final at once, the same on every node;
 * - a tally node as the first attestation of a job reaches it, and a builder the moment its build is
 *   recorded (as it attests): after the restart both hold every attestation exactly once, and every node
 *   reaches the same final verdict.
 * After every kill the store passes `PRAGMA integrity_check`, and no attestation is lost or doubled
 * (one row per job and builder, exactly the assigned builders, on every node).
 *
 * The last case needs root (network namespaces): a builder whose attestation was recorded but never got
 * out (its link cut as it attested), then killed and restarted, must still get it to every node.
 */
import assert from 'node:assert/strict'
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { tempDir } from '../helpers/mesh.ts'
import { testAnnouncer } from '../helpers/announce.ts'
import { makeSignedSrpm, missingTools } from '../helpers/srpm.ts'
import {
  NetLab, NodeProc, StoreWatch, cleanup, descendants, makeBigSignedSrpm, netnsSuite, readStore, stillRunning,
  startSeed, verdictSummary, waitUntil, writeAnnouncerKey
} from '../helpers/stress.ts'
import { startProcMesh, type ProcMesh } from './lib/mesh-procs.ts'

const R = 3
const Q = 2
const BUILDERS = 5
/** the slow build's sleep: an odd length, so its processes are easy to tell from others' */
const SLOW_SECONDS = 23

const log = (line: string): void => console.log(`      ${line}`)

describe('stress: kill -9 mid-fetch, mid-build and mid-tally', function () {
  this.timeout(900_000)
  const announcer = testAnnouncer()
  let dir: string | undefined
  let mesh: ProcMesh
  let builders: NodeProc[] = []
  let tally: NodeProc
  let nodes: NodeProc[] = []
  let srpms: Record<'big' | 'slow' | 'hello', { path: string, nevra: string }>
  let failed = false

  before(async function () {
    if (missingTools(['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap']) !== undefined) this.skip()
    dir = tempDir('skyline-stress-crash-')
    const keyring = join(dir, 'keyring')
    mkdirSync(keyring)
    // every SRPM's key goes into one keyring folder, read by the nodes when they start
    const big = await makeBigSignedSrpm(join(dir, 'big'), { name: 'skyline-big', bytes: 2 * 1024 * 1024, seconds: 1, keyring })
    const slow = await makeBigSignedSrpm(join(dir, 'slow'), { name: 'skyline-slowbuild', bytes: 1024, seconds: SLOW_SECONDS, keyring })
    const hello = await makeSignedSrpm(join(dir, 'hello'))
    copyFileSync(hello.keyPath, join(keyring, 'RPM-GPG-KEY-hello'))
    srpms = { big: { path: big.srpmPath, nevra: big.nevra }, slow: { path: slow.srpmPath, nevra: slow.nevra }, hello: { path: hello.srpmPath, nevra: hello.nevra } }
    // five builders and a tally node; the seeder is a bare peer that serves SRPMs as slowly as a case wants
    mesh = await startProcMesh({ dir, builders: BUILDERS, tallies: 1, keyring, announcer, replicas: R, quorum: Q })
    builders = mesh.builders
    nodes = mesh.nodes
    tally = nodes[BUILDERS]
  })

  afterEach(function () { if (this.currentTest?.state === 'failed') failed = true })

  after(async () => {
    await mesh?.seeder.stop()
    await cleanup()
    if (dir === undefined) return
    if (failed && process.env.SKYLINE_STRESS_KEEP === '1') console.log(`      kept ${dir}`)
    else rmSync(dir, { recursive: true, force: true })
  })

  /** Announces an SRPM with a beacon chosen so that its builders pass `want`; the seeder serves it */
  async function announce (srpm: { path: string, nevra: string }, want: (assigned: string[]) => boolean, serve: { chunkSize: number, delayMs: number }): Promise<{ job: string, assigned: string[], sha256: string }> {
    const a = await mesh.announce(srpm, { want, chunkSize: serve.chunkSize, delayMs: serve.delayMs })
    log(`announced ${srpm.nevra}: job ${a.job.slice(0, 12)}, builders ${a.assigned.map(mesh.nameOf).join(', ')}`)
    return a
  }

  const nameOf = (peer: string): string => mesh.nameOf(peer)

  /** The store of a dead node, opened as a restarted node would open it */
  function deadStore (n: NodeProc): ReturnType<typeof readStore> {
    assert.equal(n.running, false, `${n.name} still runs`)
    return readStore(n.dbPath, { readOnly: false })
  }

  /** kill -9 of the node process alone; its build processes must follow it (bwrap --die-with-parent) */
  async function crash (n: NodeProc): Promise<void> {
    const children = descendants(n.pid!)
    await n.kill()
    await waitUntil(`${n.name}'s build processes to go down with it`, () => stillRunning(children).length === 0, 15_000, 100,
      () => stillRunning(children).map(p => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ') } catch { return String(p) } }).join('; '))
  }

  /** Every node: the store intact, one attestation per builder in `attesters` and no other, the same verdict */
  async function converged (job: string, attesters: string[], verdict: string, final: boolean, timeoutMs = 240_000): Promise<void> {
    await mesh.converged(job, attesters, verdict, final, timeoutMs)
  }

  it('a builder killed -9 while fetching a 2 MiB SRPM fetches it again after the restart, builds it and attests once', async () => {
    const victim = builders[1]
    const { job, assigned, sha256 } = await announce(srpms.big, a => a.includes(victim.peerId), { chunkSize: 16 * 1024, delayMs: 60 })
    const watch = new StoreWatch(victim.dbPath)
    try {
      // 128 chunks, one every 60 ms from the only seeder: the fetch takes about 8 s
      await waitUntil(`${victim.name} to be fetching, some chunks in`, () => watch.job(job)?.state === 'fetching' && (mesh.seeder.served.get(sha256) ?? 0) >= 16, 60_000, 20)
    } finally {
      watch.close()
    }
    await crash(victim)
    const after = deadStore(victim)
    assert.equal(after.integrity, 'ok')
    assert.deepEqual(after.jobs.filter(j => j.job === job).map(j => [j.state, j.attempts]), [['fetching', 1]])
    assert.equal(after.builds.filter(b => b.job === job).length, 0)
    log(`${victim.name} killed while fetching (${mesh.seeder.served.get(sha256)} of 128 chunks served so far); restarting`)

    await victim.start()
    await converged(job, assigned, 'agreed', true)
    const s = victim.store()
    assert.deepEqual(s.jobs.filter(j => j.job === job).map(j => [j.state, j.attempts, j.error]), [['built', 2, null]])
    assert.equal(s.builds.filter(b => b.job === job && b.status === 'ok').length, 1)
    log(`${victim.name} fetched again, built and attested: agreed on every node by ${assigned.map(nameOf).join(', ')}`)
    settled = { job, assigned }
  })
  /** a job every node holds every attestation and the final verdict of */
  let settled: { job: string, assigned: string[] } | undefined

  it('a builder killed -9 mid-build three times reports the job failed; no build process outlives it; the other two agree, the same on every node', async () => {
    const victim = builders[2]
    const { job, assigned } = await announce(srpms.slow, a => a.includes(victim.peerId), { chunkSize: 16 * 1024, delayMs: 0 })
    for (let attempt = 1; attempt <= 3; attempt++) {
      const watch = new StoreWatch(victim.dbPath)
      try {
        await waitUntil(`${victim.name} to be building (attempt ${attempt})`, () => {
          const j = watch.job(job)
          return j?.state === 'building' && j.attempts === attempt && descendants(victim.pid!).some(p => {
            try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`sleep\0${SLOW_SECONDS}`) } catch { return false }
          })
        }, 120_000, 50)
      } finally {
        watch.close()
      }
      await crash(victim)
      const after = deadStore(victim)
      assert.equal(after.integrity, 'ok')
      assert.deepEqual(after.jobs.filter(j => j.job === job).map(j => [j.state, j.attempts]), [['building', attempt]])
      await victim.start()
      log(`${victim.name} killed mid-build (attempt ${attempt}) and restarted`)
    }
    // the third interruption used up the attempts: reported failed at start, never built again
    const watch = new StoreWatch(victim.dbPath)
    try {
      await waitUntil(`${victim.name} to report the job failed`, () => watch.job(job)?.state === 'failed', 30_000, 100)
      assert.deepEqual(watch.job(job), { state: 'failed', attempts: 3, error: 'interrupted 3 times' })
    } finally {
      watch.close()
    }
    // the two others agree; the victim attests its failed build, so every builder has spoken: final at once
    // (a failure is not dissent), without waiting for the deadline
    const others = assigned.filter(p => p !== victim.peerId)
    await converged(job, assigned, 'agreed', true)
    const detail = JSON.parse(victim.store().verdicts.find(v => v.job === job)!.detail)
    assert.deepEqual(detail.missing, [])
    assert.deepEqual(detail.agreeing, [...others].sort())
    assert.deepEqual(detail.failedBuilders, [victim.peerId])
    assert.deepEqual(detail.dissenters, [])
    const s = victim.store()
    assert.deepEqual(s.jobs.filter(j => j.job === job).map(j => j.state), ['failed'])
    assert.deepEqual(s.builds.filter(b => b.job === job).map(b => b.status), ['failed'])
    assert.deepEqual(s.attestations.filter(a => a.job === job && a.builder === victim.peerId).map(a => a.status), ['failed'])
    log(`${victim.name} reported the job failed after 3 interruptions and attested the failure; final agreed by the other two on every node`)
  })

  it('a tally node killed -9 as the first attestation reaches it, and a builder killed -9 as it attests, restart into the same final verdict with no attestation lost or doubled', async () => {
    const builder = builders[3]
    const { job, assigned } = await announce(srpms.hello, a => a.includes(builder.peerId), { chunkSize: 16 * 1024, delayMs: 0 })
    const tallyWatch = new StoreWatch(tally.dbPath)
    const builderWatch = new StoreWatch(builder.dbPath)
    let heldByTally = -1
    try {
      await Promise.all([
        (async () => {
          await waitUntil('the first attestation at the tally node', () => tallyWatch.attestations(job).length > 0, 120_000, 5)
          await tally.kill()
          heldByTally = readStore(tally.dbPath, { readOnly: true, integrity: false }).attestations.filter(a => a.job === job).length
        })(),
        (async () => {
          await waitUntil(`${builder.name}'s build to be recorded`, () => builderWatch.hasBuild(job), 120_000, 5)
          await crash(builder)
        })()
      ])
    } finally {
      tallyWatch.close()
      builderWatch.close()
    }
    const t = deadStore(tally)
    const b = deadStore(builder)
    assert.equal(t.integrity, 'ok')
    assert.equal(b.integrity, 'ok')
    const recorded = b.attestations.some(a => a.job === job && a.builder === builder.peerId)
    log(`tally node killed holding ${heldByTally} of ${R} attestations; ${builder.name} killed with its attestation ${recorded ? 'recorded' : 'not yet recorded'}`)
    await Promise.all([tally.start(), builder.start()])
    await converged(job, assigned, 'agreed', true)
    assert.deepEqual(builder.store().jobs.filter(j => j.job === job).map(j => [j.state, j.attempts]), [['built', 1]])
    for (const n of nodes) assert.deepEqual(JSON.parse(n.store({ integrity: false }).verdicts.find(v => v.job === job)!.detail).equivocators, [], `${n.name}: an honest builder taken for an equivocator`)
  })

  it('a node killed -9 between an attestation\'s commit and its verdict\'s recomputes the verdict after the restart', async function () {
    if (settled === undefined) this.skip()
    const { job, assigned } = settled
    // An attestation is committed, then the tally runs asynchronously and commits the verdict: a kill in
    // between leaves the last attestation without its verdict. Polling from outside cannot aim at that
    // window (a few ms), so the test makes exactly that state: the node is killed, and the verdict its
    // last tally committed is taken out of its store, as if the kill had come just before that commit.
    await tally.kill()
    const db = new DatabaseSync(tally.dbPath)
    try {
      assert.equal(db.prepare('DELETE FROM verdicts WHERE job = ?').run(job).changes, 1)
    } finally {
      db.close()
    }
    await tally.start()
    await converged(job, assigned, 'agreed', true, 90_000)
  })
})

describe('stress: a builder killed -9 after recording an attestation that never got out', function () {
  this.timeout(600_000)
  const suite = netnsSuite('skyline-stress-crash-ns-')

  /**
   * Namespaces: `m` holds three tally nodes and the seeder, `v` the only builder (r = q = 1, so it is
   * always assigned). The builder's link is cut while it builds: its attestation is recorded and
   * published into a dead connection; it is killed before the link comes back, so those bytes are gone.
   * After the restart the attestation exists only in its store. The design: "a recorded claim is
   * re-published as it is", and sync brings a peer's items to the nodes that meet it again; either way
   * every node must end with it and the agreed verdict.
   */
  it('restarts and gets its attestation to every node', async () => {
    const lab = await NetLab.create(['m', 'v'])
    const announcer = await writeAnnouncerKey(suite.dir())
    const srpm = await makeBigSignedSrpm(join(suite.dir(), 'srpm'), { name: 'skyline-cutbuild', bytes: 1024, seconds: 6 })
    const common = { builder: 'none' as const, keyring: srpm.keyPath, announcer: announcer.pub, http: '127.0.0.1:0' }
    const tallies = [0, 1, 2].map(i => new NodeProc({ name: `m${i}`, dir: join(suite.dir(), `m${i}`), ns: lab.ns('m'), listen: `/ip4/${lab.addr('m')}/tcp/${7700 + i}`, ...common, http: `127.0.0.1:${7800 + i}` }))
    await tallies[0].start()
    for (const n of tallies.slice(1)) { n.opts.bootstrap = [tallies[0].address]; await n.start() }
    const builder = new NodeProc({ name: 'v0', dir: join(suite.dir(), 'v0'), ns: lab.ns('v'), listen: `/ip4/${lab.addr('v')}/tcp/7700`, ...common, http: '127.0.0.1:7800', builder: 'rpmbuild', bootstrap: [tallies[0].address] })
    await builder.start()
    const nodes = [...tallies, builder]
    await waitUntil('a whole mesh', async () => (await Promise.all(nodes.map(async n => n.tryStatus()))).every(s => s !== undefined && s.connectedPeers >= nodes.length - 1), 60_000, 250)

    const seed = startSeed({ ns: lab.ns('m'), key: announcer.key, keyring: srpm.keyPath, bootstrap: [tallies[1].address], listen: `/ip4/${lab.addr('m')}/tcp/7790`, dataDir: join(suite.dir(), 'seed'), replicas: 1, quorum: 1, waitSeconds: 300, srpms: [srpm.srpmPath] })
    await waitUntil('the announcement', () => seed.jobs().size === 1, 60_000, 100, () => seed.output())
    const prefix = [...seed.jobs().values()][0]
    const watch = new StoreWatch(builder.dbPath)
    let job = ''
    try {
      await waitUntil('the build to be under way', () => {
        job = builder.store({ integrity: false }).jobs.find(j => j.job.startsWith(prefix))?.job ?? ''
        return job !== '' && watch.job(job)?.state === 'building'
      }, 120_000, 50)
      await lab.cut('v')
      await waitUntil('the attestation to be recorded', () => watch.attestations(job).length === 1, 60_000, 20)
    } finally {
      watch.close()
    }
    await builder.kill()
    assert.equal(deadStore(builder).integrity, 'ok')
    // the dead builder's kernel would still retransmit what sat in its sockets once the link is back:
    // heal only after every peer dropped its connection to it, so those bytes find no socket
    await waitUntil('every peer to drop its connection to the dead builder', async () => (await Promise.all(tallies.map(async n => n.tryStatus()))).every(s => s !== undefined && !s.connections.some(c => c.peerId === builder.peerId)), 90_000, 500)
    for (const n of tallies) assert.equal(n.store({ integrity: false }).attestations.length, 0, `${n.name} got the attestation through the cut`)
    await lab.heal('v')
    const t0 = Date.now()
    await builder.start()
    await waitUntil('every node to hold the attestation and the agreed verdict', () => nodes.every(n => {
      const s = n.store({ integrity: false })
      return s.attestations.length === 1 && s.verdicts.some(v => v.job === job && v.verdict === 'agreed' && v.final)
    }), 180_000, 500, () => nodes.map(n => {
      const s = n.store({ integrity: false })
      return `${n.name}: ${s.attestations.length} attestation(s) ${s.attestations.map(a => a.status).join(',')}, verdict ${verdictSummary(s.verdicts.find(v => v.job === job))}`
    }).join('; '))
    log(`the attestation reached every node ${((Date.now() - t0) / 1000).toFixed(0)} s after the restart`)
    await seed.stop()

    function deadStore (n: NodeProc): ReturnType<typeof readStore> {
      return readStore(n.dbPath, { readOnly: false })
    }
  })
})
