/** Hashing a build's output files: each file's sha256 and the build hash over them (src/rules/build-hash.ts). */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { basename } from 'node:path'
import type { BuildFile } from './types.ts'
import { buildHash } from '../rules/build-hash.ts'

/** sha256 (lowercase hex) of a file, read as a stream */
export async function sha256File (path: string, options: { signal?: AbortSignal } = {}): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { signal: options.signal, highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer)
  }
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
