import {
  DEFAULT_MAX_BUILD_TIME_MS, DEFAULT_MAX_CONCURRENT_BUILDS, DEFAULT_MAX_DISK_BYTES, DEFAULT_MAX_LOG_BYTES,
  DEFAULT_MAX_OUTPUT_BYTES
} from './constants.ts'
import type { BuildLimits } from './types.ts'

/** The limits with defaults filled in; rejects values that are not positive integers */
export function resolveLimits (limits: Partial<BuildLimits> = {}): BuildLimits {
  const resolved: BuildLimits = {
    maxConcurrentBuilds: limits.maxConcurrentBuilds ?? DEFAULT_MAX_CONCURRENT_BUILDS,
    maxBuildTimeMs: limits.maxBuildTimeMs ?? DEFAULT_MAX_BUILD_TIME_MS,
    maxDiskBytes: limits.maxDiskBytes ?? DEFAULT_MAX_DISK_BYTES,
    maxOutputBytes: limits.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    maxLogBytes: limits.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES
  }
  for (const [k, v] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`build limit ${k} must be a positive integer (got ${v})`)
  }
  return resolved
}
