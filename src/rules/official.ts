/**
 * "Reproduces Koji's build": how a build's outputs compare with the official build's, as a builder
 * claims it in its attestation (fields 13–14, docs/protocols/consensus.md) and as a verdict reports the
 * agreeing builders' claim. Pure: the limits, the wire codes, the summary of per-package comparisons,
 * and the verdict's choice among the agreeing builders' claims. Reading the packages: src/rpm/official.ts.
 */
import { isSafeFileName } from './file-name.ts'

/** Wire codes of `Attestation.official` (field 13) */
export const REPRODUCES = { unknown: 0, yes: 1, partly: 2, no: 3 } as const
export type Reproduces = keyof typeof REPRODUCES

/** @default 64 packages named in one claim's differences (field 14) */
export const MAX_OFFICIAL_DIFFERENCES = 64
/** @default 32 header fields named per package */
export const MAX_DIFFERING_FIELDS = 32
/** @default 8 KiB: the package and field names of one claim together (UTF-8 bytes), so a claim fits an attestation */
export const MAX_DIFFERENCES_BYTES = 8 * 1024

/** A header field name as a claim names it: rpm's tag name without RPMTAG_ (`BUILDTIME`), `TAG_<n>` for a tag rpm has no name for, or a pseudo-field (below) */
export const FIELD_NAME_RE = /^[A-Z][A-Z0-9_]{0,31}$/
/** The pseudo-field of a package this build made and the official build did not */
export const NOT_IN_OFFICIAL = 'NOT_IN_OFFICIAL'
/** The pseudo-field of an official package this build did not make */
export const NOT_BUILT = 'NOT_BUILT'

/** One package that differs from the official build, and which of its header fields do (none when they are not known) */
export interface PackageDifference {
  /** the output file name, e.g. `hello-2.12-1.fc42.x86_64.rpm` */
  name: string
  /** differing header fields, sorted by tag number (pseudo-fields last); at most MAX_DIFFERING_FIELDS */
  fields: string[]
}

/** A builder's claim about its outputs against the official build */
export interface OfficialClaim {
  reproduces: Reproduces
  /** the differing packages, sorted by name; empty for `yes` and `unknown` */
  differences: PackageDifference[]
}

/** One package's comparison: identical (same content sha256), or the fields that differ */
export interface PackageComparison {
  name: string
  identical: boolean
  fields: string[]
  /** its payload is the official one's (equal payload digests): only header fields differ */
  samePayload: boolean
}

function byName (a: { name: string }, b: { name: string }): number {
  return Buffer.compare(Buffer.from(a.name), Buffer.from(b.name))
}

/**
 * The claim from per-package comparisons (outputs and official files both named, missing ones as
 * NOT_BUILT / NOT_IN_OFFICIAL): `yes` when every package is identical; `no` when the file sets differ,
 * or when no package is identical and none has the official payload; `partly` otherwise (some packages
 * identical, or differing only in header fields such as BUILDTIME and BUILDHOST). The differences are
 * bounded (boundDifferences).
 */
export function summarise (packages: readonly PackageComparison[]): OfficialClaim {
  if (packages.length === 0) return { reproduces: 'unknown', differences: [] }
  const differing = packages.filter(p => !p.identical).sort(byName)
  const setsDiffer = differing.some(p => p.fields.includes(NOT_BUILT) || p.fields.includes(NOT_IN_OFFICIAL))
  const somethingReproduced = packages.some(p => p.identical || p.samePayload)
  const reproduces: Reproduces = differing.length === 0 ? 'yes' : setsDiffer || !somethingReproduced ? 'no' : 'partly'
  return { reproduces, differences: boundDifferences(differing.map(p => ({ name: p.name, fields: p.fields }))) }
}

/** At most MAX_OFFICIAL_DIFFERENCES packages of at most MAX_DIFFERING_FIELDS fields each, within MAX_DIFFERENCES_BYTES: the first ones kept */
export function boundDifferences (differences: readonly PackageDifference[]): PackageDifference[] {
  const kept: PackageDifference[] = []
  let bytes = 0
  for (const d of differences.slice(0, MAX_OFFICIAL_DIFFERENCES)) {
    const fields = d.fields.slice(0, MAX_DIFFERING_FIELDS)
    const size = differenceBytes({ name: d.name, fields })
    if (bytes + size > MAX_DIFFERENCES_BYTES) break
    bytes += size
    kept.push({ name: d.name, fields })
  }
  return kept
}

function differenceBytes (d: PackageDifference): number {
  return Buffer.byteLength(d.name) + d.fields.reduce((n, f) => n + Buffer.byteLength(f), 0)
}

/** Why a claim breaks the rules of consensus.md ("Comparison with the official build"), or undefined when it keeps them */
export function claimProblem (c: OfficialClaim): string | undefined {
  if (c.reproduces === 'yes' || c.reproduces === 'unknown') {
    return c.differences.length === 0 ? undefined : `reproduces=${c.reproduces} names no differences`
  }
  if (c.differences.length === 0) return `reproduces=${c.reproduces} names the differing packages`
  if (c.differences.length > MAX_OFFICIAL_DIFFERENCES) return `${c.differences.length} differing packages > ${MAX_OFFICIAL_DIFFERENCES}`
  const names = new Set<string>()
  let bytes = 0
  for (const d of c.differences) {
    if (!isSafeFileName(d.name)) return `bad package name ${JSON.stringify(d.name.slice(0, 80))}`
    if (names.has(d.name)) return `package ${d.name} named twice`
    names.add(d.name)
    if (d.fields.length > MAX_DIFFERING_FIELDS) return `${d.fields.length} fields of ${d.name} > ${MAX_DIFFERING_FIELDS}`
    if (new Set(d.fields).size !== d.fields.length) return `a field of ${d.name} named twice`
    const badField = d.fields.find(f => !FIELD_NAME_RE.test(f))
    if (badField !== undefined) return `bad field name ${JSON.stringify(badField.slice(0, 40))} of ${d.name}`
    bytes += differenceBytes(d)
  }
  if (bytes > MAX_DIFFERENCES_BYTES) return `differences of ${bytes} bytes > ${MAX_DIFFERENCES_BYTES}`
  return undefined
}

/** What a verdict says of the official build: the claim of the agreeing builders, and how many of them made it */
export interface OfficialVerdict extends OfficialClaim {
  /** agreeing builders whose attestation makes this claim */
  claimedBy: number
  /** agreeing builders */
  of: number
}

/**
 * The verdict's claim from the agreeing builders' claims (one per agreeing builder): the claim a strict
 * majority of them made; undefined when all are `unknown` (the job names no official build) or no claim
 * has a majority. The same claims in any order give the same answer.
 */
export function agreedClaim (claims: readonly OfficialClaim[]): OfficialVerdict | undefined {
  const counts = new Map<string, { claim: OfficialClaim, n: number }>()
  for (const c of claims) {
    const key = JSON.stringify(c)
    const entry = counts.get(key) ?? { claim: c, n: 0 }
    entry.n++
    counts.set(key, entry)
  }
  const best = [...counts.values()].find(e => 2 * e.n > claims.length)
  if (best === undefined || best.claim.reproduces === 'unknown') return undefined
  return { ...best.claim, claimedBy: best.n, of: claims.length }
}

/** ", reproduces Koji's build: partly (…)" for a verdict or result that says, else nothing: what `watch` and `fetch` print */
export function officialPhrase (v: { official?: OfficialClaim }): string {
  return v.official === undefined ? '' : `, reproduces Koji's build: ${describeClaim(v.official)}`
}

/** "yes", "no", or "partly (pkg: FIELD, FIELD; pkg2: …)": what people read */
export function describeClaim (c: OfficialClaim): string {
  if (c.reproduces === 'yes' || c.reproduces === 'unknown') return c.reproduces
  const parts = c.differences.map(d => d.fields.length > 0 ? `${d.name}: ${d.fields.join(', ')}` : d.name)
  return `${c.reproduces} (${parts.join('; ')})`
}
