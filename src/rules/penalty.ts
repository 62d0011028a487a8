/**
 * Penalty severities and their weights (after Lodestar's peer scoring): the one scale every part of
 * the node uses to report a misbehaving peer (bad blob chunks, ignore floods, equivocation). The table
 * that applies them with decay is src/services/penalties.ts.
 */
export type PenaltySeverity = 'fatal' | 'high' | 'mid' | 'low'

/** Score change per penalty; a fatal one drops a peer below gossipsub's graylist threshold at once */
export const PENALTY_WEIGHTS: Readonly<Record<PenaltySeverity, number>> = { fatal: -1000, high: -40, mid: -10, low: -2 }

/** Lowers a peer's application score */
export type Penalise = (peer: string, severity: PenaltySeverity) => void
