// A JSON parser for safetensors headers that accepts and refuses exactly what the Rust crate's
// serde_json does, and keeps what JSON.parse throws away:
//  - integers stay exact (a BigInt) and stay apart from floats: serde reads shapes and offsets
//    as usize, so `2.0`, `2e0` and `-0` are refused there while JSON.parse turns them into 2 and 0;
//  - object entries keep their order and their duplicates (the caller applies serde's rules);
//  - nesting deeper than serde_json's recursion limit (128) is an error, not a stack overflow;
//  - a lone surrogate escape (\ud800 without its pair) is an error, as serde_json's str is UTF-8;
//  - a number that overflows float64 (1e400) is an error (serde_json: "number out of range").
// Everything else follows RFC 8259 as serde_json does (whitespace is space, tab, CR, LF only).

export type JsonValue =
  | { kind: 'null' }
  | { kind: 'bool'; value: boolean }
  /** u64: the exact value when serde_json would read a u64 (no sign, fraction or exponent, <= 2^64 - 1). */
  | { kind: 'number'; text: string; u64: bigint | undefined }
  | { kind: 'string'; value: string }
  | { kind: 'array'; items: JsonValue[] }
  | { kind: 'object'; entries: [string, JsonValue][] };

/** A syntax error, with the character offset in the header text where it was found. */
export class JsonSyntaxError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} at character ${offset}`);
    this.name = 'JsonSyntaxError';
  }
}

/** serde_json's default recursion limit: the 128th nested array/object is refused. */
export const MAX_JSON_DEPTH = 127;
const U64_MAX = (1n << 64n) - 1n;

export function parseJson(text: string): JsonValue {
  let i = 0;
  const fail = (problem: string, at = i): never => { throw new JsonSyntaxError(problem, at); };
  const ws = (): void => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else return;
    }
  };
  const expect = (word: string): void => {
    if (text.startsWith(word, i)) i += word.length;
    else fail(`expected ${JSON.stringify(word)}`);
  };
  const hex4 = (): number => {
    const h = text.slice(i, i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('invalid \\u escape (needs 4 hex digits)');
    i += 4;
    return parseInt(h, 16);
  };

  const string = (): string => {
    i++; // opening quote
    let out = '';
    let run = i; // start of the current run of plain characters
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) { out += text.slice(run, i); i++; return out; }
      if (c < 0x20) fail('control character in a string (must be escaped)');
      if (c !== 0x5c) { i++; continue; }
      out += text.slice(run, i);
      const at = i;
      i++;
      const e = text[i++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const n = hex4();
          if (n >= 0xdc00 && n <= 0xdfff) fail('lone trailing surrogate in a \\u escape', at);
          if (n >= 0xd800 && n <= 0xdbff) {
            // A leading surrogate must be followed at once by an escaped trailing one.
            if (text[i] !== '\\' || text[i + 1] !== 'u') fail('lone leading surrogate in a \\u escape', at);
            i += 2;
            const m = hex4();
            if (m < 0xdc00 || m > 0xdfff) fail('lone leading surrogate in a \\u escape', at);
            out += String.fromCharCode(n, m);
          } else out += String.fromCharCode(n);
          break;
        }
        default: fail('invalid escape', at);
      }
      run = i;
    }
  };

  const number = (): JsonValue => {
    const start = i;
    if (text[i] === '-') i++;
    const digits = (): number => { const s = i; while (text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++; return i - s; };
    if (text[i] === '0') {
      i++;
      if (text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) fail('invalid number (leading zero)');
    } else if (digits() === 0) fail('invalid number');
    let integral = true;
    if (text[i] === '.') { i++; integral = false; if (digits() === 0) fail('invalid number (no digit after the point)'); }
    if (text[i] === 'e' || text[i] === 'E') {
      i++; integral = false;
      if (text[i] === '+' || text[i] === '-') i++;
      if (digits() === 0) fail('invalid number (no digit in the exponent)');
    }
    const literal = text.slice(start, i);
    if (!Number.isFinite(Number(literal))) fail('number out of range', start);
    let u64: bigint | undefined;
    if (integral && literal[0] !== '-') {
      const v = BigInt(literal);
      if (v <= U64_MAX) u64 = v; // larger integers become floats in serde_json
    }
    return { kind: 'number', text: literal, u64 };
  };

  const value = (depth: number): JsonValue => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      if (depth >= MAX_JSON_DEPTH) fail(`nested deeper than ${MAX_JSON_DEPTH} levels (serde_json's recursion limit)`);
      i++;
      ws();
      if (c === '[') {
        const items: JsonValue[] = [];
        if (text[i] === ']') { i++; return { kind: 'array', items }; }
        for (;;) {
          items.push(value(depth + 1));
          ws();
          if (text[i] === ',') { i++; continue; }
          if (text[i] === ']') { i++; return { kind: 'array', items }; }
          fail("expected ',' or ']'");
        }
      }
      const entries: [string, JsonValue][] = [];
      if (text[i] === '}') { i++; return { kind: 'object', entries }; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a string key');
        const key = string();
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        entries.push([key, value(depth + 1)]);
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return { kind: 'object', entries }; }
        fail("expected ',' or '}'");
      }
    }
    if (c === '"') return { kind: 'string', value: string() };
    if (c === 't') { expect('true'); return { kind: 'bool', value: true }; }
    if (c === 'f') { expect('false'); return { kind: 'bool', value: false }; }
    if (c === 'n') { expect('null'); return { kind: 'null' }; }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    return fail(c === undefined ? 'unexpected end of the header' : `unexpected character ${JSON.stringify(c)}`);
  };

  const v = value(0);
  ws();
  if (i < text.length) fail('trailing characters after the JSON value');
  return v;
}

/** A short description of a parsed value's type, for error messages. */
export function jsonKind(v: JsonValue): string {
  switch (v.kind) {
    case 'number': return `number ${v.text.length > 24 ? `${v.text.slice(0, 21)}...` : v.text}`;
    case 'string': return `string ${JSON.stringify(v.value.length > 24 ? `${v.value.slice(0, 21)}...` : v.value)}`;
    case 'bool': return String(v.value);
    case 'array': return `an array of ${v.items.length}`;
    case 'object': return `an object of ${v.entries.length} entries`;
    case 'null': return 'null';
  }
}
