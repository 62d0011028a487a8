/**
 * The node's build directories. They are made by the node itself, in its own data directory, mode 0700,
 * and a directory that is there already is used only when it is a real directory owned by the node with
 * no access for anyone else: nothing another local user made first, and nothing a build can name (the
 * sandbox sees none of it, docs/build.md).
 */
import { lstatSync, mkdirSync, readdirSync, rmdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { BuildSetupError } from './errors.ts'

/** Mode of every build directory the node makes */
export const WORK_DIR_MODE = 0o700

/**
 * `<dataDir>/work`, the root of the node's builds: created 0700 if absent, refused (BuildSetupError) if
 * it is a symlink, not a directory, owned by another user, or open to group or others.
 */
export function buildWorkDir (dataDir: string): string {
  const dir = join(dataDir, 'work')
  ownDirectory(dir)
  return dir
}

/** Removes the build root when nothing is left in it (a node that stops leaves no empty directory) */
export function removeWorkDir (dir: string): void {
  try { rmdirSync(dir) } catch {}
}

/**
 * A fresh, empty directory for one job under `root` (from buildWorkDir): whatever a previous run left
 * there is removed first, without following links.
 */
export function makeJobDir (root: string, job: string): string {
  if (!/^[0-9a-f]{16,128}$/.test(job)) throw new BuildSetupError(`bad job id ${JSON.stringify(job.slice(0, 80))}`)
  ownDirectory(root)
  const dir = join(root, job)
  rmSync(dir, { recursive: true, force: true }) // unlinks symlinks, never follows them
  mkdirSync(dir, { mode: WORK_DIR_MODE })
  ownDirectory(dir)
  return dir
}

/**
 * Creates `dir` (0700) unless it exists, then checks that it is a directory of this user that only it can
 * use (`allowOpenMode`: that others may have access is accepted, for a directory inside one checked already)
 */
export function ownDirectory (dir: string, options: { allowOpenMode?: boolean } = {}): void {
  try {
    mkdirSync(dir, { mode: WORK_DIR_MODE })
  } catch (err: any) {
    if (err.code !== 'EEXIST') throw new BuildSetupError(`cannot create ${dir}: ${err.message}`)
  }
  const st = lstatSync(dir)
  if (!st.isDirectory()) throw new BuildSetupError(`${dir} is not a directory (${st.isSymbolicLink() ? 'a symlink' : 'another file type'}): remove it`)
  const uid = process.geteuid?.() ?? st.uid
  if (st.uid !== uid) throw new BuildSetupError(`${dir} is owned by uid ${st.uid}, not by this node (uid ${uid}): someone else made it; remove it`)
  if (options.allowOpenMode !== true && (st.mode & 0o077) !== 0) throw new BuildSetupError(`${dir} has mode ${(st.mode & 0o7777).toString(8)}: it must be ${WORK_DIR_MODE.toString(8)} (chmod ${WORK_DIR_MODE.toString(8)} it after checking its contents)`)
}

/**
 * Makes a build's own work directory (0700; its parent must exist), or takes an existing one that is an
 * empty directory of this user. It holds only what the node writes: the log and the output directory.
 */
export async function prepareWorkDir (workDir: string): Promise<void> {
  ownDirectory(workDir, { allowOpenMode: true })
  if (readdirSync(workDir).length > 0) throw new BuildSetupError(`work directory ${workDir} is not empty`)
}
