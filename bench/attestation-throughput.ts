/**
 * Consensus throughput on one core: signed attestations per second through checkConsensusMessage
 * (decode, every field check, build hash, Ed25519 verify with cached node:crypto public keys), the same
 * with the key cache defeated (a KeyObject built per attestation, to show what the cache saves), and
 * tallies per second, both once per job and incrementally after every attestation as a node does.
 * 20 builders × 1000 attestations: 4000 jobs of r = 5, q = 3, each assigned to 5 of the 20 builders,
 * one builder in 20 attesting a different hash, one in 40 a failed build. Everything is pre-generated.
 *
 *   npx node bench/attestation-throughput.ts [--builders 20] [--per-builder 1000]
 *   (taskset -c 0 npx node ... to pin it to one core)
 */
import { createHash } from 'node:crypto'
import { parseArgs } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { BuilderKeyCache, checkConsensusMessage, createAttestation, encodeConsensusMessage } from '../src/protocols/attestation.ts'
import { tally, type TallyAttestation } from '../src/rules/tally.ts'
import { reportFigures } from './lib/summary.ts'

const { values } = parseArgs({ options: { builders: { type: 'string', default: '20' }, 'per-builder': { type: 'string', default: '1000' } } })
const nBuilders = Number(values.builders)
const perBuilder = Number(values['per-builder'])
const R = 5
const Q = 3
const jobs = Math.floor(nBuilders * perBuilder / R)

const sha = (s: string): string => createHash('sha256').update(s).digest('hex')
const keys = await Promise.all(Array.from({ length: nBuilders }, async () => generateKeyPair('Ed25519')))
const ids = keys.map(k => peerIdFromPrivateKey(k).toString())
const environment = { builder: 'rpmbuild', rpmVersion: '4.18.2', target: 'x86_64-redhat-linux-gnu', binaryPayload: 'w19.zstdio' }

const t0 = performance.now()
const messages: Array<{ job: number, bytes: Uint8Array }> = []
const assignedOf: string[][] = []
const now = Date.now()
for (let j = 0; j < jobs; j++) {
  const job = sha(`job-${j}`)
  const assigned: string[] = []
  for (let k = 0; k < R; k++) {
    const b = (j * R + k) % nBuilders
    assigned.push(ids[b])
    const n = j * R + k
    const kind = n % 40 === 7 ? 'failed' : n % 20 === 3 ? 'other' : 'good'
    const tag = kind === 'other' ? `other-${b}` : 'good'
    const files = kind === 'failed'
      ? []
      : [
          { name: `pkg${j}-1.0-1.fc41.x86_64.rpm`, size: 123456, sha256: sha(`${job}-main-${tag}`) },
          { name: `pkg${j}-debuginfo-1.0-1.fc41.x86_64.rpm`, size: 654321, sha256: sha(`${job}-dbg-${tag}`) },
          { name: `pkg${j}-devel-1.0-1.fc41.x86_64.rpm`, size: 4321, sha256: sha(`${job}-devel-${tag}`) }
        ]
    const bytes = createAttestation({ job, status: kind === 'failed' ? 'failed' : 'ok', files, environment, time: now - 1000 }, keys[b])
    messages.push({ job: j, bytes: encodeConsensusMessage({ attestation: bytes }) })
  }
  assignedOf.push(assigned)
}
const genMs = performance.now() - t0
const avgBytes = messages.reduce((s, m) => s + m.bytes.length, 0) / messages.length
console.log(`generated ${messages.length} attestations (${nBuilders} builders × ${perBuilder}, ${jobs} jobs, avg ${avgBytes.toFixed(0)} B) in ${(genMs / 1000).toFixed(2)} s: ${(messages.length / genMs * 1000).toFixed(0)} signed/s`)

// warm up the JIT and the cache on a slice
const cache = new BuilderKeyCache()
for (const m of messages.slice(0, 500)) checkConsensusMessage(m.bytes, now, { cache })

// verification with cached keys
const perJob: TallyAttestation[][] = Array.from({ length: jobs }, () => [])
let t = performance.now()
for (const m of messages) {
  const c = checkConsensusMessage(m.bytes, now, { cache })
  if (c.type !== 'attestation') throw new Error('unexpected')
  const a = c.attestation
  perJob[m.job].push({ builder: a.builder, status: a.status, ...(a.buildHash !== undefined ? { buildHash: a.buildHash } : {}) })
}
const verifyMs = performance.now() - t
const verifyRate = messages.length / verifyMs * 1000
console.log(`verify (cached keys):   ${messages.length} in ${verifyMs.toFixed(0)} ms: ${verifyRate.toFixed(0)} attestations/s (${(verifyMs * 1000 / messages.length).toFixed(1)} µs each)`)

// verification with the cache defeated: a 1-entry cache and alternating builders
const sample = messages.slice(0, 4000)
const tiny = new BuilderKeyCache(1)
t = performance.now()
for (const m of sample) checkConsensusMessage(m.bytes, now, { cache: tiny })
const coldMs = performance.now() - t
console.log(`verify (no key cache):  ${sample.length} in ${coldMs.toFixed(0)} ms: ${(sample.length / coldMs * 1000).toFixed(0)} attestations/s`)

// one tally per job, all attestations in
const counts: Record<string, number> = {}
t = performance.now()
for (let j = 0; j < jobs; j++) {
  const v = tally({ replicas: R, quorum: Q, assigned: assignedOf[j], attestations: perJob[j], deadlinePassed: false })
  counts[v.verdict] = (counts[v.verdict] ?? 0) + 1
}
const tallyMs = performance.now() - t
console.log(`tally (once per job):   ${jobs} in ${tallyMs.toFixed(0)} ms: ${(jobs / tallyMs * 1000).toFixed(0)} tallies/s; verdicts ${JSON.stringify(counts)}`)

// a tally after every attestation, as a node recomputes on arrival
t = performance.now()
let tallies = 0
for (let j = 0; j < jobs; j++) {
  for (let k = 1; k <= perJob[j].length; k++) {
    tally({ replicas: R, quorum: Q, assigned: assignedOf[j], attestations: perJob[j].slice(0, k), deadlinePassed: false })
    tallies++
  }
}
const incMs = performance.now() - t
console.log(`tally (per arrival):    ${tallies} in ${incMs.toFixed(0)} ms: ${(tallies / incMs * 1000).toFixed(0)} tallies/s`)

const pipeline = messages.length / (verifyMs + incMs) * 1000
console.log(`verify + tally per arrival: ${pipeline.toFixed(0)} attestations/s on one core (target >= 4000/s: ${pipeline >= 4000 ? 'met' : 'NOT met'})`)
reportFigures('attestation-throughput', { attestations: messages.length, verifyPerS: verifyRate, coldPerS: sample.length / coldMs * 1000, talliesPerS: jobs / tallyMs * 1000, pipelinePerS: pipeline, target: 4000 })
