/**
 * The build hash (docs/protocols/consensus.md, "Build hash"): `sha256` over the lines `"<sha256 of file>  <file name>\n"`,
 * sorted, of the binary RPMs a build produced. The line is the one `sha256sum` prints, so
 * `sha256sum *.rpm | LC_ALL=C sort | sha256sum` gives the same hash.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { basename } from 'node:path'
import type { BuildFile } from './index.ts'

/** sha256 (lowercase hex) of a file, read as a stream */
export async function sha256File (path: string, options: { signal?: AbortSignal } = {}): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { signal: options.signal, highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer)
  }
  return hash.digest('hex')
}

/** One line of the build hash input */
export function buildHashLine (file: Pick<BuildFile, 'name' | 'sha256'>): string {
  if (!/^[0-9a-f]{64}$/.test(file.sha256)) throw new TypeError(`not a sha256: ${file.sha256}`)
  if (file.name.length === 0 || /[/\n\r]/.test(file.name)) throw new TypeError(`not a file name: ${JSON.stringify(file.name)}`)
  return `${file.sha256}  ${file.name}\n`
}

/**
 * The build hash of a set of files. Lines are sorted by their UTF-8 bytes (what `LC_ALL=C sort` does),
 * so the order the files were found in does not matter.
 */
export function buildHash (files: ReadonlyArray<Pick<BuildFile, 'name' | 'sha256'>>): string {
  const lines = files.map(f => Buffer.from(buildHashLine(f), 'utf8')).sort(Buffer.compare)
  const hash = createHash('sha256')
  for (const line of lines) hash.update(line)
  return hash.digest('hex')
}

/** Size and sha256 of each file (named by its base name), sorted by name, and their build hash */
export async function hashFiles (paths: readonly string[], options: { signal?: AbortSignal } = {}): Promise<{ files: BuildFile[], buildHash: string }> {
  const files: BuildFile[] = []
  for (const path of paths) {
    const { size } = await stat(path)
    files.push({ name: basename(path), size, sha256: await sha256File(path, options) })
  }
  files.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
  const names = new Set(files.map(f => f.name))
  if (names.size !== files.length) throw new TypeError('two output files have the same name')
  return { files, buildHash: buildHash(files) }
}
