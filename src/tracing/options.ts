/**
 * The `tracing` option of the gateway (and the cluster node it forwards through). Plain types
 * only: nothing here names `@opentelemetry/api`, which is an optional peer dependency.
 */

/**
 * What beamstate needs of an OpenTelemetry `TracerProvider` (`BasicTracerProvider`,
 * `NodeTracerProvider`, or `trace.getTracerProvider()` all fit).
 */
export interface TracerProviderLike {
  getTracer(name: string, version?: string): object;
}

/**
 * `true`: spans go to the globally registered provider (`trace.setGlobalTracerProvider`, which
 * the OpenTelemetry Node SDK's `start()` calls). An object: to `tracerProvider` if given, else the
 * global one. `false` or omitted: no tracing, and `@opentelemetry/api` is never loaded.
 */
export type TracingOption = boolean | { readonly tracerProvider?: TracerProviderLike };
