/**
 * What final verdicts do on a node: builders' reputation (agreeing and dissenting seats, ejection,
 * flags), the throttle window, and the operator's alerts (its own dissent, its flag, a throttled mesh).
 * Used by the verdict service (verdicts.ts); docs/protocols/consensus.md, "Reputation" and "Throttle".
 */
import type { Store } from '../store/store.ts'
import { Reputation } from '../rules/reputation.ts'
import { Throttle } from '../rules/throttle.ts'
import type { Verdict } from '../rules/tally.ts'
import { storedRetryLink } from '../protocols/announce.ts'

export type AlertKind = 'dissent' | 'flagged' | 'throttle'

/** A final verdict as the verdict service reports it */
export interface FinalVerdict extends Verdict {
  job: string
  nevra: string
}

export interface OutcomesInit {
  store: Store
  /** this node's peer ID */
  self: string
  log: (format: string, ...args: any[]) => void
  onAlert: (kind: AlertKind, message: string) => void
}

export class Outcomes {
  private readonly init: OutcomesInit
  readonly reputation: Reputation
  readonly throttle = new Throttle()
  private readonly alertsShown = new Set<string>()
  readonly alerts: Array<{ kind: string, message: string, at: number }> = []

  constructor (init: OutcomesInit) {
    this.init = init
    this.reputation = Reputation.fromRows(init.store.reputationRows())
  }

  /** Final verdicts stored earlier count toward the throttle window again, but not those of jobs a stored re-announcement retries */
  restore (): void {
    for (const v of this.init.store.verdicts()) {
      if (v.final && v.verdict !== 'pending') this.throttle.record(v.verdict as any, v.updatedAt, v.job)
    }
    for (const a of this.init.store.listAnnouncements()) {
      const retried = storedRetryLink(a.envelope)?.of
      if (retried !== undefined) this.throttle.supersede(retried)
    }
  }

  /**
   * A final verdict: the throttle window, reputation once per builder and job, alerts. `applied`: the
   * final verdict of this job whose builders the reputation already holds, if any. A final verdict can still
   * name more builders later (a panel is agreed once T seats agree; a dissenting reveal that arrives after
   * them is named too): only those are recorded then, so every node ends with the same reputation
   * whatever order the reveals came in.
   */
  finalise (v: FinalVerdict, applied: Pick<Verdict, 'agreeing' | 'dissenters'> | undefined, now: number): void {
    if (v.verdict !== 'pending') this.throttle.record(v.verdict, now, v.job)
    const agreeing = v.agreeing.filter(b => applied?.agreeing.includes(b) !== true)
    const dissenters = v.dissenters.filter(b => applied?.dissenters.includes(b) !== true)
    if ((v.verdict === 'agreed' || v.verdict === 'disputed') && (applied === undefined || agreeing.length + dissenters.length > 0)) {
      for (const b of agreeing) this.reputation.record(b, 'agree', now)
      for (const b of dissenters) this.reputation.record(b, 'dissent', now)
      this.init.store.saveReputation(this.reputation.toRows().filter(r => agreeing.includes(r.builder) || dissenters.includes(r.builder)))
      this.init.store.markReputationApplied(v.job)
      for (const b of dissenters) {
        const standing = this.reputation.get(b, now)
        if (standing.flagged) this.init.log('builder %s flagged: %d dissents', b, standing.dissent.toFixed(1))
      }
    }
    if (v.dissenters.includes(this.init.self)) {
      this.alert('dissent', `this node's build of ${v.nevra} disagrees with the mesh: it attested another hash than the ${v.agreeing.length} builders of ${v.hash?.slice(0, 16) ?? '?'}`)
      if (this.reputation.get(this.init.self, now).flagged) {
        this.alert('flagged', 'this node is flagged: its builds disagreed with the mesh more than once; check its toolchain and builder (skyline status)')
      }
    }
    const t = this.throttle.state(now)
    if (t.throttled) this.alert('throttle', `the mesh is throttled: ${(t.disputedShare * 100).toFixed(0)}% of recent verdicts are disputed; no new jobs are taken`)
  }

  private alert (kind: AlertKind, message: string): void {
    const key = `${kind}:${message}`
    if (this.alertsShown.has(key)) return
    this.alertsShown.add(key)
    this.alerts.push({ kind, message, at: Date.now() })
    if (this.alerts.length > 100) this.alerts.shift()
    this.init.onAlert(kind, message)
  }
}
