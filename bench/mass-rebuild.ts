/**
 * Mass-rebuild simulation: 25,000 announcements over 50 builder nodes, r = 5, q = 3. Full nodes for 25k jobs
 * on a small machine are out of reach, so the run is in three parts, each saying what is real:
 *
 * 1. Assignment (real): assignBuilders (src/rules/assignment.ts) over 50 real Ed25519 peer IDs for
 *    25,000 job keys made as announcers make them (jobKey with a random beacon): time, and the balance of
 *    jobs per node (max/mean), next to what a uniformly random choice of r nodes per job would give.
 * 2. Tally (real code, one process, no network): the node's own VerdictService (src/services/verdicts.ts)
 *    with a real SQLite Store, fed 25,000 real signed announcements (checked as the announce topic's
 *    validator does, then recorded) and 25,000 × 5 real signed attestations by the assigned builders,
 *    each through VerdictService.validate, as gossipsub calls it; the verdicts come out of its own
 *    tally. What is stubbed: libp2p (a fixed view: connected to the 50 builders, all known to advertise
 *    the builder protocol; no routing table, no network). 1 attestation in 50 carries another hash and
 *    1 in 100 a failed build, so some verdicts are disputed. Reports time, attestations/s, the verdicts,
 *    and memory: JS heap retained by the service (after GC), RSS growth and the SQLite file size.
 * 3. End to end (real nodes, real protocols, quick builder): bench/lib/job-mesh.ts, --slice-nodes node
 *    processes plus a seeder, --slice-jobs jobs announced at --slice-rate per second, each a different
 *    signed SRPM, fetched over the blob protocol, verified, "built" by bench/lib/quick-builder.ts,
 *    attested, tallied by every node. Gives jobs/s, latency and the mesh's CPU per job on this machine;
 *    from the CPU per job, EXTRAPOLATED figures for 25,000 jobs: on this machine (all nodes sharing its
 *    CPUs) and per node when each node has a machine of its own. With real builds the time is bounded by
 *    building instead: 25,000 × r / nodes builds per node (× --build-min, an assumption).
 *    On 2 CPUs every node process competes for the same CPUs: an idle mesh of 50 already takes most of a
 *    core, and 50 nodes carry about 0.1-0.2 job/s, so the slice is kept to a few dozen jobs. Offered
 *    faster than the mesh can carry, fetches time out (no usable provider in 60 s) and jobs fail; the
 *    report then shows the overload (job errors, missing final verdicts) rather than the protocol's
 *    cost. In the runs of 2026-11-23 it collapsed even at 0.1/s, driven by sync: every node re-synced
 *    with its peers about 200 times in 12 minutes (see the "sync exchanges" line).
 *
 *   npx node bench/mass-rebuild.ts [--jobs 25000] [--nodes 50] [--replicas 5] [--quorum 3]
 *        [--tally-jobs 25000] [--slice-nodes 50] [--slice-jobs 40] [--slice-rate 0.1] [--slice-concurrency 4]
 *        [--build-min 5] [--skip assignment,tally,slice]
 *
 * `npm run bench -- --quick mass` runs --tally-jobs 2500 --slice-nodes 10 --slice-jobs 10 --slice-rate 1.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, statSync, existsSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { runInNewContext } from 'node:vm'
import { setFlagsFromString } from 'node:v8'
import { generateKeyPair, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromPublicKey } from '@libp2p/peer-id'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { assignBuilders, jobSeats } from '../src/rules/assignment.ts'
import { jobKey } from '../src/rules/job.ts'
import { createAnnouncement } from '../src/protocols/announce.ts'
import { MIN_CHUNK_SIZE } from '../src/protocols/blob-limits.ts'
import { createAttestation, encodeConsensusMessage } from '../src/protocols/attestation.ts'
import { tallyHarness } from './lib/tally-harness.ts'
import { runJobMesh, describeJobMesh, type JobMeshResult } from './lib/job-mesh.ts'
import { markdownTable, reportFigures, spread } from './lib/summary.ts'
import { candidateCount } from '../src/rules/assignment.ts'

const { values: opts } = parseArgs({
  options: {
    jobs: { type: 'string', default: '25000' },
    nodes: { type: 'string', default: '50' },
    replicas: { type: 'string', default: '5' },
    quorum: { type: 'string', default: '3' },
    'tally-jobs': { type: 'string' },
    'slice-nodes': { type: 'string' },
    'slice-jobs': { type: 'string', default: '40' },
    'slice-rate': { type: 'string', default: '0.1' },
    'slice-concurrency': { type: 'string', default: '4' },
    'build-min': { type: 'string', default: '5' },
    skip: { type: 'string', default: '' },
    help: { type: 'boolean', short: 'h' }
  }
})
if (opts.help === true) {
  process.stdout.write(readFileSync(import.meta.filename, 'utf8').split('*/')[0].replace(/^\/\*\*|^ \* ?/gm, '') + '\n')
  process.exit(0)
}
const JOBS = Number(opts.jobs)
const NODES = Number(opts.nodes)
const R = Number(opts.replicas)
const Q = Number(opts.quorum)
const TALLY_JOBS = Number(opts['tally-jobs'] ?? JOBS)
const SLICE_NODES = Number(opts['slice-nodes'] ?? NODES)
const SLICE_JOBS = Number(opts['slice-jobs'])
const SLICE_RATE = Number(opts['slice-rate'])
const SLICE_CONCURRENCY = Number(opts['slice-concurrency'])
const BUILD_MIN = Number(opts['build-min'])
const SKIP = new Set(opts.skip.split(',').filter(s => s !== ''))
const TARGET = 'fedora-41-x86_64'
const log = (line: string): void => { process.stderr.write(`[bench] ${line}\n`) }
const MB = 2 ** 20

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const heapAfterGc = (): number => { gc(); gc(); return process.memoryUsage().heapUsed }

const builderKeys: PrivateKey[] = await Promise.all(Array.from({ length: NODES }, async () => generateKeyPair('Ed25519')))
const peers: PeerId[] = builderKeys.map(k => peerIdFromPrivateKey(k))
const indexOf = new Map(peers.map((p, i) => [p.toString(), i]))

// ------------------------------------------------------------------------------------------- 1. assignment

interface AssignmentResult {
  ms: number
  perNode: ReturnType<typeof spread>
  uniform: ReturnType<typeof spread>
  /** max/mean of other random meshes of as many peer IDs (fewer jobs each): how much the placement matters */
  otherMeshes: ReturnType<typeof spread>
  /** rules v2: the same jobs' r best seats by salted per-job position (jobSeats), on this mesh and the other meshes */
  salted: ReturnType<typeof spread>
  saltedOtherMeshes: ReturnType<typeof spread>
}

const OTHER_MESHES = 10
const OTHER_MESH_JOBS = 5000

function assignment (): AssignmentResult {
  const beacons = Array.from({ length: JOBS }, () => randomBytes(32))
  const keys = beacons.map(b => jobKey(randomBytes(32), TARGET, b))
  const counts = new Array<number>(NODES).fill(0)
  const t = performance.now()
  for (const k of keys) for (const p of assignBuilders(k, peers, R)) counts[indexOf.get(p.toString())!]++
  const ms = performance.now() - t
  // for scale: r distinct nodes drawn uniformly at random per job
  const uniform = new Array<number>(NODES).fill(0)
  for (let j = 0; j < JOBS; j++) {
    const picked = new Set<number>()
    while (picked.size < Math.min(R, NODES)) picked.add(Math.floor(Math.random() * NODES))
    for (const i of picked) uniform[i]++
  }
  // rules v2: the r best seats by salted position (a fresh uniform draw per job, wherever the IDs fall)
  const salted = new Array<number>(NODES).fill(0)
  keys.forEach((k, j) => { for (const p of jobSeats({ jobKey: k, beacon: beacons[j], salted: true }, peers, R)) salted[indexOf.get(p.toString())!]++ })
  // the same over other random meshes: the imbalance comes from where the IDs fall, so it varies by mesh
  const ratios: number[] = []
  const saltedRatios: number[] = []
  for (let m = 0; m < OTHER_MESHES; m++) {
    const other = Array.from({ length: NODES }, () => peerIdFromPublicKey(publicKeyFromRaw(randomBytes(32))))
    const at = new Map(other.map((p, i) => [p, i]))
    const c = new Array<number>(NODES).fill(0)
    const cs = new Array<number>(NODES).fill(0)
    for (let j = 0; j < OTHER_MESH_JOBS; j++) {
      const beacon = randomBytes(32)
      const k = jobKey(randomBytes(32), TARGET, beacon)
      for (const p of assignBuilders(k, other, R)) c[at.get(p)!]++
      for (const p of jobSeats({ jobKey: k, beacon, salted: true }, other, R)) cs[at.get(p)!]++
    }
    const sc = spread(c)
    ratios.push(sc.max / sc.mean)
    const ss = spread(cs)
    saltedRatios.push(ss.max / ss.mean)
  }
  return { ms, perNode: spread(counts), uniform: spread(uniform), otherMeshes: spread(ratios), salted: spread(salted), saltedOtherMeshes: spread(saltedRatios) }
}

// ------------------------------------------------------------------------------------------------ 2. tally

interface TallyResult {
  jobs: number
  attestations: number
  genS: number
  announceS: number
  validateS: number
  /** CPU (user + system) of the process per attestation through validate, in µs: what the machine's load does not inflate */
  cpuPerAttestationUs: number
  /** CPU of one more tally of a job (its stored attestations read, seats, official claims, verdict compared), in µs */
  cpuPerTallyUs: number
  perSecond: number
  verdicts: Record<string, number>
  finals: number
  outcomes: Record<string, number>
  heapMB: number
  rssMB: number
  dbMB: number
  heapPerJobB: number
}

async function tallyRun (): Promise<TallyResult> {
  const h = await tallyHarness(peers)
  const { consensus, key } = h
  try {
    const finals = new Set<string>()
    const kinds: Record<string, number> = {}
    consensus.addEventListener('verdict', evt => {
      if (!evt.detail.final || finals.has(evt.detail.job)) return
      finals.add(evt.detail.job)
      kinds[evt.detail.verdict] = (kinds[evt.detail.verdict] ?? 0) + 1
    })

    // inputs, signed beforehand
    const t0 = performance.now()
    const environment = { builder: 'rpmbuild', rpmVersion: '4.18.2', target: 'x86_64-redhat-linux-gnu', binaryPayload: 'w19.zstdio' }
    const now = Date.now()
    const announcements: Uint8Array[] = []
    const messages: Array<{ data: Uint8Array, from: PeerId }> = []
    const sha = (s: string): string => createHash('sha256').update(s).digest('hex')
    for (let j = 0; j < TALLY_JOBS; j++) {
      const srpmSha256 = randomBytes(32)
      const beacon = randomBytes(32)
      announcements.push(createAnnouncement({
        nevra: `pkg${j}-1.0-1.fc41.src`, srpmSha256, srpmSize: 123456, target: TARGET, replicas: R, quorum: Q,
        chunkSize: MIN_CHUNK_SIZE, chunkRoot: randomBytes(32), beacon, sequence: BigInt(j + 1), now,
        candidates: assignBuilders(jobKey(srpmSha256, TARGET, beacon), peers, candidateCount(R))
      }, key))
      const k = jobKey(srpmSha256, TARGET, beacon)
      const job = Buffer.from(k).toString('hex')
      for (const [n, p] of assignBuilders(k, peers, R).entries()) {
        const i = indexOf.get(p.toString())!
        const m = j * R + n
        const kind = m % 100 === 7 ? 'failed' : m % 50 === 3 ? 'other' : 'good'
        const tag = kind === 'other' ? `other-${i}` : 'good'
        const files = kind === 'failed'
          ? []
          : [
              { name: `pkg${j}-1.0-1.fc41.x86_64.rpm`, size: 123456, sha256: sha(`${job}-main-${tag}`) },
              { name: `pkg${j}-debuginfo-1.0-1.fc41.x86_64.rpm`, size: 654321, sha256: sha(`${job}-dbg-${tag}`) }
            ]
        const envelope = createAttestation({ job, status: kind === 'failed' ? 'failed' : 'ok', files, environment, time: now }, builderKeys[i])
        messages.push({ data: encodeConsensusMessage({ attestation: envelope }), from: p })
      }
    }
    const genS = (performance.now() - t0) / 1000
    log(`tally: ${announcements.length} announcements and ${messages.length} attestations signed in ${genS.toFixed(1)} s`)

    const heap0 = heapAfterGc()
    const rss0 = process.memoryUsage().rss

    // announcements: checked, then recorded and handed to consensus, as the node's announce validator does
    const t1 = performance.now()
    for (const envelope of announcements) h.announce(envelope)
    const announceS = (performance.now() - t1) / 1000

    // attestations, through the consensus topic's validator one at a time
    const outcomes: Record<string, number> = {}
    const t2 = performance.now()
    const cpu2 = process.cpuUsage()
    let done = 0
    for (const m of messages) {
      let outcome = 'accept'
      try {
        await consensus.validate({ topic: 'consensus', data: m.data, propagationSource: m.from })
      } catch (err: any) {
        outcome = `${String(err?.action ?? 'error')}:${String(err?.reason ?? err?.message)}`
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
      if (++done % 25_000 === 0) log(`  ${done} of ${messages.length} attestations validated, ${finals.size} final verdicts`)
    }
    // the last tallies run after their attestation's validate returned
    for (let i = 0; i < 200 && finals.size < announcements.length; i++) await new Promise(resolve => setTimeout(resolve, 10))
    const validateS = (performance.now() - t2) / 1000
    const validateCpu = process.cpuUsage(cpu2)
    const cpuPerAttestationUs = (validateCpu.user + validateCpu.system) / messages.length
    // every job tallied once more, as a node does after each attestation (its verdict unchanged)
    const cpu3 = process.cpuUsage()
    for (const job of finals) await consensus.retally(job)
    const retallyCpu = process.cpuUsage(cpu3)
    const cpuPerTallyUs = (retallyCpu.user + retallyCpu.system) / Math.max(1, finals.size)

    const heap1 = heapAfterGc()
    const rss1 = process.memoryUsage().rss
    // the inputs stay alive through the second measurement (used below), so the difference is the service's state
    const db = h.dbPath
    const dbBytes = statSync(db).size + (existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0)
    return {
      jobs: announcements.length,
      attestations: messages.length,
      genS,
      announceS,
      validateS,
      cpuPerAttestationUs,
      cpuPerTallyUs,
      perSecond: messages.length / validateS,
      verdicts: kinds,
      finals: finals.size,
      outcomes,
      heapMB: (heap1 - heap0) / MB,
      rssMB: (rss1 - rss0) / MB,
      dbMB: dbBytes / MB,
      heapPerJobB: (heap1 - heap0) / announcements.length
    }
  } finally {
    h.close()
  }
}

// ------------------------------------------------------------------------------------------------- run

const out: string[] = [
  `mass-rebuild simulation: ${JOBS} announcements over ${NODES} builder nodes, r = ${R}, q = ${Q}; ${availableParallelism()} CPUs, load average ${loadavg()[0].toFixed(1)}`,
  ''
]
const rows: string[][] = [['part', 'what is real / simulated', 'result']]
const figures: Record<string, unknown> = { jobs: JOBS, nodes: NODES, replicas: R, quorum: Q }

if (!SKIP.has('assignment')) {
  const a = assignment()
  figures.assignment = a
  out.push(`1. assignment (real assignBuilders, ${NODES} real Ed25519 peer IDs, ${JOBS} job keys with random beacons): ${(a.ms / 1000).toFixed(2)} s, ${(a.ms * 1000 / JOBS).toFixed(0)} µs per job`)
  out.push(`   jobs per node: min ${a.perNode.min}, mean ${a.perNode.mean.toFixed(0)}, median ${a.perNode.median}, max ${a.perNode.max}: max/mean ${(a.perNode.max / a.perNode.mean).toFixed(2)}, min/mean ${(a.perNode.min / a.perNode.mean).toFixed(2)}`)
  out.push(`   for scale, ${R} nodes drawn uniformly at random per job: max/mean ${(a.uniform.max / a.uniform.mean).toFixed(2)}, min/mean ${(a.uniform.min / a.uniform.mean).toFixed(2)} ` +
    '(XOR-closest assignment gives each node the share of the key space nearest it, which varies with where its ID falls)')
  out.push(`   max/mean over ${OTHER_MESHES} other random meshes of ${NODES} IDs (${OTHER_MESH_JOBS} jobs each): min ${a.otherMeshes.min.toFixed(2)}, median ${a.otherMeshes.median.toFixed(2)}, max ${a.otherMeshes.max.toFixed(2)}`)
  out.push(`   rules v2 (the ${R} best seats by salted position, jobSeats): max/mean ${(a.salted.max / a.salted.mean).toFixed(2)}, min/mean ${(a.salted.min / a.salted.mean).toFixed(2)}; ` +
    `other meshes ${a.saltedOtherMeshes.min.toFixed(2)}-${a.saltedOtherMeshes.max.toFixed(2)}`)
  rows.push(['assignment', `real assignBuilders, ${NODES} peer IDs, ${JOBS} jobs`, `${(a.ms / 1000).toFixed(2)} s; jobs per node max/mean ${(a.perNode.max / a.perNode.mean).toFixed(2)} (min ${a.perNode.min}, max ${a.perNode.max}, mean ${a.perNode.mean.toFixed(0)}); ` +
    `other meshes ${a.otherMeshes.min.toFixed(2)}-${a.otherMeshes.max.toFixed(2)}; rules v2 (salted) max/mean ${(a.salted.max / a.salted.mean).toFixed(2)}, other meshes ${a.saltedOtherMeshes.min.toFixed(2)}-${a.saltedOtherMeshes.max.toFixed(2)}`])
  out.push('')
}

if (!SKIP.has('tally')) {
  const t = await tallyRun()
  figures.tally = t
  out.push(`2. tally (real VerdictService + SQLite store, libp2p stubbed; ${t.jobs} announcements, ${t.attestations} signed attestations through validate):`)
  out.push(`   signing the inputs ${t.genS.toFixed(1)} s (not counted); announcements checked and recorded in ${t.announceS.toFixed(1)} s; attestations validated, recorded and tallied in ${t.validateS.toFixed(1)} s = ${t.perSecond.toFixed(0)}/s on one core, ${t.cpuPerAttestationUs.toFixed(0)} µs of CPU per attestation, ${t.cpuPerTallyUs.toFixed(0)} µs per tally of a job`)
  out.push(`   final verdicts: ${t.finals} of ${t.jobs}: ${JSON.stringify(t.verdicts)}; validator outcomes ${JSON.stringify(t.outcomes)}`)
  out.push(`   memory: JS heap retained by the service ${t.heapMB.toFixed(1)} MB (${t.heapPerJobB.toFixed(0)} B per job, after GC), RSS growth ${t.rssMB.toFixed(1)} MB, SQLite file ${t.dbMB.toFixed(1)} MB (attestations, verdicts and announcements live there)`)
  rows.push(['tally', `real VerdictService.validate + tally + SQLite, ${t.jobs} jobs × ${R} real signed attestations; libp2p stubbed`,
    `${t.validateS.toFixed(1)} s (${t.perSecond.toFixed(0)} attestations/s, one core); heap ${t.heapMB.toFixed(1)} MB, RSS +${t.rssMB.toFixed(0)} MB, SQLite ${t.dbMB.toFixed(0)} MB`])
  if (t.jobs < JOBS) {
    rows.push(['tally, scaled', `EXTRAPOLATED linearly from ${t.jobs} to ${JOBS} jobs`, `${(t.validateS * JOBS / t.jobs).toFixed(0)} s; SQLite ${(t.dbMB * JOBS / t.jobs).toFixed(0)} MB`])
  }
  out.push('')
}

let slice: JobMeshResult | undefined
if (!SKIP.has('slice')) {
  slice = await runJobMesh({
    nodes: SLICE_NODES, jobs: SLICE_JOBS, rate: SLICE_RATE, replicas: R, quorum: Q, concurrency: SLICE_CONCURRENCY, settleS: 12, idleS: 5, waitS: 300, log
  })
  figures.slice = slice
  const extrapolatedS = JOBS / slice.cpuCapacity
  const perNodeCpuH = JOBS * slice.cpuPerJob / (SLICE_NODES + 1) / 3600
  const buildsPerNode = JOBS * R / NODES
  const buildBoundH = buildsPerNode * BUILD_MIN / 60
  out.push('3. end to end (real node processes and protocols, quick builder: only the build is simulated):')
  out.push(...describeJobMesh(slice).map(l => `   ${l}`))
  out.push(`   EXTRAPOLATED: ${JOBS} jobs × ${slice.cpuPerJob.toFixed(2)} core-s = ${(extrapolatedS / 3600).toFixed(1)} h of mesh overhead on this ${availableParallelism()}-CPU machine with all ${SLICE_NODES} nodes on it; ` +
    `with a machine per node, ${perNodeCpuH.toFixed(1)} CPU-hours per node over the whole rebuild (${JOBS} × ${(slice.cpuPerJob / (SLICE_NODES + 1)).toFixed(2)} core-s), in the background of its builds`)
  out.push(`   with real builds the time is the builds': ${JOBS} × ${R} / ${NODES} = ${buildsPerNode.toFixed(0)} builds per node, × ${BUILD_MIN} min each (assumed) = ${buildBoundH.toFixed(0)} h ` +
    `(${(buildBoundH / 24).toFixed(1)} days) with one build at a time, at best: the busiest node has more (assignment above)`)
  rows.push(['end to end', `real: ${SLICE_NODES} node processes + seeder, ${slice.jobs} jobs at ${SLICE_RATE}/s, SRPM fetch, signature check, attest, tally; simulated: the build`,
    `${slice.jobsPerS.toFixed(2)} jobs/s; ${slice.finalAgreed} of ${slice.expectedFinals} final agreed; announce → final p50 ${(slice.latency.median / 1000).toFixed(1)} s; ${slice.cpuPerJob.toFixed(1)} core-s per job (capacity ${slice.cpuCapacity.toFixed(2)} jobs/s)`])
  rows.push(['25k jobs, mesh overhead', `EXTRAPOLATED from the CPU per job: all nodes on this ${availableParallelism()}-CPU machine / a machine per node`, `${(extrapolatedS / 3600).toFixed(1)} h / ${perNodeCpuH.toFixed(1)} CPU-h per node`])
  rows.push(['25k jobs, builds', `EXTRAPOLATED: ${buildsPerNode.toFixed(0)} builds per node × ${BUILD_MIN} min (assumed)`, `${buildBoundH.toFixed(0)} h`])
  out.push('')
}

out.push(markdownTable(rows))
process.stdout.write(out.join('\n') + '\n')
reportFigures('mass-rebuild', figures)
if (slice !== undefined && slice.finalAgreed === 0) process.exitCode = 1
