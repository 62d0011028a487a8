/**
 * A job's buildroot for mock: a repository of exactly the manifest's packages (each checked against the
 * manifest first, then named `N-V-R.A.rpm` under Packages/, indexed by createrepo_c), and, after the
 * build, the comparison of what mock installed (its installed_pkgs.log) with the manifest.
 */
import { execFile } from 'node:child_process'
import { copyFile, link, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { packageFileName, packageNevra, type BuildrootManifest } from '../rules/buildroot.ts'
import { checkPackages } from './buildroot.ts'
import { BuildrootUnavailableError } from './errors.ts'
import { baseEnv } from './sandbox.ts'
import type { BuildrootInput } from './types.ts'

/** @default 600_000 (10 min) — createrepo_c over a buildroot's packages (a Fedora buildroot of ~400 takes seconds) */
export const CREATEREPO_TIMEOUT_MS = 10 * 60 * 1000

/** At most this many packages are named in each part of a mismatch reason */
const NAMED_IN_REASON = 5

async function createrepo (tool: string, dir: string, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile(tool, ['--quiet', '--no-database', dir], { env: baseEnv('/nonexistent'), timeout: CREATEREPO_TIMEOUT_MS, signal, encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (err === null) resolve()
      else reject(new BuildrootUnavailableError(`buildroot cannot be materialised: createrepo_c failed: ${(stderr !== '' ? stderr : err.message).trim().split('\n').slice(-2).join('; ')}`))
    })
  })
}

/**
 * Makes `dir` (which must not exist) the job's repository: every package checked (checkPackages: NEVRA,
 * sigmd5, content sha256, size), hard-linked (else copied) as `Packages/N-V-R.A.rpm`, then createrepo_c.
 * Throws BuildrootUnavailableError.
 */
export async function makeJobRepository (createrepoTool: string, input: BuildrootInput, dir: string, signal?: AbortSignal): Promise<void> {
  const paths = await checkPackages(input, signal)
  await mkdir(join(dir, 'Packages'), { recursive: true, mode: 0o755 })
  for (const [i, p] of input.manifest.packages.entries()) {
    const target = join(dir, 'Packages', packageFileName(p))
    await link(paths[i], target).catch(async () => await copyFile(paths[i], target))
  }
  await createrepo(createrepoTool, dir, signal)
}

/** One package as rpm names it */
export interface InstalledPackage {
  name: string
  epoch: number | null
  version: string
  release: string
  arch: string
}

/** Parses `name-[epoch:]version-release.arch`; undefined when it is not one */
export function parseNevra (s: string): InstalledPackage | undefined {
  const m = /^(.+)-(?:(\d+):)?([^-:]+)-([^-]+)\.([^.-]+)$/.exec(s)
  if (m === null) return undefined
  return { name: m[1], epoch: m[2] === undefined ? null : Number(m[2]), version: m[3], release: m[4], arch: m[5] }
}

/**
 * The packages of a mock installed_pkgs.log: one a line, `%{nevra} %{buildtime} %{size} installed` (mock's
 * package_state plugin). rpm's imported keys (`gpg-pubkey`) are not packages of the buildroot.
 */
export function parseInstalledLog (text: string): InstalledPackage[] {
  const out: InstalledPackage[] = []
  for (const line of text.split('\n')) {
    const token = line.trim().split(/\s+/)[0] ?? ''
    if (token === '' || token.startsWith('gpg-pubkey-')) continue
    const p = parseNevra(token)
    if (p === undefined) throw new BuildrootUnavailableError(`buildroot mismatch: mock's installed_pkgs.log has a line that is no package: ${JSON.stringify(line.slice(0, 120))}`)
    out.push(p)
  }
  return out
}

const evr = (p: InstalledPackage): string => `${p.epoch ?? 0}:${p.version}-${p.release}`

function listed (what: string, items: string[]): string[] {
  if (items.length === 0) return []
  const more = items.length > NAMED_IN_REASON ? ` and ${items.length - NAMED_IN_REASON} more` : ''
  return [`${what} ${items.slice(0, NAMED_IN_REASON).join(', ')}${more}`]
}

/**
 * Compares the installed set with the manifest, by name and arch: a package missing, one the manifest does
 * not list, one at another epoch, version or release. Returns the reason (`buildroot mismatch: …`), or
 * undefined when they are the same set. An absent epoch and epoch 0 are the same, as rpm compares them.
 */
export function compareInstalled (manifest: BuildrootManifest, installed: readonly InstalledPackage[]): string | undefined {
  const wanted = new Map(manifest.packages.map(p => [`${p.name}.${p.arch}`, p]))
  const got = new Map<string, InstalledPackage>()
  const extra: string[] = []
  for (const p of installed) {
    const key = `${p.name}.${p.arch}`
    if (got.has(key) || !wanted.has(key)) extra.push(packageNevra(p)) // a second one of a name and arch is never the manifest's
    else got.set(key, p)
  }
  const missing: string[] = []
  const different: string[] = []
  for (const [key, p] of wanted) {
    const i = got.get(key)
    if (i === undefined) missing.push(packageNevra(p))
    else if (evr(i) !== evr(p)) different.push(`${packageNevra(i)} (the manifest says ${packageNevra(p)})`)
  }
  const parts = [...listed('missing', missing), ...listed('not in the manifest', extra), ...listed('another version', different)]
  return parts.length === 0 ? undefined : `buildroot mismatch: mock installed another set than the manifest: ${parts.join('; ')}`
}
