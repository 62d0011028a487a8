/**
 * Taking a build's outputs and writing its log. Everything a build leaves is untrusted input: the node
 * copies the binary RPMs into a directory only it can write (`<workDir>/output`, made by the node), each
 * file created exclusively and without following links, its name checked against the attestation's rules
 * before anything is written, sizes and counts bounded. Nothing is ever renamed out of, or read through, a
 * path the build could have replaced with a symlink.
 */
import { createHash } from 'node:crypto'
import { constants as fsConstants } from 'node:fs'
import { lstat, mkdir, open, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LOG_EXCERPT_BYTES } from './constants.ts'
import { buildHash } from '../rules/build-hash.ts'
import { MAX_ATTESTED_FILES, MAX_FILE_SIZE } from '../rules/constants.ts'
import { isSafeFileName } from '../rules/file-name.ts'
import type { BuildFile, BuildPhase } from './types.ts'
import type { BoundedLog } from './process.ts'

/** Flags of every file the node writes where a build has been: created here and now, never through a link */
const CREATE_NEW = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW

/** An output the node refuses; the build is `failed` with this message as its reason */
export class OutputRefusedError extends Error {
  static name = 'OutputRefusedError'
  override name = 'OutputRefusedError'
}

export type Outcome =
  | { ok: true, files: BuildFile[], buildHash: string }
  | { ok: false, reason: string }

/** Why `name` cannot be an output RPM, or undefined when it can (the rules of src/protocols/attestation.ts) */
export function outputNameProblem (name: string): string | undefined {
  if (name.endsWith('.src.rpm')) return `${JSON.stringify(name)} is a source package, not a binary RPM`
  if (!isSafeFileName(name)) return `output RPM ${JSON.stringify(name.slice(0, 300))} has a name that cannot be attested (letters, digits and ._+~^- only, at most 255 bytes, ending in .rpm)`
  return undefined
}

/**
 * The binary RPMs of one build, written by the node into its own output directory: names checked first,
 * at most MAX_ATTESTED_FILES files and `maxOutputBytes` in all, each hashed as it is written.
 */
export class OutputSink {
  readonly dir: string
  private readonly maxOutputBytes: number
  private readonly files: BuildFile[] = []
  private total = 0

  constructor (dir: string, maxOutputBytes: number) {
    this.dir = dir
    this.maxOutputBytes = maxOutputBytes
  }

  /** Checks name and size, then writes exactly `size` bytes of `data` to a new file; throws OutputRefusedError */
  async add (name: string, size: number, data: AsyncIterable<Buffer>): Promise<void> {
    const problem = outputNameProblem(name)
    if (problem !== undefined) throw new OutputRefusedError(problem)
    if (this.files.length >= MAX_ATTESTED_FILES) throw new OutputRefusedError(`more than ${MAX_ATTESTED_FILES} output RPMs`)
    if (!Number.isSafeInteger(size) || size <= 0 || size > MAX_FILE_SIZE) throw new OutputRefusedError(`output RPM ${name} has size ${size}`)
    if (this.total + size > this.maxOutputBytes) throw new OutputRefusedError(`output is over ${this.maxOutputBytes} bytes, the limit (maxOutputBytes)`)
    this.total += size
    if (this.files.length === 0) await mkdir(this.dir, { mode: 0o700 })
    let file
    try {
      file = await open(join(this.dir, name), CREATE_NEW, 0o644)
    } catch (err: any) {
      throw err.code === 'EEXIST' ? new OutputRefusedError(`two output RPMs are named ${name}`) : err
    }
    const hash = createHash('sha256')
    let written = 0
    try {
      for await (const chunk of data) {
        if (written + chunk.length > size) throw new OutputRefusedError(`output RPM ${name} is longer than its ${size} bytes`)
        hash.update(chunk)
        await file.write(chunk)
        written += chunk.length
      }
    } finally {
      await file.close()
    }
    if (written !== size) throw new OutputRefusedError(`output RPM ${name} ended after ${written} of ${size} bytes`)
    this.files.push({ name, size, sha256: hash.digest('hex') })
  }

  /** The files written, sorted by name, and their build hash; a failure when there are none */
  outcome (): Outcome {
    if (this.files.length === 0) return { ok: false, reason: 'the build produced no binary RPMs' }
    const files = [...this.files].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
    return { ok: true, files, buildHash: buildHash(files) }
  }
}

/**
 * Copies the binary RPMs under `dir` (mock's result directory) into `sink`: the tree is walked without
 * following links, only regular files are taken (opened O_NOFOLLOW and checked again on the open file).
 */
export async function collectFromDir (dir: string, sink: OutputSink, signal?: AbortSignal): Promise<Outcome> {
  try {
    for (const path of await regularFiles(dir)) {
      const name = path.slice(path.lastIndexOf('/') + 1)
      if (!name.endsWith('.rpm') || name.endsWith('.src.rpm')) continue
      const file = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW)
      try {
        const st = await file.stat()
        if (!st.isFile()) throw new OutputRefusedError(`${name} is not a regular file`)
        await sink.add(name, st.size, file.createReadStream({ autoClose: false, signal, highWaterMark: 1024 * 1024 }))
      } finally {
        await file.close()
      }
    }
  } catch (err: any) {
    if (err.name === 'OutputRefusedError') return { ok: false, reason: err.message }
    throw err
  }
  return sink.outcome()
}

/** Paths of the regular files under `dir`, sorted; directories are entered only when lstat says they are ones */
async function regularFiles (dir: string): Promise<string[]> {
  if (!(await lstat(dir).catch(() => undefined))?.isDirectory()) return []
  const found: string[] = []
  const stack = [dir]
  while (stack.length > 0) {
    const d = stack.pop() as string
    for (const e of await readdir(d)) {
      const p = join(d, e)
      const st = await lstat(p)
      if (st.isDirectory()) stack.push(p)
      else if (st.isFile()) found.push(p)
    }
  }
  return found.sort()
}

/** Writes the log the node kept from the build's output into a new file at `path` (never through a link) */
export async function writeLog (path: string, log: BoundedLog): Promise<void> {
  await writeFile(path, log.text(), { flag: CREATE_NEW, mode: 0o644 })
}

export function excerpt (log: BoundedLog): string {
  return log.excerpt(LOG_EXCERPT_BYTES)
}

/** Removes trees without following links (fs.rm unlinks a symlink, never what it points to) */
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
