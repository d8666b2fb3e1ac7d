// Small helpers shared by every op's option handling. Numeric and array checks live in the
// native binding (one place, one message style); here only the option object's shape and
// string enums are checked.

export type IndexArray = Int32Array | Uint32Array | BigInt64Array;

export function requireOptions(options: unknown, op: string): void {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${op} expects an options object, got ${options === null ? 'null' : typeof options}`);
  }
}

/** The position of `value` in `names`, or a TypeError naming the option and its choices. */
export function enumCode<T extends string>(value: unknown, names: readonly T[], option: string): number {
  const code = names.indexOf(value as T);
  if (code < 0) {
    throw new TypeError(`${option} must be one of ${names.map((n) => `'${n}'`).join(', ')}, got ${describe(value)}`);
  }
  return code;
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  return value.constructor?.name ?? 'object';
}
