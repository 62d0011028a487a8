/**
 * A Builder for benchmarks only (never in src/): "builds" at once by writing one small RPM-named file
 * derived from the SRPM's sha256, so every builder of a job produces the same bytes and the same build
 * hash, and the mesh's own costs (announcement, assignment, SRPM fetch and signature check, attestation,
 * tally) are all that is left to measure. Everything around the build is the node's real pipeline
 * (src/services/jobs.ts): the SRPM is fetched over the blob protocol and its signature verified before
 * `build` is called, and the output goes into the blob store and is attested as usual.
 *
 * @example
 * ```ts
 * const node = new SkylineNode(config, { builder: new QuickBuilder() })
 * ```
 */
import { createHash } from 'node:crypto'
import { readFile, mkdir, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { Builder, BuildLimits, BuildOptions, BuildResult } from '../../src/builder/index.ts'
import { buildHash } from '../../src/rules/build-hash.ts'
import { DEFAULT_BINARY_PAYLOAD } from '../../src/builder/constants.ts'

export class QuickBuilder implements Builder {
  readonly kind = 'rpmbuild' as const
  readonly limits: Readonly<BuildLimits>
  builds = 0

  constructor (init: { maxConcurrentBuilds?: number } = {}) {
    this.limits = { maxConcurrentBuilds: init.maxConcurrentBuilds ?? 2, maxBuildTimeMs: 60_000, maxDiskBytes: 2 ** 30, maxOutputBytes: 2 ** 30, maxLogBytes: 2 ** 20 }
  }

  async build (srpmPath: string, options: BuildOptions): Promise<BuildResult> {
    options.signal?.throwIfAborted()
    const t0 = performance.now()
    options.onProgress?.({ type: 'build:phase', detail: { phase: 'start' } })
    const srpm = await readFile(srpmPath)
    const sha = createHash('sha256').update(srpm).digest('hex')
    // name-version-release.src.rpm -> name-version-release.noarch.rpm
    const name = basename(srpmPath).replace(/\.src\.rpm$/, '').replace(/\.rpm$/, '') + '.noarch.rpm'
    const body = Buffer.from(`skyline bench quick build\nsrpm sha256 ${sha}\n`)
    const outputDir = join(options.workDir, 'output')
    await mkdir(outputDir, { recursive: true })
    await writeFile(join(outputDir, name), body)
    const logPath = join(options.workDir, 'build.log')
    await writeFile(logPath, `quick build of ${basename(srpmPath)}\n`)
    options.onProgress?.({ type: 'build:phase', detail: { phase: 'hash' } })
    const files = [{ name, size: body.byteLength, sha256: createHash('sha256').update(body).digest('hex') }]
    this.builds++
    options.onProgress?.({ type: 'build:phase', detail: { phase: 'done' } })
    return {
      status: 'ok',
      files,
      buildHash: buildHash(files),
      outputDir,
      environment: { builder: 'rpmbuild', rpmVersion: 'bench-quick-builder', target: 'noarch', binaryPayload: DEFAULT_BINARY_PAYLOAD },
      isolation: { sandbox: 'none', namespaces: [], uid: process.getuid?.() ?? 0, uidMode: 'self', priority: { nice: 0 } },
      durationMs: performance.now() - t0,
      logPath
    }
  }
}
