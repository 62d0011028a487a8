/** Shared steps of the backends: preparing the work directory, collecting and hashing the outputs, the log */
import { chown, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LOG_EXCERPT_BYTES } from './constants.ts'
import { BuildSetupError } from './errors.ts'
import { hashFiles } from './hash.ts'
import type { BuildFile, BuildPhase } from './index.ts'
import type { BoundedLog } from './process.ts'

/** Creates the work directory, which must be absent or empty */
export async function prepareWorkDir (workDir: string): Promise<void> {
  await mkdir(workDir, { recursive: true })
  const entries = await readdir(workDir)
  if (entries.length > 0) throw new BuildSetupError(`work directory ${workDir} is not empty`)
}

/** Hands a directory tree to the build user */
export async function chownTree (dir: string, uid: number, gid: number): Promise<void> {
  await chown(dir, uid, gid)
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    await chown(join(e.parentPath, e.name), uid, gid)
  }
}

/** Files under `dir` (recursively) whose names pass `accept`; symlinks and special files are ignored */
export async function findFiles (dir: string, accept: (name: string) => boolean): Promise<string[]> {
  const found: string[] = []
  let entries
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true })
  } catch {
    return found
  }
  for (const e of entries) if (e.isFile() && accept(e.name)) found.push(join(e.parentPath, e.name))
  return found.sort()
}

export type Outcome =
  | { ok: true, files: BuildFile[], buildHash: string }
  | { ok: false, reason: string }

/** Moves the outputs into `outputDir` (flat, by base name) after checking their total size, and hashes them */
export async function collectOutputs (paths: readonly string[], outputDir: string, maxOutputBytes: number, signal?: AbortSignal): Promise<Outcome> {
  if (paths.length === 0) return { ok: false, reason: 'the build produced no binary RPMs' }
  let total = 0
  for (const p of paths) total += (await stat(p)).size
  if (total > maxOutputBytes) return { ok: false, reason: `output is ${total} bytes, over the limit of ${maxOutputBytes}` }
  await mkdir(outputDir, { recursive: true })
  const moved: string[] = []
  for (const p of paths) {
    const to = join(outputDir, p.slice(p.lastIndexOf('/') + 1))
    if (moved.includes(to)) return { ok: false, reason: `two output RPMs are named ${to}` }
    await rename(p, to)
    moved.push(to)
  }
  return { ok: true, ...await hashFiles(moved, { signal }) }
}

export async function writeLog (path: string, log: BoundedLog): Promise<void> {
  await writeFile(path, log.text(), { mode: 0o644 })
}

export function excerpt (log: BoundedLog): string {
  return log.excerpt(LOG_EXCERPT_BYTES)
}

export async function removeQuietly (...paths: string[]): Promise<void> {
  for (const p of paths) await rm(p, { recursive: true, force: true }).catch(() => {})
}

/** rpmbuild's `Executing(%build): ...` lines, as phases */
export function phaseOf (line: string): BuildPhase | undefined {
  const m = /^Executing\(%(prep|build|install|check)\)/.exec(line)
  if (m !== null) return m[1] as BuildPhase
  if (line.startsWith('Processing files:')) return 'package'
  return undefined
}
