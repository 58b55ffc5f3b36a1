// gRPC server reflection on the gRPC front: a client that knows nothing but the address lists the
// services, fetches their files (with everything they import) and calls the SDK shopping cart
// with a client built from what reflection returned.
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor.js';
import { describe, expect, it } from 'vitest';
import { bearerTokenOf, startGrpcFront } from '../../src/proxy/index.js';
import { REFLECTION_SERVICES } from '../../src/proxy/grpc-reflection.js';
import { serviceClient } from './grpc-client.js';
import { onCleanup, sdkUnavailable, startHarness, startUserFunction, testStore, uniqueId } from './support.js';

if (sdkUnavailable !== null) console.warn(`skipping the gRPC reflection tests: ${sdkUnavailable}`);

const CART = 'com.example.shoppingcart.ShoppingCartService';
const reflectionRoot = protobuf.parse(`
syntax = "proto3";
package r;
message Req { string host = 1; oneof m { string file_by_filename = 3; string file_containing_symbol = 4; string list_services = 7; } }
message Res { oneof m { Files file_descriptor_response = 4; Services list_services_response = 6; Err error_response = 7; } }
message Files { repeated bytes file_descriptor_proto = 1; }
message Services { repeated Service service = 1; }
message Service { string name = 1; }
message Err { int32 error_code = 1; string error_message = 2; }
`).root;
const Req = reflectionRoot.lookupType('r.Req');
const Res = reflectionRoot.lookupType('r.Res');
interface Answer {
  fileDescriptorResponse?: { fileDescriptorProto: Uint8Array[] };
  listServicesResponse?: { service: { name: string }[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}
const FileDescriptorProto = (descriptor as unknown as { FileDescriptorProto: protobuf.Type }).FileDescriptorProto;
const FileDescriptorSet = (descriptor as unknown as { FileDescriptorSet: protobuf.Type }).FileDescriptorSet;

/** Asks each request on one reflection stream (v1 or v1alpha), in order; resolves with the answers or rejects with the stream's error. */
function ask(address: string, version: 'v1' | 'v1alpha', requests: object[], metadata = new grpc.Metadata()): Promise<Answer[]> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  onCleanup(() => client.close());
  return new Promise((resolve, reject) => {
    const call = client.makeBidiStreamRequest(
      `/grpc.reflection.${version}.ServerReflection/ServerReflectionInfo`,
      (o: object) => Buffer.from(Req.encode(Req.fromObject(o)).finish()),
      (b: Buffer) => Res.toObject(Res.decode(b), { arrays: true }) as Answer,
      metadata,
    );
    const answers: Answer[] = [];
    call.on('data', (a: Answer) => {
      answers.push(a);
      if (answers.length === requests.length) call.end();
    });
    call.on('error', reject);
    call.on('end', () => resolve(answers));
    for (const r of requests) call.write(r);
  });
}

const fileNames = (a: Answer | undefined): string[] => (a?.fileDescriptorResponse?.fileDescriptorProto ?? []).map((b) => (FileDescriptorProto.decode(b) as unknown as { name: string }).name);

describe.skipIf(sdkUnavailable !== null)('gRPC server reflection', () => {
  it('lists the services, gives each file with its imports, and is enough to call the cart', async () => {
    const uf = await startUserFunction('shopping-cart');
    const h = await startHarness(uf.address, await testStore());
    const front = await startGrpcFront({ proxy: h.proxy, runtime: h.runtime });
    onCleanup(() => front.close());
    const [list, bySymbol, byMethod, byMessage, byFile, unknown] = await ask(front.address, 'v1', [
      { listServices: '' },
      { fileContainingSymbol: CART },
      { fileContainingSymbol: `${CART}.AddItem` },
      { fileContainingSymbol: 'com.example.shoppingcart.AddLineItem' },
      { fileByFilename: 'google/protobuf/empty.proto' },
      { fileContainingSymbol: 'com.example.NoSuch' },
    ]);
    expect(list?.listServicesResponse?.service.map((s) => s.name).sort()).toEqual([CART, ...REFLECTION_SERVICES].sort());
    const names = fileNames(bySymbol);
    expect(names[0]).toBe('shoppingcart_api.proto');
    expect(names).toEqual(expect.arrayContaining(['kalix/annotations.proto', 'google/protobuf/empty.proto', 'google/protobuf/descriptor.proto']));
    expect(new Set(names).size).toBe(names.length);
    expect(fileNames(byMethod)[0]).toBe('shoppingcart_api.proto');
    expect(fileNames(byMessage)[0]).toBe('shoppingcart_api.proto');
    expect(fileNames(byFile)).toEqual(['google/protobuf/empty.proto']);
    expect(unknown?.errorResponse).toEqual({ errorCode: grpc.status.NOT_FOUND, errorMessage: 'symbol com.example.NoSuch not found' });
    // v1alpha answers the same.
    const [alpha] = await ask(front.address, 'v1alpha', [{ fileContainingSymbol: CART }]);
    expect(fileNames(alpha)).toEqual(names);

    // A client built from nothing but what reflection gave.
    const set = FileDescriptorSet.encode(FileDescriptorSet.fromObject({ file: (bySymbol?.fileDescriptorResponse?.fileDescriptorProto ?? []).map((b) => FileDescriptorProto.decode(b)) })).finish();
    const root = (protobuf.Root as unknown as { fromDescriptor(b: Uint8Array): protobuf.Root }).fromDescriptor(set);
    root.resolveAll();
    const client = serviceClient(root, CART, front.address);
    onCleanup(() => client.close());
    const id = uniqueId('cart');
    expect(await client.call('AddItem', { cartId: id, productId: 'tea', name: 'Tea', quantity: 1 })).toEqual({});
    expect(await client.call('GetCart', { cartId: id })).toEqual({ items: [{ productId: 'tea', name: 'Tea', quantity: 1 }] });
  });

  it('is behind the authenticate hook, and can be turned off', async () => {
    const uf = await startUserFunction('shopping-cart');
    const h = await startHarness(uf.address, await testStore());
    const guarded = await startGrpcFront({ proxy: h.proxy, runtime: h.runtime, authenticate: (md) => bearerTokenOf(md) === 's3cret' });
    onCleanup(() => guarded.close());
    const off = await startGrpcFront({ proxy: h.proxy, runtime: h.runtime, reflection: false });
    onCleanup(() => off.close());
    await expect(ask(guarded.address, 'v1', [{ listServices: '' }])).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    const md = new grpc.Metadata();
    md.set('authorization', 'Bearer s3cret');
    const [list] = await ask(guarded.address, 'v1', [{ listServices: '' }], md);
    expect(list?.listServicesResponse?.service.map((s) => s.name)).toContain(CART);
    await expect(ask(off.address, 'v1', [{ listServices: '' }])).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED });
  });
});
