/**
 * The buildroot manifest (docs/protocols/buildroot.md): every package installed in a job's buildroot, the
 * macros its builds define, the tool versions, and optionally the official build's digests. An announcement
 * names it by its sha256 (signed with the rest); builders fetch it as a blob and parse it here. The format
 * is canonical JSON: `encodeManifest(parseManifest(bytes))` gives `bytes` back, or the bytes are refused.
 */
import { createHash } from 'node:crypto'

/** The format string of version 1 */
export const MANIFEST_FORMAT = 'skyline-buildroot/1'
/** @default 4 MiB: the largest manifest a builder fetches (a Fedora buildroot of ~400 packages is ~120 KiB) */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024
/** @default 8192 packages in one buildroot */
export const MAX_MANIFEST_PACKAGES = 8192
/** @default 256 macros */
export const MAX_MANIFEST_MACROS = 256
/** @default 32 tool versions */
export const MAX_MANIFEST_TOOLS = 32
/** @default 1024 official output files */
export const MAX_OFFICIAL_FILES = 1024
/** @default 512 per-tag digests in one official file's entry (a built package's main header has about 100 tags) */
export const MAX_OFFICIAL_TAGS = 512
/** @default 1024 bytes: a macro value (one line) */
export const MAX_MACRO_VALUE = 1024

/** One installed package: what Koji records (name, epoch, version, release, arch, sigmd5, size) and its content sha256 */
export interface BuildrootPackage {
  name: string
  /** null when the package has no epoch */
  epoch: number | null
  version: string
  release: string
  arch: string
  /** Koji's "payloadhash": RPMSIGTAG_MD5, the MD5 of header and payload (lowercase hex); signing does not change it */
  sigmd5: string
  /** size in bytes of the package file as Koji recorded it (the unsigned build); a signed copy may be up to SIGNATURE_ALLOWANCE larger */
  size: number
  /** sha256 of the bytes after the signature header (main header and payload; lowercase hex); signing does not change it */
  sha256: string
}

/** One output file of the official (Koji) build */
export interface OfficialFile {
  /** file name, e.g. `hello-1.0-1.fc41.x86_64.rpm` */
  name: string
  /** content sha256 (after the signature header), lowercase hex */
  sha256: string
  /**
   * optional: the digest of each main-header tag by tag number (decimal), so builders can name the header
   * fields that differ (src/rpm/official.ts `headerTagDigests`: 32 lowercase hex digits each)
   */
  tags?: Record<string, string>
}

export interface BuildrootManifest {
  packages: BuildrootPackage[]
  /** rpm macros every build of the job defines (`--define 'name value'`), from Koji's mock config: `_host`, `vendor`, `packager`, `distribution`, ... */
  macros: Record<string, string>
  /** versions of the tools that made the official build (`rpm`, `mock`, ...): informational, and compared by builders that use their own */
  tools: Record<string, string>
  /** the official build's outputs, when the seeder knows them */
  official?: OfficialFile[]
}

/** How much larger than its recorded size a signed copy of a package may be (a signature header grows by one OpenPGP signature) */
export const SIGNATURE_ALLOWANCE = 64 * 1024

export class ManifestError extends Error {
  static name = 'ManifestError'
  override name = 'ManifestError'
}

const NAME_RE = /^[A-Za-z0-9._+-]{1,128}$/
const VR_RE = /^[A-Za-z0-9._+~^]{1,128}$/
const ARCH_RE = /^[A-Za-z0-9_]{1,32}$/
const MACRO_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
const TOOL_RE = /^[A-Za-z0-9._+-]{1,64}$/
const FILE_RE = /^[A-Za-z0-9._+~^-]{1,255}\.rpm$/
const HEX32 = /^[0-9a-f]{32}$/
const TAG_NUMBER_RE = /^[1-9][0-9]{0,8}$/
const HEX64 = /^[0-9a-f]{64}$/

/** `name-[epoch:]version-release.arch` */
export function packageNevra (p: Pick<BuildrootPackage, 'name' | 'epoch' | 'version' | 'release' | 'arch'>): string {
  return `${p.name}-${p.epoch === null ? '' : `${p.epoch}:`}${p.version}-${p.release}.${p.arch}`
}

/** `name-version-release.arch.rpm`, the file name of a package in a repository */
export function packageFileName (p: Pick<BuildrootPackage, 'name' | 'version' | 'release' | 'arch'>): string {
  return `${p.name}-${p.version}-${p.release}.${p.arch}.rpm`
}

function compareBytes (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

/** The canonical bytes of a manifest: fixed key order, packages sorted by NEVRA, macros and tools by name */
export function encodeManifest (m: BuildrootManifest): Uint8Array {
  const sortedRecord = (r: Record<string, string>): Record<string, string> =>
    Object.fromEntries(Object.entries(r).sort(([a], [b]) => compareBytes(a, b)))
  const canonical: Record<string, unknown> = {
    format: MANIFEST_FORMAT,
    packages: [...m.packages].sort((a, b) => compareBytes(packageNevra(a), packageNevra(b))).map(p => ({
      name: p.name, epoch: p.epoch, version: p.version, release: p.release, arch: p.arch, sigmd5: p.sigmd5, size: p.size, sha256: p.sha256
    })),
    macros: sortedRecord(m.macros),
    tools: sortedRecord(m.tools)
  }
  if (m.official !== undefined) canonical.official = [...m.official].sort((a, b) => compareBytes(a.name, b.name)).map(officialCanonical)
  return new TextEncoder().encode(JSON.stringify(canonical))
}

/** An official entry's canonical form: name, sha256, then `tags` (when given) in ascending tag order */
function officialCanonical (f: OfficialFile): Record<string, unknown> {
  if (f.tags === undefined) return { name: f.name, sha256: f.sha256 }
  // integer-like keys: JSON.stringify writes them in ascending numeric order whatever the insertion order
  return { name: f.name, sha256: f.sha256, tags: { ...f.tags } }
}

/** sha256 (32 bytes) of a manifest's canonical bytes: what the announcement signs */
export function manifestDigest (bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

function fail (what: string): never {
  throw new ManifestError(`buildroot manifest: ${what}`)
}

function record (value: unknown, what: string, max: number, key: RegExp, valueOk: (v: string) => boolean): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${what} must be an object`)
  const entries = Object.entries(value)
  if (entries.length > max) fail(`more than ${max} ${what}`)
  for (const [k, v] of entries) {
    if (!key.test(k)) fail(`bad ${what} name ${JSON.stringify(k.slice(0, 80))}`)
    if (typeof v !== 'string' || !valueOk(v)) fail(`bad value of ${what} ${k}`)
  }
  return value as Record<string, string>
}

function checkPackage (p: any, i: number): BuildrootPackage {
  const at = `package ${i}`
  if (typeof p !== 'object' || p === null) fail(`${at} must be an object`)
  if (typeof p.name !== 'string' || !NAME_RE.test(p.name)) fail(`${at}: bad name`)
  if (p.epoch !== null && (!Number.isSafeInteger(p.epoch) || p.epoch < 0)) fail(`${at} (${p.name}): bad epoch`)
  if (typeof p.version !== 'string' || !VR_RE.test(p.version)) fail(`${at} (${p.name}): bad version`)
  if (typeof p.release !== 'string' || !VR_RE.test(p.release)) fail(`${at} (${p.name}): bad release`)
  if (typeof p.arch !== 'string' || !ARCH_RE.test(p.arch)) fail(`${at} (${p.name}): bad arch`)
  if (typeof p.sigmd5 !== 'string' || !HEX32.test(p.sigmd5)) fail(`${at} (${p.name}): sigmd5 must be 32 lowercase hex digits`)
  if (!Number.isSafeInteger(p.size) || p.size <= 0) fail(`${at} (${p.name}): bad size`)
  if (typeof p.sha256 !== 'string' || !HEX64.test(p.sha256)) fail(`${at} (${p.name}): sha256 must be 64 lowercase hex digits`)
  return p as BuildrootPackage
}

function checkOfficial (f: any, i: number): OfficialFile {
  if (typeof f?.name !== 'string' || !FILE_RE.test(f.name)) fail(`official file ${i}: bad name`)
  if (typeof f.sha256 !== 'string' || !HEX64.test(f.sha256)) fail(`official file ${i}: bad sha256`)
  if (f.tags === undefined) return { name: f.name, sha256: f.sha256 }
  const tags = record(f.tags, `tags of official file ${i}`, MAX_OFFICIAL_TAGS, TAG_NUMBER_RE, v => HEX32.test(v))
  return { name: f.name, sha256: f.sha256, tags }
}

/**
 * Parses and checks a manifest: size, format, every field, no package named twice (by name and arch, as
 * rpm installs them), and canonical encoding. Throws ManifestError with the reason.
 */
export function parseManifest (bytes: Uint8Array): BuildrootManifest {
  if (bytes.byteLength > MAX_MANIFEST_BYTES) fail(`${bytes.byteLength} bytes, over the limit of ${MAX_MANIFEST_BYTES}`)
  let json: any
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (err: any) {
    fail(`not JSON: ${err.message}`)
  }
  if (typeof json !== 'object' || json === null || json.format !== MANIFEST_FORMAT) fail(`format must be ${MANIFEST_FORMAT}`)
  if (!Array.isArray(json.packages) || json.packages.length === 0) fail('packages must be a non-empty array')
  if (json.packages.length > MAX_MANIFEST_PACKAGES) fail(`more than ${MAX_MANIFEST_PACKAGES} packages`)
  const packages = json.packages.map(checkPackage)
  const seen = new Set<string>()
  for (const p of packages) {
    const key = `${p.name}.${p.arch}`
    if (seen.has(key)) fail(`${key} is listed twice`)
    seen.add(key)
  }
  const manifest: BuildrootManifest = {
    packages,
    macros: record(json.macros, 'macros', MAX_MANIFEST_MACROS, MACRO_RE, v => v.length <= MAX_MACRO_VALUE && !/[\n\r\0]/.test(v)),
    tools: record(json.tools, 'tools', MAX_MANIFEST_TOOLS, TOOL_RE, v => TOOL_RE.test(v))
  }
  if (json.official !== undefined) {
    if (!Array.isArray(json.official) || json.official.length > MAX_OFFICIAL_FILES) fail(`official must be an array of at most ${MAX_OFFICIAL_FILES} files`)
    const official: OfficialFile[] = json.official.map(checkOfficial)
    if (new Set(official.map(f => f.name)).size !== official.length) fail('an official file is listed twice')
    manifest.official = official
  }
  if (Buffer.compare(Buffer.from(encodeManifest(manifest)), Buffer.from(bytes)) !== 0) fail('not in canonical form (encode it with encodeManifest)')
  return manifest
}
