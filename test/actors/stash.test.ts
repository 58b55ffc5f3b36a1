import { describe, expect, it } from 'vitest';
import { testSystem } from './support.js';

type Msg = { type: 'open' } | { type: 'work'; n: number };

describe('stash', () => {
  it('sets messages aside until unstashAll, then handles them first and in order', async () => {
    const { system } = testSystem();
    const handled: number[] = [];
    const ref = system.spawn<Msg, boolean>({
      init: () => false,
      receive(open, m, ctx) {
        if (m.type === 'open') {
          ctx.unstashAll();
          return true;
        }
        if (!open) {
          ctx.stash();
          return open;
        }
        handled.push(m.n);
        return open;
      },
    });
    for (let i = 0; i < 5; i++) ref.tell({ type: 'work', n: i });
    ref.tell({ type: 'open' });
    ref.tell({ type: 'work', n: 99 });
    await system.whenIdle();
    expect(handled).toEqual([0, 1, 2, 3, 4, 99]);
  });

  it('a stashed ask is answered after unstashing', async () => {
    const { system } = testSystem();
    const ref = system.spawn<'open' | 'q', boolean, string>({
      init: () => false,
      receive(open, m, ctx) {
        if (m === 'open') {
          ctx.unstashAll();
          return true;
        }
        if (!open) {
          ctx.stash();
          return open;
        }
        ctx.reply('answered');
        return open;
      },
    });
    const answer = ref.ask('q');
    await system.whenIdle();
    ref.tell('open');
    expect(await answer).toBe('answered');
  });

  it('is bounded: stash beyond capacity throws STASH_FULL', async () => {
    const { system } = testSystem();
    const errors: unknown[] = [];
    const ref = system.spawn<number, undefined>(
      {
        receive(s, _n, ctx) {
          try {
            ctx.stash();
          } catch (e) {
            errors.push(e);
          }
          return s;
        },
      },
      { stashCapacity: 3 },
    );
    for (let i = 0; i < 5; i++) ref.tell(i);
    await system.whenIdle();
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatchObject({ code: 'STASH_FULL' });
  });

  it('an uncaught STASH_FULL crashes the actor, and stashed asks fail with ACTOR_EXITED', async () => {
    const { system } = testSystem({ stashCapacity: 1 });
    const ref = system.spawn<number, undefined>({
      receive(s, _n, ctx) {
        ctx.stash();
        return s;
      },
    });
    const first = ref.ask(1);
    const second = ref.ask(2);
    await expect(first).rejects.toMatchObject({ code: 'ACTOR_EXITED' });
    await expect(second).rejects.toMatchObject({ code: 'ACTOR_EXITED', reason: expect.objectContaining({ code: 'STASH_FULL' }) });
  });
});
