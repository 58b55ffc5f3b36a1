import { describe, expect, it } from 'vitest';
import { type ActorRef } from '../../src/index.js';
import { deferred, recordEvents, testSystem } from './support.js';

/** An actor blocked on a gate, so its mailbox fills up. */
function blocked(system: ReturnType<typeof testSystem>['system'], options: Parameters<typeof system.spawn>[1]) {
  const gate = deferred();
  const handled: number[] = [];
  const ref: ActorRef<number> = system.spawn<number, undefined>(
    {
      async receive(s, n) {
        if (n === 0) await gate.promise;
        handled.push(n);
        return s;
      },
    },
    options,
  );
  return { ref, gate, handled };
}

describe('bounded mailboxes', () => {
  it('drop-newest (the default) refuses new messages when full and reports them as dropped', async () => {
    const { system } = testSystem();
    const events = recordEvents(system, ['dropped']);
    const { ref, gate, handled } = blocked(system, { mailbox: { capacity: 3 } });
    ref.tell(0);
    await system.whenIdle(); // 0 is being handled, the mailbox is empty
    for (let i = 1; i <= 5; i++) ref.tell(i);
    gate.resolve();
    await gate.promise;
    await system.whenIdle();
    expect(handled).toEqual([0, 1, 2, 3]);
    expect(events.map((e) => (e.type === 'dropped' ? e.message : null))).toEqual([4, 5]);
  });

  it('drop-oldest evicts the oldest queued message', async () => {
    const { system } = testSystem();
    const events = recordEvents(system, ['dropped']);
    const { ref, gate, handled } = blocked(system, { mailbox: { capacity: 3, overflow: 'drop-oldest' } });
    ref.tell(0);
    await system.whenIdle();
    for (let i = 1; i <= 5; i++) ref.tell(i);
    gate.resolve();
    await gate.promise;
    await system.whenIdle();
    expect(handled).toEqual([0, 3, 4, 5]);
    expect(events.map((e) => (e.type === 'dropped' ? e.message : null))).toEqual([1, 2]);
  });

  it('fail makes tell throw and ask reject with MAILBOX_FULL', async () => {
    const { system } = testSystem();
    const { ref, gate } = blocked(system, { mailbox: { capacity: 1, overflow: 'fail' } });
    ref.tell(0);
    await system.whenIdle();
    ref.tell(1);
    expect(() => ref.tell(2)).toThrow(expect.objectContaining({ code: 'MAILBOX_FULL' }));
    await expect(ref.ask(3)).rejects.toMatchObject({ code: 'MAILBOX_FULL' });
    gate.resolve();
  });

  it('a dropped ask rejects with MAILBOX_FULL instead of hanging', async () => {
    const { system } = testSystem();
    const { ref, gate } = blocked(system, { mailbox: { capacity: 1, overflow: 'drop-oldest' } });
    ref.tell(0);
    await system.whenIdle();
    const evicted = ref.ask(1);
    ref.tell(2);
    await expect(evicted).rejects.toMatchObject({ code: 'MAILBOX_FULL' });
    gate.resolve();
  });

  it('rejects bad mailbox options with INVALID_OPTION naming the field', () => {
    const { system } = testSystem();
    const b = { receive: (s: undefined) => s };
    expect(() => system.spawn(b, { mailbox: { capacity: 0 } })).toThrow(expect.objectContaining({ field: 'mailbox.capacity' }));
    expect(() => system.spawn(b, { mailbox: { capacity: 2.5 } })).toThrow(expect.objectContaining({ field: 'mailbox.capacity' }));
    expect(() => system.spawn(b, { mailbox: { capacity: 2, overflow: 'block' as never } })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', field: 'mailbox.overflow' }),
    );
  });
});
