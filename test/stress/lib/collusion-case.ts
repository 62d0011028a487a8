/**
 * The collusion stress case (issue 12), shared by its CI variant (collusion.test.ts) and its full run
 * (collusion.stress.ts). Honest `skyline node` processes build with rpmbuild; colluder processes
 * (colluder.ts: real Skyline nodes that never build) run keys ground before any beacon into the widest
 * empty region of the Kademlia key space, and take turns per job: one stays silent, one copies the first
 * honest hash it sees revealed (committing to it, then revealing it, signed with its own key), the others
 * dissent with the colluders' common fabricated hash. `skyline seed --verdicts` announces each SRPM under
 * rules v2 and announces a blocked job again with a fresh beacon, at most twice.
 *
 * Shown: grinding before the beacon buys nothing (the real ranking code over 4000 fresh jobs: the ground
 * keys hold the first seats of many more jobs than random keys under rules v1's Kademlia ranking, and
 * exactly their share under v2's salted positions); every SRPM ends final `agreed` on the hash every honest
 * builder built, on every node, each blocked attempt followed by its retry; every colluder that dissented
 * in an escalation that resolved is ejected on every node (and at least one is); no colluder earns credit;
 * the throttle does not fire.
 *
 * Node processes on 127.0.0.1; rpmbuild, rpmsign, gpg and bwrap are needed (skipped otherwise).
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { tempDir } from '../../helpers/mesh.ts'
import { makeSignedSrpms } from '../../helpers/srpms.ts'
import { missingTools } from '../../helpers/srpm.ts'
import { NODE, NodeProc, SKYLINE, cleanup, sleep, spawnTracked, waitUntil, verdictSummary, writeAnnouncerKey } from '../../helpers/stress.ts'
import { grindKeys, seatShares, fabricatedFiles } from './collusion-plan.ts'
import { Reputation } from '../../../src/rules/reputation.ts'
import { buildHash } from '../../../src/rules/build-hash.ts'
import { storedRetryLink } from '../../../src/protocols/announce.ts'
import { Announcement, SignedEnvelope } from '../../../src/protocols/pb/announce.ts'
import { parseCandidates } from '../../../src/rules/assignment.ts'
import { rankBySaltedPosition } from '../../../src/rules/position.ts'

const COLLUDER = join(import.meta.dirname, 'colluder.ts')
const TOOLS = ['rpmbuild', 'rpmsign', 'gpg', 'gpgconf', 'bwrap']
const log = (line: string): void => console.log(`      ${line}`)

/** C(n, k) */
function choose (n: number, k: number): number {
  let r = 1
  for (let i = 1; i <= k; i++) r = r * (n - k + i) / i
  return r
}

interface Colluder { peerId: string, address: string, logPath: string }

async function startColluder (dir: string, init: Record<string, unknown>): Promise<Colluder> {
  mkdirSync(dir, { recursive: true })
  const logPath = join(dir, 'colluder.log')
  spawnTracked(NODE, ['--disable-warning=ExperimentalWarning', COLLUDER, JSON.stringify({ ...init, dataDir: join(dir, 'data') })], { log: logPath })
  let ready: RegExpExecArray | null = null
  await waitUntil(`colluder ${dir} to start`, () => {
    try { ready = /^ready (\S+) (\S+)$/m.exec(readFileSync(logPath, 'utf8')) } catch {}
    return ready !== null
  }, 90_000, 200, () => { try { return readFileSync(logPath, 'utf8').slice(-2000) } catch { return '' } })
  const m = ready as unknown as RegExpExecArray
  return { address: m[1], peerId: m[2], logPath }
}

/** The seats of the first announcement of `nevra` a node holds (no bans), best first, and its job */
function firstSeats (n: NodeProc, nevra: string, seats: number): { job: string, seats: string[] } | undefined {
  const db = new DatabaseSync(n.dbPath, { readOnly: true })
  try {
    const row = db.prepare('SELECT job, envelope FROM announcements WHERE nevra = ? ORDER BY received_at LIMIT 1').get(nevra) as { job: string, envelope: Uint8Array } | undefined
    if (row === undefined) return undefined
    const a = Announcement.decode(SignedEnvelope.decode(new Uint8Array(row.envelope)).payload)
    return { job: row.job, seats: rankBySaltedPosition(Buffer.from(row.job, 'hex'), a.beacon, parseCandidates(a.candidates)).slice(0, seats).map(String) }
  } finally {
    db.close()
  }
}

/** Stops (SIGSTOP) or continues (SIGCONT) a node process and its builds */
function signalGroup (n: NodeProc, signal: 'SIGSTOP' | 'SIGCONT'): void {
  if (n.child?.pid !== undefined) process.kill(-n.child.pid, signal)
}

/** A node's builders ejected now, from its stored reputation */
function ejectedOn (n: NodeProc): string[] {
  const db = new DatabaseSync(n.dbPath, { readOnly: true })
  try {
    const rows = (db.prepare('SELECT * FROM reputation').all() as any[]).map(r => ({ builder: r.builder, agree: Number(r.agree), dissent: Number(r.dissent), updatedAt: Number(r.updated_at) }))
    return Reputation.fromRows(rows).ejected(Date.now()).sort()
  } finally {
    db.close()
  }
}

/** The retry link of each job a node holds an announcement of */
function retryLinks (n: NodeProc): Map<string, { of: string, attempt: number }> {
  const db = new DatabaseSync(n.dbPath, { readOnly: true })
  try {
    const out = new Map<string, { of: string, attempt: number }>()
    for (const r of db.prepare('SELECT job, envelope FROM announcements').all() as any[]) {
      const link = storedRetryLink(new Uint8Array(r.envelope))
      if (link !== undefined) out.set(r.job, link)
    }
    return out
  } finally {
    db.close()
  }
}

/** A collusion case: the mesh, the panel and how many SRPMs are announced one after the other */
export interface CollusionCase {
  title: string
  honest: number
  colluders: number
  panel: { panel: number, escalation: number, threshold: number, stageSeconds: number, validitySeconds: number }
  jobs: number
  /** all SRPMs in one seed run (concurrent jobs), else one run each, one after the other */
  together: boolean
  /** whether some colluder must end ejected (a case where one surely dissents in a resolved escalation) */
  expectEjection: boolean
  /**
   * then one more SRPM whose first attempt the colluders and silenced volunteers surely block (honest seats
   * paused with SIGSTOP once it is announced, until it blocks at its deadline, `validitySeconds` after
   * the announcement): the seeder must announce it again
   */
  silencedRetry?: { validitySeconds: number }
  timeoutMs: number
}

/** The collusion stress case (collusion.test.ts, collusion.stress.ts) */
export function describeCollusion (c: CollusionCase): void {
  const HONEST = c.honest
  const COLLUDERS = c.colluders
  const PANEL = c.panel
  const SEATS = PANEL.panel + PANEL.escalation
  /** bad seats that block a job: more than P+E−T */
  const BLOCKING = SEATS - PANEL.threshold + 1
  describe(c.title, function () {
    this.timeout(c.timeoutMs)
    let dir: string | undefined
    let honest: NodeProc[] = []
    let colluders: Colluder[] = []
    let groundKeys: Awaited<ReturnType<typeof grindKeys>> = []
    let srpms: Array<{ path: string, nevra: string }>
    let extra: { path: string, nevra: string } | undefined
    let keyring: string
    let announcer: Awaited<ReturnType<typeof writeAnnouncerKey>>

    before(async function () {
      if (missingTools(TOOLS) !== undefined) this.skip()
      dir = tempDir('skyline-stress-collusion-')
      const made = await makeSignedSrpms(join(dir, 'srpms'), c.jobs + (c.silencedRetry !== undefined ? 1 : 0))
      srpms = made.srpms.slice(0, c.jobs)
      extra = made.srpms[c.jobs]
      keyring = made.keyPath
      announcer = await writeAnnouncerKey(dir)
      const common = { listen: '/ip4/127.0.0.1/tcp/0', http: '127.0.0.1:0', keyring, announcer: announcer.pub, builder: 'rpmbuild' as const }
      honest = Array.from({ length: HONEST }, (_, i) => new NodeProc({ name: `h${i}`, dir: join(dir!, `h${i}`), ...common }))
      await honest[0].start()
      for (const n of honest.slice(1)) n.opts.bootstrap = [honest[0].address]
      await Promise.all(honest.slice(1).map(async n => n.start()))
      // the colluders grind their keys against the honest IDs, before any beacon exists
      // until they own the first seats of 6× the random share of jobs (the assertion below asks 3×, over fresh jobs)
      groundKeys = await grindKeys(honest.map(n => peerIdFromString(n.peerId)), COLLUDERS, { minTop: 6 / choose(HONEST + COLLUDERS, COLLUDERS) })
      const plan = groundKeys.map(k => peerIdFromPrivateKey(k).toString())
      colluders = await Promise.all(groundKeys.map(async (k, i) => startColluder(join(dir!, `c${i}`), {
        bootstrap: [honest[0].address], announcers: [announcer.line], keyring, key: Buffer.from(privateKeyToProtobuf(k)).toString('hex'), colluders: plan
      })))
      const all = HONEST + COLLUDERS
      await waitUntil('every honest node connected to every other node', async () => {
        const ss = await Promise.all(honest.map(async n => n.tryStatus()))
        return ss.every(s => s !== undefined && s.connectedPeers >= all - 1)
      }, 120_000, 500)
    })

    after(async () => {
      await cleanup()
      if (dir !== undefined && process.env.SKYLINE_STRESS_KEEP !== '1') rmSync(dir, { recursive: true, force: true })
    })

    it('grinding IDs before the beacon buys nothing: the ground keys own the first seats of many jobs under rules v1, exactly their share under rules v2', () => {
      const candidates = [...honest.map(n => peerIdFromString(n.peerId)), ...groundKeys.map(k => peerIdFromPrivateKey(k))]
      const ground = new Set(colluders.map(c => c.peerId))
      const draws = 4000
      const s = seatShares(candidates, ground, { panel: PANEL.panel, seats: SEATS, blocking: BLOCKING, draws })
      const n = HONEST + COLLUDERS
      // exact for random placement: all colluders first; at least BLOCKING colluders among the seats
      const top = 1 / choose(n, COLLUDERS)
      let blocking = 0
      for (let k = BLOCKING; k <= COLLUDERS; k++) blocking += choose(COLLUDERS, k) * choose(HONEST, SEATS - k) / choose(n, SEATS)
      log(`first ${COLLUDERS} seats all colluders: v1 ${s.v1.topShare.toFixed(4)}, v2 ${s.v2.topShare.toFixed(4)}, random ${top.toFixed(4)}`)
      log(`colluders can block (≥ ${BLOCKING} of ${SEATS} seats): v1 ${s.v1.blockingShare.toFixed(3)}, v2 ${s.v2.blockingShare.toFixed(3)}, random ${blocking.toFixed(3)}`)
      log(`stage-1 seat share: v1 ${s.v1.stage1Share.toFixed(3)}, v2 ${s.v2.stage1Share.toFixed(3)}, identities ${(COLLUDERS / n).toFixed(3)}`)
      assert.ok(s.v1.topShare >= 3 * top, `grinding bought little under v1 (${s.v1.topShare})`)
      assert.ok(s.v2.topShare <= 2.5 * top, `ground keys own the first seats under v2 (${s.v2.topShare} vs ${top})`)
      assert.ok(Math.abs(s.v2.blockingShare - blocking) < 0.04, `v2 blocking share ${s.v2.blockingShare} vs ${blocking}`)
      assert.ok(Math.abs(s.v2.stage1Share - COLLUDERS / n) < 0.02, `v2 stage-1 share ${s.v2.stage1Share}`)
    })

    it('every SRPM ends final agreed on the honest hash everywhere (a blocked attempt announced again), colluders who dissented are ejected, none is credited, and the throttle does not fire', async () => {
      const seedDir = join(dir!, 'seed')
      const finals: Array<{ nevra: string, job: string, attempts: string[] }> = []
      // one seed run per SRPM (so ejections count for the next), or one for all of them (seedArgs: below)
      const groups = c.together ? [srpms] : srpms.map(x => [x])
      for (const [g, group] of groups.entries()) {
        const out = join(dir!, `seed-${g}.log`)
        const t0 = Date.now()
        const child = spawnTracked(SKYLINE, ['seed', '--key', announcer.key, '--keyring', keyring, '--bootstrap', honest[0].address, '--listen', '/ip4/127.0.0.1/tcp/0',
          '--data-dir', seedDir, '--panel', String(PANEL.panel), '--escalation', String(PANEL.escalation), '--threshold', String(PANEL.threshold),
          '--stage', String(PANEL.stageSeconds), '--validity', String(PANEL.validitySeconds), '--wait', '900', '--verdicts', ...group.map(x => x.path)], { log: out })
        const code = await new Promise<number | null>(resolve => child.once('exit', x => resolve(x)))
        const text = readFileSync(out, 'utf8')
        log(`seed exit ${code} after ${Math.round((Date.now() - t0) / 1000)} s: ${text.split('\n').filter(l => /announced|blocked|agreed|attempt/.test(l)).join(' | ')}`)
        assert.equal(code, 0, text.slice(-3000))
        for (const srpm of group) {
          const attempts = [...text.matchAll(/^announced (\S+): job ([0-9a-f]{16})/gm)].filter(m => m[1] === srpm.nevra).map(m => m[2])
          assert.ok(attempts.length >= 1 && attempts.length <= 3, text)
          finals.push({ nevra: srpm.nevra, job: attempts[attempts.length - 1], attempts })
        }
      }
      await sleep(2_000)

      const colluderIds = new Set(colluders.map(c => c.peerId))
      const jobsOf = (n: NodeProc): string[] => n.store({ integrity: false }).verdicts.map(v => v.job)
      const full = (n: NodeProc, prefix: string): string => jobsOf(n).find(j => j.startsWith(prefix)) ?? prefix
      const dissentedInResolved = new Set<string>()
      for (const f of finals) {
        const jobs = f.attempts.map(p => full(honest[0], p))
        await waitUntil(`every honest node to hold the final verdicts of ${f.nevra}`, () => honest.every(n => {
          const vs = n.store({ integrity: false }).verdicts
          return jobs.every(j => vs.find(v => v.job === j)?.final === true)
        }), 120_000, 500)
        // a seat that committed reveals at the latest at its stage's commit deadline plus the grace
        // (consensus.md, "Commit, then reveal"), and a reveal that comes after T seats agreed is named in the
        // final verdict then: when the colluders hold all of stage 1 (2.9% of jobs here) the silent one holds
        // the dissenter's reveal back to that deadline while the escalation seats agree. Wait for it, on every node.
        await waitUntil(`every seat that committed to ${f.nevra} to have revealed and be named in its verdict, on every honest node`, () => honest.every(n => {
          const s = n.store({ integrity: false })
          return jobs.every(j => {
            const detail = JSON.parse(s.verdicts.find(v => v.job === j)!.detail) as { seats: string[], agreeing: string[], dissenters: string[], failedBuilders: string[], equivocators: string[] }
            const named = new Set([...detail.agreeing, ...detail.dissenters, ...detail.failedBuilders, ...detail.equivocators])
            const revealed = s.attestations.filter(a => a.job === j).map(a => a.builder)
            return s.commitments.filter(x => x.job === j).every(x => revealed.includes(x.builder)) &&
              revealed.filter(b => detail.seats.includes(b)).every(b => named.has(b))
          })
        }), 180_000, 1000)
        const srpmSha = (await import('node:crypto')).createHash('sha256').update(readFileSync(srpms.find(s => s.nevra === f.nevra)!.path)).digest('hex')
        const fabricated = buildHash(fabricatedFiles(srpmSha, `${f.nevra}.rpm`).files)
        for (const [i, job] of jobs.entries()) {
          const summaries = new Set(honest.map(n => verdictSummary(n.store().verdicts.find(v => v.job === job))))
          assert.equal(summaries.size, 1, `verdicts of ${job.slice(0, 12)} differ: ${[...summaries].join(' | ')}`)
          const v = honest[0].store().verdicts.find(x => x.job === job)!
          const detail = JSON.parse(v.detail)
          const last = i === jobs.length - 1
          assert.equal(v.verdict, last ? 'agreed' : 'blocked', `${f.nevra} attempt ${i + 1}: ${v.detail}`)
          for (const n of honest) {
            const link = retryLinks(n).get(job)
            assert.deepEqual(link, i === 0 ? undefined : { of: jobs[i - 1], attempt: i + 1 }, `${n.name}: retry link of attempt ${i + 1}`)
          }
          // every honest build of the SRPM has one hash: the true one
          const honestHashes = new Set(honest[0].store().attestations.filter(a => a.job === job && a.status === 'ok' && !colluderIds.has(a.builder)).map(a => a.buildHash))
          assert.ok(honestHashes.size <= 1, `honest builders disagree on ${job.slice(0, 12)}`)
          if (last) {
            assert.deepEqual([...honestHashes], [v.hash], `${f.nevra}: agreed on ${v.hash}, honest builders built ${[...honestHashes].join()}`)
            assert.notEqual(v.hash, fabricated)
            assert.ok(!(detail.credited as string[]).some(b => colluderIds.has(b)), `a colluder is credited: ${detail.credited}`)
            for (const b of detail.dissenters as string[]) if (colluderIds.has(b)) dissentedInResolved.add(b)
            assert.ok((detail.dissenters as string[]).every(b => colluderIds.has(b)), `an honest builder dissented: ${detail.dissenters}`)
          }
          const seats = (detail.seats as string[]).filter(s => colluderIds.has(s)).length
          log(`${f.nevra} attempt ${i + 1} (${job.slice(0, 12)}): ${v.verdict}${detail.escalated === true ? ' after escalation' : ''}, ${seats} colluder seat(s) of ${detail.seats.length}, dissenters ${detail.dissenters.length}, missing ${detail.missing.length}`)
        }
      }

      // ejected: every colluder that dissented in a resolved escalation, on every honest node; no honest node
      for (const n of honest) {
        const ejected = ejectedOn(n)
        assert.deepEqual(ejected.filter(b => colluderIds.has(b)), [...dissentedInResolved].sort(), `${n.name}: ejected ${ejected.join()}`)
        assert.ok(ejected.every(b => colluderIds.has(b)), `${n.name}: an honest builder is ejected`)
      }
      if (c.expectEjection) assert.ok(dissentedInResolved.size >= 1, 'no colluder dissented in a resolved escalation: nothing was shown')
      log(`ejected on every honest node: ${dissentedInResolved.size} of ${COLLUDERS} colluders`)

      // no credit to anyone who did not build, the throttle quiet, on every honest node
      for (const n of honest) {
        const stats = JSON.parse((await n.get('/api/stats', 10_000)).body) as { nodes: Array<{ peerId: string, credit: number }> }
        for (const c of colluderIds) assert.equal(stats.nodes.find(s => s.peerId === c)?.credit ?? 0, 0, `${n.name} credits colluder ${c}`)
        assert.ok(stats.nodes.some(s => !colluderIds.has(s.peerId) && s.credit > 0), `${n.name}: no honest builder earned credit`)
        const status = await n.status()
        assert.equal(status.throttle.throttled, false, `${n.name}: throttled ${JSON.stringify(status.throttle)}`)
        assert.equal(status.throttle.window.disputed, 0, `${n.name}: ${JSON.stringify(status.throttle)}`)
      }
    })

    // only where configured: a case defined but skipped would count as pending, which CI refuses
    if (c.silencedRetry === undefined) return
    it('a job the colluders and silenced volunteers block is announced again by the seeder and ends agreed; the throttle counts nothing blocked, and /status shows the retry link', async function () {
      const srpm = extra!
      const out = join(dir!, 'seed-silenced.log')
      const child = spawnTracked(SKYLINE, ['seed', '--key', announcer.key, '--keyring', keyring, '--bootstrap', honest[0].address, '--listen', '/ip4/127.0.0.1/tcp/0',
        '--data-dir', join(dir!, 'seed'), '--panel', String(PANEL.panel), '--escalation', String(PANEL.escalation), '--threshold', String(PANEL.threshold),
        '--stage', String(PANEL.stageSeconds), '--validity', String(c.silencedRetry!.validitySeconds), '--wait', '900', '--verdicts', srpm.path], { log: out })
      const exited = new Promise<number | null>(resolve => child.once('exit', x => resolve(x)))
      // once announced, the honest seats beyond T − 2 are silenced, stage-1 seats first: with the copier's
      // copy at most T − 1 seats can reveal the true hash, so the first attempt blocks at its deadline
      let first: ReturnType<typeof firstSeats>
      await waitUntil('the first announcement', () => (first = firstSeats(honest[0], srpm.nevra, SEATS)) !== undefined, 120_000, 50)
      const seated = first!.seats.map(p => honest.find(n => n.peerId === p)).filter((n): n is NodeProc => n !== undefined)
      const paused = seated.slice(0, Math.max(1, seated.length - (PANEL.threshold - 2)))
      for (const n of paused) signalGroup(n, 'SIGSTOP')
      log(`silenced ${paused.map(n => n.name).join(', ')} of the seats of ${first!.job.slice(0, 12)} (${SEATS - seated.length} colluder seat(s))`)
      try {
        await waitUntil('the first attempt to block', () => /blocked \(attempt 1 of 3\)/.test(readFileSync(out, 'utf8')), (c.silencedRetry!.validitySeconds + 120) * 1000, 500, () => readFileSync(out, 'utf8').slice(-2000))
      } finally {
        for (const n of paused) signalGroup(n, 'SIGCONT')
      }
      const code = await exited
      const text = readFileSync(out, 'utf8')
      log(`seed exit ${code}: ${text.split('\n').filter(l => /announced|blocked|agreed|attempt/.test(l)).join(' | ')}`)
      assert.equal(code, 0, text.slice(-3000))
      const prefixes = [...text.matchAll(/^announced \S+: job ([0-9a-f]{16})/gm)].map(m => m[1])
      assert.ok(prefixes.length >= 2 && prefixes.length <= 3, text)
      assert.ok(first!.job.startsWith(prefixes[0]))
      let jobs: string[] = []
      await waitUntil('every honest node to hold every attempt\'s final verdict', () => {
        const vs = honest[0].store({ integrity: false }).verdicts
        jobs = prefixes.map(p => vs.find(v => v.job.startsWith(p))?.job ?? p)
        return honest.every(n => jobs.every(j => n.store({ integrity: false }).verdicts.find(v => v.job === j)?.final === true))
      }, 180_000, 500)
      const colluderIds = new Set(colluders.map(x => x.peerId))
      for (const [i, job] of jobs.entries()) {
        const summaries = new Set(honest.map(n => verdictSummary(n.store().verdicts.find(v => v.job === job))))
        assert.equal(summaries.size, 1, `verdicts of ${job.slice(0, 12)} differ: ${[...summaries].join(' | ')}`)
        const v = honest[0].store().verdicts.find(x => x.job === job)!
        assert.equal(v.verdict, i === jobs.length - 1 ? 'agreed' : 'blocked', v.detail)
        for (const n of honest) assert.deepEqual(retryLinks(n).get(job), i === 0 ? undefined : { of: jobs[i - 1], attempt: i + 1 }, n.name)
        if (i === jobs.length - 1) {
          const honestHashes = new Set(honest[0].store().attestations.filter(a => a.job === job && a.status === 'ok' && !colluderIds.has(a.builder)).map(a => a.buildHash))
          assert.deepEqual([...honestHashes], [v.hash])
        }
      }
      for (const n of honest) {
        const status = await n.status()
        assert.equal(status.throttle.throttled, false, `${n.name}: ${JSON.stringify(status.throttle)}`)
        assert.equal(status.throttle.window.disputed, 0, `${n.name}: the blocked attempt still counts: ${JSON.stringify(status.throttle)}`)
        const retry = status.verdicts.find(v => v.job === jobs[1])
        assert.deepEqual([retry?.retryOf, retry?.attempt], [jobs[0], 2], `${n.name}: /status lacks the retry link`)
      }
    })
  })
}
