// The observer's HTTP side: health endpoints, /metrics as Prometheus reads it, and what it
// answers to URLs and query parameters it does not serve.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { METRIC_NAMES } from '../../src/observer/index.js';
import { counter, setup } from './support.js';

async function scrape(base: string): Promise<Map<string, { type: string; samples: { value: number; labels: Record<string, string> }[] }>> {
  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const families = parsePrometheusTextFormat(await res.text());
  return new Map(families.map((f) => [f.name, { type: f.type.toLowerCase(), samples: f.metrics.map((m) => ({ value: Number(m.value), labels: m.labels ?? {} })) }]));
}

function value(m: Awaited<ReturnType<typeof scrape>>, name: string, labels: Record<string, string> = {}): number | undefined {
  const fam = m.get(name);
  const s = fam?.samples.find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value;
}

describe('observer health endpoints', () => {
  it('/alive answers 200; /ready answers 200 while serving and not once the gateway is closing', async () => {
    const { base, gateway, observer } = await setup();
    expect((await fetch(`${base}/alive`)).status).toBe(200);
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe('ready\n');
    expect(observer.ready).toBe(true);
    // The gateway stops listening as it closes, so /ready is read from the observer itself.
    const closing = gateway.close();
    expect(observer.ready).toBe(false);
    await closing;
  });

  it('/ready holds the ready hook (a cluster node that does not hold its shards yet is not ready)', async () => {
    let shards = false;
    const { base } = await setup({ ready: () => shards });
    expect((await fetch(`${base}/ready`)).status).toBe(503);
    shards = true;
    expect((await fetch(`${base}/ready`)).status).toBe(200);
  });

  it('/ready is 503 once the entity runtime stops', async () => {
    const { base, runtime } = await setup();
    await runtime.stop();
    expect((await fetch(`${base}/ready`)).status).toBe(503);
    expect((await fetch(`${base}/alive`)).status).toBe(200);
  });
});

describe('observer /metrics', () => {
  it('exposes every documented series, with Prometheus types, and they move when commands flow', async () => {
    const { base, runtime } = await setup();
    const before = await scrape(base);
    for (const name of METRIC_NAMES) expect(before.has(name), name).toBe(true);
    expect(before.get('beamstate_journal_appends_total')?.type).toBe('counter');
    expect(before.get('beamstate_actors')?.type).toBe('gauge');
    // prom-client's process metrics come with the first scrape.
    expect(before.has('process_cpu_user_seconds_total')).toBe(true);
    expect(value(before, 'beamstate_journal_appends_total')).toBe(0);

    for (let i = 0; i < 20; i++) await runtime.ref(counter, `c-${i % 5}`).ask('add', { n: 1 });
    const after = await scrape(base);
    expect(value(after, 'beamstate_journal_appends_total')).toBe(20);
    expect(value(after, 'beamstate_journal_events_total')).toBe(20);
    expect(value(after, 'beamstate_journal_batches_total')).toBeGreaterThan(0);
    expect(value(after, 'beamstate_entities_active', { type: 'counter' })).toBe(5);
    // Counted from the first scrape on: all 20 came after it.
    expect(value(after, 'beamstate_entity_events_persisted_total', { type: 'counter' })).toBe(20);
    expect(value(after, 'beamstate_entity_activations_total', { type: 'counter' })).toBe(5);
    expect(value(after, 'beamstate_actors')).toBeGreaterThan(value(before, 'beamstate_actors') as number);
  });

  it('counts supervisor restarts and dead letters', async () => {
    const { base, system } = await setup();
    await scrape(base); // starts the event counters
    const w = system.whereis('worker-a');
    if (w === undefined) throw new Error('no worker-a');
    w.tell('crash');
    await system.awaitExit(w);
    await system.whenIdle();
    w.tell('to a dead actor');
    const m = await scrape(base);
    expect(value(m, 'beamstate_supervisor_restarts_total')).toBe(1);
    expect(value(m, 'beamstate_dead_letters_total')).toBeGreaterThanOrEqual(1);
  });
});

describe('observer /metrics: the gateway', () => {
  it('counts frames received, refused upgrades and forbidden requests', async () => {
    const { base } = await setup();
    const before = await scrape(base);
    expect(value(before, 'beamstate_gateway_frames_received_total')).toBe(0);
    const url = base.replace('http', 'ws');
    // Refused at the upgrade: no token, a wrong one.
    for (const headers of [{}, { Authorization: 'Bearer nope' }]) {
      await new Promise<void>((resolve) => {
        const ws = new WebSocket(url, ['beamstate.v1.json'], { headers });
        ws.once('unexpected-response', () => resolve());
        ws.once('error', () => resolve());
      });
    }
    const ws = new WebSocket(url, ['beamstate.v1.json'], { headers: { Authorization: 'Bearer viewer-token' } });
    await new Promise((r) => ws.once('open', r));
    const answers: { kind: string; id: number; code?: string }[] = [];
    const got = new Promise<void>((resolve) =>
      ws.on('message', (d) => {
        answers.push(JSON.parse(String(d)) as { kind: string; id: number });
        if (answers.length === 3) resolve();
      }),
    );
    ws.send(JSON.stringify({ kind: 'command', id: 1, entity: { type: 'counter', id: 'g' }, command: 'get' }));
    ws.send(JSON.stringify({ kind: 'command', id: 2, entity: { type: 'counter', id: 'g' }, command: 'add', input: { n: 1 } }));
    ws.send(JSON.stringify({ kind: 'command', id: 3, entity: { type: 'counter', id: 'g' }, command: 'add', input: { n: 1 } }));
    await got;
    expect(answers.filter((a) => a.kind === 'error')).toHaveLength(2);
    const after = await scrape(base);
    expect(value(after, 'beamstate_gateway_frames_received_total')).toBe(3);
    expect(value(after, 'beamstate_gateway_auth_failures_total')).toBe(2);
    expect(value(after, 'beamstate_gateway_forbidden_total')).toBe(2);
    expect(value(after, 'beamstate_gateway_connections')).toBe(1);
    expect(value(after, 'beamstate_gateway_slow_consumers_closed_total')).toBe(0);
    ws.close();
  });
});

describe('observer HTTP: hostile input', () => {
  it('refuses unknown query parameters with OBSERVER_BAD_QUERY and changes nothing', async () => {
    const { base, system } = await setup();
    const actors = system.actorCount;
    for (const url of ['/metrics?name[]=x', '/observer/?debug=1', '/ready?x', `/alive?${'a'.repeat(5000)}=1`]) {
      const res = await fetch(`${base}${url}`);
      expect(res.status, url).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe('OBSERVER_BAD_QUERY');
    }
    expect(system.actorCount).toBe(actors);
  });

  it('serves only its own files: a path outside them is 404, a POST is 405', async () => {
    const { base } = await setup();
    for (const url of ['/observer/../../package.json', '/observer/%2e%2e/package.json', '/observer/observer.ts', '/observer/assets/observer.js']) {
      const res = await fetch(`${base}${url}`);
      expect([404, 426], url).toContain(res.status);
      expect(await res.text()).not.toContain('"name": "beamstate"');
    }
    expect((await fetch(`${base}/metrics`, { method: 'POST', body: 'x' })).status).toBe(405);
  });

  it('serves the page at its path (a redirect adds the slash, keeping the token)', async () => {
    const { base } = await setup();
    const res = await fetch(`${base}/observer?token=t`, { redirect: 'manual' });
    expect(res.status).toBe(308);
    expect(res.headers.get('location')).toBe('/observer/?token=t');
    const page = await fetch(`${base}/observer/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script type="module" src="/observer/observer.js">');
  });

  it('other plain requests still get the gateway answer (426)', async () => {
    const { base } = await setup();
    expect((await fetch(`${base}/elsewhere`)).status).toBe(426);
  });
});
