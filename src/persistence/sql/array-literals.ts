// PostgreSQL array literals built directly. `pg` would turn a JS array into the same text, but
// quotes and regex-escapes every element, numbers included; here numbers are joined natively
// and strings are escaped only when they contain a quote or a backslash.

const NEEDS_ESCAPE = /["\\]/;

export function textArrayLiteral(values: readonly string[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as string;
    if (i > 0) out += ',';
    out += NEEDS_ESCAPE.test(v) ? `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : `"${v}"`;
  }
  return `${out}}`;
}

export function intArrayLiteral(values: readonly number[]): string {
  return `{${values.join(',')}}`;
}
