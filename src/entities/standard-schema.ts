/**
 * The Standard Schema interface (https://standardschema.dev), which zod, valibot, arktype and
 * others implement. Commands are validated through it, so users pick their validator. The
 * types are the spec's, copied as the spec intends, so beamstate depends on no validator.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}

// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace StandardSchemaV1 {
  export interface Props<Input = unknown, Output = Input> {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    readonly types?: Types<Input, Output> | undefined;
  }
  export type Result<Output> = SuccessResult<Output> | FailureResult;
  export interface SuccessResult<Output> {
    readonly value: Output;
    readonly issues?: undefined;
  }
  export interface FailureResult {
    readonly issues: ReadonlyArray<Issue>;
  }
  export interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  export interface PathSegment {
    readonly key: PropertyKey;
  }
  export interface Types<Input = unknown, Output = Input> {
    readonly input: Input;
    readonly output: Output;
  }
  export type InferInput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['input'];
  export type InferOutput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['output'];
}

/** One validation problem, as sent to clients: a message and a path of plain keys. */
export interface ValidationIssue {
  readonly message: string;
  readonly path: readonly (string | number)[];
}

/**
 * A validator's result, checked: a schema from another library (or a hand-written one) may
 * return anything, and what it returns is read where nothing else could catch a TypeError.
 * Throws a TypeError for a malformed result; the caller reports it as the validator failing.
 */
export function checkResult(result: unknown): StandardSchemaV1.Result<unknown> {
  if (typeof result !== 'object' || result === null) {
    throw new TypeError(`the schema's validate() returned ${result === null ? 'null' : typeof result}, not a result`);
  }
  const issues = (result as { issues?: unknown }).issues;
  if (issues !== undefined && !Array.isArray(issues)) throw new TypeError("the schema's result has issues that are not an array");
  return result as StandardSchemaV1.Result<unknown>;
}

/** Issues as clients get them; never throws, whatever the items look like. */
export function toIssues(issues: ReadonlyArray<StandardSchemaV1.Issue>): ValidationIssue[] {
  return issues.map((i: Partial<StandardSchemaV1.Issue> | null | undefined) => {
    if (typeof i !== 'object' || i === null) return { message: String(i), path: [] };
    return {
      message: typeof i.message === 'string' ? i.message : String(i.message),
      path: Array.isArray(i.path)
        ? i.path.map((p: unknown) => {
            const key = typeof p === 'object' && p !== null ? (p as { key?: unknown }).key : p;
            return typeof key === 'number' ? key : String(key);
          })
        : [],
    };
  });
}

export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  return (
    typeof value === 'object' &&
    value !== null &&
    '~standard' in value &&
    typeof (value as StandardSchemaV1)['~standard']?.validate === 'function'
  );
}
