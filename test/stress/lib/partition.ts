/**
 * The network-partition scenario of the stress suite, shared by the quick CI case and the long run.
 *
 * Layout: three network namespaces a, b, c (10.77.0.1, .2, .3) on a bridge in a fourth namespace; node
 * processes a0..a(A-1), b0.., c0.. listening on their namespace's address; every node a builder (rpmbuild),
 * trusting one announcer and one test keyring. The partition cuts side a's port on the bridge: side
 * {a} and side {b, c}.
 *
 * What the design says happens, and what the scenario asserts:
 * - The assigned set G of a job is the r closest of the candidates its announcement lists: the builders
 *   the seeder's DHT lookup found and could reach. A seeder cut off with side {a} lists side {a}'s
 *   builders only, so each side builds its own jobs; the scenario asserts whatever G the signed list
 *   gives, without assuming which side holds it.
 * - An announcement seeded on one side reaches only that side. Exactly G ∩ side builds it; the side's
 *   nodes tally it as agreed when |G ∩ side| ≥ q (final when all of G is on the side), otherwise
 *   pending; the other side knows nothing of it.
 * - After the heal, connections come back (kad-dht keeps its closest peers alive and redials them),
 *   identify triggers /skyline/sync/1.0.0 with the peers met again, the builders of G on the other side
 *   get the announcement by sync, fetch the SRPM (the seeders and the side's builders provide it), build
 *   and attest; attestations made during the partition come over by sync. In the end every node holds
 *   exactly the r attestations of every job's G (none lost, none extra, one per builder) and the same
 *   final verdict, agreed, for every job.
 * - A job announced after the heal is agreed everywhere too: the gossip mesh re-formed.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { NetLab, NodeProc, startSeed, waitUntil, verdictSummary, writeAnnouncerKey, type SeedRun, type StoreSnapshot } from '../../helpers/stress.ts'
import { makeSignedSrpms } from '../../helpers/srpms.ts'

export interface PartitionOptions {
  dir: string
  /** nodes per namespace */
  sides: { a: number, b: number, c: number }
  /** SRPMs announced on each side of the partition, in waves (e.g. [2, 1]: two, then one more once they are built) */
  waves: number[]
  replicas: number
  quorum: number
  /**
   * The partition lasts at least this long (a scenario parameter, not a wait for something): libp2p
   * redials lost peers a few times over about half a minute, so a long partition outlasts those retries
   * and the mesh must come back by other means.
   */
  partitionMs: number
  log: (line: string) => void
}

interface Job { job: string, nevra: string, side: 'a' | 'bc', assigned: string[] }

const HTTP_BASE = 7800
const TCP_BASE = 7700
const SEED_PORT = 7790

export async function partitionScenario (opts: PartitionOptions): Promise<void> {
  const { dir, replicas: R, quorum: Q, log } = opts
  const t0 = Date.now()
  const since = (): string => `${((Date.now() - t0) / 1000).toFixed(0)} s`
  const srpmCount = opts.waves.reduce((s, n) => s + n, 0) * 2 + 1
  const made = await makeSignedSrpms(join(dir, 'srpms'), srpmCount)
  const srpms = made.srpms
  const announcer = await writeAnnouncerKey(dir)
  const lab = await NetLab.create(['a', 'b', 'c'])
  log(`namespaces ${lab.prefix}-{a,b,c,br}; ${srpmCount} signed SRPMs made (${since()})`)

  const nodes: NodeProc[] = []
  for (const side of ['a', 'b', 'c'] as const) {
    for (let i = 0; i < opts.sides[side]; i++) {
      const name = `${side}${i}`
      nodes.push(new NodeProc({
        name,
        dir: join(dir, name),
        ns: lab.ns(side),
        listen: `/ip4/${lab.addr(side)}/tcp/${TCP_BASE + i}`,
        http: `127.0.0.1:${HTTP_BASE + i}`,
        builder: 'rpmbuild',
        keyring: made.keyPath,
        announcer: announcer.pub
      }))
    }
  }
  const sideOf = (n: NodeProc): 'a' | 'bc' => n.name.startsWith('a') ? 'a' : 'bc'
  const sideA = nodes.filter(n => sideOf(n) === 'a')
  const sideBC = nodes.filter(n => sideOf(n) === 'bc')
  // a0 first; b0 and c0 join through it; every other node through its own namespace's first node, one
  // after the other, and dials every node already up too: nodes that start together learn of each other
  // only from a later DHT query (on a busy machine, minutes later), so the whole mesh is made, not found
  const first = nodes[0]
  await first.start()
  for (const head of nodes.filter(n => n !== first && n.name.endsWith('0'))) {
    head.opts.bootstrap = [first.address]
    await head.start()
  }
  for (const n of nodes.filter(n => !n.running)) {
    const head = nodes.find(o => o.name === `${n.name[0]}0`)!
    n.opts.bootstrap = [head.address, ...nodes.filter(o => o.running && o !== head).map(o => o.address)]
    await n.start()
  }
  const nameOf = new Map(nodes.map(n => [n.peerId, n.name]))
  const names = (ids: string[]): string => ids.map(p => nameOf.get(p) ?? p.slice(-6)).join(',')
  log(`${nodes.length} node processes started (${since()})`)

  const connections = async (): Promise<string> => (await Promise.all(nodes.map(async n => `${n.name}:${(await n.tryStatus())?.connectedPeers ?? '?'}`))).join(' ')
  await waitUntil('a whole mesh (every node connected to every other, routing tables full)', async () => {
    const ss = await Promise.all(nodes.map(async n => n.tryStatus()))
    return ss.every(s => s !== undefined && s.connectedPeers === nodes.length - 1 && s.dht.routingTableSize === nodes.length - 1)
  }, 120_000, 500, connections)
  log(`whole mesh: every node connected to ${nodes.length - 1} peers (${since()})`)

  // --- the partition -----------------------------------------------------------------------------
  await lab.cut('a')
  const tCut = Date.now()
  // until the liveness service's Yamux pings notice (src/services/liveness.ts), a message could still sit in a dead TCP stream and come
  // out after the heal: announcements wait until every cross-side connection is gone
  await waitUntil('every connection across the cut to drop', async () => {
    const ss = await Promise.all(nodes.map(async n => n.tryStatus()))
    return ss.every((s, i) => s !== undefined && s.connectedPeers === (sideOf(nodes[i]) === 'a' ? sideA.length : sideBC.length) - 1)
  }, 120_000, 500, connections)
  log(`partition {a} | {b, c}: cross connections dropped after ${((Date.now() - tCut) / 1000).toFixed(0)} s`)

  const jobs: Job[] = []
  const seeds: SeedRun[] = []
  const storeOf = (n: NodeProc): StoreSnapshot => n.store({ integrity: false })
  let srpmIndex = 0
  for (const [w, perSide] of opts.waves.entries()) {
    const wave: Job[] = []
    for (const side of ['a', 'bc'] as const) {
      const ns = side === 'a' ? 'a' : 'b'
      const via = side === 'a' ? sideA[1 % sideA.length] : sideBC[1 % sideBC.length]
      const files = srpms.slice(srpmIndex, srpmIndex + perSide)
      srpmIndex += perSide
      // the seeder stays up (--wait) to serve the SRPM to the other side's builders after the heal
      const seed = startSeed({ ns: lab.ns(ns), key: announcer.key, keyring: made.keyPath, bootstrap: [via.address], listen: `/ip4/${lab.addr(ns)}/tcp/${SEED_PORT + w}`, dataDir: join(dir, `seed-${side}-${w}`), replicas: R, quorum: Q, waitSeconds: 1200, srpms: files.map(f => f.path) })
      seeds.push(seed)
      await waitUntil(`seeder of side ${side} to announce ${files.length} SRPMs`, () => seed.jobs().size === files.length, 120_000, 250, () => seed.output())
      for (const [nevra, prefix] of seed.jobs()) {
        await waitUntil(`${via.name} to hold the announcement of ${nevra}`, () => storeOf(via).announcements.some(a => a.job.startsWith(prefix)), 30_000, 100)
        const row = storeOf(via).announcements.find(a => a.job.startsWith(prefix))!
        const assigned = row.builders
        wave.push({ job: row.job, nevra, side, assigned })
        log(`  wave ${w + 1}, side ${side}: ${nevra} job ${row.job.slice(0, 12)} builders ${names(assigned)} (${assigned.filter(p => sideOf(nodes.find(n => n.peerId === p)!) === side).length} on this side)`)
      }
    }
    jobs.push(...wave)
    // every builder of G on the announcing side builds and attests, and the side's nodes hold exactly those attestations
    await waitUntil(`wave ${w + 1}: the builders on each side to attest`, () => wave.every(j => {
      const mine = j.assigned.filter(p => sideOf(nodes.find(n => n.peerId === p)!) === j.side).sort()
      return (j.side === 'a' ? sideA : sideBC).every(n => storeOf(n).attestations.filter(x => x.job === j.job).map(x => x.builder).sort().join() === mine.join())
    }), 300_000, 1000, () => wave.map(j => `${j.nevra}: ${nodes.map(n => `${n.name}=${storeOf(n).attestations.filter(x => x.job === j.job).length}`).join(' ')}`).join('; '))
    log(`wave ${w + 1} built on its sides (${since()})`)
  }

  // state at the end of the partition
  for (const j of jobs) {
    const here = j.side === 'a' ? sideA : sideBC
    const there = j.side === 'a' ? sideBC : sideA
    const onSide = j.assigned.filter(p => here.some(n => n.peerId === p))
    for (const n of there) {
      const s = storeOf(n)
      assert.equal(s.announcements.filter(a => a.job === j.job).length, 0, `${n.name} knows ${j.nevra}, announced across the cut`)
      assert.equal(s.jobs.filter(x => x.job === j.job).length, 0, `${n.name} took ${j.nevra}, announced across the cut`)
    }
    const summaries = here.map(n => verdictSummary(storeOf(n).verdicts.find(v => v.job === j.job)))
    assert.equal(new Set(summaries).size, 1, `${j.nevra}: side ${j.side} disagrees: ${summaries.join(' | ')}`)
    const v = here.map(n => storeOf(n).verdicts.find(x => x.job === j.job))[0]
    if (onSide.length >= Q) {
      assert.equal(v?.verdict, 'agreed', `${j.nevra}: ${onSide.length} builders on side ${j.side}, q = ${Q}: ${summaries[0]}`)
      assert.equal(v?.final, onSide.length === R)
    } else {
      assert.ok(v === undefined || (v.verdict === 'pending' && !v.final), `${j.nevra}: ${onSide.length} builders on side ${j.side}, q = ${Q}, yet ${summaries[0]}`)
    }
    // nobody outside G built it
    for (const n of nodes) {
      const took = storeOf(n).jobs.some(x => x.job === j.job)
      assert.equal(took, onSide.includes(n.peerId), `${n.name} ${took ? 'took' : 'did not take'} ${j.nevra}`)
    }
  }
  const agreedDuring = jobs.filter(j => storeOf((j.side === 'a' ? sideA : sideBC)[0]).verdicts.find(v => v.job === j.job)?.verdict === 'agreed').length
  log(`during the partition: ${agreedDuring} of ${jobs.length} jobs agreed on their side, the rest pending (${since()})`)

  const left = opts.partitionMs - (Date.now() - tCut)
  if (left > 0) {
    log(`holding the partition ${(left / 1000).toFixed(0)} s more`)
    await new Promise(resolve => setTimeout(resolve, left))
  }

  // --- the heal ----------------------------------------------------------------------------------
  await lab.heal('a')
  const tHeal = Date.now()
  const expected = (): string[] => jobs.flatMap(j => j.assigned.map(b => `${j.job}/${b}`)).sort()
  const converged = (): boolean => nodes.every(n => {
    const s = storeOf(n)
    if (s.attestations.map(x => `${x.job}/${x.builder}`).join() !== expected().join()) return false
    return jobs.every(j => { const v = s.verdicts.find(x => x.job === j.job); return v?.verdict === 'agreed' && v.final })
  })
  await waitUntil('every node to hold every attestation and a final verdict for every job', converged, 420_000, 1000, async () => {
    const lines = nodes.map(n => {
      const s = storeOf(n)
      return `${n.name}: ${s.attestations.length}/${expected().length} attestations, ${jobs.map(j => s.verdicts.find(v => v.job === j.job)?.verdict ?? '-').join(',')}`
    })
    return `${lines.join('; ')}; connections ${await connections()}`
  })
  log(`healed: every node converged ${((Date.now() - tHeal) / 1000).toFixed(0)} s after the heal; connections ${await connections()}`)

  // every node: the same attestations (the same signed bytes), one per (job, builder), all by G, and the same verdicts
  const reference = storeOf(first)
  for (const n of nodes) {
    const s = n.store()
    assert.equal(s.integrity, 'ok', `${n.name}: store integrity`)
    assert.deepEqual(s.attestations.map(a => a.id), reference.attestations.map(a => a.id), `${n.name} holds other attestations than ${first.name}`)
    for (const j of jobs) {
      const here = s.attestations.filter(a => a.job === j.job)
      assert.deepEqual(here.map(a => a.builder).sort(), [...j.assigned].sort(), `${n.name}: attestations of ${j.nevra}`)
      assert.equal(new Set(here.map(a => a.buildHash)).size, 1, `${n.name}: ${j.nevra} build hashes differ`)
      assert.equal(verdictSummary(s.verdicts.find(v => v.job === j.job)), verdictSummary(reference.verdicts.find(v => v.job === j.job)), `${n.name}: verdict of ${j.nevra}`)
    }
  }

  // --- after the heal: a new job from side c is agreed everywhere --------------------------------
  const last = srpms[srpmIndex]
  const c0 = nodes.find(n => n.name === 'c0')!
  const seed = startSeed({ ns: lab.ns('c'), key: announcer.key, keyring: made.keyPath, bootstrap: [c0.address], listen: `/ip4/${lab.addr('c')}/tcp/${SEED_PORT}`, dataDir: join(dir, 'seed-c'), replicas: R, quorum: Q, waitSeconds: 300, srpms: [last.path] })
  seeds.push(seed)
  await waitUntil('the seeder of side c to announce', () => seed.jobs().size === 1, 120_000, 250, () => seed.output())
  const prefix = [...seed.jobs().values()][0]
  await waitUntil('c0 to hold the announcement', () => storeOf(c0).announcements.some(a => a.job.startsWith(prefix)), 30_000, 100)
  const row = storeOf(c0).announcements.find(a => a.job.startsWith(prefix))!
  const job = row.job
  const assigned = [...row.builders].sort()
  await waitUntil(`a final agreed verdict for ${last.nevra} on every node`, () => nodes.every(n => {
    const v = storeOf(n).verdicts.find(x => x.job === job)
    return v?.verdict === 'agreed' && v.final
  }), 240_000, 1000, () => nodes.map(n => `${n.name}=${storeOf(n).verdicts.find(x => x.job === job)?.verdict ?? '-'}`).join(' '))
  for (const n of nodes) {
    const s = storeOf(n)
    assert.deepEqual(s.attestations.filter(a => a.job === job).map(a => a.builder).sort(), assigned)
    assert.equal(verdictSummary(s.verdicts.find(v => v.job === job)), verdictSummary(storeOf(first).verdicts.find(v => v.job === job)))
  }
  log(`after the heal: ${last.nevra} agreed on every node by ${names(assigned)} (${since()})`)

  await Promise.all(seeds.map(async s => s.stop()))
  await Promise.all(nodes.map(async n => n.stop()))
  for (const n of nodes) assert.equal(n.store().integrity, 'ok', `${n.name}: store integrity after a clean stop`)
}
