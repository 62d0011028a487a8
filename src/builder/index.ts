/**
 * Builders: rebuild a (verified) SRPM reproducibly, sandboxed and at idle priority, and hash the binary RPMs
 * it produces (docs/build.md). Two backends: `rpmbuild` inside bubblewrap (any Linux with rpm), and `mock`
 * (Fedora hosts, the chroot defines the toolchain). Verify the SRPM's signature before building:
 * `rpmbuild --rebuild` only warns about a bad one.
 *
 * @example
 * ```ts
 * const { builder, reason } = await detectBuilder('auto')
 * if (builder === undefined) throw new Error(`cannot build: ${reason}`)
 * const result = await builder.build('/var/lib/skyline/blobs/ab12….src.rpm', {
 *   workDir: '/var/lib/skyline/builds/job-ab12', signal: AbortSignal.timeout(3 * 3600_000)
 * })
 * if (result.status === 'ok') console.info(result.buildHash, result.files)
 * ```
 */
import { MockBuilder, probeMock, type MockInit } from './mock.ts'
import { RpmbuildBuilder, probeRpmbuild, type RpmbuildInit } from './rpmbuild.ts'
import type { BuilderInit, DetectResult } from './types.ts'

export type * from './types.ts'

/**
 * Finds a usable builder: `rpmbuild` needs rpm, rpmbuild and a working bubblewrap sandbox (or
 * `sandbox: 'optional'`); `mock` needs mock; `auto` prefers mock, then rpmbuild; `none` builds nothing.
 */
export async function detectBuilder (preferred: 'rpmbuild' | 'mock' | 'none' | 'auto', init: BuilderInit = {}): Promise<DetectResult> {
  if (preferred === 'none') return { reason: 'building is disabled (builder: none)', warnings: [] }
  if (preferred === 'mock') return probeMock(init)
  if (preferred === 'rpmbuild') return probeRpmbuild(init)
  const mock = await probeMock(init)
  if (mock.builder !== undefined) return mock
  const rpmbuild = await probeRpmbuild(init)
  if (rpmbuild.builder !== undefined) return { ...rpmbuild, reason: `mock unavailable (${mock.reason ?? 'unknown'}), using rpmbuild` }
  return { reason: `mock: ${mock.reason ?? 'unavailable'}; rpmbuild: ${rpmbuild.reason ?? 'unavailable'}`, warnings: [...mock.warnings, ...rpmbuild.warnings] }
}

export { RpmbuildBuilder, MockBuilder, type RpmbuildInit, type MockInit }
export { mockArgs } from './mock.ts'
export { rpmbuildArgs, reproducibleDefines } from './rpmbuild.ts'
export { hashFiles, sha256File } from './hash.ts'
export { resolveLimits } from './limits.ts'
export { BuildAbortedError, BuildSetupError, BuildrootUnavailableError } from './errors.ts'
export { checkPackages } from './buildroot.ts'
