/**
 * Test-only misbehaving builders (never in the product): a wrapper around a real builder that poisons
 * its output when switched on, the way a compromised builder would: it alters an output RPM and reports
 * the altered file honestly, so its attestation is self-consistent but its hash differs from everyone
 * else's. Every poisoner appends the same bytes, so colluders agree with each other.
 */
import { appendFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Builder, BuildOptions, BuildResult } from '../../src/builder/index.ts'
import { sha256File } from '../../src/builder/hash.ts'
import { buildHash } from '../../src/rules/build-hash.ts'

export class PoisoningBuilder implements Builder {
  readonly inner: Builder
  poison = false
  /** builds nothing: the build waits until it is aborted (a seat that never builds, e.g. a copier) */
  stall = false
  constructor (inner: Builder) { this.inner = inner }
  get kind (): Builder['kind'] { return this.inner.kind }
  get limits (): Builder['limits'] { return this.inner.limits }

  async build (srpmPath: string, options: BuildOptions): Promise<BuildResult> {
    if (this.stall) await new Promise<never>((_resolve, reject) => options.signal?.addEventListener('abort', () => reject(new Error('aborted'))))
    const result = await this.inner.build(srpmPath, options)
    if (!this.poison || result.status !== 'ok') return result
    const first = result.files[0]
    const path = join(result.outputDir, first.name)
    appendFileSync(path, 'a backdoor, for instance')
    const files = result.files.map(f => f === first ? { name: f.name, size: statSync(path).size, sha256: '' } : f)
    files[0].sha256 = await sha256File(path)
    return { ...result, files, buildHash: buildHash(files) }
  }
}
