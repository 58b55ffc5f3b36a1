// A grpc-js client for a user's service, built from the user function's own descriptor set
// (compiled by the SDK's compile-descriptor, read with protobufjs), independent of the proxy's
// reflection: what a Kalix user's gRPC client does.
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import 'protobufjs/ext/descriptor.js';
import { compileDescriptor } from './sdk-setup.js';

export interface CallError {
  readonly code: grpc.status;
  readonly details: string;
  /** The `beamstate-code` trailer, if sent. */
  readonly beamstateCode: string | undefined;
}

export interface ServiceClient {
  /** A unary call with a plain-object request; resolves with the plain-object reply (defaults filled), rejects with {@link CallError}. */
  call(method: string, request: object, options?: grpc.CallOptions): Promise<Record<string, unknown>>;
  /** A unary call with the request's bytes as they are (for malformed input). */
  callRaw(method: string, bytes: Uint8Array): Promise<Buffer>;
  /** A server-streaming call: resolves with the messages, rejects with {@link CallError}. */
  stream(method: string, request: object): Promise<unknown[]>;
  close(): void;
}

const roots = new Map<string, protobuf.Root>();

/** The fixture's descriptors as a protobufjs root (compiled once per fixture). */
export function fixtureRoot(fixture: string): protobuf.Root {
  let root = roots.get(fixture);
  if (root === undefined) {
    const bytes = readFileSync(compileDescriptor(fixture));
    root = (protobuf.Root as unknown as { fromDescriptor(b: Uint8Array): protobuf.Root }).fromDescriptor(bytes);
    root.resolveAll();
    roots.set(fixture, root);
  }
  return root;
}

function asCallError(err: grpc.ServiceError): CallError {
  const trailer = err.metadata?.get('beamstate-code')[0];
  return { code: err.code, details: err.details, beamstateCode: typeof trailer === 'string' ? trailer : undefined };
}

const identity = (b: Buffer): Buffer => b;

/** `token`: sent as `authorization: Bearer <token>` on every call; `deadlineMs`: each call's deadline unless it gives its own (for busy machines). */
export function serviceClient(root: protobuf.Root, serviceName: string, address: string, auth: { token?: string; deadlineMs?: number } = {}): ServiceClient {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const metadata = (): grpc.Metadata => {
    const m = new grpc.Metadata();
    if (auth.token !== undefined) m.set('authorization', `Bearer ${auth.token}`);
    return m;
  };
  const types = (method: string): { req: protobuf.Type; res: protobuf.Type; path: string } => {
    const m = root.lookupService(serviceName).methods[method];
    if (m === undefined) throw new Error(`${serviceName} has no method ${method}`);
    m.resolve();
    return { req: m.resolvedRequestType as protobuf.Type, res: m.resolvedResponseType as protobuf.Type, path: `/${serviceName}/${method}` };
  };
  const toObject = (type: protobuf.Type) => (b: Buffer) => type.toObject(type.decode(b), { defaults: true, arrays: true });
  return {
    call: (method, request, options = auth.deadlineMs === undefined ? {} : { deadline: Date.now() + auth.deadlineMs }) => {
      const { req, res, path } = types(method);
      return new Promise((resolve, reject) =>
        client.makeUnaryRequest(path, (o: object) => Buffer.from(req.encode(req.fromObject(o)).finish()), toObject(res), request, metadata(), options, (err, value) =>
          err ? reject(asCallError(err)) : resolve(value as Record<string, unknown>),
        ),
      );
    },
    callRaw: (method, bytes) =>
      new Promise((resolve, reject) =>
        client.makeUnaryRequest(`/${serviceName}/${method}`, identity, identity, Buffer.from(bytes), metadata(), (err, value) => (err ? reject(asCallError(err)) : resolve(value as Buffer))),
      ),
    stream: (method, request) => {
      const { req, res, path } = types(method);
      return new Promise((resolve, reject) => {
        const out: unknown[] = [];
        const call = client.makeServerStreamRequest(path, (o: object) => Buffer.from(req.encode(req.fromObject(o)).finish()), toObject(res), request, metadata());
        call.on('data', (d: unknown) => out.push(d));
        call.on('error', (err: grpc.ServiceError) => reject(asCallError(err)));
        call.on('end', () => resolve(out));
      });
    },
    close: () => client.close(),
  };
}
