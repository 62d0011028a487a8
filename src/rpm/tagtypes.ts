/**
 * Header data type of every tag rpm 4.18 knows (include/rpm/rpmtag.h, as lib/gentagtbl.sh reads it),
 * for rpm's check that a known tag in the main header has its type (lib/header.c hdrchkTagType).
 * Generated from rpm-4.18.0-release; tags rpm marks internal, unimplemented or extension are left out.
 */
import { RPM_TYPE } from './constants.ts'

const BY_TYPE: ReadonlyArray<[number, readonly number[]]> = [
  [RPM_TYPE.CHAR, [
    1029
  ]],
  [RPM_TYPE.INT16, [
    1030, 1033
  ]],
  [RPM_TYPE.INT32, [
    257, 277, 1003, 1006, 1008, 1009, 1028, 1034, 1037, 1045, 1046, 1048, 1051, 1052, 1053, 1068,
    1069, 1080, 1095, 1096, 1106, 1112, 1114, 1116, 1119, 1127, 1128, 1129, 1134, 1140, 1141, 1143,
    1144, 1145, 1158, 1161, 5011, 5020, 5021, 5022, 5023, 5024, 5025, 5026, 5027, 5032, 5033, 5037,
    5048, 5051, 5054, 5057, 5068, 5070, 5072, 5078, 5080, 5082, 5084, 5085, 5091, 5093
  ]],
  [RPM_TYPE.INT64, [
    270, 271, 5008, 5009
  ]],
  [RPM_TYPE.STRING, [
    269, 273, 1000, 1001, 1002, 1007, 1010, 1011, 1014, 1015, 1020, 1021, 1022, 1023, 1024, 1025,
    1026, 1044, 1064, 1079, 1094, 1122, 1123, 1124, 1125, 1126, 1132, 1151, 1152, 1155, 5012, 5034,
    5062, 5096, 5099, 5100, 5101
  ]],
  [RPM_TYPE.BIN, [
    259, 261, 262, 267, 268, 1012, 1013, 1043, 1146
  ]],
  [RPM_TYPE.STRING_ARRAY, [
    100, 266, 276, 1018, 1019, 1027, 1035, 1036, 1039, 1040, 1047, 1049, 1050, 1054, 1055, 1059,
    1060, 1061, 1062, 1065, 1066, 1067, 1081, 1082, 1085, 1086, 1087, 1088, 1089, 1090, 1091, 1092,
    1097, 1098, 1099, 1113, 1115, 1117, 1118, 1120, 1121, 1133, 1135, 1142, 1147, 1150, 1153, 1154,
    1156, 1157, 1159, 1160, 5010, 5030, 5031, 5035, 5036, 5046, 5047, 5049, 5050, 5052, 5053, 5055,
    5056, 5066, 5067, 5069, 5071, 5076, 5077, 5079, 5081, 5090, 5092, 5097
  ]],
  [RPM_TYPE.I18NSTRING, [
    1004, 1005, 1016
  ]]
]

/** Tag number → rpm 4.18's type for it. */
export const RPM418_TAG_TYPES: ReadonlyMap<number, number> = new Map(BY_TYPE.flatMap(([type, tags]) => tags.map(tag => [tag, type] as [number, number])))

const STRING_CLASS: ReadonlySet<number> = new Set([RPM_TYPE.STRING, RPM_TYPE.STRING_ARRAY, RPM_TYPE.I18NSTRING])

/**
 * Whether rpm 4.18 accepts `type` for `tag` in a main header: unknown tags are allowed (forward
 * compatibility), string tags may use any string type, everything else must match exactly.
 */
export function tagTypeAllowed (tag: number, type: number): boolean {
  const want = RPM418_TAG_TYPES.get(tag)
  if (want === undefined || want === type) return true
  return STRING_CLASS.has(want) && STRING_CLASS.has(type)
}
