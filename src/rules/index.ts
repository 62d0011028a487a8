/**
 * The consensus core of Skyline: who builds a job (assignment), what a builder claims (signed
 * attestations are checked in src/protocols/attestation.ts), how every node turns the claims it holds into the same
 * verdict (tally), and what follows from verdicts over time (builder reputation, the dispute throttle).
 * Everything here is pure or holds only its own state with time injected, so the node wires it to
 * gossip, the store and timers, and tests drive it without a network or a clock.
 * Specification: docs/protocols/consensus.md.
 *
 * @example
 * ```ts
 * import { checkConsensusMessage, tally, Reputation, Throttle } from '../consensus/consensus/index.ts'
 *
 * const msg = checkConsensusMessage(data, Date.now()) // throws GossipValidationError
 * if (msg.type === 'attestation') store.add(msg.attestation)
 * const v = tally({ replicas: 5, quorum: 3, assigned, attestations: store.forJob(job), deadlinePassed })
 * if (v.final && v.verdict !== 'pending') {
 *   for (const p of v.agreeing) reputation.record(p, 'agree', now)
 *   for (const p of v.dissenters) reputation.record(p, 'dissent', now)
 *   throttle.record(v.verdict, now, job)
 * }
 * ```
 */
export * from './constants.ts'
export { tally, TallyError } from './tally.ts'
export type { Verdict, VerdictKind, FinalVerdictKind, TallyInput, TallyAttestation } from './tally.ts'
export { Reputation } from './reputation.ts'
export type { ReputationInit, ReputationEvent, ReputationRow, ReputationStanding } from './reputation.ts'
export { Throttle } from './throttle.ts'
export type { ThrottleInit, ThrottleState } from './throttle.ts'
export { assignBuilders, isAssigned, jobKadId, AssignmentError } from './assignment.ts'
export { jobKey } from './job.ts'
