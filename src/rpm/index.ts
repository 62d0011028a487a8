/**
 * RPM packages: a pure-TypeScript reader (lead, signature header, main header, payload offset; v3/v4
 * and v6 formats) and a signature verifier that applies Skyline's acceptance policy: a package is
 * accepted only when a header signature verifies against a trusted key and every digest matches
 * (docs/rpm-verification.md).
 *
 * @example
 * ```ts
 * import { Keyring, verifyRpmFile } from './rpm/index.ts'
 *
 * const keyring = await Keyring.load('/etc/pki/rpm-gpg')          // a key file or a folder of them
 * const result = await verifyRpmFile('foo-1.0-1.fc41.src.rpm', keyring)
 * if (result.verdict === 'accepted') {
 *   console.log(`${result.nevra} signed by ${result.keyId}`)     // the payload was streamed, not loaded
 * } else {
 *   console.log(`rejected: ${result.reason}`)                    // "untrusted key 50cb390b3c3359c4 (...)"
 * }
 *
 * const pkg = readRpm(bytes)                                       // throws RpmFormatError, nothing else
 * pkg.nevra; pkg.isSource; pkg.signedRegion                        // what header signatures cover
 * ```
 */
export { RpmFormatError, KeyringError } from './errors.ts'
export { RpmHeader, parseHeader, headerSize, type HeaderEntry, type HeaderKind, type HeaderRegion } from './header.ts'
export {
  readRpm, readRpmFile, fileChunks, parseLead, signaturePadding, MAX_OPENPGP_SIGNATURES,
  type RpmPackage, type RpmLead, type DeclaredSignature, type DeclaredDigest, type DigestName, type Range, type ReadOptions
} from './reader.ts'
export { Keyring, loadKeyring, parseKeys, checkKeys, KEY_FILE_PATTERN, type KeyringProblem, type CheckedKeys } from './keyring.ts'
export {
  verifyRpm, verifyRpmFile, verifyPackage, digestLabel,
  type VerifyResult, type VerifyOptions, type SignatureCheck, type SignatureStatus, type DigestCheck, type DigestStatus, type PayloadSource
} from './verify.ts'
export {
  parseSignaturePacket, describeSignature, rsaVerifyDigest, SignatureFormatError, UnsupportedSignatureError,
  type SignaturePacket
} from './pgp.ts'
export { SIGTAG, TAG, RPM_TYPE } from './constants.ts'
export { packageIdentity, type PackageIdentity } from './package-digest.ts'
