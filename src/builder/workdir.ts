/**
 * Where a node's builds run. As root, builds run as uid 65534, which must reach its work dir: the data
 * dir may sit under a private home (/root), so builds go to /var/tmp/skyline-<id of the data dir> (0711:
 * others may traverse, not list). Otherwise under the data dir.
 */
import { createHash } from 'node:crypto'
import { chmodSync, mkdirSync, rmdirSync } from 'node:fs'
import { join } from 'node:path'

/** The node's build root, created if missing */
export function buildWorkDir (dataDir: string): string {
  if (process.getuid?.() !== 0) return join(dataDir, 'work')
  const dir = join('/var/tmp', `skyline-${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`)
  mkdirSync(dir, { recursive: true, mode: 0o711 })
  chmodSync(dir, 0o711)
  return dir
}

/** Removes the build root when nothing is left in it (a node that stops leaves no empty directory) */
export function removeWorkDir (dir: string): void {
  try { rmdirSync(dir) } catch {}
}
