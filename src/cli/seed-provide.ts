/**
 * The seeder's delayed DHT provide (docs/protocols/blob.md, "Naming a blob": who provides). An announcement
 * names the seeder in its provider hint, so the builders fetch from it directly and need no provider
 * record; the record (a closest-peers lookup for the blob's CID and an ADD_PROVIDER to each of the k
 * closest peers, ~25 KB per blob whatever its size, and as many new connections, each with its handshake,
 * identify and sync) is made only when a stage-1 builder has not built a while after the announcement
 * and the seeder cannot reach it: a builder that could not reach the seeder at the hinted addresses then
 * finds it in the DHT. A builder the seeder reaches needs no record, whether it holds the SRPM yet or
 * not: the seeder stays a source of every fetch of its SRPM, and the connection is there to fetch over.
 * (Asking such a builder whether it held the SRPM made a slow builder on a loaded machine, one that had
 * not yet seen the announcement, cost every job a provide: docs/bench.md, "The seeder's bytes at scale".)
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { logger } from '@libp2p/logger'
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

/** `DEBUG=skyline:seed:provide` logs each first builder the seeder could not reach, and why, and each provide */
const log = logger('skyline:seed:provide')

/**
 * How long the seeder waits for a connection to a first builder before it counts that builder unreachable:
 * a loaded builder answers a handshake slowly, and a provide for a slow builder helps nobody.
 *
 * @default 10_000
 */
export const REACH_TIMEOUT_MS = 10_000

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
 * its first builders is unserved: it has neither committed nor attested a build, and the seeder cannot
 * connect to it within `reachTimeoutMs` (an open connection counts). Resolves whether it provided; false
 * when aborted (abort it before the node stops).
 */
export async function provideIfUnserved (node: SkylineNode, checked: CheckedAnnouncement, options: { delayMs?: number, reachTimeoutMs?: number, signal: AbortSignal }): Promise<boolean> {
  const { signal } = options
  try {
    await sleep(options.delayMs ?? PROVIDE_DELAY_MS, undefined, { signal })
  } catch {
    return false
  }
  const a = checked.announcement
  const reachSignal = AbortSignal.any([signal, AbortSignal.timeout(options.reachTimeoutMs ?? REACH_TIMEOUT_MS)])
  const unserved = await Promise.all(firstBuilders(node, checked).map(async peer => {
    const builder = peer.toString()
    if (node.store.commitment(checked.job, builder) !== undefined || node.store.attestation(checked.job, builder)?.status === 'ok') return false
    return !await reaches(node, peer, reachSignal)
  }))
  if (signal.aborted || !unserved.some(u => u)) return false
  log('job %s: %d of its first builders unreachable: providing its blobs', checked.job, unserved.filter(u => u).length)
  const blobs = node.libp2p.services.blobs
  for (const sha of [a.srpmSha256, a.buildrootSha256].filter(s => s.length > 0)) blobs.provide(Buffer.from(sha).toString('hex'))
  return true
}

/** Whether the node holds a connection to `peer` or opens one before `signal` aborts */
async function reaches (node: SkylineNode, peer: PeerId, signal: AbortSignal): Promise<boolean> {
  if (node.libp2p.getConnections(peer).some(c => c.status === 'open')) return true
  return node.libp2p.dial(peer, { signal }).then(() => true, (err: Error) => {
    log('%p not reachable: %s', peer, err.message)
    return false
  })
}
