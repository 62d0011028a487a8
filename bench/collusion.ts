/**
 * Collusion: how likely colluding identities are to hold enough of a job's r assigned builders to decide
 * or to block its verdict, for attacker shares of the mesh. Exact figures (binomial for an unbounded mesh,
 * hypergeometric for a mesh of N nodes), checked by a Monte Carlo run of the real assignment function
 * (assignBuilders, src/rules/assignment.ts) over random peer IDs and random job keys (jobKey with a
 * random beacon, as announcers make them). Then what peer-ID grinding buys an attacker who knows the honest
 * peer IDs (they are public in the DHT) and places its own, in clusters, into the largest regions of the
 * key space that hold no honest node.
 *
 *   npx node bench/collusion.ts [--replicas 5] [--quorum 3] [--shares 1,5,10,20,33] [--nodes 50,200,1000]
 *                               [--jobs 100000] [--jobs-per-mesh 1000] [--ground-nodes 200,1000]
 *                               [--ground-jobs 5000] [--ground-meshes 5] [--late-nodes 50,200,1000]
 *
 * What the events mean under the tally rules (docs/protocols/consensus.md), honest builders all attesting
 * the true hash H, colluders all attesting one other hash P:
 * - >= 1 colluder: agreed(H) becomes disputed(H) (any dissent does), the colluder named as a dissenter;
 *   or, staying silent, it delays `final` to the deadline.
 * - >= r - q + 1: H cannot reach q: no agreed(H) at all (disputed(P), no-consensus or failed).
 * - >= q: P reaches quorum: disputed(P) with the honest builders named as dissenters, or agreed(P) once the
 *   deadline passes if the honest builders are kept silent (or fail).
 * - all r: a final agreed(P) while every honest node works: a bad build accepted.
 * With r = 5, q = 3, r - q + 1 = q = 3.
 *
 * Last, a demonstration against the node's real VerdictService (bench/lib/tally-harness.ts: real
 * validation, store and tally, libp2p stubbed as a mesh of N known builders): a job is announced, its r
 * assigned builders attest the true hash; then an attacker who joined nothing beforehand grinds fresh
 * identities (real Ed25519 keys) closer to that job's key than any honest builder, AFTER the announcement,
 * and publishes their attestations of another hash. Prints the grinding cost and the verdict before and
 * after: what the node decides today, not a model of it (--late-nodes '' skips it).
 *
 * Monte Carlo: each mesh is N fresh random peer IDs, the first A of them the attackers (A = round(share * N),
 * at least 1); --jobs-per-mesh random jobs are assigned per mesh with assignBuilders; the standard error
 * comes from the spread between meshes (one placement of peer IDs favours some identities), and a cell
 * agrees when it is within 4 standard errors of the exact figure. About 0.1 ms per job at N = 50, 0.4 ms
 * at N = 200, 2 ms at N = 1000 (assignBuilders hashes every peer ID for every job): the full run takes
 * 6 to 11 minutes on 2 CPUs; `--nodes 50,200 --jobs 20000 --jobs-per-mesh 200 --ground-nodes 200 --ground-jobs 2000`
 * (what `npm run bench -- --quick` runs) about 20 s.
 */
import { createHash, randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { readFileSync } from 'node:fs'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { assignBuilders, jobKadId } from '../src/rules/assignment.ts'
import { compareDistance, peerKadId, xorDistance } from '../src/rules/distance.ts'
import { jobKey } from '../src/rules/job.ts'
import { createAnnouncement, DEFAULT_QUORUM, DEFAULT_REPLICAS } from '../src/protocols/announce.ts'
import { MIN_CHUNK_SIZE } from '../src/protocols/blob-limits.ts'
import { createAttestation, encodeConsensusMessage } from '../src/protocols/attestation.ts'
import type { VerdictEvent } from '../src/services/verdicts.ts'
import { markdownTable, reportFigures } from './lib/summary.ts'
import { tallyHarness } from './lib/tally-harness.ts'
import { candidateCount } from '../src/rules/assignment.ts'
import { exactGoal, monteCarloGoal, withRetries } from './lib/panel-goal.ts'
import { DEFAULT_ESCALATION, DEFAULT_PANEL, DEFAULT_THRESHOLD, MAX_ATTEMPTS } from '../src/protocols/announce.ts'
/** The first announcement and at most two re-announcements of a blocked job (issue 12) */
const ANNOUNCE_ATTEMPTS = MAX_ATTEMPTS

const { values: opts } = parseArgs({
  options: {
    replicas: { type: 'string', default: String(DEFAULT_REPLICAS) },
    quorum: { type: 'string', default: String(DEFAULT_QUORUM) },
    shares: { type: 'string', default: '1,5,10,20,33' },
    nodes: { type: 'string', default: '50,200,1000' },
    jobs: { type: 'string', default: '100000' },
    'jobs-per-mesh': { type: 'string', default: '1000' },
    'ground-nodes': { type: 'string', default: '200,1000' },
    'ground-jobs': { type: 'string', default: '5000' },
    'ground-meshes': { type: 'string', default: '5' },
    'late-nodes': { type: 'string', default: '50,200,1000' },
    'goal-nodes': { type: 'string', default: '200' },
    'goal-meshes': { type: 'string', default: '5' },
    'goal-jobs': { type: 'string', default: '1000' },
    'goal-only': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' }
  }
})
if (opts.help === true) {
  process.stdout.write(readFileSync(import.meta.filename, 'utf8').split('*/')[0].replace(/^\/\*\*|^ \* ?/gm, '') + '\n')
  process.exit(0)
}
const list = (s: string): number[] => s.split(',').filter(x => x.trim() !== '').map(Number)
const R = Number(opts.replicas)
const Q = Number(opts.quorum)
const SHARES = list(opts.shares).map(p => p / 100)
const NODES = list(opts.nodes)
const JOBS = Number(opts.jobs)
const PER_MESH = Number(opts['jobs-per-mesh'])
const GROUND_NODES = list(opts['ground-nodes'])
const GROUND_JOBS = Number(opts['ground-jobs'])
const GROUND_MESHES = Number(opts['ground-meshes'])
const LATE_NODES = list(opts['late-nodes'])
if (!Number.isInteger(R) || !Number.isInteger(Q) || R < 1 || Q < 1 || Q > R || 2 * Q <= R) {
  process.stderr.write('need 1 <= q <= r and 2q > r\n')
  process.exit(2)
}
const BLOCK = R - Q + 1
const TARGET = 'fedora-41-x86_64'
const log = (line: string): void => { process.stderr.write(`[bench] ${line}\n`) }

// ---------------------------------------------------------------------------------------------- exact

function choose (n: number, k: number): number {
  if (k < 0 || k > n) return 0
  let c = 1
  for (let i = 1; i <= k; i++) c = c * (n - k + i) / i
  return c
}

/** P(K = k) when r builders are drawn without replacement from n nodes of which a are attackers */
const hyper = (n: number, a: number, k: number): number => choose(a, k) * choose(n - a, R - k) / choose(n, R)
/** P(K = k) in an unbounded mesh where a share f of the nodes are attackers */
const binom = (f: number, k: number): number => choose(R, k) * f ** k * (1 - f) ** (R - k)
const atLeast = (pmf: (k: number) => number, k0: number): number => {
  let s = 0
  for (let k = k0; k <= R; k++) s += pmf(k)
  return s
}

interface Events { any: number, block: number, quorum: number, all: number }
const exactEvents = (pmf: (k: number) => number): Events => ({ any: atLeast(pmf, 1), block: atLeast(pmf, BLOCK), quorum: atLeast(pmf, Q), all: pmf(R) })

const attackersOf = (share: number, n: number): number => Math.max(1, Math.round(share * n))

// ------------------------------------------------------------------------------------- random peer IDs

/** identity multihash + protobuf PublicKey header of an Ed25519 peer ID */
const ED25519_MH_PREFIX = Uint8Array.of(0x00, 0x24, 0x08, 0x01, 0x12, 0x20)

/** A random Ed25519 peer ID (32 random bytes as the public key: only its hash matters to assignment) */
function randomPeer (): PeerId {
  return peerIdFromPublicKey(publicKeyFromRaw(randomBytes(32)))
}

const randomJobKey = (): Uint8Array => jobKey(randomBytes(32), TARGET, randomBytes(32))

// ----------------------------------------------------------------------------------------- Monte Carlo

interface McResult { n: number, meshes: number, jobs: number, attackers: number[], hits: Events[], perMesh: Array<Record<keyof Events, number[]>> }

function monteCarlo (n: number): McResult {
  const meshes = Math.max(1, Math.ceil(JOBS / PER_MESH))
  const attackers = SHARES.map(f => attackersOf(f, n))
  const hits: Events[] = SHARES.map(() => ({ any: 0, block: 0, quorum: 0, all: 0 }))
  const perMesh = SHARES.map(() => ({ any: [] as number[], block: [] as number[], quorum: [] as number[], all: [] as number[] }))
  let jobs = 0
  for (let m = 0; m < meshes; m++) {
    const peers = Array.from({ length: n }, randomPeer)
    const index = new Map<PeerId, number>(peers.map((p, i) => [p, i]))
    const jobsHere = Math.min(PER_MESH, JOBS - jobs)
    const meshHits: Events[] = SHARES.map(() => ({ any: 0, block: 0, quorum: 0, all: 0 }))
    for (let j = 0; j < jobsHere; j++) {
      const assigned = assignBuilders(randomJobKey(), peers, R).map(p => index.get(p)!)
      for (const [s, a] of attackers.entries()) {
        let k = 0
        for (const i of assigned) if (i < a) k++
        const h = meshHits[s]
        if (k >= 1) h.any++
        if (k >= BLOCK) h.block++
        if (k >= Q) h.quorum++
        if (k === R) h.all++
      }
    }
    jobs += jobsHere
    for (const [s, h] of meshHits.entries()) {
      for (const e of ['any', 'block', 'quorum', 'all'] as const) {
        hits[s][e] += h[e]
        perMesh[s][e].push(h[e] / jobsHere)
      }
    }
  }
  return { n, meshes, jobs, attackers, hits, perMesh }
}

/** Standard error of the mean of per-mesh rates (placement variance included) */
function stdErr (rates: number[]): number {
  if (rates.length < 2) return NaN
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length
  const v = rates.reduce((a, b) => a + (b - mean) ** 2, 0) / (rates.length - 1)
  return Math.sqrt(v / rates.length)
}

// --------------------------------------------------------------------------------------- peer-ID grinding

const KEY_BITS = 48
const MAX_DEPTH = 24

/** The first 48 bits of a Kademlia key, as a number */
const top48 = (kad: Uint8Array): number => Buffer.from(kad.buffer, kad.byteOffset, 6).readUIntBE(0, 6)

interface Region { prefix: number, depth: number }

/**
 * The maximal regions of the key space (dyadic: all keys sharing a prefix of `depth` bits) that hold no
 * honest node, down to MAX_DEPTH bits, largest first (random order among equals).
 */
function emptyRegions (honest: number[]): Region[] {
  const keys = [...honest].sort((a, b) => a - b)
  const out: Region[] = []
  const walk = (lo: number, hi: number, depth: number, prefix: number): void => {
    if (depth >= MAX_DEPTH) return
    const split = (prefix * 2 + 1) * 2 ** (KEY_BITS - depth - 1)
    let mid = lo
    while (mid < hi && keys[mid] < split) mid++
    for (const [a, b, p] of [[lo, mid, prefix * 2], [mid, hi, prefix * 2 + 1]] as const) {
      if (a === b) out.push({ prefix: p, depth: depth + 1 })
      else walk(a, b, depth + 1, p)
    }
  }
  walk(0, keys.length, 0, 0)
  const shuffled = out.map(r => ({ r, t: Math.random() })).sort((x, y) => x.t - y.t).map(x => x.r)
  return shuffled.sort((a, b) => a.depth - b.depth)
}

/** A peer ID whose Kademlia key starts with the region's prefix: 2^depth tries on average */
function grind (region: Region): PeerId {
  const mh = new Uint8Array(ED25519_MH_PREFIX.length + 32)
  mh.set(ED25519_MH_PREFIX, 0)
  const shift = 2 ** (KEY_BITS - region.depth)
  for (;;) {
    const key = randomBytes(32)
    mh.set(key, ED25519_MH_PREFIX.length)
    const kad = createHash('sha256').update(mh).digest()
    if (Math.floor(kad.readUIntBE(0, 6) / shift) === region.prefix) {
      const peer = peerIdFromPublicKey(publicKeyFromRaw(key))
      if (Math.floor(top48(peerKadId(peer)) / shift) !== region.prefix) throw new Error('grinding: the Kademlia key differs from kad-dht\'s')
      return peer
    }
  }
}

/** a attackers in clusters of c, one cluster per empty region, largest regions first */
function groundAttackers (honest: PeerId[], a: number, c: number): { peers: PeerId[], measure: number } {
  const regions = emptyRegions(honest.map(p => top48(peerKadId(p))))
  const peers: PeerId[] = []
  let measure = 0
  for (let i = 0; peers.length < a && i < regions.length; i++) {
    const size = Math.min(c, a - peers.length)
    for (let k = 0; k < size; k++) peers.push(grind(regions[i]))
    if (size === c) measure += 2 ** -regions[i].depth
  }
  return { peers, measure }
}

interface GroundResult { n: number, share: number, a: number, quorum: { mc: number, bound: number, jobs: number }, all: { mc: number, bound: number, jobs: number } }

function groundCase (n: number, share: number): GroundResult | undefined {
  const a = attackersOf(share, n)
  if (a < Q) return undefined
  const run = (cluster: number, event: (k: number) => boolean): { mc: number, bound: number, jobs: number } => {
    let hits = 0
    let jobs = 0
    let bound = 0
    const perMesh = Math.max(1, Math.floor(GROUND_JOBS / GROUND_MESHES))
    for (let m = 0; m < GROUND_MESHES; m++) {
      const honest = Array.from({ length: n - a }, randomPeer)
      const g = groundAttackers(honest, a, cluster)
      bound += g.measure / GROUND_MESHES
      const bad = new Set<PeerId>(g.peers)
      const peers = [...honest, ...g.peers]
      for (let j = 0; j < perMesh; j++) {
        let k = 0
        for (const p of assignBuilders(randomJobKey(), peers, R)) if (bad.has(p)) k++
        if (event(k)) hits++
      }
      jobs += perMesh
    }
    return { mc: hits / jobs, bound, jobs }
  }
  return {
    n,
    share,
    a,
    quorum: run(Q, k => k >= Q),
    all: a >= R ? run(R, k => k === R) : { mc: 0, bound: 0, jobs: 0 }
  }
}

// ------------------------------------------------------------------------- grinding after the announcement

interface LateResult {
  n: number
  /** key pairs generated to find r identities closer to the job than every honest builder */
  tries: number
  grindMs: number
  before: string
  /** outcomes of the attacker's attestations in VerdictService.validate */
  outcomes: string[]
  afterQ: string
  afterR: string
}

const describe = (v: VerdictEvent | undefined, good: string, bad: string): string => {
  if (v === undefined) return 'none'
  const h = v.hash === good ? 'H (true)' : v.hash === bad ? 'P (attackers\')' : v.hash ?? ''
  return `${v.verdict}${v.hash !== undefined ? ` ${h}` : ''}${v.final ? ', final' : ''}` +
    (v.dissenters.length > 0 ? `, ${v.dissenters.length} dissenters` : '')
}

async function lateGrinding (n: number): Promise<LateResult> {
  const honestKeys = await Promise.all(Array.from({ length: n }, async () => generateKeyPair('Ed25519')))
  const honest = honestKeys.map(k => peerIdFromPrivateKey(k))
  const keyOf = new Map(honest.map((p, i) => [p.toString(), honestKeys[i]]))
  const h = await tallyHarness(honest)
  try {
    let last: VerdictEvent | undefined
    h.consensus.addEventListener('verdict', evt => { last = evt.detail })
    const settle = async (): Promise<void> => { for (let i = 0; i < 20; i++) await new Promise(resolve => setTimeout(resolve, 5)) }
    // the announcement lists the honest mesh's closest builders as candidates, as a seeder's lookup does
    const srpmSha256 = randomBytes(32)
    const beacon = randomBytes(32)
    const a = h.announce(createAnnouncement({
      nevra: 'victim-1.0-1.fc41.src', srpmSha256, srpmSize: 4096, target: TARGET, replicas: R, quorum: Q,
      chunkSize: MIN_CHUNK_SIZE, chunkRoot: randomBytes(32), beacon,
      candidates: assignBuilders(jobKey(srpmSha256, TARGET, beacon), honest, candidateCount(R))
    }, h.key))
    const sha = (s: string): string => createHash('sha256').update(s).digest('hex')
    const attest = async (key: PrivateKey, tag: string): Promise<string> => {
      const files = [{ name: 'victim-1.0-1.fc41.x86_64.rpm', size: 4096, sha256: sha(tag) }]
      const data = encodeConsensusMessage({ attestation: createAttestation({ job: a.job, status: 'ok', files, environment: { builder: 'rpmbuild' } }, key) })
      // relayed by an honest peer: the copy's sender need not be the builder
      try {
        await h.consensus.validate({ topic: 'consensus', data, propagationSource: honest[0] })
        return 'accept'
      } catch (err: any) {
        return `${String(err?.action)}:${String(err?.reason)}`
      }
    }
    const assigned = assignBuilders(a.jobKey, honest, R)
    for (const p of assigned) await attest(keyOf.get(p.toString())!, 'good')
    await settle()
    const good = last?.hash ?? ''
    const before = describe(last, good, '')

    // the attacker, after the announcement: identities closer to the job than the closest honest builder
    const target = jobKadId(a.jobKey)
    const bound = xorDistance(target, peerKadId(assigned[0]))
    const ground: PrivateKey[] = []
    let tries = 0
    const t = performance.now()
    while (ground.length < R) {
      const k = await generateKeyPair('Ed25519')
      tries++
      if (compareDistance(xorDistance(target, peerKadId(peerIdFromPrivateKey(k))), bound) < 0) ground.push(k)
    }
    const grindMs = performance.now() - t
    const outcomes: string[] = []
    for (const k of ground.slice(0, Q)) outcomes.push(await attest(k, 'bad'))
    await settle()
    const bad = last?.hash !== good ? last?.hash ?? '' : ''
    const afterQ = describe(last, good, bad)
    for (const k of ground.slice(Q)) outcomes.push(await attest(k, 'bad'))
    await settle()
    const afterR = describe(last, good, last?.hash !== good ? last?.hash ?? '' : bad)
    return { n, tries, grindMs, before, outcomes, afterQ, afterR }
  } finally {
    h.close()
  }
}

// ------------------------------------------------------------------------------------------------- output

function fmtP (p: number): string {
  if (!Number.isFinite(p)) return '-'
  if (p === 0) return '0'
  if (p >= 0.001) return `${(p * 100).toPrecision(3)}%`
  return p.toExponential(1)
}
const pct = (f: number): string => `${+(f * 100).toFixed(1)}%`

const t0 = performance.now()
const out: string[] = []

// ------------------------------------------------------------------ the goal table of rules v2 (issue 12)
const PANEL = { panel: DEFAULT_PANEL, escalation: DEFAULT_ESCALATION, threshold: DEFAULT_THRESHOLD }
const GOAL_N = Number(opts['goal-nodes'])
const goalRows: string[][] = [['attacker share', 'IDs', 'forged: exact', 'MC (jobs)', 'blocked: exact', 'MC', 'agreed true: exact', 'MC', 'builds/job: exact', 'MC', 'stage-1 seat share MC']]
const goalFigures: Array<Record<string, unknown>> = []
for (const f of SHARES) {
  const exact = exactGoal(PANEL, f)
  for (const ids of ['random', 'ground'] as const) {
    const make = ids === 'random' ? (_h: PeerId[], a: number) => Array.from({ length: a }, randomPeer) : (h: PeerId[], a: number) => groundAttackers(h, a, 5).peers
    const mc = monteCarloGoal(PANEL, GOAL_N, f, Number(opts['goal-meshes']), Number(opts['goal-jobs']), randomPeer, make)
    goalFigures.push({ share: f, ids, exact, mc })
    goalRows.push([pct(f), ids, fmtP(exact.forged), `${fmtP(mc.forged)} (${mc.jobs})`, fmtP(exact.blocked), fmtP(mc.blocked), fmtP(exact.agreedTrue), fmtP(mc.agreedTrue), exact.builds.toFixed(2), mc.builds.toFixed(2), `${pct(mc.seatShare ?? 0)} of ${pct(Math.max(1, Math.round(f * GOAL_N)) / GOAL_N)}`])
  }
}
out.push(`rules v2 goal table: panel P = ${PANEL.panel}, escalation E = ${PANEL.escalation}, threshold T = ${PANEL.threshold}; colluders attest another hash on every seat`)
out.push(`(exact: binomial over salted seats; MC: the real jobSeats + panelTally, N = ${GOAL_N} identities per mesh, every identity listed)`)
out.push('')
out.push(markdownTable(goalRows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']))
out.push('')
// a blocked job is re-announced with a fresh beacon, at most twice (docs/protocols/announce.md, "Re-announcement")
const retryRows: string[][] = [['attacker share', 'IDs', 'forged: exact', 'MC (jobs)', 'still blocked: exact', 'MC', 'agreed true: exact', 'MC', 'builds/job: exact', 'MC']]
for (const f of SHARES) {
  const exact = withRetries(exactGoal(PANEL, f), ANNOUNCE_ATTEMPTS)
  for (const ids of ['random', 'ground'] as const) {
    const make = ids === 'random' ? (_h: PeerId[], a: number) => Array.from({ length: a }, randomPeer) : (h: PeerId[], a: number) => groundAttackers(h, a, 5).peers
    const mc = monteCarloGoal(PANEL, GOAL_N, f, Number(opts['goal-meshes']), Number(opts['goal-jobs']), randomPeer, make, ANNOUNCE_ATTEMPTS)
    goalFigures.push({ share: f, ids, attempts: ANNOUNCE_ATTEMPTS, exact, mc })
    retryRows.push([pct(f), ids, fmtP(exact.forged), `${fmtP(mc.forged)} (${mc.jobs})`, fmtP(exact.blocked), fmtP(mc.blocked), fmtP(exact.agreedTrue), fmtP(mc.agreedTrue), exact.builds.toFixed(2), mc.builds.toFixed(2)])
  }
}
out.push(`with re-announcement: a blocked job is announced again with a fresh beacon, ${ANNOUNCE_ATTEMPTS} announcements at most`)
out.push('')
out.push(markdownTable(retryRows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']))
out.push('')
if (opts['goal-only'] === true) {
  process.stdout.write(out.join('\n') + '\n')
  reportFigures('collusion-goal', { panel: PANEL, goal: goalFigures })
  process.exit(0)
}
out.push(`collusion: r = ${R} assigned builders per job, quorum q = ${Q}; r - q + 1 = ${BLOCK}`)
out.push('')
out.push('exact, unbounded mesh (binomial): the probability that colluders hold at least k of a job\'s r builders')
out.push('')
const binomRows = SHARES.map(f => {
  const e = exactEvents(k => binom(f, k))
  return [pct(f), fmtP(e.any), fmtP(e.block), ...(BLOCK !== Q ? [fmtP(e.quorum)] : []), fmtP(e.all)]
})
out.push(markdownTable([
  ['attacker share', '>= 1: can dispute', `>= ${BLOCK}: can block agreed(H)`, ...(BLOCK !== Q ? [`>= ${Q}: reach quorum`] : []), `= ${R}: final agreed(P)`],
  ...binomRows
], ['l', 'r', 'r', 'r', 'r']))
if (BLOCK === Q) out.push(`(here >= ${Q} both blocks agreed(H) and brings the colluders' hash P to quorum: disputed(P), or agreed(P) if the honest builders stay silent)`)
out.push('')

const mcResults: McResult[] = []
for (const n of NODES) {
  const t = performance.now()
  const mc = monteCarlo(n)
  mcResults.push(mc)
  log(`N = ${n}: ${mc.jobs} jobs over ${mc.meshes} meshes in ${((performance.now() - t) / 1000).toFixed(1)} s`)
}
out.push(`finite mesh of N nodes, A of them colluding: exact (hypergeometric) / Monte Carlo (real assignBuilders, ${JOBS} random jobs over ${Math.ceil(JOBS / PER_MESH)} meshes of fresh random peer IDs)`)
out.push('')
const rows: string[][] = [['N', 'attackers A', '>= 1 exact / MC', `>= ${Q} exact / MC`, `= ${R} exact / MC`, `>= ${Q} per mesh, min-max`, 'MC within 4 SE']]
const mcFigures: Array<Record<string, unknown>> = []
let allOk = true
for (const mc of mcResults) {
  for (const [s, f] of SHARES.entries()) {
    const a = mc.attackers[s]
    const e = exactEvents(k => hyper(mc.n, a, k))
    const got = { any: mc.hits[s].any / mc.jobs, block: mc.hits[s].block / mc.jobs, quorum: mc.hits[s].quorum / mc.jobs, all: mc.hits[s].all / mc.jobs }
    let ok = true
    for (const ev of ['any', 'block', 'quorum', 'all'] as const) {
      const se = Math.max(stdErr(mc.perMesh[s][ev]), Math.sqrt(e[ev] * (1 - e[ev]) / mc.jobs))
      if (Math.abs(got[ev] - e[ev]) > 4 * se + 1e-12) ok = false
    }
    allOk &&= ok
    const q = mc.perMesh[s].quorum
    rows.push([
      String(mc.n), `${a} (${pct(a / mc.n)}${a / mc.n !== f ? `, asked ${pct(f)}` : ''})`,
      `${fmtP(e.any)} / ${fmtP(got.any)}`, `${fmtP(e.quorum)} / ${fmtP(got.quorum)} (${mc.hits[s].quorum})`, `${fmtP(e.all)} / ${fmtP(got.all)} (${mc.hits[s].all})`,
      `${fmtP(Math.min(...q))} - ${fmtP(Math.max(...q))}`, ok ? 'yes' : 'NO'
    ])
    mcFigures.push({ n: mc.n, share: f, attackers: a, exact: e, mc: got, ok })
  }
}
out.push(markdownTable(rows, ['r', 'l', 'r', 'r', 'r', 'r', 'l']))
out.push(`(hits in parentheses; "per mesh" is the spread of P(>= ${Q}) between placements of the same number of random identities, ${PER_MESH} jobs each)`)
out.push('')

const groundResults: GroundResult[] = []
if (GROUND_NODES.length > 0 && GROUND_JOBS > 0) {
  for (const n of GROUND_NODES) {
    for (const f of SHARES) {
      const t = performance.now()
      const g = groundCase(n, f)
      if (g !== undefined) {
        groundResults.push(g)
        log(`grinding, N = ${n}, share ${pct(f)}: ${((performance.now() - t) / 1000).toFixed(1)} s`)
      }
    }
  }
  out.push('peer-ID grinding by attackers already in the mesh: they know the honest peer IDs (the DHT lists them) and grind')
  out.push(`their own into the largest empty regions of the Kademlia key space, ${Q} per region (to reach quorum) or ${R} per region`)
  out.push('(to hold every seat). The beacon keeps them from aiming at one job, not from owning a slice of all jobs. MC: real')
  out.push(`assignBuilders over ${GROUND_MESHES} meshes of random honest IDs, ${GROUND_JOBS} random jobs per cell; "bound": the key space their clusters own outright.`)
  out.push('')
  const gRows: string[][] = [['N', 'attackers A', `>= ${Q}: random placement`, `>= ${Q}: ground, clusters of ${Q} (bound)`, 'gain', `= ${R}: random`, `= ${R}: ground, clusters of ${R} (bound)`]]
  for (const g of groundResults) {
    const rand = exactEvents(k => hyper(g.n, g.a, k))
    gRows.push([
      String(g.n), `${g.a} (${pct(g.a / g.n)})`, fmtP(rand.quorum), `${fmtP(g.quorum.mc)} (${fmtP(g.quorum.bound)})`,
      rand.quorum > 0 ? `x${(g.quorum.mc / rand.quorum).toFixed(1)}` : '-',
      fmtP(rand.all), g.a >= R ? `${fmtP(g.all.mc)} (${fmtP(g.all.bound)})` : '-'
    ])
  }
  out.push(markdownTable(gRows, ['r', 'l', 'r', 'r', 'r', 'r', 'r']))
  out.push('')
}
const lateResults: LateResult[] = []
if (LATE_NODES.length > 0) {
  for (const n of LATE_NODES) lateResults.push(await lateGrinding(n))
  out.push('grinding AFTER the announcement, against the node\'s real VerdictService (validate, store, tally; the announcement lists the 2r closest of N builders):')
  out.push(`the job's ${R} assigned builders attest the true hash H and the verdict is final; then an attacker with no identity in the mesh`)
  out.push(`generates Ed25519 keys until it has ${R} closer to the job than every honest builder, and publishes their attestations of P, ${Q} first.`)
  out.push('')
  const lRows: string[][] = [['N', 'keys generated', 'grinding', 'verdict before', 'attacker\'s attestations', `after ${Q} ground IDs`, `after ${R}`]]
  for (const l of lateResults) {
    const oc = new Map<string, number>()
    for (const o of l.outcomes) oc.set(o, (oc.get(o) ?? 0) + 1)
    lRows.push([String(l.n), String(l.tries), `${(l.grindMs / 1000).toFixed(2)} s`, l.before, [...oc].map(([k, v]) => `${v} ${k}`).join(', '), l.afterQ, l.afterR])
  }
  out.push(markdownTable(lRows, ['r', 'r', 'r', 'l', 'l', 'l', 'l']))
  out.push('(the announcement lists its candidate builders, signed: an identity made after the beacon was revealed is not')
  out.push(' listed and never counts; see docs/protocols/assignment.md and docs/threat-model.md)')
  out.push('')
}
out.push(`Monte Carlo agrees with the exact figures: ${allOk ? 'yes' : 'NO'}; ${((performance.now() - t0) / 1000).toFixed(1)} s`)
process.stdout.write(out.join('\n') + '\n')

reportFigures('collusion', {
  replicas: R,
  quorum: Q,
  binomial: SHARES.map(f => ({ share: f, ...exactEvents(k => binom(f, k)) })),
  mc: mcFigures,
  mcAgrees: allOk,
  ground: groundResults,
  late: lateResults
})
