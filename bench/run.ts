/**
 * `npm run bench`: runs every bench/*.ts (not bench/lib, not this file) in turn, one after the other so they
 * do not disturb each other's numbers, and passes their output through. Exit code 1 if any
 * bench failed.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const dir = import.meta.dirname
const benches = readdirSync(dir).filter(f => f.endsWith('.ts') && f !== 'run.ts').sort()
const failed: string[] = []
for (const file of benches) {
  process.stdout.write(`\n=== bench/${file}\n`)
  const t0 = Date.now()
  const r = spawnSync(process.execPath, ['--disable-warning=ExperimentalWarning', join(dir, file)], { stdio: 'inherit' })
  const how = r.error !== undefined ? r.error.message : r.signal !== null ? `killed by ${r.signal}` : `exit ${r.status}`
  process.stdout.write(`=== bench/${file}: ${how}, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`)
  if (r.status !== 0) failed.push(file)
}
process.stdout.write(`\n${benches.length - failed.length} of ${benches.length} benches ran${failed.length > 0 ? `; failed: ${failed.join(', ')}` : ''}\n`)
process.exitCode = failed.length > 0 ? 1 : 0
