import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import protojson from 'protobufjs/ext/protojson.js';
import type { EntityRuntime } from '../entities/runtime.js';
import { BeamstateError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { type MethodModel, serviceModel } from './descriptors.js';
import { ComponentType } from './discovery.js';
import { MalformedMessageError, NoEntityKeyError, ProxyProtocolError, UnsupportedComponentError } from './errors.js';
import { entityKeyFields, type KeyExtractor, keyExtractor } from './entity-key.js';
import { grpcFailureOf } from './grpc-status.js';
import { addReflection } from './grpc-reflection.js';
import { EncodedMessage } from './transcode.js';
import type { KalixProxy } from './proxy.js';

export interface GrpcFrontOptions {
  /** The running proxy whose user function's services are served. */
  readonly proxy: KalixProxy;
  /** The runtime the proxy registered its entity types in. */
  readonly runtime: EntityRuntime;
  /** Port to listen on; 0 (the default) takes a free one. The CLI's default is 9000, the Kalix proxy's port. */
  readonly port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  readonly host?: string;
  /** Largest request message accepted, in bytes; a larger one is answered RESOURCE_EXHAUSTED. Default 4 MiB (gRPC's). */
  readonly maxReceiveMessageBytes?: number;
  /** Longest a call without a deadline waits for its entity. Default the actor system's ask timeout (5000 ms). */
  readonly callTimeoutMs?: number;
  /**
   * Decides each call from its metadata before anything else is done (see {@link bearerTokenOf}):
   * `false` is `UNAUTHENTICATED`; a throw or rejection is `UNAUTHENTICATED` too, and logged.
   * Default: every call is let in (the front listens on 127.0.0.1 unless told otherwise).
   */
  readonly authenticate?: (metadata: grpc.Metadata) => boolean | Promise<boolean>;
  /** Serve gRPC server reflection (v1 and v1alpha) from the user function's descriptors, for `grpcurl` and the like. Default true, behind `authenticate`. */
  readonly reflection?: boolean;
  readonly logger?: Logger;
}

/** Defaults of {@link GrpcFrontOptions}, in one place. */
export const grpcFrontDefaults = {
  port: 0,
  host: '127.0.0.1',
  maxReceiveMessageBytes: 4 * 1024 * 1024,
  reflection: true,
} as const;

/** The name a call to a stateless component (an action) uses as its id: the runtime routes it to any worker. */
const STATELESS_ID = 'action';

/** What was decided, per method, when the front started. */
type Route =
  | { readonly kind: 'entity'; readonly method: MethodModel; readonly entityType: string; readonly key: KeyExtractor | null }
  | { readonly kind: 'refuse'; readonly method: MethodModel; readonly error: Error };

/**
 * Serves the user function's own gRPC services (`com.example.ShoppingCartService/AddItem`), built
 * from the descriptors Discover returned, as the Kalix proxy does: each unary call is routed to
 * the entity its input's `(kalix.field).entity_key` fields name, as a command of the proxy's
 * entity type; the reply is the method's output message; a failure is a gRPC status
 * (grpc-status.ts). Made by {@link startGrpcFront}.
 */
export class GrpcFront implements AsyncDisposable {
  /** @internal */
  constructor(
    private readonly server: grpc.Server,
    /** The port it listens on. */
    readonly port: number,
    readonly host: string,
    /** Fully qualified service names served. */
    readonly services: readonly string[],
  ) {}

  /** `host:port`, as a grpc-js client takes it. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /**
   * Stops taking calls and waits for the ones in flight to be answered (up to `graceMs`, default
   * 5000 ms; then they are cancelled). Close it before the runtime stops, like the gateway.
   */
  close(graceMs = 5000): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.server.forceShutdown(), graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Starts the gRPC front for `options.proxy`; resolves once it listens. */
export async function startGrpcFront(options: GrpcFrontOptions): Promise<GrpcFront> {
  const log = options.logger ?? silentLogger;
  const host = options.host ?? grpcFrontDefaults.host;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxReceiveMessageBytes ?? grpcFrontDefaults.maxReceiveMessageBytes,
  });
  const { discovered } = options.proxy;
  const keys = entityKeyFields(discovered.descriptorSet);
  const services: string[] = [];
  // Served components first, so that a service declared twice (an entity's and a view's over the
  // same API) is served by the component the proxy runs.
  const ordered = [...discovered.components].sort((a, b) => Number(options.proxy.entityTypeOf(b.serviceName) !== undefined) - Number(options.proxy.entityTypeOf(a.serviceName) !== undefined));
  for (const component of ordered) {
    if (services.includes(component.serviceName)) continue;
    let service;
    try {
      service = serviceModel(discovered.root, component.serviceName);
    } catch (err) {
      log.warn({ err, serviceName: component.serviceName }, 'not served over gRPC');
      continue;
    }
    const entityType = options.proxy.entityTypeOf(component.serviceName);
    const type = entityType === undefined ? undefined : options.runtime.types.get(entityType);
    const stateless = type?.kind === 'stateless' || component.componentType === ComponentType.action;
    const definition: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const method of service.methods.values()) {
      const path = `/${service.name}/${method.name}`;
      let route: Route;
      if (entityType === undefined) {
        route = { kind: 'refuse', method, error: new UnsupportedComponentError(component.componentType, component.serviceName) };
      } else if (method.streamed) {
        route = { kind: 'refuse', method, error: new UnsupportedComponentError(`${component.componentType} (streamed call ${method.name})`, component.serviceName) };
      } else {
        const fields = keys.get(method.input.fullName.slice(1));
        if (!stateless && fields === undefined) {
          const error = new NoEntityKeyError(`${service.name}/${method.name}`, method.input.fullName.slice(1));
          log.warn({ method: path }, error.message);
          route = { kind: 'refuse', method, error };
        } else {
          route = { kind: 'entity', method, entityType, key: stateless || fields === undefined ? null : keyExtractor(method.input, fields) };
        }
      }
      const { requestStream, responseStream } = streamsOf(discovered.root, service.name, method.name);
      definition[method.name] = {
        path,
        requestStream,
        responseStream,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
        originalName: method.name,
      };
      implementation[method.name] = route.kind === 'refuse' ? refusal(route.error, responseStream, options, log) : unaryHandler(route, options, log);
    }
    server.addService(definition, implementation);
    services.push(service.name);
  }

  if (options.reflection ?? grpcFrontDefaults.reflection) addReflection(server, discovered.descriptorSet, services, (md) => admitted(options.authenticate, md, log), failure);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${options.port ?? grpcFrontDefaults.port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  log.info({ host, port, services }, 'gRPC front listening');
  return new GrpcFront(server, port, host, services);
}

const identity = (b: Buffer): Buffer => b;

/** The token of an `authorization: Bearer <token>` entry, if the call has one. */
export function bearerTokenOf(metadata: grpc.Metadata): string | undefined {
  for (const value of metadata.get('authorization')) {
    const m = typeof value === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(value) : null;
    if (m !== null) return m[1];
  }
  return undefined;
}

/** Whether the call may go on; answers it UNAUTHENTICATED when not. */
async function admitted(authenticate: GrpcFrontOptions['authenticate'], metadata: grpc.Metadata, log: Logger): Promise<boolean> {
  if (authenticate === undefined) return true;
  try {
    if ((await authenticate(metadata)) === true) return true;
  } catch (err) {
    log.error({ err }, 'gRPC authenticate hook failed');
    throw new BeamstateError('AUTHENTICATION_FAILED', 'authentication could not be checked');
  }
  throw new BeamstateError('UNAUTHENTICATED', 'authentication required');
}

function streamsOf(root: protobuf.Root, service: string, method: string): { requestStream: boolean; responseStream: boolean } {
  const m = root.lookupService(service).methods[method];
  return { requestStream: Boolean(m?.requestStream), responseStream: Boolean(m?.responseStream) };
}

/** Trailers carrying the beamstate code beside the status, for clients that want the finer reason. */
function failure(err: unknown): Partial<grpc.StatusObject> {
  const f = grpcFailureOf(err);
  const metadata = new grpc.Metadata();
  metadata.set('beamstate-code', f.beamstateCode);
  return { code: f.code, details: f.details, metadata };
}

/**
 * A method the front cannot serve: every call is answered with `error`'s status (after the
 * authenticate hook, so that an unauthenticated caller learns nothing of the service): unary and
 * client-streaming calls through their callback, the others on the stream.
 */
function refusal(error: Error, responseStream: boolean, options: GrpcFrontOptions, log: Logger): grpc.UntypedHandleCall {
  const answer = (metadata: grpc.Metadata, send: (status: Partial<grpc.StatusObject>) => void): void => {
    admitted(options.authenticate, metadata, log).then(
      () => send(failure(error)),
      (err: unknown) => send(failure(err)),
    );
  };
  if (!responseStream) {
    return ((call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => answer(call.metadata, (f) => callback(f as grpc.ServerErrorResponse))) as grpc.handleUnaryCall<Buffer, Buffer>;
  }
  return ((call: grpc.ServerWritableStream<Buffer, Buffer>) => answer(call.metadata, (f) => call.emit('error', f))) as grpc.handleServerStreamingCall<Buffer, Buffer>;
}

/** A served unary method: authenticated first when the front has a hook. */
function unaryHandler(route: Extract<Route, { kind: 'entity' }>, options: GrpcFrontOptions, log: Logger): grpc.handleUnaryCall<Buffer, Buffer> {
  const handle = serve(route, options, log);
  if (options.authenticate === undefined) return handle;
  return (call, callback) => {
    admitted(options.authenticate, call.metadata, log).then(
      () => handle(call, callback),
      (err: unknown) => callback(failure(err) as grpc.ServerErrorResponse),
    );
  };
}

function serve(route: Extract<Route, { kind: 'entity' }>, options: GrpcFrontOptions, log: Logger): grpc.handleUnaryCall<Buffer, Buffer> {
  const { method, entityType } = route;
  const output = method.output;
  return (call, callback) => {
    let input: EncodedMessage;
    let id: string;
    try {
      let message: protobuf.Message;
      try {
        message = method.input.decode(call.request);
      } catch (err) {
        throw new MalformedMessageError(`the request is not a ${method.input.fullName.slice(1)}: ${(err as Error).message}`, { cause: err });
      }
      id = route.key === null ? STATELESS_ID : route.key(message);
      // The request's bytes as they came (decoded once, for the key and to refuse malformed ones).
      input = new EncodedMessage(method.input, call.request);
    } catch (err) {
      callback(failure(err) as grpc.ServerErrorResponse);
      return;
    }
    const controller = new AbortController();
    call.once('cancelled', () => controller.abort(new Error('the gRPC call was cancelled')));
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
    const timeout = Number.isFinite(deadlineMs) ? Math.max(1, deadlineMs - Date.now()) : options.callTimeoutMs;
    let ask: Promise<unknown>;
    try {
      ask = options.runtime.refFor(entityType, id).ask(method.name, input, { signal: controller.signal, ...(timeout !== undefined ? { timeout } : {}) });
    } catch (err) {
      callback(failure(err) as grpc.ServerErrorResponse); // an invalid id, a type the runtime no longer has
      return;
    }
    ask.then(
      (reply) => {
        let bytes: Buffer;
        try {
          bytes = Buffer.from(output.encode(protojson.fromJson(output, reply)).finish());
        } catch (err) {
          const e = new ProxyProtocolError(`the reply to ${method.name} is not a ${output.fullName.slice(1)}: ${(err as Error).message}`, { cause: err });
          log.error({ err: e, entityType, entityId: id }, e.message);
          callback(failure(e) as grpc.ServerErrorResponse);
          return;
        }
        callback(null, bytes);
      },
      (err: unknown) => {
        if (grpcFailureOf(err).beamstateCode === 'INTERNAL_ERROR') log.error({ err, entityType, entityId: id, command: method.name }, 'gRPC call failed');
        callback(failure(err) as grpc.ServerErrorResponse);
      },
    );
  };
}
