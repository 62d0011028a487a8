/**
 * Stress: adversaries the in-process tests do not cover (poisoners, colluders, equivocators and corrupt
 * blob peers are in test/mesh/verdicts.test.ts, test/services/blob/swarm.test.ts, test/mesh/announce.test.ts).
 *
 * - A replayer re-publishes old, validly signed announcements and attestations: at once (gossipsub's
 *   seen-cache drops them), after every node restarted (the store recognises them: IGNORE duplicate),
 *   and after the announcement expired (REJECT expired; its attestations IGNOREd as duplicates), and to a
 *   node that joined after the expiry (it never takes the job). No stored row and no verdict changes.
 * - A gossip flooder publishes thousands of junk messages a second on all three topics (random,
 *   oversized, announcements and halts signed by untrusted keys, attestations with bad signatures,
 *   attestations of unknown jobs, forged attestations of a real job). Honest nodes keep answering
 *   GET /status throughout (every probe within 5 s, 9 in 10 within a second: a busy machine's scheduler
 *   may hold one answer longer, a starved event loop holds them all), graylist the flooder (its score at an honest node falls
 *   below -80 and its messages stop being validated at all), never forward its messages, never accept a
 *   wrong verdict, and a valid announcement made during the flood is built and agreed everywhere.
 *
 * Node processes on 127.0.0.1; rpmbuild, rpmsign, gpg and bwrap are needed (skipped otherwise).
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { tempDir } from '../helpers/mesh.ts'
import { testAnnouncer } from '../helpers/announce.ts'
import { makeSignedSrpms } from '../helpers/srpms.ts'
import { missingTools } from '../helpers/srpm.ts'
import { NODE, NodeProc, cleanup, readStore, sleep, spawnTracked, waitUntil, verdictSummary } from '../helpers/stress.ts'
import { startProcMesh, validationCounts, total, type ProcMesh } from './lib/mesh-procs.ts'
import { startRawPeer, type RawPeer } from './lib/raw-peer.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { createAttestation, encodeConsensusMessage } from '../../src/protocols/attestation.ts'
import { assignBuilders } from '../../src/rules/assignment.ts'
import { stringifyTopic } from '../../src/protocols/ids.ts'

const R = 3
const Q = 2
const FLOODER = join(import.meta.dirname, 'lib/flooder.ts')
const OBSERVER = join(import.meta.dirname, 'lib/observer.ts')
const log = (line: string): void => console.log(`      ${line}`)
const TOOLS = ['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap']

/** Every row a node holds that a replay or a flood could change */
function fingerprint (n: NodeProc): string {
  const db = new DatabaseSync(n.dbPath, { readOnly: true })
  try {
    const q = (sql: string): unknown[] => db.prepare(sql).all()
    return JSON.stringify({
      announcements: q('SELECT id, job, received_at FROM announcements ORDER BY id'),
      attestations: q('SELECT id, job, builder, received_at FROM attestations ORDER BY id'),
      verdicts: q('SELECT job, verdict, hash, final, detail, updated_at FROM verdicts ORDER BY job'),
      jobs: q('SELECT job, state, attempts, updated_at FROM jobs ORDER BY job'),
      control: q('SELECT id FROM control'),
      banned: q('SELECT builder FROM banned')
    })
  } finally {
    db.close()
  }
}

function attestationEnvelopes (n: NodeProc, job: string): Uint8Array[] {
  const db = new DatabaseSync(n.dbPath, { readOnly: true })
  try {
    return (db.prepare('SELECT envelope FROM attestations WHERE job = ? ORDER BY builder').all(job) as any[]).map(r => new Uint8Array(r.envelope))
  } finally {
    db.close()
  }
}

describe('stress: a replayer of old announcements and attestations', function () {
  this.timeout(600_000)
  const announcer = testAnnouncer()
  let dir: string | undefined
  let mesh: ProcMesh
  let replayer: RawPeer | undefined
  let late: NodeProc | undefined

  before(async function () {
    if (missingTools(TOOLS) !== undefined) this.skip()
    dir = tempDir('skyline-stress-replay-')
    const made = await makeSignedSrpms(join(dir, 'srpms'), 2)
    mesh = await startProcMesh({ dir, builders: 4, keyring: made.keyPath, announcer, replicas: R, quorum: Q })
    srpms = made.srpms
    keyPath = made.keyPath
  })
  let srpms: Array<{ path: string, nevra: string }>
  let keyPath: string

  after(async () => {
    await replayer?.stop()
    await mesh?.seeder.stop()
    await cleanup()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  /**
   * A new replayer peer (gossipsub will not publish what it published or saw within 2 minutes) connected
   * to `to`. It subscribes to nothing: a subscriber would be sent the nodes' recent messages (IHAVE
   * gossip of their message caches for a few heartbeats after the last verdict), and could then no
   * longer publish them (PublishError.Duplicate). It publishes to the topic's subscribers (flood
   * publish), which is all a replayer needs.
   */
  async function freshReplayer (to: NodeProc[]): Promise<void> {
    await replayer?.stop()
    replayer = await startRawPeer()
    await replayer.dial(to.map(n => n.address))
    await waitUntil('the replayer to see every node', () => replayer!.node.services.pubsub.getSubscribers(stringifyTopic('consensus')).length >= to.length, 30_000, 100)
  }

  async function replay (envelopes: Array<{ topic: 'announce' | 'consensus', data: Uint8Array }>): Promise<void> {
    for (const e of envelopes) await replayer!.node.services.pubsub.publish(stringifyTopic(e.topic), e.data)
  }

  it('replays are dropped, then ignored as duplicates after a restart, then rejected as expired: no row and no verdict changes, and a late joiner never takes the expired job', async () => {
    // a job whose announcement expires soon, and one that stays valid
    const SHORT_MS = 40_000
    const short = await mesh.announce(srpms[0], { validityMs: SHORT_MS })
    const tShort = Date.now()
    const long = await mesh.announce(srpms[1])
    const vShort = await mesh.converged(short.job, short.assigned, 'agreed', true)
    const vLong = await mesh.converged(long.job, long.assigned, 'agreed', true)
    const old = [
      { topic: 'announce' as const, data: short.envelope },
      { topic: 'announce' as const, data: long.envelope },
      ...attestationEnvelopes(mesh.nodes[0], short.job).map(a => ({ topic: 'consensus' as const, data: encodeConsensusMessage({ attestation: a }) })),
      ...attestationEnvelopes(mesh.nodes[0], long.job).map(a => ({ topic: 'consensus' as const, data: encodeConsensusMessage({ attestation: a }) }))
    ]
    assert.equal(old.length, 2 + 2 * R)
    const before = mesh.nodes.map(fingerprint)

    // 1. at once, from a new peer: the same bytes are the same gossip message IDs, already seen
    await freshReplayer(mesh.nodes)
    const counts0 = await Promise.all(mesh.nodes.map(validationCounts))
    await replay(old)
    await sleep(3000) // nothing may happen: give it time to happen
    assert.deepEqual(mesh.nodes.map(fingerprint), before, 'a replay changed a store')
    const counts1 = await Promise.all(mesh.nodes.map(validationCounts))
    counts1.forEach((c, i) => assert.equal(total(c), total(counts0[i]), `${mesh.nodes[i].name} validated a replay its seen-cache should have dropped`))
    log('replayed at once: dropped by the seen-cache, nothing validated')

    // 2. after every node restarted (seen-caches empty): the store knows them
    await Promise.all(mesh.nodes.map(async n => n.stop()))
    const stopped = mesh.nodes.map(fingerprint)
    await mesh.nodes[0].start()
    await Promise.all(mesh.nodes.slice(1).map(async n => n.start()))
    await waitUntil('the mesh back', async () => {
      const ss = await Promise.all(mesh.nodes.map(async n => n.tryStatus()))
      return ss.every(s => s !== undefined && s.connectedPeers >= mesh.nodes.length - 1)
    }, 90_000, 500)
    await freshReplayer(mesh.nodes)
    // the restart itself changes nothing (sync brings nothing new)
    await sleep(2000)
    assert.deepEqual(mesh.nodes.map(fingerprint), stopped, 'the restart changed a store')
    const counts2 = await Promise.all(mesh.nodes.map(validationCounts))
    await replay(old)
    const replayedAt = Date.now()
    await waitUntil('every node to validate and ignore the replays as duplicates', async () => {
      const c = await Promise.all(mesh.nodes.map(validationCounts))
      return c.every((m, i) => total(m, k => k.endsWith(':ignore:duplicate')) - total(counts2[i], k => k.endsWith(':ignore:duplicate')) >= 1)
    }, 30_000, 500)
    await sleep(2000)
    assert.deepEqual(mesh.nodes.map(fingerprint), stopped, 'a replay after the restart changed a store')
    const counts3 = await Promise.all(mesh.nodes.map(validationCounts))
    counts3.forEach((c, i) => assert.equal(total(c, k => k.includes(':accept:')), total(counts2[i], k => k.includes(':accept:')), `${mesh.nodes[i].name} accepted a replay`))
    log(`replayed after a restart: ignored as duplicates (${counts3.map((c, i) => total(c, k => k.endsWith(':ignore:duplicate')) - total(counts2[i], k => k.endsWith(':ignore:duplicate'))).join(', ')} per node)`)

    // 3. after the short announcement expired (over a minute ago: REJECT, not IGNORE) and the deadline
    // checks ran, and once the nodes' seen-caches (2 minutes) forgot the replays of step 2
    const SEEN_TTL_MS = 120_000
    await waitUntil('the short announcement to expire, and the replays to leave the seen-caches', () => Date.now() > Math.max(tShort + SHORT_MS + 61_000, replayedAt + SEEN_TTL_MS + 5_000), 240_000, 1000)
    await sleep(11_000) // one deadline check (every 10 s) ran past the expiry
    const expired = mesh.nodes.map(fingerprint)
    await freshReplayer(mesh.nodes)
    const counts4 = await Promise.all(mesh.nodes.map(validationCounts))
    await replay(old.slice(0, 1))
    await waitUntil('every node to reject the expired announcement', async () => {
      const c = await Promise.all(mesh.nodes.map(validationCounts))
      return c.every((m, i) => (m.get('announce:reject:expired') ?? 0) > (counts4[i].get('announce:reject:expired') ?? 0))
    }, 30_000, 500)
    await replay(old.slice(2))
    await sleep(3000)
    assert.deepEqual(mesh.nodes.map(fingerprint), expired, 'a replay after the expiry changed a store')
    for (const n of mesh.nodes) {
      const s = n.store()
      assert.equal(verdictSummary(s.verdicts.find(v => v.job === short.job)), vShort)
      assert.equal(verdictSummary(s.verdicts.find(v => v.job === long.job)), vLong)
    }
    log('replayed after the expiry: the announcement rejected as expired, the attestations ignored; verdicts unchanged')

    // 4. a node that joins after the expiry: replays of the expired job give it nothing to build or tally
    late = new NodeProc({ name: 'late', dir: join(dir!, 'late'), listen: '/ip4/127.0.0.1/tcp/0', http: '127.0.0.1:0', builder: 'none', keyring: keyPath, announcer: join(dir!, 'announcer.pub'), bootstrap: [mesh.nodes[0].address] })
    await late.start()
    // it syncs the valid job from its peers and reaches the same verdict
    await waitUntil('the late joiner to reach the long job\'s verdict', () => verdictSummary(late!.store({ integrity: false }).verdicts.find(v => v.job === long.job)) === vLong, 90_000, 500)
    await freshReplayer([late])
    await replay(old)
    await sleep(3000)
    const s = late.store()
    assert.equal(s.announcements.filter(a => a.job === short.job).length, 0, 'the late joiner took the expired announcement')
    assert.equal(s.jobs.length, 0, 'the late joiner took a job')
    assert.equal(s.attestations.filter(a => a.job === short.job).length, 0, 'the late joiner stored attestations of an expired job')
    assert.equal(s.verdicts.filter(v => v.job === short.job).length, 0)
    log('a node joined after the expiry: the replayed job never reached its store')
  })
})

interface FloodRun {
  child: ChildProcess
  peerId: Promise<string>
  sent: () => number
  done: Promise<{ sent: number, failed: number, seconds: number, counts: Record<string, number> }>
}

function startFlooder (config: { addrs: string[], rate: number, seconds: number, kinds: string[], job?: string }): FloodRun {
  const child = spawnTracked(NODE, ['--disable-warning=ExperimentalWarning', FLOODER, JSON.stringify(config)], { stdio: 'pipe' })
  let out = ''
  let err = ''
  let sent = 0
  let resolvePeer: (id: string) => void
  const peerId = new Promise<string>(resolve => { resolvePeer = resolve })
  const done = new Promise<any>((resolve, reject) => {
    child.stdout!.on('data', d => {
      out += String(d)
      const p = /^peer (\S+)$/m.exec(out)
      if (p !== null) resolvePeer(p[1])
      for (const m of out.matchAll(/^sent (\d+)$/gm)) sent = Number(m[1])
      const d2 = /^done (.+)$/m.exec(out)
      if (d2 !== null) resolve(JSON.parse(d2[1]))
    })
    child.stderr!.on('data', d => { err += String(d) })
    child.once('exit', code => reject(new Error(`flooder exited ${code}: ${err.slice(-2000)}`)))
  })
  done.catch(() => {})
  return { child, peerId, sent: () => sent, done }
}

/** An honest node in its own process that reports its gossipsub score of a peer (lib/observer.ts) */
interface Observer { address: string, score: (peer: string) => Promise<{ score: number, graylisted: boolean, connected: boolean }>, stop: () => void }

async function startObserver (init: { dataDir: string, bootstrap: string[], announcers: string[] }): Promise<Observer> {
  const child = spawnTracked(NODE, ['--disable-warning=ExperimentalWarning', OBSERVER, JSON.stringify(init)], { stdio: 'pipe' })
  const ready = await new Promise<RegExpExecArray>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', d => { out += String(d); const m = /^ready (\S+) (\d+)$/m.exec(out); if (m !== null) resolve(m) })
    child.stderr!.on('data', d => { out += String(d) })
    child.once('exit', code => reject(new Error(`observer exited ${code}: ${out}`)))
  })
  const port = Number(ready[2])
  return {
    address: ready[1],
    score: async peer => await (await fetch(`http://127.0.0.1:${port}/score?peer=${peer}`, { signal: AbortSignal.timeout(5_000) })).json() as any,
    stop: () => child.kill('SIGTERM')
  }
}

describe('stress: a gossip flooder', function () {
  this.timeout(600_000)
  const announcer = testAnnouncer()
  let dir: string | undefined
  let mesh: ProcMesh
  let observer: Observer | undefined
  const floods: FloodRun[] = []
  let srpms: Array<{ path: string, nevra: string }>

  before(async function () {
    if (missingTools(TOOLS) !== undefined) this.skip()
    dir = tempDir('skyline-stress-flood-')
    const made = await makeSignedSrpms(join(dir, 'srpms'), 3)
    srpms = made.srpms
    mesh = await startProcMesh({ dir, builders: 4, tallies: 1, keyring: made.keyPath, announcer, replicas: R, quorum: Q })
    // one more honest node, in its own process, that reports its gossipsub score of the flooder
    observer = await startObserver({ dataDir: join(dir, 'observer'), bootstrap: [mesh.nodes[0].address], announcers: [announcer.line] })
  })

  after(async () => {
    for (const f of floods) f.child.kill('SIGKILL')
    observer?.stop()
    await mesh?.seeder.stop()
    await cleanup()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  /**
   * Floods `targets` (the others are not connected to the flooder) while measuring every node's
   * GET /status latency; returns the per-node latencies and the flood's own counts.
   */
  async function flood (kinds: string[], opts: { rate: number, seconds: number, job?: string, targets: NodeProc[], during?: (f: FloodRun, id: string) => Promise<void> }): Promise<{ latencies: number[][], samples: number, id: string, result: Awaited<FloodRun['done']>, minScore: number }> {
    const f = startFlooder({ addrs: [...opts.targets.map(n => n.address), observer!.address], rate: opts.rate, seconds: opts.seconds, kinds, job: opts.job })
    floods.push(f)
    const id = await f.peerId
    const latencies: number[][] = mesh.nodes.map(() => [])
    let samples = 0
    let minScore = 0
    let flooding = true
    const probe = (async () => {
      while (flooding) {
        const t = Date.now()
        await Promise.all(mesh.nodes.map(async (n, i) => {
          // no answer in 5 s counts as 5 s (and fails the test below)
          const r = await n.get('/status', 5_000).catch(() => ({ status: 0, ms: 5_000 }))
          latencies[i].push(r.status === 200 ? r.ms : 5_000)
        }))
        const seen = await observer!.score(id).catch(() => undefined)
        if (seen !== undefined) minScore = Math.min(minScore, seen.score)
        samples++
        await sleep(Math.max(0, 100 - (Date.now() - t)))
      }
    })()
    try {
      await opts.during?.(f, id)
      const result = await f.done
      return { latencies, samples, id, result, minScore }
    } finally {
      flooding = false
      await probe
    }
  }

  /**
   * Every node answered every probe (within 5 s) and 9 in 10 within a second. The machine may be busy
   * beside the test (other tests, a CPU hog): its scheduler can hold one answer past a second, while a
   * node whose event loop the flood starves misses most of them.
   */
  function assertResponsive (latencies: number[][]): void {
    for (const [i, ms] of latencies.entries()) {
      const name = mesh.nodes[i].name
      assert.ok(ms.length > 0, `${name} was never probed`)
      assert.ok(Math.max(...ms) < 5_000, `${name} left a GET /status unanswered for 5 s`)
      assert.ok(percentile(ms, 0.9) < 1_000, `${name} took over a second to answer more than 1 in 10 GET /status (90th percentile ${percentile(ms, 0.9).toFixed(0)} ms)`)
    }
  }

  function latencySummary (latencies: number[][]): string {
    return mesh.nodes.map((n, i) => `${n.name} ${percentile(latencies[i], 0.9).toFixed(0)}/${Math.max(...latencies[i]).toFixed(0)} ms`).join(', ')
  }

  it('thousands of junk messages a second on all three topics: nodes keep answering /status, graylist the flooder, forward nothing, accept no wrong verdict, and a valid announcement still goes through', async () => {
    const first = await mesh.announce(srpms[0])
    const vFirst = await mesh.converged(first.job, first.assigned, 'agreed', true)
    const targets = mesh.nodes.slice(0, 2)
    const others = mesh.nodes.slice(2)
    const before = await Promise.all(mesh.nodes.map(validationCounts))
    let during: { job: string, assigned: string[] } | undefined
    let announcedAt = 0
    let deliveredAt = 0
    const kinds = ['random', 'oversized', 'untrusted-announce', 'untrusted-control', 'bad-signature', 'unknown-job', 'forged-verdict']
    const run = await flood(kinds, {
      rate: 3000,
      seconds: 25,
      job: first.job,
      targets,
      during: async (f, id) => {
        await waitUntil('the flood to be under way', () => f.sent() >= 3000, 30_000, 100)
        await waitUntil('the flooder to be graylisted by the observer', async () => (await observer!.score(id)).graylisted, 20_000, 50)
        // a valid announcement in the middle of the flood
        announcedAt = Date.now()
        during = await mesh.announce(srpms[1])
        await waitUntil('every node to hold the announcement made during the flood', () => mesh.nodes.every(n => n.store({ integrity: false }).announcements.some(a => a.job === during!.job)), 20_000, 100)
        deliveredAt = Date.now()
        assert.ok(f.sent() < 25 * 3000, 'the flood was over before the announcement got through')
      }
    })
    log(`flood: ${run.result.sent} messages in ${run.result.seconds.toFixed(1)} s (${Math.round(run.result.sent / run.result.seconds)}/s, ${run.result.failed} failed to publish), ${run.samples} rounds of GET /status`)
    log(`/status latency per node (90th percentile / max): ${latencySummary(run.latencies)}`)
    log(`flooder's score at the observer: lowest ${run.minScore.toFixed(0)}; the announcement made during the flood reached every node in ${deliveredAt - announcedAt} ms`)
    assertResponsive(run.latencies)
    assert.ok(run.minScore < -80, `flooder score ${run.minScore}`)

    // graylisted: of tens of thousands of messages, the targets validated a few (until the score fell)
    const after = await Promise.all(mesh.nodes.map(validationCounts))
    const validated = mesh.nodes.map((n, i) => total(after[i], k => !k.includes(':accept:')) - total(before[i], k => !k.includes(':accept:')))
    log(`junk validated per node: ${mesh.nodes.map((n, i) => `${n.name} ${validated[i]}`).join(', ')} (of ${run.result.sent} sent)`)
    for (const [i, n] of targets.entries()) assert.ok(validated[i] < run.result.sent / 20, `${n.name} validated ${validated[i]} junk messages: the flooder was not graylisted`)
    // forwarded nothing: nodes the flooder never reached validated none of its junk
    const statuses = await Promise.all(others.map(async n => n.status()))
    for (const [j, n] of others.entries()) {
      if (statuses[j].connections.some(c => c.peerId === run.id)) continue
      assert.equal(validated[j + targets.length], 0, `${n.name}, not connected to the flooder, validated its junk: it was forwarded`)
    }
    // the job announced during the flood is agreed everywhere; no wrong verdict, nothing from the flooder stored
    await mesh.converged(during!.job, during!.assigned, 'agreed', true)
    for (const n of mesh.nodes) {
      const s = readStore(n.dbPath)
      assert.equal(verdictSummary(s.verdicts.find(v => v.job === first.job)), vFirst, `${n.name}: the flood changed a verdict`)
      assert.ok(s.attestations.every(a => a.builder !== run.id), `${n.name} stored an attestation of the flooder`)
      assert.equal(s.announcements.length, 2, `${n.name} stored an announcement of the flood`)
      assert.ok(s.verdicts.every(v => v.verdict === 'agreed'), `${n.name}: ${s.verdicts.map(v => v.verdict).join(',')}`)
      assert.equal((await n.status()).halted, null, `${n.name} took a flooded halt`)
    }
  })

  /**
   * The beacon makes a job's key unknown until it is announced, "so nobody can prepare peer IDs close to
   * a job before it is announced" (docs/protocols/consensus.md); builders are the r closest eligible peers, eligible being
   * peers that advertise the builder protocol. Keys made after the announcement by someone outside the
   * mesh (never connected, never identified as builders) must not count, however close they are.
   */
  it('Sybil attesters: keys ground after the announcement to be closer to the job than every builder, outside the mesh, attesting a poisoned hash, change no tally', async () => {
    const { job, assigned } = await mesh.announce(srpms[2])
    const honest = await mesh.converged(job, assigned, 'agreed', true)
    const builders = mesh.builders.map(b => peerIdFromString(b.peerId))
    const sybils: PrivateKey[] = []
    let tries = 0
    while (sybils.length < R) {
      tries++
      const key = await generateKeyPair('Ed25519')
      const id = peerIdFromPrivateKey(key)
      if (assignBuilders(Buffer.from(job, 'hex'), [...builders, id], 1)[0].equals(id)) sybils.push(key)
    }
    const poison = createHash('sha256').update('a backdoor').digest('hex')
    const before = await Promise.all(mesh.nodes.map(validationCounts))
    for (const key of sybils) {
      const attestation = createAttestation({ job, status: 'ok', files: [{ name: 'skyline-job-2-1.0-1.noarch.rpm', size: 4242, sha256: poison }], environment: { builder: 'rpmbuild' } }, key)
      await mesh.seeder.node.services.pubsub.publish(stringifyTopic('consensus'), encodeConsensusMessage({ attestation }))
    }
    await waitUntil('every node to validate the Sybils\' attestations', async () => {
      const c = await Promise.all(mesh.nodes.map(validationCounts))
      return c.every((m, i) => total(m, k => k.startsWith('consensus:')) - total(before[i], k => k.startsWith('consensus:')) >= 1)
    }, 30_000, 250)
    await sleep(2000) // every node's tally has run on whatever it accepted
    const sybilIds = new Set(sybils.map(k => peerIdFromPrivateKey(k).toString()))
    for (const n of mesh.nodes) {
      const s = n.store()
      const stored = s.attestations.filter(a => sybilIds.has(a.builder)).length
      assert.equal(verdictSummary(s.verdicts.find(v => v.job === job)), honest, `${n.name}: ${R} keys ground in ${tries} tries changed the verdict (${stored} of their attestations stored)`)
      assert.equal(stored, 0, `${n.name} stored attestations of keys outside the mesh`)
    }
  })

  it('a flood of well-signed attestations of unknown jobs (ignored, not rejected): nodes stay responsive and the flooder is cut off', async () => {
    const targets = mesh.nodes.slice(0, 2)
    const before = await Promise.all(mesh.nodes.map(validationCounts))
    const run = await flood(['unknown-job'], { rate: 3000, seconds: 20, targets })
    const after = await Promise.all(mesh.nodes.map(validationCounts))
    const validated = mesh.nodes.map((n, i) => total(after[i], k => !k.includes(':accept:')) - total(before[i], k => !k.includes(':accept:')))
    log(`flood: ${run.result.sent} attestations of unknown jobs in ${run.result.seconds.toFixed(1)} s; validated per node: ${mesh.nodes.map((n, i) => `${n.name} ${validated[i]}`).join(', ')}`)
    log(`/status latency per node (90th percentile / max): ${latencySummary(run.latencies)}; flooder's lowest score at the observer ${run.minScore.toFixed(0)}`)
    assertResponsive(run.latencies)
    assert.ok(run.minScore < -80, `the flooder's score stayed at ${run.minScore.toFixed(0)}: ignored messages cost it nothing`)
    for (const [i, n] of targets.entries()) assert.ok(validated[i] < run.result.sent / 5, `${n.name} validated ${validated[i]} of ${run.result.sent}`)
  })
})

/** The value below which a share `q` of the samples lie (nearest rank) */
function percentile (samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}
