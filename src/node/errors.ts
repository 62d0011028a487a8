/** Errors of node assembly. The CLI maps ConfigError to exit code 2 (bad usage or unreadable input). */
export class ConfigError extends Error {
  static name = 'ConfigError'
  override name = 'ConfigError'
}

export class IdentityError extends Error {
  static name = 'IdentityError'
  override name = 'IdentityError'
}
