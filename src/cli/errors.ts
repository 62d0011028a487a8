/**
 * Errors the CLI maps to exit codes (docs/protocols: 0 success, 1 a rejection or failure the command
 * reports, 2 bad usage or unreadable input).
 */
export class UsageError extends Error {
  static name = 'UsageError'
  override name = 'UsageError'
}

/** Input the command could not read or parse (config file, key file, multiaddr). Exit code 2. */
export class InputError extends Error {
  static name = 'InputError'
  override name = 'InputError'
}

export const EXIT_OK = 0
export const EXIT_REJECTED = 1
export const EXIT_USAGE = 2
