/**
 * The mesh's halt state on a node: the control topic's validator, control messages that come by sync or
 * from this node's operator (skyline control), and whether a signed halt is in force. A newer message
 * replaces the one in force; duplicates and superseded ones are ignored, so they are not forwarded.
 * Specification: docs/protocols/control.md.
 */
import { TypedEventEmitter, type Logger } from '@libp2p/interface'
import { checkControl, supersedes, type CheckedControl } from '../protocols/control.ts'
import { GossipValidationError, type GossipInput } from '../protocols/gossip.ts'
import type { TrustedKeys } from '../protocols/signing.ts'
import type { Store } from '../store/store.ts'

export interface ControlServiceComponents {
  store: Pick<Store, 'latestControl' | 'hasControl' | 'addControl'>
  trusted: () => TrustedKeys
  log: Logger
}

export interface ControlServiceEvents {
  /** a halt or resume came into force */
  control: CustomEvent<CheckedControl>
}

export interface HaltState {
  reason: string
  /** the halt's issued_at, ms */
  since: number
}

export class ControlService extends TypedEventEmitter<ControlServiceEvents> {
  private readonly components: ControlServiceComponents
  /** set while a signed halt is in force: no new jobs are taken */
  halted: HaltState | undefined

  constructor (components: ControlServiceComponents) {
    super()
    this.components = components
  }

  /** Takes up the halt state the store holds (a halt outlives a restart) */
  start (): void {
    const latest = this.components.store.latestControl()
    if (latest?.action !== 'halt') return
    this.halted = { reason: latest.reason, since: latest.issuedAt }
    this.components.log('the mesh is halted since %s: %s', new Date(latest.issuedAt).toISOString(), latest.reason)
  }

  stop (): void {}

  /** The control topic's validator; throws GossipValidationError to ignore or reject */
  validate (msg: GossipInput): void {
    this.apply(checkControl(msg.data, this.components.trusted(), Date.now()))
  }

  /** A control message that came by sync or from this node's operator: the same checks as gossip */
  add (envelope: Uint8Array): CheckedControl {
    const c = checkControl(envelope, this.components.trusted(), Date.now())
    this.apply(c)
    return c
  }

  /** Records a valid control message; it takes effect when it is newer than the one in force */
  private apply (c: CheckedControl): void {
    const { store } = this.components
    const latest = store.latestControl()
    if (latest?.id === c.id || store.hasControl(c.id)) throw new GossipValidationError('ignore', 'duplicate', 'control message seen before')
    if (!supersedes(c, latest)) throw new GossipValidationError('ignore', 'stale', `an older ${c.action} than the one in force`)
    store.addControl({ ...c, receivedAt: Date.now() })
    this.halted = c.action === 'halt' ? { reason: c.reason, since: c.issuedAt } : undefined
    this.components.log('%s by announcer %s: %s', c.action.toUpperCase(), c.announcer.slice(0, 16), c.reason)
    this.safeDispatchEvent('control', { detail: c })
  }
}
