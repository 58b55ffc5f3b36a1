import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { walk } from './entity-key.js';

/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha, `ServerReflectionInfo`) over the user
 * function's own descriptor set, so that `grpcurl -plaintext 127.0.0.1:9000 list` and calls by
 * name work against beamstate as they did against the Kalix proxy (Cloudstate's proxy served it
 * too). Files are sent as the user function sent them (FileDescriptorProto bytes, untouched), each
 * with everything it imports.
 */

const REFLECTION_PROTO = `
syntax = "proto3";
package grpc.reflection.v1;
message ServerReflectionRequest {
  string host = 1;
  oneof message_request {
    string file_by_filename = 3;
    string file_containing_symbol = 4;
    ExtensionRequest file_containing_extension = 5;
    string all_extension_numbers_of_type = 6;
    string list_services = 7;
  }
}
message ExtensionRequest { string containing_type = 1; int32 extension_number = 2; }
message ServerReflectionResponse {
  string valid_host = 1;
  ServerReflectionRequest original_request = 2;
  oneof message_response {
    FileDescriptorResponse file_descriptor_response = 4;
    ExtensionNumberResponse all_extension_numbers_response = 5;
    ListServiceResponse list_services_response = 6;
    ErrorResponse error_response = 7;
  }
}
message FileDescriptorResponse { repeated bytes file_descriptor_proto = 1; }
message ExtensionNumberResponse { string base_type_name = 1; repeated int32 extension_number = 2; }
message ListServiceResponse { repeated ServiceResponse service = 1; }
message ServiceResponse { string name = 1; }
message ErrorResponse { int32 error_code = 1; string error_message = 2; }
`;

/** The reflection services' names (both versions have the same messages). */
export const REFLECTION_SERVICES = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'] as const;

interface ReflectionRequest {
  host?: string;
  fileByFilename?: string;
  fileContainingSymbol?: string;
  fileContainingExtension?: { containingType?: string; extensionNumber?: number };
  allExtensionNumbersOfType?: string;
  listServices?: string;
}

interface FileEntry {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly dependencies: readonly string[];
}

/** Files by name, the file defining each symbol, and extension numbers by extended type. */
interface Index {
  readonly files: ReadonlyMap<string, FileEntry>;
  readonly symbols: ReadonlyMap<string, string>;
  readonly extensions: ReadonlyMap<string, ReadonlyMap<number, string>>;
}

const LEN = 2;

function nameOf(bytes: Uint8Array): string {
  let name = '';
  walk(bytes, (f, w, r) => {
    if (f !== 1 || w !== LEN) return false;
    name = r.string();
    return true;
  });
  return name;
}

/** Indexes a FileDescriptorSet (as `Spec.proto` holds it). */
export function reflectionIndex(descriptorSet: Uint8Array): Index {
  const files = new Map<string, FileEntry>();
  const symbols = new Map<string, string>();
  const extensions = new Map<string, Map<number, string>>();
  walk(descriptorSet, (field, wt, r) => {
    if (field !== 1 || wt !== LEN) return false;
    const bytes = r.bytes();
    let name = '';
    let pkg = '';
    const dependencies: string[] = [];
    const messages: Uint8Array[] = [];
    const enums: Uint8Array[] = [];
    const services: Uint8Array[] = [];
    const exts: Uint8Array[] = [];
    walk(bytes, (f, w, fr) => {
      if (w !== LEN) return false;
      if (f === 1) name = fr.string();
      else if (f === 2) pkg = fr.string();
      else if (f === 3) dependencies.push(fr.string());
      else if (f === 4) messages.push(fr.bytes());
      else if (f === 5) enums.push(fr.bytes());
      else if (f === 6) services.push(fr.bytes());
      else if (f === 7) exts.push(fr.bytes());
      else return false;
      return true;
    });
    const prefix = pkg === '' ? '' : `${pkg}.`;
    const define = (symbol: string): void => void symbols.set(symbol, name);
    const message = (m: Uint8Array, scope: string): void => {
      const full = `${scope}${nameOf(m)}`;
      define(full);
      walk(m, (f, w, mr) => {
        if (w !== LEN) return false;
        if (f === 3) message(mr.bytes(), `${full}.`);
        else if (f === 4) define(`${full}.${nameOf(mr.bytes())}`);
        else if (f === 6) extension(mr.bytes());
        else return false;
        return true;
      });
    };
    const extension = (fd: Uint8Array): void => {
      let number = 0;
      let extendee = '';
      walk(fd, (f, w, er) => {
        if (f === 3 && w === 0) number = er.int32();
        else if (f === 2 && w === LEN) extendee = er.string().replace(/^\./, '');
        else return false;
        return true;
      });
      if (extendee === '') return;
      let byNumber = extensions.get(extendee);
      if (byNumber === undefined) extensions.set(extendee, (byNumber = new Map()));
      byNumber.set(number, name);
    };
    for (const m of messages) message(m, prefix);
    for (const e of enums) define(`${prefix}${nameOf(e)}`);
    for (const e of exts) extension(e);
    for (const s of services) {
      const service = `${prefix}${nameOf(s)}`;
      define(service);
      walk(s, (f, w, sr) => {
        if (f !== 2 || w !== LEN) return false;
        define(`${service}.${nameOf(sr.bytes())}`);
        return true;
      });
    }
    files.set(name, { name, bytes, dependencies });
    return true;
  });
  return { files, symbols, extensions };
}

/** `name` and everything it imports, each once, the file itself first. */
function withDependencies(index: Index, name: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  const visit = (n: string): void => {
    if (seen.has(n)) return;
    seen.add(n);
    const file = index.files.get(n);
    if (file === undefined) return; // an import the user function did not include: the client will ask for it and be told NOT_FOUND
    out.push(file.bytes);
    for (const d of file.dependencies) visit(d);
  };
  visit(name);
  return out;
}

/** The reply to one reflection request (plain object for the response type). */
export function reflect(index: Index, services: readonly string[], req: ReflectionRequest): object {
  const base = { validHost: req.host ?? '', originalRequest: req };
  const notFound = (what: string): object => ({ ...base, errorResponse: { errorCode: grpc.status.NOT_FOUND, errorMessage: `${what} not found` } });
  const files = (name: string | undefined, what: string): object =>
    name === undefined || !index.files.has(name) ? notFound(what) : { ...base, fileDescriptorResponse: { fileDescriptorProto: withDependencies(index, name) } };
  if (req.listServices !== undefined) return { ...base, listServicesResponse: { service: [...services, ...REFLECTION_SERVICES].map((name) => ({ name })) } };
  if (req.fileByFilename !== undefined) return files(req.fileByFilename, `file ${req.fileByFilename}`);
  if (req.fileContainingSymbol !== undefined) return files(index.symbols.get(req.fileContainingSymbol.replace(/^\./, '')), `symbol ${req.fileContainingSymbol}`);
  if (req.fileContainingExtension !== undefined) {
    const { containingType = '', extensionNumber = 0 } = req.fileContainingExtension;
    return files(index.extensions.get(containingType.replace(/^\./, ''))?.get(extensionNumber), `extension ${extensionNumber} of ${containingType}`);
  }
  if (req.allExtensionNumbersOfType !== undefined) {
    const type = req.allExtensionNumbersOfType.replace(/^\./, '');
    const numbers = index.extensions.get(type);
    if (numbers === undefined && !index.symbols.has(type)) return notFound(`type ${type}`);
    return { ...base, allExtensionNumbersResponse: { baseTypeName: type, extensionNumber: [...(numbers?.keys() ?? [])] } };
  }
  return { ...base, errorResponse: { errorCode: grpc.status.UNIMPLEMENTED, errorMessage: 'unknown reflection request' } };
}

/**
 * Adds the reflection services to `server`, answering from `descriptorSet` about `services`.
 * `admit` (the front's authenticate hook) is asked first; its rejection is the call's status.
 */
export function addReflection(server: grpc.Server, descriptorSet: Uint8Array, services: readonly string[], admit: (metadata: grpc.Metadata) => Promise<unknown>, failure: (err: unknown) => Partial<grpc.StatusObject>): void {
  const root = protobuf.parse(REFLECTION_PROTO).root;
  const Req = root.lookupType('grpc.reflection.v1.ServerReflectionRequest');
  const Res = root.lookupType('grpc.reflection.v1.ServerReflectionResponse');
  const index = reflectionIndex(descriptorSet);
  for (const name of REFLECTION_SERVICES) {
    server.addService(
      {
        ServerReflectionInfo: {
          path: `/${name}/ServerReflectionInfo`,
          requestStream: true,
          responseStream: true,
          requestSerialize: (v: object) => Buffer.from(Req.encode(Req.fromObject(v)).finish()),
          requestDeserialize: (b: Buffer) => Req.toObject(Req.decode(b), { oneofs: false }) as ReflectionRequest,
          responseSerialize: (v: object) => Buffer.from(Res.encode(Res.fromObject(v)).finish()),
          responseDeserialize: (b: Buffer) => Res.toObject(Res.decode(b)),
        },
      },
      {
        ServerReflectionInfo: (call: grpc.ServerDuplexStream<ReflectionRequest, object>) => {
          call.on('error', () => undefined); // the client went away
          const admitted = admit(call.metadata);
          call.on('data', (req: ReflectionRequest) => void admitted.then(() => call.write(reflect(index, services, req)), () => undefined));
          call.on('end', () => void admitted.then(() => call.end(), () => undefined));
          admitted.catch((err: unknown) => call.emit('error', failure(err)));
        },
      },
    );
  }
}
