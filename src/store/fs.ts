import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'

/** Writes a file so that a crash leaves either the old or the new content: temp file, fsync, rename, fsync dir. */
export function writeFileAtomic (path: string, data: Uint8Array | string, mode = 0o644): void {
  const tmp = `${path}.${process.pid}.tmp`
  const fd = openSync(tmp, 'w', mode)
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
  const dir = openSync(dirname(path), 'r')
  try { fsyncSync(dir) } finally { closeSync(dir) }
}
