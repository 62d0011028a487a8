/**
 * The job key (docs/protocols/announce.md): sha256("skyline/job/v1" || srpmSha256 || target || beacon), or,
 * for a job with a buildroot manifest, sha256("skyline/job/v2" || srpmSha256 || target || beacon ||
 * buildrootSha256): the same SRPM in another buildroot is another job.
 */
import { sha256 } from './distance.ts'

const JOB_DOMAIN = new TextEncoder().encode('skyline/job/v1')
const JOB_DOMAIN_BUILDROOT = new TextEncoder().encode('skyline/job/v2')

export function jobKey (srpmSha256: Uint8Array, target: string, beacon: Uint8Array, buildrootSha256?: Uint8Array): Uint8Array {
  const t = new TextEncoder().encode(target)
  if (buildrootSha256 === undefined || buildrootSha256.length === 0) return sha256(JOB_DOMAIN, srpmSha256, t, beacon)
  return sha256(JOB_DOMAIN_BUILDROOT, srpmSha256, t, beacon, buildrootSha256)
}
