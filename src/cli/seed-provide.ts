/**
 * The seeder's delayed DHT provide (docs/protocols/blob.md, "Naming a blob": who provides). An announcement
 * names the seeder in its provider hint, so the builders fetch from it directly and need no provider
 * record; the record (a closest-peers lookup for the blob's CID and an ADD_PROVIDER to each of the k
 * closest peers, ~25 KB per blob whatever its size) is made only when a stage-1 builder still holds none
 * of the SRPM a while after the announcement: a builder that could not reach the seeder at the hinted
 * addresses then finds it in the DHT.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { PeerId } from '@libp2p/interface'
import type { SkylineNode } from '../node/index.ts'
import type { CheckedAnnouncement } from '../protocols/announce.ts'

/**
 * How long after an announcement the seeder waits before it checks whether its builders are served: a
 * small SRPM reaches every builder within a second or two; a large one is swarmed, and its fetchers
 * provide it themselves.
 *
 * @default 10_000
 */
export const PROVIDE_DELAY_MS = 10_000

/**
 * The job's stage-1 and probation builders, as `skyline seed` waits for them: rules v2's escalation
 * seats fetch only when called, from the stage-1 builders first.
 */
export function firstBuilders (node: SkylineNode, checked: CheckedAnnouncement): PeerId[] {
  const { seats, probation } = node.verdicts.seating(checked)
  return [...seats.slice(0, checked.panel?.panel ?? seats.length), ...probation]
}

/**
 * Waits `delayMs`, then provides the job's blobs (its SRPM and buildroot manifest) in the DHT if one of
 * its first builders holds none of the SRPM: one that has committed or attested a build held it; each
 * other is asked once for its HAVE. Resolves whether it provided; false when aborted (abort it before the
 * node stops).
 */
export async function provideIfUnserved (node: SkylineNode, checked: CheckedAnnouncement, options: { delayMs?: number, signal: AbortSignal }): Promise<boolean> {
  const { signal } = options
  try {
    await sleep(options.delayMs ?? PROVIDE_DELAY_MS, undefined, { signal })
  } catch {
    return false
  }
  const a = checked.announcement
  const srpm = Buffer.from(a.srpmSha256).toString('hex')
  const blobs = node.libp2p.services.blobs
  const unserved = await Promise.all(firstBuilders(node, checked).map(async peer => {
    const builder = peer.toString()
    if (node.store.commitment(checked.job, builder) !== undefined || node.store.attestation(checked.job, builder)?.status === 'ok') return false
    const have = await blobs.peerHave(peer, srpm, { signal: AbortSignal.any([signal, AbortSignal.timeout(5_000)]) }).catch(() => undefined)
    return (have?.have ?? 0) === 0
  }))
  if (signal.aborted || !unserved.some(u => u)) return false
  for (const sha of [a.srpmSha256, a.buildrootSha256].filter(s => s.length > 0)) blobs.provide(Buffer.from(sha).toString('hex'))
  return true
}
