// PostgreSQL array literals built directly. `pg` would turn a JS array into the same text, but
// quotes and regex-escapes every element, numbers included, concatenating as it goes; here the
// common case is one native join.

const NEEDS_ESCAPE = /["\\]/;

export function textArrayLiteral(values: readonly string[]): string {
  for (let i = 0; i < values.length; i++) {
    if (NEEDS_ESCAPE.test(values[i] as string)) return `{${values.map(quote).join(',')}}`;
  }
  // Quoted, so that empty strings, NULL, commas, braces and spaces need no special care.
  return values.length === 0 ? '{}' : `{"${values.join('","')}"}`;
}

export function intArrayLiteral(values: readonly number[]): string {
  return `{${values.join(',')}}`;
}

function quote(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
