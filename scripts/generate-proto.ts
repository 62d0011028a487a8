/**
 * `npm run generate`: runs protons on every src/protocols/pb/*.proto, then rewrites each generated
 * `export namespace X { ... }` into `export const X = (() => { ...; return { codec, encode, decode, stream } })()`.
 * Node 24 runs .ts by type stripping, which cannot run namespaces; the rewritten file has the same
 * API (X.encode, X.decode, X.codec) and needs no transform. Protos must not use enums or nested messages.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

const dir = resolve(import.meta.dirname, '../src/protocols/pb')
const protos = readdirSync(dir).filter(f => f.endsWith('.proto')).map(f => join(dir, f))
execFileSync(resolve(import.meta.dirname, '../node_modules/.bin/protons'), protos, { stdio: 'inherit' })

export function rewriteNamespaces (source: string, file: string): string {
  const lines = source.split('\n')
  const out: string[] = []
  let inside: string | undefined
  let exported: string[] = []
  for (const line of lines) {
    const open = /^export namespace (\w+) \{$/.exec(line)
    if (open !== null) {
      inside = open[1]
      exported = []
      out.push(`export const ${inside} = (() => {`)
      continue
    }
    if (inside !== undefined && line === '}') {
      out.push(`  return { ${exported.join(', ')} }`, '})()')
      inside = undefined
      continue
    }
    if (inside !== undefined) {
      if (/^\s+export (enum|namespace) /.test(line)) throw new Error(`${file}: enums and nested messages are not supported (${line.trim()})`)
      const value = /^ {2}export (?:const|function|let) (\w+)/.exec(line)
      if (value !== null) exported.push(value[1])
      out.push(line.replace(/^ {2}export /, '  '))
      continue
    }
    out.push(line)
  }
  return out.join('\n')
}

for (const proto of protos) {
  const ts = proto.replace(/\.proto$/, '.ts')
  writeFileSync(ts, rewriteNamespaces(readFileSync(ts, 'utf8'), ts))
}
