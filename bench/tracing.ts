// `npm run bench -- tracing`: what OpenTelemetry tracing costs a gateway command. Three gateways
// in this process on the in-memory store, measured in interleaved rounds: tracing off (the
// baseline: @opentelemetry/api is not even loaded until the first traced gateway is made, after
// the first baseline round), tracing on with every span recorded (a BasicTracerProvider whose
// exporter drops them: the SDK's work without the export's), and tracing on with the client's
// traceparent unsampled (flags 00: spans are non-recording). One connection pipelines WINDOW
// commands (`add` to 100 entities) and keeps that many in flight; the metric is replies per second.
import WebSocket from 'ws';
import { z } from 'zod';
import { createActorSystem, createGateway, EntityRuntime, eventSourcedEntity, type Gateway, silentLogger, SUBPROTOCOL_JSON } from '../src/index.js';
import { createStore } from '../src/persistence/index.js';
import { gc, log, now, report, round } from './_report.js';

const WINDOW = 256;
const ROUND_MS = 1500;
const ROUNDS = 4;
const ENTITIES = 100;
const SAMPLED = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const UNSAMPLED = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';

const counter = eventSourcedEntity('counter')
  .initialState(() => ({ value: 0 }))
  .events<{ type: 'Added'; n: number }>({ Added: (s, e) => ({ value: s.value + e.n }) })
  .command('add', z.object({ n: z.number().int() }), (_s, { n }, ctx) => ctx.emit({ type: 'Added', n }).thenReply((st) => st.value));

async function gatewayWith(tracing: Parameters<typeof createGateway>[0]['tracing']): Promise<{ gateway: Gateway; stop(): Promise<void> }> {
  const store = await createStore({ kind: 'memory', logger: silentLogger });
  const system = createActorSystem({ logger: silentLogger });
  const runtime = new EntityRuntime(system, { store });
  runtime.register(counter);
  const gateway = await createGateway({ runtime, port: 0, heartbeat: false, ...(tracing === undefined ? {} : { tracing }) });
  return {
    gateway,
    async stop() {
      await gateway.close();
      await system.stop();
      await store.close();
    },
  };
}

/** Replies per second over ROUND_MS, WINDOW commands kept in flight on one connection. */
async function round1(url: string, traceparent: string | undefined): Promise<number> {
  const ws = new WebSocket(url, [SUBPROTOCOL_JSON], { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let seq = 0;
  const frame = (id: number): string =>
    traceparent === undefined
      ? `{"kind":"command","id":${id},"entity":{"type":"counter","id":"e${id % ENTITIES}"},"command":"add","input":{"n":1}}`
      : `{"kind":"command","id":${id},"entity":{"type":"counter","id":"e${id % ENTITIES}"},"command":"add","input":{"n":1},"traceparent":"${traceparent}"}`;
  let replies = 0;
  let counting = false;
  const started = now();
  let measuredFrom = 0;
  await new Promise<void>((resolve) => {
    ws.on('message', () => {
      if (counting) replies++;
      const t = now() - started;
      if (!counting && t > 300) {
        counting = true;
        measuredFrom = now();
      }
      if (counting && now() - measuredFrom >= ROUND_MS) {
        resolve();
        return;
      }
      ws.send(frame(seq++));
    });
    for (let i = 0; i < WINDOW; i++) ws.send(frame(seq++));
  });
  const elapsed = now() - measuredFrom;
  ws.terminate();
  return (replies / elapsed) * 1000;
}

const { BasicTracerProvider, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
const results = { off: [] as number[], sampled: [] as number[], unsampled: [] as number[] };
const off = await gatewayWith(undefined);
// The first baseline round runs before anything has loaded @opentelemetry/api.
results.off.push(await round1(off.gateway.url as string, SAMPLED));
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor({ export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} })] });
const on = await gatewayWith({ tracerProvider: provider });
for (let r = 0; r < ROUNDS; r++) {
  gc();
  if (r > 0) results.off.push(await round1(off.gateway.url as string, SAMPLED));
  gc();
  results.sampled.push(await round1(on.gateway.url as string, SAMPLED));
  gc();
  results.unsampled.push(await round1(on.gateway.url as string, UNSAMPLED));
  log(`round ${r + 1}: off ${round(results.off.at(-1) as number)}/s, on ${round(results.sampled.at(-1) as number)}/s, on unsampled ${round(results.unsampled.at(-1) as number)}/s`);
}
await off.stop();
await on.stop();
await provider.shutdown();
const best = (xs: number[]): number => Math.max(...xs);
report('tracing', {
  commands_per_s_tracing_off_baseline: round(best(results.off)),
  commands_per_s_tracing_on: round(best(results.sampled)),
  commands_per_s_tracing_on_unsampled: round(best(results.unsampled)),
  tracing_on_ratio: round(best(results.sampled) / best(results.off), 3),
  tracing_on_unsampled_ratio: round(best(results.unsampled) / best(results.off), 3),
});
