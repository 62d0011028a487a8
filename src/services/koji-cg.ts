/**
 * Results back to Koji: for an agreed job, a directory that `koji import-cg metadata.json DIR` takes. The
 * output RPMs are fetched and checked as for a dnf repository (results.ts), the job's buildroot manifest
 * is fetched by the sha256 its announcement signed, and metadata.json is made by kojiCgMetadata
 * (rules/koji-cg.ts) from the announcement, the agreeing attestations (checked again from the store) and
 * the manifest. A job announced without a manifest is refused: nothing records what its buildroot held,
 * and Koji's buildroot record is its list of components (docs/results.md).
 *
 * @example
 * ```ts
 * const r = agreedResult(node, job)
 * if (r.ok) await writeKojiCg(node, r.result, '/srv/koji-cg')   // /srv/koji-cg/<N-V-R>/metadata.json and the RPMs
 * ```
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import pkg from '../../package.json' with { type: 'json' }
import { buildrootRef, type CheckedAnnouncement } from '../protocols/announce.ts'
import { checkAttestation } from '../protocols/attestation.ts'
import { parseManifest, type BuildrootManifest } from '../rules/buildroot.ts'
import { kojiCgMetadata, parseSrpmNevra, KojiCgError, type KojiCgAttestation, type KojiCgMetadata } from '../rules/koji-cg.ts'
import { fetchDeadline } from './blob/index.ts'
import { fetchResult, type AgreedResult, type FetchResultOptions, type ResultSource } from './results.ts'

export { KojiCgError }

/** The content generator's name: what a Koji admin registers (`koji grant-cg-access USER skyline --new`) */
export const KOJI_CG_NAME = 'skyline'

/** What writing a CG directory uses of a node: the result source and its checked announcements */
export interface KojiCgSource extends ResultSource {
  announcements: { get: (job: string) => CheckedAnnouncement | undefined }
}

export interface KojiCgWritten {
  /** the import directory, `<dir>/<name>-<version>-<release>` */
  dir: string
  /** its metadata.json */
  metadata: string
  /** the output files written or kept (already there with the right sha256) */
  files: string[]
}

/**
 * Writes `<dir>/<N-V-R>/`: the agreed RPMs (fetched from the agreeing builders, each checked against its
 * signed sha256) and metadata.json. Throws KojiCgError when the job has no buildroot manifest, its
 * announcement or attestations are not in the store, or its manifest cannot be fetched.
 */
export async function writeKojiCg (node: KojiCgSource, result: AgreedResult, dir: string, opts: FetchResultOptions = {}): Promise<KojiCgWritten> {
  const announcement = node.announcements.get(result.job)
  if (announcement === undefined) throw new KojiCgError(`Koji CG metadata not written: no checked announcement of job ${result.job.slice(0, 16)} in the store`)
  const ref = buildrootRef(announcement.announcement)
  if (ref === undefined) {
    throw new KojiCgError(`Koji CG metadata not written: ${result.nevra} was announced without a buildroot manifest, so nothing records what its buildroot held (Koji's buildroot components); announce it with seed --buildroot or --koji-buildroot`)
  }
  const manifest = await fetchManifest(node, result, ref, opts)
  const { name, version, release } = parseSrpmNevra(result.nevra)
  const out = join(dir, `${name}-${version}-${release}`)
  const { written, kept } = await fetchResult(node, result, out, opts)
  const metadata = kojiCgMetadata({
    nevra: result.nevra,
    srpmSha256: Buffer.from(announcement.announcement.srpmSha256).toString('hex'),
    job: result.job,
    announcement: announcement.id,
    buildHash: result.hash,
    files: result.files,
    attestations: agreeingAttestations(node, result),
    manifest,
    manifestSha256: ref.sha256,
    generator: { name: KOJI_CG_NAME, version: pkg.version },
    official: result.official
  })
  const path = join(out, 'metadata.json')
  writeAtomically(path, metadata)
  return { dir: out, metadata: path, files: [...written, ...kept].sort() }
}

/** The manifest by the reference the announcement signed, from the agreeing builders (who fetched it to build) or anyone holding it */
async function fetchManifest (node: ResultSource, result: AgreedResult, ref: NonNullable<ReturnType<typeof buildrootRef>>, opts: FetchResultOptions): Promise<BuildrootManifest> {
  const blobs = node.libp2p.services.blobs
  let path = blobs.path(ref.sha256)
  if (path === undefined) {
    const deadline = AbortSignal.timeout(fetchDeadline(ref.size))
    try {
      path = await blobs.fetch(ref, {
        signal: AbortSignal.any([deadline, ...(opts.signal != null ? [opts.signal] : [])]),
        providers: result.agreeing.filter(p => p !== node.peerId).map(p => peerIdFromString(p))
      })
    } catch (err: any) {
      opts.signal?.throwIfAborted()
      throw new KojiCgError(`Koji CG metadata not written: cannot fetch the buildroot manifest ${ref.sha256.slice(0, 16)}: ${err.message}`, { cause: err })
    }
  }
  return parseManifest(await readFile(path))
}

/** The agreeing attestations of the result, checked again from the store */
function agreeingAttestations (node: ResultSource, result: AgreedResult): KojiCgAttestation[] {
  const ids = new Set(result.attestations)
  const out: KojiCgAttestation[] = []
  for (const row of node.store.attestations(result.job)) {
    if (!ids.has(row.id)) continue
    const a = checkAttestation(row.envelope, Number.POSITIVE_INFINITY)
    out.push({ id: a.id, builder: a.builder, time: a.time, durationMs: a.durationMs, environment: Object.fromEntries(a.environment.map(e => [e.key, e.value])) })
  }
  if (out.length === 0) throw new KojiCgError(`Koji CG metadata not written: the agreeing attestations of ${result.nevra} are not in the store`)
  return out
}

function writeAtomically (path: string, metadata: KojiCgMetadata): void {
  mkdirSync(join(path, '..'), { recursive: true })
  const tmp = `${path}.part`
  writeFileSync(tmp, JSON.stringify(metadata, null, 2) + '\n', { mode: 0o644 })
  renameSync(tmp, path)
}
