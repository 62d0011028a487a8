/**
 * Numbers from rpm's own sources (include/rpm/rpmtag.h, lib/header.c, lib/rpmvs.c, lib/rpmlead.c).
 * Plain `as const` objects rather than enums: Node runs this file by type stripping.
 */

/** The lead: 96 bytes, kept for compatibility; only the magic, major version and signature type matter. */
export const LEAD_SIZE = 96
export const LEAD_MAGIC = Uint8Array.of(0xed, 0xab, 0xee, 0xdb)
/** `signature_type` in the lead: header-style signatures (RPMSIGTYPE_HEADERSIG). */
export const LEAD_SIGTYPE_HEADERSIG = 5

/** Header magic, version 1, and four reserved zero bytes: rpm compares all eight. */
export const HEADER_MAGIC = Uint8Array.of(0x8e, 0xad, 0xe8, 0x01, 0x00, 0x00, 0x00, 0x00)
/** Magic + index count + data size. */
export const HEADER_PREAMBLE = 16
/** One index entry: tag, type, offset, count, each a big-endian 32-bit word. */
export const ENTRY_SIZE = 16

/** rpm's caps (lib/header.c hdrblobVerifyLengths): main header. */
export const HEADER_TAGS_MAX = 0xffff
export const HEADER_DATA_MAX = 0x0fffffff
/** rpm's caps for the signature header. */
export const SIG_TAGS_MAX = 32
export const SIG_DATA_MAX = 64 * 1024 * 1024
/** Largest element count of a non-binary array (HEADER_ARRAY_MAX). */
export const HEADER_ARRAY_MAX = 0x000fffff
/** Whole header blob (headerMaxbytes). */
export const HEADER_MAX_BYTES = 256 * 1024 * 1024

/** Header data types (rpmTagType_e). */
export const RPM_TYPE = {
  NULL: 0,
  CHAR: 1,
  INT8: 2,
  INT16: 3,
  INT32: 4,
  INT64: 5,
  STRING: 6,
  BIN: 7,
  STRING_ARRAY: 8,
  I18NSTRING: 9
} as const

/** Size of one element of each type; -1 for NUL-terminated strings. */
export const TYPE_SIZE: readonly number[] = [0, 1, 1, 2, 4, 8, -1, 1, -1, -1]
/** Required alignment of each type's data offset. */
export const TYPE_ALIGN: readonly number[] = [1, 1, 1, 2, 4, 8, 1, 1, 1, 1]

/** Region tags and the first tag number an ordinary entry may use (HEADER_I18NTABLE). */
export const TAG_HEADERIMAGE = 61
export const TAG_HEADERSIGNATURES = 62
export const TAG_HEADERIMMUTABLE = 63
export const TAG_I18NTABLE = 100

/** Tags of the signature header (RPMSIGTAG_*). */
export const SIGTAG = {
  DSA: 267,
  RSA: 268,
  SHA1: 269,
  LONGSIZE: 270,
  LONGARCHIVESIZE: 271,
  SHA256: 273,
  FILESIGNATURES: 274,
  FILESIGNATURELENGTH: 275,
  VERITYSIGNATURES: 276,
  VERITYSIGNATUREALGO: 277,
  OPENPGP: 278,
  SHA3_256: 279,
  RESERVED: 999,
  SIZE: 1000,
  LEMD5_1: 1001,
  PGP: 1002,
  LEMD5_2: 1003,
  MD5: 1004,
  GPG: 1005,
  PGP5: 1006,
  PAYLOADSIZE: 1007,
  RESERVEDSPACE: 1008
} as const

/** Tags of the main header that the reader and verifier use (RPMTAG_*). */
export const TAG = {
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  ARCH: 1022,
  SOURCERPM: 1044,
  SOURCEPACKAGE: 1106,
  PAYLOADFORMAT: 1124,
  PAYLOADCOMPRESSOR: 1125,
  PAYLOADSHA256: 5092,
  PAYLOADSHA256ALGO: 5093,
  PAYLOADSHA256ALT: 5097,
  PAYLOADSIZE: 5112,
  PAYLOADSIZEALT: 5113,
  RPMFORMAT: 5114,
  PAYLOADSHA512: 5121,
  PAYLOADSHA512ALT: 5122,
  PAYLOADSHA3_256: 5123,
  PAYLOADSHA3_256ALT: 5124
} as const

/** OpenPGP hash algorithm IDs (RFC 9580 9.5) and their node:crypto names. */
export const PGP_HASH: Readonly<Record<number, { name: string, node: string, size: number }>> = {
  1: { name: 'MD5', node: 'md5', size: 16 },
  2: { name: 'SHA1', node: 'sha1', size: 20 },
  3: { name: 'RIPEMD160', node: 'ripemd160', size: 20 },
  8: { name: 'SHA256', node: 'sha256', size: 32 },
  9: { name: 'SHA384', node: 'sha384', size: 48 },
  10: { name: 'SHA512', node: 'sha512', size: 64 },
  11: { name: 'SHA224', node: 'sha224', size: 28 },
  12: { name: 'SHA3-256', node: 'sha3-256', size: 32 },
  14: { name: 'SHA3-512', node: 'sha3-512', size: 64 }
}

/** OpenPGP public-key algorithm IDs, named as rpm prints them. */
export const PGP_PUBKEY: Readonly<Record<number, string>> = {
  1: 'RSA',
  2: 'RSA',
  3: 'RSA',
  16: 'ElGamal',
  17: 'DSA',
  18: 'ECDH',
  19: 'ECDSA',
  22: 'EdDSA',
  25: 'X25519',
  26: 'X448',
  27: 'Ed25519',
  28: 'Ed448',
  30: 'ML-DSA-65+Ed25519',
  31: 'ML-DSA-87+Ed448'
}

/** Public-key algorithms whose signatures OpenPGP.js 6 verifies (RSA, DSA, ECDSA, EdDSA, Ed25519, Ed448). */
export const OPENPGPJS_SIGNING_ALGOS: ReadonlySet<number> = new Set([1, 3, 17, 19, 22, 27, 28])
