/**
 * The tally of one job (docs/protocols/consensus.md, "Verdict rules"): a pure function from the job's parameters, its
 * assigned builders and the attestations seen so far to a verdict. Every node that holds the same
 * attestations computes the same verdict, whatever order they arrived in: all output lists are sorted
 * and `counts` has its keys in sorted order, so even `JSON.stringify` of two results is identical.
 *
 * Rules, exactly as implemented (r = replicas, q = quorum, 2q > r is required):
 *
 * 1. Only attestations by assigned peers count; others are ignored.
 * 2. One claim per builder. A claim is (status, build hash). A builder that appears more than once with
 *    the same claim is counted once. A builder that appears with two different claims is an
 *    equivocator: all of its attestations are excluded and it is listed in `equivocators` (it counts as
 *    having spoken for `final`, and never as agreeing, dissenting or failed).
 * 3. `counts[H]` is the number of counted builders that attested 'ok' with build hash H.
 * 4. If some H has counts[H] >= q (at most one can, since 2q > r; counts[H] >= q > r/2 is also the
 *    "strict majority" (docs/protocols/consensus.md): a majority of the r replicas):
 *    - `agreed(H)` if no counted builder attested 'ok' with another hash;
 *    - `disputed(H)` otherwise. `agreeing` names the builders of H, `dissenters` those of the other hashes.
 * 5. Else, if at least q counted builders attested 'failed': `failed`.
 * 6. Else `no-consensus` if the deadline passed, or if no outcome of rules 4 and 5 is reachable any more:
 *    the largest hash count plus the assigned peers not yet heard from is below q, and so is the failed
 *    count plus those peers (e.g. r = 5, q = 3: two hashes at 2 each and one failure).
 * 7. Else `pending`.
 *
 * Failed builds are not dissent: a failure claims nothing about the output (it is often the builder's
 * machine: memory, disk, a missing chroot), so it neither blocks `agreed` nor makes a `disputed`. Failed
 * builders are always listed in `failedBuilders`, apart from `dissenters`.
 *
 * `final` is true when no honest input can change the verdict any more: every assigned peer has spoken
 * (equivocators included), or the deadline passed, or rule 6 found the outcome decided early. Until then
 * the function simply recomputes as attestations arrive, so an `agreed(H)` reached by q of r builders
 * turns into `disputed(H)` if a later builder attests another hash. Only a late equivocation proof can
 * still move a final verdict, and only by removing a builder.
 *
 * @example
 * ```ts
 * const v = tally({ replicas: 5, quorum: 3, assigned, attestations, deadlinePassed: false })
 * if (v.verdict === 'agreed' && v.final) publish(v.hash)
 * ```
 */

/** `blocked` is the panel tally's (rules v2, src/rules/panel.ts) unresolved escalation; the others are v1's */
export type VerdictKind = 'pending' | 'agreed' | 'disputed' | 'no-consensus' | 'failed' | 'blocked'
export type FinalVerdictKind = Exclude<VerdictKind, 'pending'>

export interface TallyAttestation {
  /** peer ID string */
  builder: string
  status: 'ok' | 'failed'
  /** hex build hash; required for 'ok', ignored for 'failed' */
  buildHash?: string
}

export interface TallyInput {
  replicas: number
  quorum: number
  /** peer ID strings of the assigned builders (at most `replicas`; duplicates are ignored) */
  assigned: readonly string[]
  attestations: readonly TallyAttestation[]
  deadlinePassed: boolean
}

export interface Verdict {
  verdict: VerdictKind
  /** the hash that reached quorum: set for 'agreed' and 'disputed' only */
  hash?: string
  /** the builders of `hash` (agreed, disputed); empty otherwise */
  agreeing: string[]
  /** assigned builders that attested a hash other than `hash` (disputed only; empty otherwise) */
  dissenters: string[]
  /** assigned builders that attested a failed build, whatever the verdict */
  failedBuilders: string[]
  /** assigned builders that made two different claims; excluded from everything else */
  equivocators: string[]
  /** assigned builders not heard from yet */
  missing: string[]
  /** number of counted builders per build hash (keys sorted) */
  counts: Record<string, number>
  /** whether the verdict can no longer change (see the module comment) */
  final: boolean
}

export class TallyError extends Error {
  static name = 'TallyError'
  override name = 'TallyError'
}

function byString (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function claimOf (a: TallyAttestation): string {
  if (a.status === 'failed') return 'failed'
  if (a.status !== 'ok') throw new TallyError(`unknown status ${String(a.status)}`)
  if (typeof a.buildHash !== 'string' || a.buildHash.length === 0) throw new TallyError(`ok attestation by ${a.builder} without a build hash`)
  return `ok:${a.buildHash}`
}

export function tally (input: TallyInput): Verdict {
  const { replicas: r, quorum: q } = input
  if (!Number.isInteger(r) || r < 1) throw new TallyError(`replicas must be a positive integer (got ${r})`)
  if (!Number.isInteger(q) || q < 1 || q > r || 2 * q <= r) throw new TallyError(`quorum ${q} must be a majority of replicas ${r}`)
  const assigned = new Set(input.assigned)
  if (assigned.size > r) throw new TallyError(`${assigned.size} assigned builders > replicas ${r}`)

  // rules 1 and 2: one claim per assigned builder
  const claims = new Map<string, string>()
  const equivocators = new Set<string>()
  for (const a of input.attestations) {
    if (!assigned.has(a.builder)) continue
    const claim = claimOf(a)
    const previous = claims.get(a.builder)
    if (previous !== undefined && previous !== claim) equivocators.add(a.builder)
    claims.set(a.builder, claim)
  }

  // rule 3
  const byHash = new Map<string, string[]>()
  const failedBuilders: string[] = []
  for (const [builder, claim] of claims) {
    if (equivocators.has(builder)) continue
    if (claim === 'failed') {
      failedBuilders.push(builder)
      continue
    }
    const hash = claim.slice(3)
    const list = byHash.get(hash)
    if (list === undefined) byHash.set(hash, [builder])
    else list.push(builder)
  }
  failedBuilders.sort(byString)
  const hashes = [...byHash.keys()].sort(byString)
  const counts: Record<string, number> = {}
  for (const h of hashes) counts[h] = byHash.get(h)?.length ?? 0
  const missing = [...assigned].filter(p => !claims.has(p)).sort(byString)
  const base = {
    failedBuilders,
    equivocators: [...equivocators].sort(byString),
    missing,
    counts
  }
  const allSpoken = missing.length === 0
  const final = allSpoken || input.deadlinePassed

  // rule 4
  const winner = hashes.find(h => counts[h] >= q)
  if (winner !== undefined) {
    const agreeing = [...(byHash.get(winner) ?? [])].sort(byString)
    const dissenters = hashes.filter(h => h !== winner).flatMap(h => byHash.get(h) ?? []).sort(byString)
    return { verdict: dissenters.length === 0 ? 'agreed' : 'disputed', hash: winner, agreeing, dissenters, ...base, final }
  }
  // rule 5
  if (failedBuilders.length >= q) return { verdict: 'failed', agreeing: [], dissenters: [], ...base, final }
  // rule 6
  const best = hashes.reduce((m, h) => Math.max(m, counts[h]), 0)
  const decided = best + missing.length < q && failedBuilders.length + missing.length < q
  if (input.deadlinePassed || decided) return { verdict: 'no-consensus', agreeing: [], dissenters: [], ...base, final: true }
  // rule 7
  return { verdict: 'pending', agreeing: [], dissenters: [], ...base, final }
}
