/** The job key (docs/protocols/announce.md): sha256("skyline/job/v1" || srpmSha256 || target || beacon). */
import { sha256 } from './distance.ts'

const JOB_DOMAIN = new TextEncoder().encode('skyline/job/v1')

export function jobKey (srpmSha256: Uint8Array, target: string, beacon: Uint8Array): Uint8Array {
  return sha256(JOB_DOMAIN, srpmSha256, new TextEncoder().encode(target), beacon)
}
