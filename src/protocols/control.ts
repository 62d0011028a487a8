/**
 * Halt and resume: control messages signed by a trusted announcer key on /skyline/2/control. A halt
 * stops every node from taking new jobs (the fallback to Koji) until a resume issued later. The latest
 * message by (issued_at, sequence) wins, so replaying an old halt after a resume changes nothing.
 *
 * @example
 * ```ts
 * const bytes = createControl({ action: 'halt', reason: 'bad toolchain in the mesh' }, announcerKey)
 * const checked = checkControl(bytes, trusted, Date.now()) // throws GossipValidationError
 * ```
 */
import { createHash } from 'node:crypto'
import { Control } from './pb/announce.ts'
import { ENVELOPE_KIND, openGossipEnvelope, signEnvelope, type AnnouncerKey, type TrustedKeys } from './signing.ts'
import { GossipValidationError } from './gossip.ts'
import { MAX_CLOCK_SKEW_MS, nextSequence } from './announce.ts'

export type ControlAction = 'halt' | 'resume'
const ACTION_CODE: Record<ControlAction, number> = { halt: 1, resume: 2 }
/** the longest halt or resume reason, in characters (the CLI checks --reason against it) */
export const MAX_REASON = 512

export interface CheckedControl {
  id: string
  action: ControlAction
  reason: string
  issuedAt: number
  sequence: bigint
  announcer: string
  envelope: Uint8Array
}

export function createControl (init: { action: ControlAction, reason?: string, now?: number }, key: AnnouncerKey): Uint8Array {
  const now = init.now ?? Date.now()
  const reason = init.reason ?? ''
  if (reason.length > MAX_REASON) throw new RangeError(`reason longer than ${MAX_REASON} characters`)
  return signEnvelope(ENVELOPE_KIND.control, Control.encode({ action: ACTION_CODE[init.action], reason, issuedAt: BigInt(now), sequence: nextSequence(now) }), key)
}

export function checkControl (envelope: Uint8Array, trusted: TrustedKeys, now: number): CheckedControl {
  const opened = openGossipEnvelope(envelope, trusted, ENVELOPE_KIND.control, p => Control.decode(p, { limits: {} }), 'control message')
  const c = opened.message
  const action = c.action === 1 ? 'halt' : c.action === 2 ? 'resume' : undefined
  if (action === undefined) throw new GossipValidationError('reject', 'malformed', `unknown control action ${c.action}`)
  if (c.reason.length > MAX_REASON) throw new GossipValidationError('reject', 'malformed', 'reason too long')
  if (c.sequence === 0n || c.issuedAt === 0n) throw new GossipValidationError('reject', 'malformed', 'issue time and sequence must be set')
  if (Number(c.issuedAt) > now + MAX_CLOCK_SKEW_MS) throw new GossipValidationError('reject', 'not-yet-valid', 'issued in the future')
  return {
    id: createHash('sha256').update(opened.payload).digest('hex'),
    action,
    reason: c.reason,
    issuedAt: Number(c.issuedAt),
    sequence: c.sequence,
    announcer: Buffer.from(opened.publicKey).toString('hex'),
    envelope
  }
}

/** Whether `a` supersedes `b`: later issue time, then higher sequence, then higher id */
export function supersedes (a: CheckedControl, b: { issuedAt: number, sequence: bigint, id: string } | undefined): boolean {
  if (b === undefined) return true
  if (a.issuedAt !== b.issuedAt) return a.issuedAt > b.issuedAt
  if (a.sequence !== b.sequence) return a.sequence > b.sequence
  return a.id > b.id
}
