/**
 * Stress (CI variant): colluders against rules v2, with real node processes (lib/collusion-case.ts). Four
 * honest rpmbuild nodes and three colluders with ground IDs (one silent, one copying, one dissenting, by
 * turns per job) on three SRPMs announced together, panel P = 3, E = 4, T = 4: the seven builders hold the
 * seven seats of every job, so the dissenter always holds one, and three colluders can never block
 * (that needs four bad seats). A job escalates unless its three stage-1 seats are all honest (4 in 35);
 * the dissenter of an escalated job is on its losing side and ejected, so the case shows an ejection
 * unless no job of the three escalates (0.15% of runs). When the colluders hold all three stage-1 seats
 * (1 job in 35) the silent one holds the dissenter's reveal back to stage 1's commit deadline plus the
 * grace, while the four escalation seats agree: the dissenter is named in the final verdict after it was
 * final, and the case waits for every committed seat's reveal before it counts ejections. The run with blocking and re-announcement is
 * collusion.stress.ts. About 2 minutes on 2 cores (a silent or copying stage-1 seat holds stage 1 to its
 * deadline plus the 30 s reveal grace).
 */
import { describeCollusion } from './lib/collusion-case.ts'

describeCollusion({
  title: 'stress: colluders with ground IDs that copy, dissent and stay silent by turns (rules v2, every builder seated)',
  honest: 4,
  colluders: 3,
  panel: { panel: 3, escalation: 4, threshold: 4, stageSeconds: 30, validitySeconds: 150 },
  jobs: 3,
  together: true,
  expectEjection: true,
  timeoutMs: 600_000
})
