// A crafted corpus of small safetensors files, valid and malformed, each with the outcome of
// the Rust crate (`SafeTensors::deserialize`: read_metadata + Metadata::validate) and, for a
// refusal, the upstream error and the words our SafetensorsError must contain. The outcomes
// were checked against the crate itself (safetensors 0.8.0-dev, serde_json): write the corpus
// with `node --import tsx scripts/safetensors_corpus.ts DIR` and run any upstream reader on it.
// safetensors_corpus.test.ts runs our reader on every case.

export interface CorpusCase {
  name: string;
  bytes: Uint8Array;
  /** 'ok', or the upstream SafeTensorError variant that refuses the file. */
  upstream: 'ok' | string;
  /** For a refusal: what our error message says. */
  problem?: RegExp;
}

const enc = new TextEncoder();

/** Length prefix (the header's byte length unless given), header text, then `data` bytes (a count means zeros). */
export function stFile(header: string | Uint8Array, data: Uint8Array | number = 0, prefix?: bigint): Uint8Array {
  const h = typeof header === 'string' ? enc.encode(header) : header;
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, prefix ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

/** A header text from entries written as JSON fragments (so duplicates and odd numbers survive). */
const hdr = (...entries: [string, string][]): string => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
const f32 = (n: number, begin: number) => `{"dtype":"F32","shape":[${n}],"data_offsets":[${begin},${begin + 4 * n}]}`;
const nest = (depth: number, inner = '0') => '['.repeat(depth) + inner + ']'.repeat(depth);

const ok = (name: string, bytes: Uint8Array): CorpusCase => ({ name, bytes, upstream: 'ok' });
const bad = (name: string, bytes: Uint8Array, upstream: string, problem: RegExp): CorpusCase => ({ name, bytes, upstream, problem });

export const CORPUS: CorpusCase[] = [
  // --- valid files -----------------------------------------------------------------------------
  ok('empty_header', stFile('{}')),
  ok('metadata_null', stFile('{"__metadata__":null}')),
  ok('metadata_empty', stFile('{"__metadata__":{}}')),
  ok('metadata_repeated_key_last_wins', stFile('{"__metadata__":{"a":"1","a":"2"}}')),
  ok('one_f32', stFile(hdr(['w', f32(2, 0)]), 8)),
  ok('padded_with_spaces', stFile(`${hdr(['w', f32(2, 0)])}      `, 8)),
  ok('json_whitespace_everywhere', stFile(' \t\n\r{ "w" :\n{"dtype" : "F32" ,"shape":[ 2 ],"data_offsets":[0 , 8]}\r\n}\t', 8)),
  ok('tensors_out_of_offset_order', stFile(hdr(['b', f32(1, 8)], ['a', f32(2, 0)]), 12)),
  ok('scalar_shape', stFile(hdr(['s', '{"dtype":"F64","shape":[],"data_offsets":[0,8]}']), 8)),
  ok('empty_tensor_first_and_last', stFile(hdr(['e0', '{"dtype":"F32","shape":[0],"data_offsets":[0,0]}'], ['w', f32(1, 0)], ['e1', '{"dtype":"I64","shape":[3,0],"data_offsets":[4,4]}']), 4)),
  ok('f8_e4m3', stFile(hdr(['q', '{"dtype":"F8_E4M3","shape":[3],"data_offsets":[0,3]}']), 3)),
  ok('f8_e5m2', stFile(hdr(['q', '{"dtype":"F8_E5M2","shape":[3],"data_offsets":[0,3]}']), 3)),
  ok('f8_e8m0', stFile(hdr(['q', '{"dtype":"F8_E8M0","shape":[2],"data_offsets":[0,2]}']), 2)),
  ok('f8_fnuz', stFile(hdr(['a', '{"dtype":"F8_E4M3FNUZ","shape":[1],"data_offsets":[0,1]}'], ['b', '{"dtype":"F8_E5M2FNUZ","shape":[1],"data_offsets":[1,2]}']), 2)),
  ok('c64', stFile(hdr(['c', '{"dtype":"C64","shape":[2],"data_offsets":[0,16]}']), 16)),
  ok('f4_even_count', stFile(hdr(['q', '{"dtype":"F4","shape":[2,3],"data_offsets":[0,3]}']), 3)),
  ok('f6_four_values', stFile(hdr(['a', '{"dtype":"F6_E2M3","shape":[4],"data_offsets":[0,3]}'], ['b', '{"dtype":"F6_E3M2","shape":[4],"data_offsets":[3,6]}']), 6)),
  ok('all_integer_dtypes', stFile(hdr(
    ['a', '{"dtype":"U64","shape":[1],"data_offsets":[0,8]}'], ['b', '{"dtype":"I32","shape":[1],"data_offsets":[8,12]}'],
    ['c', '{"dtype":"U32","shape":[1],"data_offsets":[12,16]}'], ['d', '{"dtype":"I16","shape":[1],"data_offsets":[16,18]}'],
    ['e', '{"dtype":"U16","shape":[1],"data_offsets":[18,20]}'], ['f', '{"dtype":"I8","shape":[1],"data_offsets":[20,21]}'],
    ['g', '{"dtype":"U8","shape":[1],"data_offsets":[21,22]}'], ['h', '{"dtype":"BOOL","shape":[2],"data_offsets":[22,24]}']), 24)),
  ok('unknown_entry_fields_ignored', stFile(hdr(['w', '{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":{"x":[1.5,null,true]},"note":"hi"}']), 4)),
  ok('entry_as_array', stFile(hdr(['w', '["F32",[2],[0,8]]']), 8)),
  ok('dtype_as_unit_variant_map', stFile(hdr(['w', '{"dtype":{"F32":null},"shape":[2],"data_offsets":[0,8]}']), 8)),
  ok('escaped_names', stFile('{"caf\\u00e9":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"\\ud83d\\ude00":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"a\\/b\\n":{"dtype":"U8","shape":[0],"data_offsets":[2,2]}}', 2)),
  ok('metadata_key_written_with_escapes', stFile('{"\\u005f_metadata__":{"k":"v"}}')),
  ok('repeated_tensor_same_entry', stFile(hdr(['w', f32(2, 0)], ['w', f32(2, 0)]), 8)),
  ok('nesting_127_levels', stFile(hdr(['w', `{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":${nest(125)}}`]), 1)),
  ok('empty_name', stFile(hdr(['', f32(1, 0)]), 4)),
  ok('big_exponent_float_elsewhere', stFile(hdr(['w', '{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1e308,"y":-0.0,"z":1e-400}']), 1)),

  // --- the 8-byte prefix ---------------------------------------------------------------------------
  bad('shorter_than_prefix', new Uint8Array(5), 'HeaderTooSmall', /too short for the 8-byte header length/),
  bad('prefix_above_100mb', stFile('{}', 0, 100_000_001n), 'HeaderTooLarge', /header too large/),
  bad('prefix_u64_max', stFile('{}', 0, 0xffffffffffffffffn), 'HeaderTooLarge', /header too large/),
  bad('prefix_past_end', stFile('{}', 0, 3n), 'InvalidHeaderLength', /larger than the file allows/),
  bad('prefix_zero', stFile('', 0), 'InvalidHeaderDeserialization', /too short to hold a JSON object/),

  // --- text and JSON ---------------------------------------------------------------------------------
  bad('invalid_utf8', stFile(Uint8Array.of(0x7b, 0xff, 0x7d)), 'InvalidHeader', /not valid UTF-8/),
  bad('utf8_bom', stFile(Uint8Array.of(0xef, 0xbb, 0xbf, 0x7b, 0x7d)), 'InvalidHeaderDeserialization', /not valid JSON/),
  bad('nul_padding', stFile('{}\u0000\u0000'), 'InvalidHeaderDeserialization', /not valid JSON: trailing characters/),
  bad('trailing_comma', stFile('{"__metadata__":{},}'), 'InvalidHeaderDeserialization', /not valid JSON/),
  bad('truncated_json', stFile('{"w":{"dtype":'), 'InvalidHeaderDeserialization', /not valid JSON/),
  bad('top_level_array', stFile('[]'), 'InvalidHeaderDeserialization', /must be a JSON object, got an array/),
  bad('top_level_string', stFile('"x"'), 'InvalidHeaderDeserialization', /must be a JSON object/),
  bad('nesting_128_levels', stFile(hdr(['w', `{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":${nest(126)}}`]), 1), 'InvalidHeaderDeserialization', /nested deeper than 127 levels/),
  bad('nesting_100000_levels', stFile(`{"x":${nest(100_000)}}`), 'InvalidHeaderDeserialization', /nested deeper than 127 levels/),
  bad('nested_metadata_100000', stFile(`{"__metadata__":${nest(100_000)}}`), 'InvalidHeaderDeserialization', /nested deeper/),
  bad('lone_leading_surrogate', stFile('{"\\ud800":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'), 'InvalidHeaderDeserialization', /lone leading surrogate/),
  bad('lone_trailing_surrogate', stFile('{"\\udc00":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'), 'InvalidHeaderDeserialization', /lone trailing surrogate/),
  bad('leading_surrogate_then_letter', stFile('{"\\ud800\\u0041":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'), 'InvalidHeaderDeserialization', /lone leading surrogate/),
  bad('lone_surrogate_in_metadata', stFile('{"__metadata__":{"k":"\\udbff"}}'), 'InvalidHeaderDeserialization', /lone leading surrogate/),
  bad('lone_surrogate_in_ignored_field', stFile(hdr(['w', '{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":"\\ud800"}']), 1), 'InvalidHeaderDeserialization', /lone leading surrogate/),
  bad('raw_control_character', stFile('{"a\tb":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'), 'InvalidHeaderDeserialization', /control character/),
  bad('invalid_escape', stFile('{"\\x41":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'), 'InvalidHeaderDeserialization', /invalid escape/),
  bad('float_overflow_elsewhere', stFile(hdr(['w', '{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1e400}']), 1), 'InvalidHeaderDeserialization', /number out of range/),
  bad('leading_zero_number', stFile(hdr(['w', '{"dtype":"U8","shape":[01],"data_offsets":[0,1]}']), 1), 'InvalidHeaderDeserialization', /leading zero/),

  // --- entries -----------------------------------------------------------------------------------------
  bad('entry_null', stFile(hdr(['w', 'null'])), 'InvalidHeaderDeserialization', /entry must be an object/),
  bad('entry_array_too_short', stFile(hdr(['w', '["F32",[2]]']), 8), 'InvalidHeaderDeserialization', /exactly \[dtype, shape, data_offsets\], got 2 items/),
  bad('entry_array_too_long', stFile(hdr(['w', '["F32",[2],[0,8],1]']), 8), 'InvalidHeaderDeserialization', /got 4 items/),
  bad('missing_dtype', stFile(hdr(['w', '{"shape":[2],"data_offsets":[0,8]}']), 8), 'InvalidHeaderDeserialization', /missing field "dtype"/),
  bad('missing_offsets', stFile(hdr(['w', '{"dtype":"F32","shape":[2]}']), 8), 'InvalidHeaderDeserialization', /missing field "data_offsets"/),
  bad('repeated_field', stFile(hdr(['w', '{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}']), 8), 'InvalidHeaderDeserialization', /field "dtype" appears twice/),
  bad('unknown_dtype', stFile(hdr(['w', '{"dtype":"F8","shape":[2],"data_offsets":[0,2]}']), 2), 'InvalidHeaderDeserialization', /unknown dtype "F8"/),
  bad('lowercase_dtype', stFile(hdr(['w', '{"dtype":"f32","shape":[2],"data_offsets":[0,8]}']), 8), 'InvalidHeaderDeserialization', /unknown dtype "f32"/),
  bad('dtype_number', stFile(hdr(['w', '{"dtype":7,"shape":[2],"data_offsets":[0,8]}']), 8), 'InvalidHeaderDeserialization', /dtype must be a string, got number 7/),
  bad('dtype_map_with_value', stFile(hdr(['w', '{"dtype":{"F32":1},"shape":[2],"data_offsets":[0,8]}']), 8), 'InvalidHeaderDeserialization', /dtype must be a string/),
  bad('dtype_map_two_keys', stFile(hdr(['w', '{"dtype":{"F32":null,"I32":null},"shape":[2],"data_offsets":[0,8]}']), 8), 'InvalidHeaderDeserialization', /dtype must be a string/),
  bad('shape_float_2.0', stFile(hdr(['w', '{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}']), 8), 'InvalidHeaderDeserialization', /shape\[0\] is number 2\.0, not a non-negative integer \(a float/),
  bad('shape_exponent_2e0', stFile(hdr(['w', '{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}']), 8), 'InvalidHeaderDeserialization', /shape\[0\] is number 2e0/),
  bad('shape_negative_zero', stFile(hdr(['w', '{"dtype":"F32","shape":[-0],"data_offsets":[0,0]}'])), 'InvalidHeaderDeserialization', /shape\[0\] is number -0, not a non-negative integer \(negative\)/),
  bad('shape_negative', stFile(hdr(['w', '{"dtype":"F32","shape":[2,-3],"data_offsets":[0,8]}']), 8), 'InvalidHeaderDeserialization', /shape\[1\] is number -3/),
  bad('shape_string', stFile(hdr(['w', '{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}']), 8), 'InvalidHeaderDeserialization', /shape\[0\] is string "2"/),
  bad('shape_not_array', stFile(hdr(['w', '{"dtype":"F32","shape":2,"data_offsets":[0,8]}']), 8), 'InvalidHeaderDeserialization', /shape must be an array/),
  bad('shape_2_pow_64', stFile(hdr(['w', '{"dtype":"F32","shape":[18446744073709551616,0],"data_offsets":[0,0]}'])), 'InvalidHeaderDeserialization', /above 2\^64 - 1/),
  bad('offset_float', stFile(hdr(['w', '{"dtype":"F32","shape":[2],"data_offsets":[0.0,8]}']), 8), 'InvalidHeaderDeserialization', /data_offsets\[0\] is number 0\.0/),
  bad('offset_exponent', stFile(hdr(['w', '{"dtype":"F32","shape":[2],"data_offsets":[0,8e0]}']), 8), 'InvalidHeaderDeserialization', /data_offsets\[1\] is number 8e0/),
  bad('offsets_three_values', stFile(hdr(['w', '{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}']), 8), 'InvalidHeaderDeserialization', /data_offsets must be \[begin, end\], got 3 values/),
  bad('offsets_one_value', stFile(hdr(['w', '{"dtype":"F32","shape":[2],"data_offsets":[0]}']), 8), 'InvalidHeaderDeserialization', /got 1 values/),

  // --- __metadata__ ------------------------------------------------------------------------------------
  bad('metadata_twice', stFile('{"__metadata__":{},"__metadata__":{}}'), 'InvalidHeaderDeserialization', /"__metadata__" appears twice/),
  bad('metadata_twice_null', stFile('{"__metadata__":null,"__metadata__":null}'), 'InvalidHeaderDeserialization', /"__metadata__" appears twice/),
  bad('metadata_number_value', stFile('{"__metadata__":{"epoch":3}}'), 'InvalidHeaderDeserialization', /key "epoch" holds number 3/),
  bad('metadata_array', stFile('{"__metadata__":["a"]}'), 'InvalidHeaderDeserialization', /__metadata__ must be null or an object/),
  bad('metadata_string', stFile('{"__metadata__":"x"}'), 'InvalidHeaderDeserialization', /__metadata__ must be null or an object/),

  // --- layout: Metadata::validate and the end of the file -------------------------------------------
  bad('hole_at_start', stFile(hdr(['w', f32(1, 4)]), 8), 'InvalidOffset', /leave bytes 0\.\.4 of the data section uncovered/),
  bad('hole_between', stFile(hdr(['a', f32(1, 0)], ['b', f32(1, 8)]), 12), 'InvalidOffset', /tensor "b": data_offsets \[8, 12\] leave bytes 4\.\.8/),
  bad('overlap', stFile(hdr(['a', f32(2, 0)], ['b', f32(1, 4)]), 8), 'InvalidOffset', /tensor "b": data_offsets \[4, 8\] start inside bytes already used by tensor "a"/),
  bad('empty_tensor_inside_another', stFile(hdr(['a', f32(2, 0)], ['e', '{"dtype":"F32","shape":[0],"data_offsets":[4,4]}']), 8), 'InvalidOffset', /start inside bytes already used/),
  bad('end_before_begin', stFile(hdr(['w', '{"dtype":"F32","shape":[0],"data_offsets":[4,0]}']), 4), 'InvalidOffset', /end before they begin/),
  bad('repeated_tensor_other_offsets', stFile(hdr(['w', f32(1, 0)], ['w', f32(1, 4)]), 8), 'InvalidOffset', /leave bytes 0\.\.4 .*appears more than once/),
  bad('size_mismatch', stFile(hdr(['w', '{"dtype":"F32","shape":[2,3],"data_offsets":[0,12]}']), 12), 'TensorInvalidInfo', /hold 12 bytes but shape \[2, 3\] of F32 needs 24/),
  bad('f4_odd_count', stFile(hdr(['q', '{"dtype":"F4","shape":[3],"data_offsets":[0,2]}']), 2), 'MisalignedSlice', /is 12 bits, not a whole number of bytes/),
  bad('element_count_overflow', stFile(hdr(['w', '{"dtype":"U8","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}'])), 'ValidationOverflow', /more elements than a 64-bit size holds/),
  bad('bit_count_overflow', stFile(hdr(['w', '{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}'])), 'ValidationOverflow', /more bits than a 64-bit size holds/),
  bad('trailing_bytes', stFile(hdr(['w', f32(1, 0)]), 5), 'MetadataIncompleteBuffer', /1 bytes after the last tensor belong to none/),
  bad('data_without_tensors', stFile('{}', 4), 'MetadataIncompleteBuffer', /tensors end at byte 0 of the data section, which holds 4/),
  bad('truncated_data', stFile(hdr(['w', f32(2, 0)]), 6), 'MetadataIncompleteBuffer', /tensor "w" ends at byte 8 of the data section, which holds only 6 bytes/),

  // A dimension no JS number holds exactly, in a tensor without elements: accepted, as upstream
  // (TensorInfo.shape then holds the nearest double).
  ok('dimension_beyond_2_pow_53_in_empty_tensor', stFile(hdr(['w', '{"dtype":"U8","shape":[0,9007199254740993],"data_offsets":[0,0]}']))),
];
