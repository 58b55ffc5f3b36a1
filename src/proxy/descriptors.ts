import protobuf from 'protobufjs';
import 'protobufjs/ext/descriptor.js';
import { InvalidDescriptorError } from './errors.js';

/** One gRPC method of a user service, with its resolved message types. */
export interface MethodModel {
  readonly name: string;
  readonly input: protobuf.Type;
  readonly output: protobuf.Type;
  readonly streamed: boolean;
}

/** A user service from the descriptors: its methods by name. */
export interface ServiceModel {
  readonly name: string;
  readonly methods: ReadonlyMap<string, MethodModel>;
}

/** The user function's descriptors (`Spec.proto`, a serialized FileDescriptorSet) as a resolved root. */
export function userRoot(fileDescriptorSet: Uint8Array): protobuf.Root {
  try {
    const root = (protobuf.Root as unknown as { fromDescriptor(d: Uint8Array): protobuf.Root }).fromDescriptor(fileDescriptorSet);
    root.resolveAll();
    return root;
  } catch (err) {
    throw new InvalidDescriptorError(`the user function's descriptors cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

/** The service `name` (fully qualified) in `root`, or INVALID_DESCRIPTOR. */
export function serviceModel(root: protobuf.Root, name: string): ServiceModel {
  let service: protobuf.Service;
  try {
    service = root.lookupService(name);
  } catch (err) {
    throw new InvalidDescriptorError(`service ${name} is not in the user function's descriptors`, { cause: err });
  }
  const methods = new Map<string, MethodModel>();
  for (const m of service.methodsArray) {
    m.resolve();
    const input = m.resolvedRequestType;
    const output = m.resolvedResponseType;
    if (input === null || output === null) throw new InvalidDescriptorError(`${name}.${m.name}: its message types do not resolve`);
    methods.set(m.name, { name: m.name, input, output, streamed: Boolean(m.requestStream) || Boolean(m.responseStream) });
  }
  return { name, methods };
}

/** The message type named by an `Any`'s type URL (`type.googleapis.com/pkg.Msg`), or undefined. */
export function typeOfUrl(root: protobuf.Root, typeUrl: string): protobuf.Type | undefined {
  const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  if (name.length === 0) return undefined;
  const found = root.lookup(name);
  return found instanceof protobuf.Type ? found : undefined;
}
