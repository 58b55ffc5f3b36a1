/**
 * OpenTelemetry spans of the gateway's commands, through `@opentelemetry/api` only (an optional
 * peer dependency, imported here at run time and only when a gateway is made with `tracing`).
 * With no tracing nothing here is loaded and every hook on the hot path is one null check.
 *
 * A traced command is one `CommandTrace`: the server span of the client's request (child of the
 * client's `traceparent` when it sent a valid one), and beside it, as its children, the entity's
 * handler, the journal commit of its batch and the reply. See docs/observer.md, "Traces".
 * @internal
 */
import type * as Api from '@opentelemetry/api';
import { InvalidOptionError } from '../actors/errors.js';
import type { CommandTracer, CommandTrace as EntityTrace } from '../entities/pending.js';
import type { TracingOption } from './options.js';
import { formatTraceParent, parseTraceParent } from './traceparent.js';

type OtelApi = typeof Api;

/** The instrumentation scope's name. */
export const TRACER_NAME = 'beamstate';

/** Span names (docs/observer.md lists them with their attributes). */
export const SpanName = {
  command: 'beamstate.gateway.command',
  handle: 'beamstate.entity.handle',
  commit: 'beamstate.journal.commit',
  reply: 'beamstate.gateway.reply',
  forwarded: 'beamstate.cluster.command',
} as const;

/** What a traced command is about. */
export interface TracedCommand {
  readonly entityType: string;
  readonly entityId: string;
  readonly command: string;
  readonly requestId: string | number;
  readonly tell: boolean;
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
}

/**
 * Loads `@opentelemetry/api` and makes the tracer, or null when `option` asks for no tracing.
 * A missing `@opentelemetry/api` is `INVALID_OPTION` (field `tracing`): tracing was asked for.
 * @internal
 */
export async function loadTracing(option: TracingOption | undefined): Promise<Tracing | null> {
  if (option === undefined || option === false) return null;
  if (option !== true && (typeof option !== 'object' || option === null)) {
    throw new InvalidOptionError('tracing', 'must be a boolean or { tracerProvider }');
  }
  const provider = option === true ? undefined : option.tracerProvider;
  if (provider !== undefined && typeof provider?.getTracer !== 'function') {
    throw new InvalidOptionError('tracing', 'tracerProvider must have getTracer(name, version)');
  }
  let api: OtelApi;
  try {
    // A variable specifier keeps bundlers from pulling the optional dependency in.
    const name = '@opentelemetry/api';
    api = (await import(name)) as OtelApi;
  } catch (cause) {
    const err = new InvalidOptionError('tracing', 'needs @opentelemetry/api installed (an optional peer dependency of beamstate)');
    (err as Error & { cause?: unknown }).cause = cause;
    throw err;
  }
  const tracer = ((provider as Api.TracerProvider | undefined) ?? api.trace.getTracerProvider()).getTracer(TRACER_NAME);
  return new Tracing(api, tracer);
}

/** A tracer and the API it came from. @internal */
export class Tracing implements CommandTracer {
  constructor(
    readonly api: OtelApi,
    readonly tracer: Api.Tracer,
  ) {}

  /** The server span of a command another node forwarded, child of the forwarding node's span. */
  forwarded(entityType: string, entityId: string, command: string, traceparent: string): CommandTrace {
    return this.command({ entityType, entityId, command, requestId: '', tell: false, traceparent, tracestate: undefined }, SpanName.forwarded);
  }

  /** The server span of a command from a client, child of its valid `traceparent` if any. */
  command(c: TracedCommand, name: string = SpanName.command): CommandTrace {
    const api = this.api;
    let parent: Api.Context = api.ROOT_CONTEXT;
    let invalid = false;
    if (c.traceparent !== undefined) {
      const tp = parseTraceParent(c.traceparent);
      if (tp === null) invalid = true;
      else {
        const spanContext: Api.SpanContext = { traceId: tp.traceId, spanId: tp.spanId, traceFlags: tp.traceFlags, isRemote: true };
        if (c.tracestate !== undefined) {
          try {
            spanContext.traceState = api.createTraceState(c.tracestate);
          } catch {
            // A malformed tracestate is dropped, the traceparent kept (W3C Trace Context §3.3.1.1).
          }
        }
        parent = api.trace.setSpanContext(api.ROOT_CONTEXT, spanContext);
      }
    }
    const attributes: Api.Attributes = {
      'beamstate.entity.type': c.entityType,
      'beamstate.entity.id': c.entityId,
      'beamstate.command': c.command,
      'beamstate.request.id': String(c.requestId),
    };
    if (c.tell) attributes['beamstate.tell'] = true;
    if (invalid) attributes['beamstate.traceparent.invalid'] = true;
    if (name === SpanName.forwarded) delete attributes['beamstate.request.id'];
    const span = this.tracer.startSpan(name, { kind: api.SpanKind.SERVER, attributes }, parent);
    return new CommandTrace(this, span, api.trace.setSpan(parent, span), c);
  }
}

/**
 * One traced command: its server span and the child spans the entity and the gateway open
 * through the hooks. Hooks never throw (the OpenTelemetry API does not).
 * @internal
 */
export class CommandTrace implements EntityTrace {
  private handleSpan: Api.Span | null = null;
  private commitSpan: Api.Span | null = null;
  private ended = false;
  /** False when the server span is not sampled: its children would not be either, so none is made. */
  private readonly recording: boolean;

  constructor(
    private readonly tracing: Tracing,
    readonly span: Api.Span,
    /** The context with the server span active: the parent of the child spans. */
    readonly context: Api.Context,
    private readonly c: TracedCommand,
  ) {
    this.recording = span.isRecording();
  }

  /** The server span's W3C `traceparent`, for a frame that carries the command on. */
  get traceparent(): string {
    const sc = this.span.spanContext();
    return formatTraceParent(sc.traceId, sc.spanId, sc.traceFlags);
  }

  private child(name: string, attributes: Api.Attributes): Api.Span {
    return this.tracing.tracer.startSpan(name, { kind: this.tracing.api.SpanKind.INTERNAL, attributes }, this.context);
  }

  handling(sequenceNr: number, attempt: number): void {
    if (!this.recording) return;
    this.handleSpan?.end();
    this.handleSpan = this.child(SpanName.handle, {
      'beamstate.entity.type': this.c.entityType,
      'beamstate.entity.id': this.c.entityId,
      'beamstate.command': this.c.command,
      'beamstate.entity.sequence_nr': sequenceNr,
      'beamstate.attempt': attempt,
    });
  }

  handled(error: unknown): void {
    const span = this.handleSpan;
    if (span === null) return;
    this.handleSpan = null;
    if (error !== undefined) this.fail(span, error);
    span.end();
  }

  committing(batchSize: number): void {
    if (!this.recording) return;
    this.commitSpan?.end();
    this.commitSpan = this.child(SpanName.commit, {
      'beamstate.entity.type': this.c.entityType,
      'beamstate.entity.id': this.c.entityId,
      'beamstate.batch.size': batchSize,
    });
  }

  committed(error: unknown, sequenceNr: number): void {
    const span = this.commitSpan;
    if (span === null) return;
    this.commitSpan = null;
    if (error !== undefined) this.fail(span, error);
    else span.setAttribute('beamstate.entity.sequence_nr', sequenceNr);
    span.end();
  }

  /** The reply span (null when not sampled), open while the answer is encoded and queued; `end` ends it and the command. */
  replying(): Api.Span | null {
    return this.recording ? this.child(SpanName.reply, {}) : null;
  }

  /** Ends the command's spans: `error` if it failed (undefined: it was answered). */
  end(reply: Api.Span | null, error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    // A handler or write still open (the connection went away, the ask timed out) ends with it.
    this.handled(undefined);
    if (this.commitSpan !== null) this.commitSpan.end();
    this.commitSpan = null;
    if (reply !== null) {
      reply.setAttribute('beamstate.reply.outcome', error === undefined ? 'reply' : 'error');
      if (error !== undefined) this.fail(reply, error);
      reply.end();
    }
    if (error !== undefined) this.fail(this.span, error);
    this.span.end();
  }

  private fail(span: Api.Span, error: unknown): void {
    const code = (error as { code?: unknown } | null)?.code;
    const message = typeof code === 'string' ? code : error instanceof Error ? error.name : 'error';
    span.setStatus({ code: this.tracing.api.SpanStatusCode.ERROR, message });
    if (typeof code === 'string') span.setAttribute('beamstate.error.code', code);
  }
}
