/** Errors of the build worker. A build that runs and fails is not an error: it is a `BuildResult` with status 'failed'. */

/** The build could not be set up (unusable work directory, missing SRPM, builder not runnable) */
export class BuildSetupError extends Error {
  static name = 'BuildSetupError'
  override name = 'BuildSetupError'
}

/** The caller's signal aborted the build; its processes have been killed */
export class BuildAbortedError extends Error {
  static name = 'AbortError'
  override name = 'AbortError'
  readonly code = 'ABORT_ERR'
}
