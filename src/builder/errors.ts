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

/**
 * The job's buildroot cannot be made as its manifest says (a package missing, one whose digests differ, a set
 * that does not install, a host that cannot install it): the builder declines the job with this reason,
 * it never builds in another buildroot.
 */
export class BuildrootUnavailableError extends Error {
  static name = 'BuildrootUnavailableError'
  override name = 'BuildrootUnavailableError'
}
