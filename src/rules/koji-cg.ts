/**
 * Koji content-generator metadata (format version 0, Koji's docs/source/content_generator_metadata.rst) for
 * an agreed job: the build (the SRPM's name, epoch, version and release, the time the agreeing builds
 * ran), one buildroot (the job's buildroot manifest as `rpm` components, the tools, the builders'
 * environments) and the agreed output RPMs with their sha256. Pure: the caller fetches and checks the
 * files and the manifest (src/services/koji-cg.ts). `koji import-cg metadata.json DIR` takes the result
 * (docs/results.md).
 *
 * @example
 * ```ts
 * const metadata = kojiCgMetadata({ nevra, srpmSha256, job, announcement, buildHash, files, attestations, manifest, manifestSha256, generator })
 * writeFileSync(join(dir, 'metadata.json'), JSON.stringify(metadata, null, 2))
 * ```
 */
import type { BuildrootManifest } from './buildroot.ts'
import type { OfficialVerdict } from './official.ts'

/** The `id` of the one buildroot entry (Koji: "only needs to be consistent within this file") */
export const KOJI_CG_BUILDROOT_ID = 1

/** The checksum type of the outputs: sha256, what the builders signed (Koji hubs check it since 1.25; md5 before) */
export const KOJI_CG_CHECKSUM_TYPE = 'sha256'

export interface KojiCgAttestation {
  /** the attestation's id (hex) */
  id: string
  /** the builder's peer ID */
  builder: string
  /** Unix ms, as signed */
  time: number
  /** the claimed build duration, ms */
  durationMs: number
  /** the signed environment: `builder`, `rpmVersion`, `target`, `sandbox`, `buildroot`, ... */
  environment: Readonly<Record<string, string>>
}

export interface KojiCgInput {
  /** the announced SRPM, `name-[epoch:]version-release.src` */
  nevra: string
  /** the SRPM's sha256 (hex), as announced */
  srpmSha256: string
  /** the job key (hex) */
  job: string
  /** the announcement's id (hex) */
  announcement: string
  /** the agreed build hash (hex) */
  buildHash: string
  /** the agreed output RPMs as the agreeing builders signed them */
  files: ReadonlyArray<{ name: string, size: number, sha256: string }>
  /** the agreeing attestations */
  attestations: readonly KojiCgAttestation[]
  /** the job's buildroot manifest */
  manifest: BuildrootManifest
  /** its sha256 (hex), as announced */
  manifestSha256: string
  /** the content generator's name (registered on the hub: `koji grant-cg-access USER NAME --new`) and version */
  generator: { name: string, version: string }
  /** how the agreed outputs compare with the official build, when the verdict records it */
  official?: OfficialVerdict
}

/** An `rpm` component of a buildroot (Koji: name, version, release, epoch, arch, sigmd5, signature) */
export interface KojiCgRpmComponent {
  type: 'rpm'
  name: string
  version: string
  release: string
  epoch: number | null
  arch: string
  sigmd5: string
  /** the key that signed the package (Koji's sigkey); the manifest does not record it */
  signature: string | null
}

export interface KojiCgOutput {
  buildroot_id: number
  filename: string
  filesize: number
  arch: string
  checksum: string
  checksum_type: string
  type: 'rpm'
}

export interface KojiCgBuildroot {
  id: number
  host: { os: string, arch: string }
  content_generator: { name: string, version: string }
  container: { type: string, arch: string }
  tools: Array<{ name: string, version: string }>
  components: KojiCgRpmComponent[]
  extra: Record<string, unknown>
}

export interface KojiCgMetadata {
  metadata_version: 0
  build: {
    name: string
    version: string
    release: string
    epoch: number | null
    source: string
    start_time: number
    end_time: number
    extra: Record<string, unknown>
  }
  buildroots: KojiCgBuildroot[]
  output: KojiCgOutput[]
}

export class KojiCgError extends Error {
  static name = 'KojiCgError'
  override name = 'KojiCgError'
}

const SRPM_NEVRA_RE = /^(.+)-(?:(\d+):)?([^-:]+)-([^-]+)\.src$/
const RPM_ARCH_RE = /\.([A-Za-z0-9_]+)\.rpm$/

/** name, epoch, version and release of an announced SRPM (`name-[epoch:]version-release.src`) */
export function parseSrpmNevra (nevra: string): { name: string, epoch: number | null, version: string, release: string } {
  const m = SRPM_NEVRA_RE.exec(nevra)
  if (m === null) throw new KojiCgError(`not an SRPM NEVRA (name-[epoch:]version-release.src): ${JSON.stringify(nevra.slice(0, 200))}`)
  return { name: m[1], epoch: m[2] === undefined ? null : Number(m[2]), version: m[3], release: m[4] }
}

/** The arch of an RPM file name `N-V-R.ARCH.rpm` */
export function rpmFileArch (name: string): string {
  const m = RPM_ARCH_RE.exec(name)
  if (m === null) throw new KojiCgError(`not an RPM file name (N-V-R.ARCH.rpm): ${JSON.stringify(name.slice(0, 200))}`)
  return m[1]
}

/**
 * Where a builder ran, from its signed environment: rpmbuild's `target` is a platform triple
 * (`x86_64-redhat-linux-gnu`: arch, vendor, os), mock's a config name ending in the arch (`fedora-41-x86_64`)
 */
export function hostOf (environment: Readonly<Record<string, string>>): { os: string, arch: string } {
  const target = environment.target ?? ''
  if (environment.builder === 'mock') return { os: 'linux', arch: target.split('-').at(-1) || 'unknown' }
  const parts = target.split('-')
  return { os: parts[2] || 'linux', arch: parts[0] || 'unknown' }
}

/** The container Koji records: the build's sandbox (mock's chroot, a bubblewrap namespace, or none) */
export function containerType (environment: Readonly<Record<string, string>>): string {
  if (environment.builder === 'mock') return 'mock-chroot'
  return environment.sandbox === 'bwrap' ? 'bwrap' : 'none'
}

/** The value most of `values` share (ties: the first in sorted order) */
function most (values: string[]): string {
  const counts = new Map<string, number>()
  for (const v of [...values].sort()) counts.set(v, (counts.get(v) ?? 0) + 1)
  let best = ''
  let n = 0
  for (const [v, c] of counts) if (c > n) { best = v; n = c }
  return best
}

/** The tools: the manifest's, and the rpm the builds ran (its versions joined where builders differed); one entry per name, as Koji keys them */
function toolsOf (manifest: BuildrootManifest, attestations: readonly KojiCgAttestation[]): Array<{ name: string, version: string }> {
  const tools = new Map<string, Set<string>>()
  for (const [name, version] of Object.entries(manifest.tools)) tools.set(name, new Set([version]))
  const rpm = attestations.map(a => a.environment.rpmVersion).filter((v): v is string => v !== undefined && v !== '')
  if (rpm.length > 0 && manifest.tools.rpm === undefined) tools.set('rpm', new Set(rpm))
  return [...tools].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([name, versions]) => ({ name, version: [...versions].sort().join(', ') }))
}

/**
 * The metadata.json of an agreed job. Throws KojiCgError for what Koji would refuse: no attestations, no
 * output files, an SRPM NEVRA or file name Koji cannot parse.
 */
export function kojiCgMetadata (input: KojiCgInput): KojiCgMetadata {
  if (input.attestations.length === 0) throw new KojiCgError('no agreeing attestation')
  if (input.files.length === 0) throw new KojiCgError('the agreed build has no output files')
  const { name, epoch, version, release } = parseSrpmNevra(input.nevra)
  const envs = input.attestations.map(a => a.environment)
  const hosts = envs.map(hostOf)
  const host = { os: most(hosts.map(h => h.os)), arch: most(hosts.map(h => h.arch)) }
  const starts = input.attestations.map(a => a.time - a.durationMs)
  const ends = input.attestations.map(a => a.time)
  return {
    metadata_version: 0,
    build: {
      name,
      version,
      release,
      epoch,
      source: `${name}-${version}-${release}.src.rpm#sha256=${input.srpmSha256}`,
      start_time: Math.floor(Math.min(...starts) / 1000),
      end_time: Math.ceil(Math.max(...ends) / 1000),
      extra: {
        typeinfo: { rpm: {} },
        skyline: {
          job: input.job,
          announcement: input.announcement,
          srpm: { nevra: input.nevra, sha256: input.srpmSha256 },
          build_hash: input.buildHash,
          agreeing: input.attestations.map(a => a.builder).sort(),
          attestations: input.attestations.map(a => a.id).sort(),
          ...(input.official !== undefined ? { reproduces_koji: input.official } : {})
        }
      }
    },
    buildroots: [{
      id: KOJI_CG_BUILDROOT_ID,
      host,
      content_generator: { ...input.generator },
      container: { type: most(envs.map(containerType)), arch: host.arch },
      tools: toolsOf(input.manifest, input.attestations),
      components: input.manifest.packages.map(p => ({
        type: 'rpm' as const, name: p.name, version: p.version, release: p.release, epoch: p.epoch, arch: p.arch, sigmd5: p.sigmd5, signature: null
      })),
      extra: {
        skyline: {
          manifest_sha256: input.manifestSha256,
          macros: input.manifest.macros,
          builders: [...input.attestations].sort((a, b) => a.builder < b.builder ? -1 : 1).map(a => ({ peer: a.builder, attestation: a.id, environment: a.environment }))
        }
      }
    }],
    output: input.files.map(f => ({
      buildroot_id: KOJI_CG_BUILDROOT_ID,
      filename: f.name,
      filesize: f.size,
      arch: rpmFileArch(f.name),
      checksum: f.sha256,
      checksum_type: KOJI_CG_CHECKSUM_TYPE,
      type: 'rpm' as const
    }))
  }
}
