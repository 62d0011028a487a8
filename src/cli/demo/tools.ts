/**
 * The host tools the demo needs, looked up on PATH and the usual system folders.
 */
import { accessSync, constants as fsConstants } from 'node:fs'
import { join } from 'node:path'

/** What the demo runs itself (rpmbuild, rpmsign, gpg, gpgconf, rpm) and what its nodes build with (bwrap) */
export const DEMO_TOOLS = ['rpmbuild', 'rpmsign', 'rpm', 'gpg', 'gpgconf', 'bwrap', 'createrepo_c'] as const

const SYSTEM_DIRS = ['/usr/local/bin', '/usr/bin', '/bin', '/usr/local/sbin', '/usr/sbin', '/sbin']

/** The absolute path of an executable `name`, or undefined */
export function whichTool (name: string, path: string = process.env.PATH ?? ''): string | undefined {
  const dirs = [...path.split(':').filter(d => d.startsWith('/')), ...SYSTEM_DIRS]
  for (const dir of dirs) {
    const p = join(dir, name)
    try {
      accessSync(p, fsConstants.X_OK)
      return p
    } catch {}
  }
  return undefined
}

/** Every tool of `tools` that is found, by name, and the names of the missing ones */
export function findTools (tools: readonly string[] = DEMO_TOOLS): { found: Record<string, string>, missing: string[] } {
  const found: Record<string, string> = {}
  const missing: string[] = []
  for (const t of tools) {
    const p = whichTool(t)
    if (p === undefined) missing.push(t)
    else found[t] = p
  }
  return { found, missing }
}
