/**
 * What `/skyline/sync/1.0.0` costs on a mesh of in-process nodes (one process, TCP on 127.0.0.1): sync
 * exchanges, items sent, bytes of items sent, items the askers ran through the gossip checks, and the
 * process's CPU time, over a run that exercises every reason to sync:
 *
 *   1. n nodes start and connect (the start of each: it asks its first peers);
 *   2. `jobs` jobs are announced and attested by 3 nodes each (gossip carries them; sync should add nothing);
 *   3. one node stops, misses 2 jobs, restarts on the same data dir and must catch up;
 *   4. a node joins late and must catch up;
 *   5. the mesh idles `idle-s` seconds.
 *
 *   npx node bench/sync-cost.ts [--nodes 15] [--jobs 4] [--idle-s 10]
 *
 * Every node must end up holding every announcement and attestation, or the bench fails.
 */
import { createHash } from 'node:crypto'
import { rmSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { SkylineNode } from '../src/node/index.ts'
import type { BuildRecord } from '../src/store/store.ts'
import { startMesh, startNode, waitFor } from '../test/helpers/mesh.ts'
import { testAnnouncement, testAnnouncer } from '../test/helpers/announce.ts'
import { peerIdFromString } from '@libp2p/peer-id'
import { reportFigures, sleep } from './lib/summary.ts'

const { values: opts } = parseArgs({
  options: {
    nodes: { type: 'string', default: '15' },
    jobs: { type: 'string', default: '4' },
    'idle-s': { type: 'string', default: '10' },
    help: { type: 'boolean', default: false }
  }
})
if (opts.help) {
  process.stdout.write('npx node bench/sync-cost.ts [--nodes 15] [--jobs 4] [--idle-s 10]\n')
  process.exit(0)
}
const N = Number(opts.nodes)
const JOBS = Number(opts.jobs)
const IDLE_MS = Number(opts['idle-s']) * 1000

const announcer = testAnnouncer()
const cpu0 = process.cpuUsage()
const t0 = Date.now()
const mesh = await startMesh(N, { builder: 'none', announcers: [announcer.line] })
/** every node instance that ran (a restarted node counts twice): the totals add up all of them */
const instances: SkylineNode[] = [...mesh.nodes]
/** bytes of items served: `stats.bytesServed` where the sync service counts it, else counted here */
const servedBytes = new Map<SkylineNode, number>()
function countBytes (n: SkylineNode): void {
  if ('bytesServed' in n.sync.stats) return
  const store = n.store as any
  const original = store.syncItems.bind(store)
  store.syncItems = (...args: any[]) => {
    const items = original(...args)
    let b = 0
    for (const list of Object.values(items) as Uint8Array[][]) for (const e of list) b += e.byteLength
    servedBytes.set(n, (servedBytes.get(n) ?? 0) + b)
    return items
  }
}
for (const n of mesh.nodes) countBytes(n)

const jobs: string[] = []
const attestations = new Set<string>()
async function job (live: SkylineNode[]): Promise<void> {
  // the three attesters are the job's candidates (the builders), as a seeder's lookup would list them
  const candidates = live.slice(1, 4).map(n => peerIdFromString(n.libp2p.peerId.toString()))
  const checked = await live[0].announce(testAnnouncement(announcer, { replicas: 3, quorum: 2, candidates }))
  jobs.push(checked.job)
  await waitFor('the announcement everywhere', () => live.every(n => n.store.hasAnnouncement(checked.id)), 30_000, 50)
  const files = [{ name: 'pkg-1.0-1.fc41.x86_64.rpm', size: 1024, sha256: createHash('sha256').update(checked.job).digest('hex') }]
  for (const n of live.slice(1, 4)) {
    const record: BuildRecord = { job: checked.job, status: 'ok', buildHash: undefined, files, environment: { builder: 'bench' }, durationMs: 1000, logExcerpt: undefined, finishedAt: Date.now() }
    await n.verdicts.attest(record)
    attestations.add(n.store.attestation(checked.job, n.peerId)!.id)
  }
  await waitFor('the attestations everywhere', () => live.every(n => n.store.attestations(checked.job).length === 3), 30_000, 50)
}

function holdsAll (n: SkylineNode): boolean {
  return jobs.every(j => n.store.announcementForJob(j) !== undefined) && n.store.attestations().filter(a => attestations.has(a.id)).length === attestations.size
}

// 1. the mesh forms
await waitFor('every node connected to most others', () => mesh.nodes.every(n => n.libp2p.getPeers().length >= Math.min(N - 1, 5)), 60_000, 200)
await sleep(3000)
// 2. jobs over gossip
for (let i = 0; i < JOBS; i++) await job(mesh.nodes)
// 3. a node misses 2 jobs and restarts
const victim = mesh.nodes[N - 1]
await victim.stop()
const live = mesh.nodes.slice(0, N - 1)
await job(live)
await job(live)
const restarted = new SkylineNode(victim.config)
await restarted.start()
countBytes(restarted)
instances.push(restarted)
mesh.nodes[N - 1] = restarted
const tRestart = Date.now()
await waitFor('the restarted node to catch up', () => holdsAll(restarted), 60_000, 100)
const restartCatchUpMs = Date.now() - tRestart
// 4. a late joiner
const late = await startNode({ builder: 'none', announcers: [announcer.line], bootstrap: [mesh.nodes[1].libp2p.getMultiaddrs()[0].toString()] })
countBytes(late)
instances.push(late)
const tLate = Date.now()
await waitFor('the late joiner to catch up', () => holdsAll(late), 60_000, 100)
const lateCatchUpMs = Date.now() - tLate
// 5. idle
await sleep(IDLE_MS)
const cpu = process.cpuUsage(cpu0)
const wallMs = Date.now() - t0
for (const n of [...mesh.nodes, late]) if (!holdsAll(n)) throw new Error(`node ${n.peerId} misses items`)

const sum = (f: (n: SkylineNode) => number): number => instances.reduce((s, n) => s + f(n), 0)
const figures = {
  nodes: N + 1,
  jobs: jobs.length,
  exchanges: sum(n => n.sync.stats.syncs),
  itemsSent: sum(n => n.sync.stats.served),
  bytesSent: sum(n => (n.sync.stats as any).bytesServed ?? servedBytes.get(n) ?? 0),
  itemsChecked: sum(n => n.sync.stats.received - ((n.sync.stats as any).skipped ?? 0)),
  itemsNew: sum(n => n.sync.stats.accepted),
  restartCatchUpMs,
  lateCatchUpMs,
  cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  wallMs
}
const reasons: Record<string, number> = {}
for (const n of instances) for (const [k, v] of Object.entries((n.sync.stats as any).reasons ?? {})) reasons[k] = (reasons[k] ?? 0) + (v as number)
if (Object.keys(reasons).length > 0) (figures as any).asksByReason = Object.entries(reasons).map(([k, v]) => `${k} ${v}`).join(', ')
process.stdout.write(`sync cost, ${N} nodes + a late joiner, ${jobs.length} jobs (3 attestations each), one restart\n`)
for (const [k, v] of Object.entries(figures)) process.stdout.write(`  ${k.padEnd(18)} ${v}\n`)
reportFigures('sync-cost', figures)

await late.stop()
await mesh.stop()
rmSync(late.config.dataDir, { recursive: true, force: true })
process.exit(0)
