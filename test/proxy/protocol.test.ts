// The shipped protocol JSON is what the vendored .proto files say, and it has what the proxy uses.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { protocolRoot, protocolType } from '../../src/proxy/protocol.js';
import { PROTOCOL_DIR, protocolJson, renderModule } from './generate-protocol.js';

describe('the vendored Kalix protocol', () => {
  it('kalix-protocol.ts is generated from the .proto files (run test/proxy/generate-protocol.ts after changing them)', () => {
    expect(readFileSync(PROTOCOL_DIR + 'kalix-protocol.ts', 'utf8')).toBe(renderModule(protocolJson()));
  });

  it('carries the license header in every vendored file', () => {
    for (const f of ['kalix/protocol/discovery.proto', 'kalix/component/eventsourcedentity/event_sourced_entity.proto', 'kalix/component/component.proto']) {
      expect(readFileSync(PROTOCOL_DIR + f, 'utf8')).toMatch(/^\/\/ Copyright 2022 Lightbend Inc\.\n\/\/\n\/\/ Licensed under the Apache License, Version 2\.0/);
    }
  });

  it('round-trips the messages of discovery and of the event-sourced stream', () => {
    const spec = protocolType('kalix.protocol.Spec');
    const bytes = spec.encode(spec.fromObject({ proto: new Uint8Array([1, 2]), components: [{ componentType: 'x', serviceName: 'a.B', entity: { entityType: 'e' } }] })).finish();
    expect(spec.toObject(spec.decode(bytes))).toMatchObject({ components: [{ componentType: 'x', serviceName: 'a.B', entity: { entityType: 'e' } }] });
    const out = protocolType('kalix.component.eventsourcedentity.EventSourcedStreamOut');
    const reply = { reply: { commandId: 7, clientAction: { reply: { payload: { typeUrl: 'type.googleapis.com/x.Y', value: new Uint8Array([8, 1]) } } } } };
    const decoded = out.toObject(out.decode(out.encode(out.fromObject(reply)).finish()), { longs: Number });
    expect(decoded).toMatchObject({ reply: { commandId: 7, clientAction: { reply: { payload: { typeUrl: 'type.googleapis.com/x.Y' } } } } });
    expect(protocolRoot().lookupService('kalix.protocol.Discovery').methods).toHaveProperty('Discover');
  });
});
