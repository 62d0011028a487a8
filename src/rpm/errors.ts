/**
 * The package bytes are not a well-formed RPM: truncated, bad magic, an index entry pointing outside
 * the data area, a size over rpm's own caps. The message says where (which header, which entry).
 */
export class RpmFormatError extends Error {
  static name = 'RpmFormatError'
  override name = 'RpmFormatError'
}

/** A keyring path that cannot be read, or a key file that holds no usable OpenPGP public key. */
export class KeyringError extends Error {
  static name = 'KeyringError'
  override name = 'KeyringError'
}
