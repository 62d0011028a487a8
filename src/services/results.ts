/**
 * Results back to the requester: the RPMs of an agreed verdict, fetched from the agreeing builders over
 * the blob protocol, each checked against the sha256 the agreeing builders signed, and published as a
 * dnf repository with createrepo_c. Only a final `agreed` verdict is fetched (docs/protocols: disputed,
 * no-consensus and failed jobs need more builders or a human).
 *
 * @example
 * ```ts
 * const r = agreedResult(node, job)              // undefined until the verdict is final
 * if (r.ok) await fetchResult(node, r.result, '/srv/repo', { onProgress })
 * await updateRepository('/srv/repo')
 * ```
 */
import { createHash, randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Transform } from 'node:stream'
import { peerIdFromString } from '@libp2p/peer-id'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { SkylineLibp2p } from './components.ts'
import type { Store } from '../store/store.ts'
import { fetchDeadline, type BlobRef, type BlobService } from './blob/index.ts'
import { checkAttestation, type AttestationFile } from '../protocols/attestation.ts'
import { isSafeFileName } from '../rules/file-name.ts'
import { sha256File } from '../builder/hash.ts'
import { buildHash } from '../rules/build-hash.ts'
import type { OfficialVerdict } from '../rules/official.ts'

export interface AgreedResult {
  job: string
  nevra: string
  /** the agreed build hash */
  hash: string
  /** the output RPMs as the agreeing builders signed them */
  files: AttestationFile[]
  /** peer IDs of the agreeing builders: where the files are fetched from */
  agreeing: string[]
  /**
   * the files as each agreeing builder signed them (by peer ID): with the chunk size and root under which
   * that builder serves each file, when its attestation names them (file entry v2)
   */
  signed: Record<string, AttestationFile[]>
  /** ids of the agreeing attestations (provenance) */
  attestations: string[]
  /** how the agreed outputs compare with the official (Koji) build, as the verdict records the agreeing builders' claim; absent when unknown */
  official?: OfficialVerdict
}

export type ResultLookup =
  | { ok: true, result: AgreedResult }
  | { ok: false, verdict: string, final: boolean, reason: string }

/** What fetching results uses of a node: its store (verdicts, attestations) and its blob service */
export interface ResultSource {
  store: Store
  libp2p: SkylineLibp2p
  peerId: string
}

export class ResultFetchError extends Error {
  static name = 'ResultFetchError'
  override name = 'ResultFetchError'
}

/** The agreed result of a job from the node's store, or why there is none (yet) */
export function agreedResult (node: ResultSource, job: string): ResultLookup {
  const v = node.store.verdict(job)
  if (v === undefined) return { ok: false, verdict: 'pending', final: false, reason: 'no attestation yet' }
  const detail = JSON.parse(v.detail) as { verdict: string, hash?: string, agreeing: string[], dissenters: string[], final: boolean, official?: OfficialVerdict }
  if (detail.verdict !== 'agreed' || !v.final) {
    const reason = detail.verdict === 'agreed'
      ? `agreed so far by ${detail.agreeing.length}, waiting for the other builders`
      : detail.verdict === 'disputed'
        ? `disputed: ${detail.dissenters.length} builder(s) attested another hash; only agreed results are published`
        : detail.verdict
    return { ok: false, verdict: detail.verdict, final: v.final, reason }
  }
  const hash = detail.hash!
  let files: AttestationFile[] | undefined
  const ids: string[] = []
  const signed: Record<string, AttestationFile[]> = {}
  for (const row of node.store.attestations(job)) {
    if (!detail.agreeing.includes(row.builder) || row.buildHash !== hash) continue
    // the stored envelope is checked again: the files come from what the builder signed
    const a = checkAttestation(row.envelope, Number.POSITIVE_INFINITY)
    if (a.buildHash !== hash || buildHash(a.files) !== hash) continue
    files ??= a.files
    signed[a.builder] = a.files
    ids.push(a.id)
  }
  if (files === undefined) return { ok: false, verdict: 'agreed', final: true, reason: 'the agreeing attestations are not in the store' }
  const nevra = node.store.announcementForJob(job)?.nevra ?? job
  return { ok: true, result: { job, nevra, hash, files, agreeing: [...detail.agreeing].sort(), signed, attestations: ids.sort(), ...(detail.official !== undefined ? { official: detail.official } : {}) } }
}

export interface FetchProgress {
  file: string
  done: number
  total: number
}

export interface FetchResultOptions extends AbortOptions {
  onProgress?: (p: FetchProgress) => void
}

/**
 * Fetches every file of an agreed result into `repoDir` (files already there with the right sha256
 * are kept) and records its provenance in `repoDir/.skyline/<job>.json`. Each file is fetched by the
 * reference its agreeing builders signed (fetchPlans): every builder that signed it serves chunks, and
 * one whose hash list contradicts its own signed root is blamed alone; a builder that stalls is dropped
 * from the fetch and the others go on; a fetch that makes no progress for a minute, or runs past
 * fetchDeadline(size), gives way to the next plan. The whole file is checked against the signed sha256
 * by the blob store, and again as it is copied into place (write, check, rename). Returns the names
 * written and kept. Throws ResultFetchError when no agreeing builder can serve a file.
 */
export async function fetchResult (node: ResultSource, result: AgreedResult, repoDir: string, opts: FetchResultOptions = {}): Promise<{ written: string[], kept: string[] }> {
  mkdirSync(repoDir, { recursive: true })
  const written: string[] = []
  const kept: string[] = []
  const blobs = node.libp2p.services.blobs
  for (const f of result.files) {
    if (!isSafeFileName(f.name)) throw new ResultFetchError(`unsafe file name ${JSON.stringify(f.name)}`)
    const dest = join(repoDir, f.name)
    if (existsSync(dest)) {
      const have = await sha256File(dest)
      if (have === f.sha256) { kept.push(f.name); continue }
      throw new ResultFetchError(`${dest} exists with another sha256 (${have.slice(0, 16)}); not replacing it`)
    }
    let path = blobs.path(f.sha256)
    const errors: string[] = []
    for (const plan of fetchPlans(result, f.name, node.peerId)) {
      if (path !== undefined) break
      opts.signal?.throwIfAborted()
      try {
        path = await fetchByPlan(blobs, f, plan, opts)
      } catch (err: any) {
        opts.signal?.throwIfAborted()
        errors.push(`${plan.builders.map(p => p.toString().slice(-8)).join(', ')}: ${err.message}`)
      }
    }
    if (path === undefined) throw new ResultFetchError(`cannot fetch ${f.name} from any agreeing builder (${errors.join('; ') || 'none reachable'})`)
    await copyChecked(path, dest, f.sha256)
    opts.onProgress?.({ file: f.name, done: f.size, total: f.size })
    written.push(f.name)
  }
  const meta = join(repoDir, '.skyline')
  mkdirSync(meta, { recursive: true })
  writeFileSync(join(meta, `${result.job}.json`), JSON.stringify({ ...result, fetchedAt: new Date().toISOString() }, null, 2) + '\n')
  return { written, kept }
}

/** One way to fetch a file: the reference some agreeing builders signed, or (no root signed) one builder's word */
export interface FetchPlan {
  /** the signed reference; undefined for a builder whose attestation names no chunk root */
  ref: BlobRef | undefined
  /** the builders that signed `ref` (or the one builder to ask for its hash list) */
  builders: PeerId[]
}

/**
 * The plans for one file of a result, in the order to try them: each reference (size, chunk size, chunk
 * root) with the agreeing builders that signed it, most signers first (ties in random order, so a ground
 * peer ID gains nothing), then each builder whose attestation names no chunk root, alone. The tally keys
 * on the build hash only: the chunk root also depends on the chunk size a builder's store uses, a local
 * setting, so builders that agree on the bytes may serve them under different roots.
 */
export function fetchPlans (result: AgreedResult, name: string, self: string): FetchPlan[] {
  const signedRefs = new Map<string, FetchPlan>()
  const unsigned: FetchPlan[] = []
  for (const builder of result.agreeing) {
    const f = result.signed[builder]?.find(x => x.name === name)
    if (builder === self || f === undefined) continue
    const peer = peerIdFromString(builder)
    if (f.chunkSize === undefined || f.chunkRoot === undefined) {
      unsigned.push({ ref: undefined, builders: [peer] })
      continue
    }
    const key = `${f.size}/${f.chunkSize}/${f.chunkRoot}`
    const plan = signedRefs.get(key) ?? { ref: { sha256: f.sha256, size: f.size, chunkSize: f.chunkSize, root: f.chunkRoot }, builders: [] }
    plan.builders.push(peer)
    signedRefs.set(key, plan)
  }
  const ranked = [...signedRefs.values()].map(plan => ({ plan, tie: Math.random() }))
  ranked.sort((a, b) => b.plan.builders.length - a.plan.builders.length || a.tie - b.tie)
  return [...ranked.map(r => r.plan), ...unsigned]
}

/** One plan, within fetchDeadline(size) */
async function fetchByPlan (blobs: BlobService, f: AttestationFile, plan: FetchPlan, opts: FetchResultOptions): Promise<string> {
  const deadlineMs = fetchDeadline(f.size)
  const deadline = AbortSignal.timeout(deadlineMs)
  const signal = AbortSignal.any([deadline, ...(opts.signal != null ? [opts.signal] : [])])
  try {
    // no signed root: the builder's hash list is taken on its word, and nobody is blamed for contradicting it
    const ref = plan.ref ?? await blobs.peerManifest(plan.builders[0], f.sha256, { signal })
    if (ref === undefined) throw new ResultFetchError('does not hold it')
    return await blobs.fetch(ref, {
      signal,
      providers: plan.builders,
      rootSignedBy: plan.ref !== undefined ? plan.builders : [],
      onProgress: evt => opts.onProgress?.({ file: f.name, done: evt.detail.done, total: evt.detail.total })
    })
  } catch (err: any) {
    if (deadline.aborted && opts.signal?.aborted !== true) throw new ResultFetchError(`not fetched within ${Math.round(deadlineMs / 1000)} s`, { cause: err })
    throw err
  }
}

/** Copies `src` to `dest` through a temporary name, checking the sha256 of what was written */
async function copyChecked (src: string, dest: string, sha256: string): Promise<void> {
  const tmp = `${dest}.${randomBytes(4).toString('hex')}.part`
  const h = createHash('sha256')
  try {
    await pipeline(createReadStream(src), new Transform({ transform (chunk, _enc, cb) { h.update(chunk); cb(null, chunk) } }), createWriteStream(tmp, { mode: 0o644 }))
    const got = h.digest('hex')
    if (got !== sha256) throw new ResultFetchError(`${dest}: copied file has sha256 ${got.slice(0, 16)}, not the agreed ${sha256.slice(0, 16)}`)
    renameSync(tmp, dest)
  } finally {
    rmSync(tmp, { force: true })
  }
}

/** fetchResult, then the repository metadata: what `skyline fetch` and `seed --repo` do for each agreed job */
export async function publishResult (node: ResultSource, result: AgreedResult, repoDir: string, opts: FetchResultOptions = {}): Promise<{ written: string[], kept: string[] }> {
  const out = await fetchResult(node, result, repoDir, opts)
  await updateRepository(repoDir, { signal: opts.signal })
  return out
}

let repoQueue: Promise<unknown> = Promise.resolve()

/**
 * (Re)writes the repository metadata of `repoDir` with createrepo_c (`--update` reuses the metadata of
 * packages already indexed). Runs one at a time in this process: createrepo_c refuses to run twice on
 * one directory.
 */
export async function updateRepository (repoDir: string, opts: AbortOptions = {}): Promise<void> {
  const run = repoQueue.then(async () => new Promise<void>((resolve, reject) => {
    const args = ['--quiet', '--excludes', '.skyline/*', ...(existsSync(join(repoDir, 'repodata', 'repomd.xml')) ? ['--update'] : []), repoDir]
    execFile('createrepo_c', args, { signal: opts.signal, timeout: 300_000 }, (err, _stdout, stderr) => {
      if (err == null) { resolve(); return }
      const why = (err as any).code === 'ENOENT' ? 'createrepo_c is not installed (apt install createrepo-c, or dnf install createrepo_c)' : (stderr.trim() || err.message)
      reject(new ResultFetchError(`createrepo_c ${repoDir}: ${why}`))
    })
  }))
  repoQueue = run.catch(() => {})
  await run
}
