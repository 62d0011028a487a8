/**
 * Compares a build's output packages with the official (Koji) build's, as a job's buildroot manifest
 * lists them (docs/protocols/buildroot.md, `official`): a package whose content sha256 (the bytes after
 * the signature header) equals the official one is identical; otherwise its main header is compared tag
 * by tag through the official entry's per-tag digests, and the differing tags are named (BUILDTIME,
 * BUILDHOST, FILEDIGESTS, PAYLOADDIGEST, SIZE, ...). The claim's rules: src/rules/official.ts.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import type { RpmHeader } from './header.ts'
import { RpmFormatError } from './errors.ts'
import { readRpmFile } from './reader.ts'
import { tagName } from './tag-names.ts'
import { MAX_OFFICIAL_FILES, type BuildrootManifest, type OfficialFile } from '../rules/buildroot.ts'
import { NOT_BUILT, NOT_IN_OFFICIAL, summarise, type OfficialClaim, type PackageComparison } from '../rules/official.ts'

/** RPMTAG_PAYLOADDIGEST: equal values mean the same compressed payload, so only header fields differ */
const PAYLOAD_DIGEST_TAG = '5092'

/** Bytes of sha256 a tag digest keeps (32 hex digits) */
export const TAG_DIGEST_BYTES = 16

/**
 * The digest of every entry of a main header but the region tag, keyed by tag number (decimal): the
 * first 16 bytes of sha256(type as u32 big-endian || count as u32 big-endian || the entry's data bytes as
 * stored), lowercase hex. Two headers with equal digests for a tag hold the same value for it.
 */
export function headerTagDigests (header: RpmHeader): Record<string, string> {
  const digests: Record<string, string> = {}
  for (const e of [...header.entries].sort((a, b) => a.tag - b.tag)) {
    const prefix = Buffer.alloc(8)
    prefix.writeUInt32BE(e.type, 0)
    prefix.writeUInt32BE(e.count, 4)
    const data = header.raw(e.tag) as Uint8Array
    digests[String(e.tag)] = createHash('sha256').update(prefix).update(data).digest().subarray(0, TAG_DIGEST_BYTES).toString('hex')
  }
  return digests
}

/**
 * A binary package's official entry as a seeder writes it: its file name as rpmbuild and Koji name it
 * (`name-version-release.arch.rpm`, from the header, whatever the file is called), content sha256 and
 * per-tag digests. Throws RpmFormatError for a source package.
 */
export async function officialEntry (path: string, options: { signal?: AbortSignal } = {}): Promise<Required<OfficialFile>> {
  const { sha256, tags, name } = await outputDigests(path, options)
  return { name, sha256, tags }
}

/** The manifest with these official output files (officialEntry each) in place of any it listed */
export async function withOfficialEntries (manifest: BuildrootManifest, paths: readonly string[], options: { signal?: AbortSignal } = {}): Promise<BuildrootManifest> {
  if (paths.length > MAX_OFFICIAL_FILES) throw new RangeError(`more than ${MAX_OFFICIAL_FILES} official files`)
  const official: OfficialFile[] = []
  for (const p of paths) official.push(await officialEntry(p, options))
  return { ...manifest, official }
}

/** Content sha256 (after the signature header), per-tag digests and rpm's file name of a binary package */
export async function outputDigests (path: string, options: { signal?: AbortSignal } = {}): Promise<{ sha256: string, tags: Record<string, string>, name: string }> {
  const pkg = await readRpmFile(path, options)
  if (pkg.isSource) throw new RpmFormatError(`${pkg.nevra} is a source package, not a build output`)
  const sha = createHash('sha256')
  for await (const chunk of createReadStream(path, { start: pkg.headerOffset, signal: options.signal, highWaterMark: 1024 * 1024 })) sha.update(chunk as Buffer)
  return { sha256: sha.digest('hex'), tags: headerTagDigests(pkg.header), name: `${pkg.name}-${pkg.version}-${pkg.release}.${pkg.arch ?? 'noarch'}.rpm` }
}

/** The tags whose digests differ, or that one side has and the other not, by rpm's names in tag order */
export function differingTags (ours: Record<string, string>, official: Record<string, string>): string[] {
  const tags = new Set([...Object.keys(ours), ...Object.keys(official)])
  return [...tags].map(Number).sort((a, b) => a - b).filter(t => ours[t] !== official[t]).map(tagName)
}

/**
 * Compares this build's outputs (file name and path) with the official files: one comparison per name
 * on either side, then the claim (summarise). Without per-tag digests in an official entry, a differing
 * package names no fields.
 */
export async function compareWithOfficial (outputs: ReadonlyArray<{ name: string, path: string }>, official: readonly OfficialFile[], options: { signal?: AbortSignal } = {}): Promise<OfficialClaim> {
  const byName = new Map(official.map(f => [f.name, f]))
  const packages: PackageComparison[] = []
  for (const out of outputs) {
    const theirs = byName.get(out.name)
    if (theirs === undefined) {
      packages.push({ name: out.name, identical: false, fields: [NOT_IN_OFFICIAL], samePayload: false })
      continue
    }
    const ours = await outputDigests(out.path, options)
    const identical = ours.sha256 === theirs.sha256
    const payload = theirs.tags?.[PAYLOAD_DIGEST_TAG]
    packages.push({
      name: out.name,
      identical,
      fields: identical || theirs.tags === undefined ? [] : differingTags(ours.tags, theirs.tags),
      samePayload: identical || (payload !== undefined && ours.tags[PAYLOAD_DIGEST_TAG] === payload)
    })
  }
  const built = new Set(outputs.map(o => o.name))
  for (const f of official) if (!built.has(f.name)) packages.push({ name: f.name, identical: false, fields: [NOT_BUILT], samePayload: false })
  return summarise(packages)
}
