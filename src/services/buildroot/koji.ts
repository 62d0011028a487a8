/**
 * A buildroot manifest from a Koji buildroot listing (docs/protocols/buildroot.md, "From Koji"): the JSON of
 * `koji call --json-output getBuildroot N` and `koji call --json-output listRPMs componentBuildrootID=N`, as
 * Koji returns them. Koji records each package's name, epoch, version, release, arch, payloadhash (sigmd5)
 * and size, not the content sha256 the mesh names packages by: that comes from the package files themselves
 * (a directory of them, or a mirror), each checked against the listing's sigmd5 and size first.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  MAX_MANIFEST_PACKAGES, packageFileName, packageNevra, SIGNATURE_ALLOWANCE,
  type BuildrootManifest, type BuildrootPackage
} from '../../rules/buildroot.ts'
// not the rpm/index.ts barrel: that loads OpenPGP.js (a few MB), which only a node with a keyring needs
import { packageIdentity } from '../../rpm/package-digest.ts'
import { Mirror } from './mirror.ts'

/** @default 16 MiB: a listing file (Fedora's ~400-package buildroots list in ~250 KiB) */
export const MAX_KOJI_LISTING_BYTES = 16 * 1024 * 1024

export class KojiListingError extends Error {
  static name = 'KojiListingError'
  override name = 'KojiListingError'
}

/** One entry of `listRPMs(componentBuildrootID=N)`: the fields the manifest takes (Koji returns more) */
export interface KojiRpm {
  name: string
  epoch: number | null
  version: string
  release: string
  arch: string
  /** Koji's name for RPMSIGTAG_MD5 */
  payloadhash: string
  size: number
  external_repo_name?: string
}

/** What `getBuildroot(N)` says about where the build ran (Koji returns more) */
export interface KojiBuildroot {
  id: number
  tag_name?: string
  repo_id?: number
  host_name?: string
  arch?: string
}

/** The listing file: `{"getBuildroot": {…}, "listRPMs": [{…}, …]}` */
export interface KojiListing {
  buildroot: KojiBuildroot
  rpms: KojiRpm[]
}

function fail (what: string): never {
  throw new KojiListingError(`Koji listing: ${what}`)
}

function checkRpm (r: any, i: number): KojiRpm {
  const at = `listRPMs[${i}]`
  if (typeof r !== 'object' || r === null) fail(`${at} must be an object`)
  for (const f of ['name', 'version', 'release', 'arch', 'payloadhash'] as const) {
    if (typeof r[f] !== 'string' || r[f].length === 0) fail(`${at}: ${f} must be a non-empty string`)
  }
  if (r.epoch !== null && (!Number.isSafeInteger(r.epoch) || r.epoch < 0)) fail(`${at} (${r.name}): epoch must be null or a non-negative integer`)
  if (!/^[0-9a-f]{32}$/.test(r.payloadhash)) fail(`${at} (${r.name}): payloadhash must be 32 lowercase hex digits (the sigmd5)`)
  if (!Number.isSafeInteger(r.size) || r.size <= 0) fail(`${at} (${r.name}): size must be a positive integer`)
  return r as KojiRpm
}

/**
 * Parses a listing file: `getBuildroot`'s object (an integer `id` at least) and `listRPMs`'s array, every
 * entry with the fields the manifest needs. Throws KojiListingError naming the first bad field.
 */
export function parseKojiListing (bytes: Uint8Array): KojiListing {
  if (bytes.byteLength > MAX_KOJI_LISTING_BYTES) fail(`${bytes.byteLength} bytes, over the limit of ${MAX_KOJI_LISTING_BYTES}`)
  let json: any
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (err: any) {
    fail(`not JSON: ${err.message}`)
  }
  if (typeof json !== 'object' || json === null) fail('must be an object {"getBuildroot": {...}, "listRPMs": [...]}')
  const br = json.getBuildroot
  if (typeof br !== 'object' || br === null || !Number.isSafeInteger(br.id)) fail('getBuildroot must be the object getBuildroot returns (with its integer id)')
  if (!Array.isArray(json.listRPMs) || json.listRPMs.length === 0) fail('listRPMs must be the non-empty array listRPMs(componentBuildrootID=N) returns')
  if (json.listRPMs.length > MAX_MANIFEST_PACKAGES) fail(`more than ${MAX_MANIFEST_PACKAGES} packages`)
  return { buildroot: br as KojiBuildroot, rpms: json.listRPMs.map(checkRpm) }
}

/** Where package files come from: a directory (flat, or Koji's `<arch>/` subdirectories) or a dnf mirror */
export type KojiPackageSource = { directory: string } | { mirror: string }

/**
 * The manifest of a listing: every package located (by its exact file name in the directory, or its exact
 * NEVRA on the mirror), checked against the listing's NEVRA, payloadhash (as the header states it and as
 * the bytes give it) and size (plus a signature), and named by its content sha256. `tools.rpm` is the
 * buildroot's rpm version when it lists rpm. Throws KojiListingError naming every package not found or
 * not matching.
 */
export async function manifestFromKoji (listing: KojiListing, source: KojiPackageSource, signal?: AbortSignal): Promise<BuildrootManifest> {
  const tmp = 'mirror' in source ? await mkdtemp(join(tmpdir(), 'skyline-koji-')) : undefined
  const mirror = 'mirror' in source ? new Mirror(source.mirror) : undefined
  const packages: BuildrootPackage[] = []
  const problems: string[] = []
  try {
    for (const r of listing.rpms) {
      const wanted = { name: r.name, epoch: r.epoch, version: r.version, release: r.release, arch: r.arch, sigmd5: r.payloadhash, size: r.size, sha256: '0'.repeat(64) }
      const path = 'directory' in source
        ? await findInDirectory(source.directory, wanted)
        : await mirror!.download(wanted, join(tmp!, packageFileName(r)), signal) ? join(tmp!, packageFileName(r)) : undefined
      if (path === undefined) { problems.push(`${packageNevra(wanted)}: not found`); continue }
      const problem = await mismatch(path, wanted, signal)
      if (typeof problem === 'string') { problems.push(problem); continue }
      packages.push({ ...wanted, sha256: problem.sha256 })
    }
  } finally {
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true })
  }
  if (problems.length > 0) fail(`${problems.length} of ${listing.rpms.length} packages: ${problems.slice(0, 10).join('; ')}${problems.length > 10 ? '; …' : ''}`)
  const rpm = listing.rpms.find(r => r.name === 'rpm')
  return { packages, macros: {}, tools: rpm !== undefined ? { rpm: rpm.version } : {} }
}

async function findInDirectory (dir: string, p: BuildrootPackage): Promise<string | undefined> {
  for (const path of [join(dir, packageFileName(p)), join(dir, p.arch, packageFileName(p))]) {
    if ((await stat(path).catch(() => undefined))?.isFile() === true) return path
  }
  return undefined
}

/** The file's content sha256 when it is the listed package, else what differs */
async function mismatch (path: string, p: BuildrootPackage, signal?: AbortSignal): Promise<string | { sha256: string }> {
  const nevra = packageNevra(p)
  let id
  try {
    id = await packageIdentity(path, { signal })
  } catch (err: any) {
    return `${nevra}: not a readable binary package (${err.message})`
  }
  // Koji lists no epoch as null; rpm's header has none either
  if (packageNevra(id) !== nevra) return `${nevra}: the file is ${packageNevra(id)}`
  if (id.sigmd5 !== p.sigmd5 || id.contentMd5 !== p.sigmd5) return `${nevra}: sigmd5 ${id.contentMd5} (header ${id.sigmd5}), Koji's payloadhash is ${p.sigmd5}`
  if (id.size > p.size + SIGNATURE_ALLOWANCE) return `${nevra}: ${id.size} bytes, Koji recorded ${p.size}`
  return { sha256: id.sha256 }
}
