import { describe, expect, it } from 'vitest';
import { type ActorRef, type Behavior, type DownMessage, type MonitorRef } from '../../src/index.js';
import { testSystem } from './support.js';

type Cmd = { watch: ActorRef } | { unwatch: boolean };

function watcher(downs: DownMessage[], monitors: MonitorRef[]): Behavior<Cmd, undefined> {
  return {
    receive(s, cmd, ctx) {
      if ('watch' in cmd) monitors.push(ctx.monitor(cmd.watch));
      else ctx.demonitor(monitors[0] as MonitorRef, { flush: cmd.unwatch });
      return s;
    },
    onDown(s, d) {
      downs.push(d);
      return s;
    },
  };
}

describe('monitors', () => {
  it('deliver a down message with the exit reason, one way only', async () => {
    const { system } = testSystem();
    const downs: DownMessage[] = [];
    const monitors: MonitorRef[] = [];
    const w = system.spawn(watcher(downs, monitors));
    const target = system.spawn<string, undefined>({
      receive() {
        throw new Error('target crashed');
      },
    });
    w.tell({ watch: target });
    await system.whenIdle();
    target.tell('crash');
    await system.awaitExit(target);
    await system.whenIdle();
    expect(downs).toHaveLength(1);
    expect(downs[0]).toMatchObject({ type: 'down', actor: target, monitor: monitors[0], reason: new Error('target crashed') });
    expect(w.alive).toBe(true);
  });

  it('monitoring a dead actor gives down noproc at once', async () => {
    const { system } = testSystem();
    const dead = system.spawn({ receive: (s: undefined) => s });
    system.kill(dead);
    const downs: DownMessage[] = [];
    const w = system.spawn(watcher(downs, []));
    w.tell({ watch: dead });
    await system.whenIdle();
    expect(downs.map((d) => d.reason)).toEqual(['noproc']);
  });

  it('each monitor is separate: two monitors give two downs', async () => {
    const { system } = testSystem();
    const downs: DownMessage[] = [];
    const monitors: MonitorRef[] = [];
    const w = system.spawn(watcher(downs, monitors));
    const target = system.spawn({ receive: (s: undefined) => s });
    w.tell({ watch: target });
    w.tell({ watch: target });
    await system.whenIdle();
    await target.stop();
    await system.whenIdle();
    expect(downs.map((d) => d.monitor)).toEqual(monitors);
    expect(downs.map((d) => d.reason)).toEqual(['normal', 'normal']);
  });

  it('demonitor stops notifications; with flush it also removes a queued down', async () => {
    const { system } = testSystem();
    const downs: DownMessage[] = [];
    const monitors: MonitorRef[] = [];
    const w = system.spawn(watcher(downs, monitors));
    const target = system.spawn({ receive: (s: undefined) => s });
    w.tell({ watch: target });
    w.tell({ unwatch: false });
    await system.whenIdle();
    await target.stop();
    await system.whenIdle();
    expect(downs).toEqual([]);

    // Now the down is already queued when the watcher demonitors with flush.
    const target2 = system.spawn({ receive: (s: undefined) => s });
    const monitors2: MonitorRef[] = [];
    const downs2: DownMessage[] = [];
    const w2 = system.spawn<Cmd | 'kill-target', undefined>({
      receive(s, cmd, ctx) {
        if (cmd === 'kill-target') {
          ctx.system.kill(target2); // the down lands in our mailbox behind this message
          ctx.demonitor(monitors2[0] as MonitorRef, { flush: true });
        } else if ('watch' in cmd) monitors2.push(ctx.monitor(cmd.watch));
        return s;
      },
      onDown(s, d) {
        downs2.push(d);
        return s;
      },
    });
    w2.tell({ watch: target2 });
    w2.tell('kill-target');
    await system.whenIdle();
    expect(target2.alive).toBe(false);
    expect(downs2).toEqual([]);
  });

  it('a dead watcher leaves no monitor behind', async () => {
    const { system } = testSystem();
    const w = system.spawn(watcher([], []));
    const target = system.spawn({ receive: (s: undefined) => s });
    w.tell({ watch: target });
    await system.whenIdle();
    await w.stop();
    const events: unknown[] = [];
    system.events.subscribe((e) => events.push(e), ['dead-letter']);
    await target.stop();
    await system.whenIdle();
    expect(events).toEqual([]);
  });

  it('system.monitor calls back with the reason, noproc for a dead actor', async () => {
    const { system } = testSystem();
    const target = system.spawn({ receive: (s: undefined) => s });
    const reasons: unknown[] = [];
    system.monitor(target, (r) => reasons.push(r));
    const cancel = system.monitor(target, (r) => reasons.push(`cancelled ${String(r)}`));
    cancel();
    await target.stop('shutdown');
    system.monitor(target, (r) => reasons.push(r));
    expect(reasons).toEqual(['shutdown', 'noproc']);
  });
});
