import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Actor } from '../actors/actor.js';
import { keepAlive, type TimerHandle } from '../actors/clock.js';
import type { ActorSystem } from '../actors/system.js';
import type { EntityRuntime } from '../entities/runtime.js';
import { EntityCell } from '../entities/entity-cell.js';
import type { Authenticate } from '../gateway/auth.js';
import type { Gateway, HttpMount } from '../gateway/server.js';
import { rejectUpgrade } from '../gateway/upgrade.js';
import type { Logger } from '../logger.js';
import { supervisorOf, SupervisorRef } from '../supervisor/refs.js';
import { detailOf, entityCounts, processPage, Rates, supervisionTree, totalRestarts } from './collect.js';
import { EventCounters } from './counters.js';
import {
  ObserverActionsDisabledError,
  ObserverBadFrameError,
  ObserverBadQueryError,
  ObserverBusyError,
  ObserverError,
  ObserverForbiddenError,
  ObserverNotFoundError,
} from './errors.js';
import { defaultQuery, jsonSafe, parseFrame, parseQuery, refOf } from './frames.js';
import { ObserverMetrics } from './metrics.js';
import { type ObserverActionRequest, observerDefaults, type ObserverOptions } from './options.js';
import { type ClientFrame, type EntityDetail, type EntityTypeRow, OBSERVER_SUBPROTOCOL, type ProcessQuery, type ServerFrame, type Update } from './protocol.js';

/** A page's socket holding more than this unsent skips updates until it drains (a slow page never piles up). */
const MAX_BUFFERED = 1 << 20;
/** Look-ups in flight per page (an entity look-up reads the journal). */
const MAX_INFLIGHT = 8;
const RECENT_EVENTS = 10;
/** How long `close()` waits for a page to answer the closing handshake before cutting it. */
const CLOSE_GRACE_MS = 2000;

interface Session<P> {
  readonly ws: WebSocket;
  readonly principal: P;
  watching: boolean;
  query: ProcessQuery;
  inflight: number;
  readonly rates: Rates;
  /** No update before this (performance.now()): a page whose table is costly to build gets fewer. */
  notBefore: number;
}

/**
 * The observer: a live page of the running system (supervision tree, processes, entities,
 * journal, gateway), `/metrics` for Prometheus, and `/alive` + `/ready`. Made by
 * {@link createObserver}. Costs nothing until a page connects or `/metrics` is scraped: no timer
 * runs and no inspection listener is subscribed before then. docs/observer.md.
 */
export class Observer<P = unknown> implements AsyncDisposable {
  readonly system: ActorSystem;
  readonly runtime: EntityRuntime | undefined;
  readonly path: string;
  private readonly logger: Logger;
  private readonly gateway: Gateway<P> | undefined;
  private readonly authenticate: Authenticate<P> | undefined;
  private readonly allowAnonymous: boolean;
  private readonly actions: boolean;
  private readonly authorizeAction: ObserverOptions<P>['authorizeAction'];
  private readonly intervalMs: number;
  private readonly treeChildLimit: number;
  private readonly maxStateBytes: number;
  private readonly maxConnections: number;
  private readonly metricsOn: boolean;
  private readonly healthOn: boolean;
  private readonly readyHook: (() => boolean) | undefined;
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<Session<P>>();
  private readonly counters: EventCounters;
  private readonly metrics: ObserverMetrics;
  private readonly startedAt: number;
  private timer: TimerHandle | null = null;
  private unmount: (() => void) | null = null;
  private closed = false;
  private lastJournal = { at: -1, appends: 0, batches: 0 };
  private lastFrames = { at: -1, frames: 0 };
  private lastPersisted = new Map<string, { at: number; events: number }>();
  /** Bytes of updates sent, for the benchmark's update rate. */
  bytesSent = 0;

  /** @internal Use {@link createObserver}. */
  constructor(options: ObserverOptions<P>) {
    const system = options.system ?? options.runtime?.system;
    if (system === undefined) throw new TypeError('createObserver needs a runtime or a system');
    this.system = system;
    this.runtime = options.runtime;
    this.gateway = options.gateway;
    const path = options.path ?? observerDefaults.path;
    if (typeof path !== 'string' || !/^\/[A-Za-z0-9._~\-/]*$/.test(path) || path.endsWith('/')) {
      throw new RangeError(`observer path must start with / and not end with one, got ${String(path)}`);
    }
    this.path = path;
    this.logger = (options.logger ?? system.logger).child({ component: 'observer' });
    this.authenticate = options.authenticate ?? options.gateway?.hooks.authenticate;
    this.allowAnonymous = options.allowAnonymous ?? observerDefaults.allowAnonymous;
    this.actions = options.actions ?? observerDefaults.actions;
    this.authorizeAction = options.authorizeAction;
    this.intervalMs = positive('intervalMs', options.intervalMs ?? observerDefaults.intervalMs);
    this.treeChildLimit = positive('treeChildLimit', options.treeChildLimit ?? observerDefaults.treeChildLimit);
    this.maxStateBytes = positive('maxStateBytes', options.maxStateBytes ?? observerDefaults.maxStateBytes);
    this.maxConnections = positive('maxConnections', options.maxConnections ?? observerDefaults.maxConnections);
    this.metricsOn = options.metrics ?? observerDefaults.metrics;
    this.healthOn = options.health ?? observerDefaults.health;
    this.readyHook = options.ready;
    this.startedAt = system.clock.now();
    this.counters = new EventCounters(system);
    const gw = options.gateway;
    this.metrics = new ObserverMetrics(
      {
        system,
        runtime: options.runtime,
        counters: this.counters,
        gatewayConnections: () => gw?.connections,
        gatewayStats: () => gw?.stats,
        observerConnections: () => this.sessions.size,
      },
      options.processMetrics ?? observerDefaults.processMetrics,
    );
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: 16 * 1024,
      perMessageDeflate: false,
      handleProtocols: (offered: Set<string>) => (offered.has(OBSERVER_SUBPROTOCOL) ? OBSERVER_SUBPROTOCOL : false),
    });
    if (gw !== undefined) {
      this.unmount = gw.mount({
        request: (req, res) => this.handle(req, res),
        upgrade: (req, socket, head) => this.handleUpgrade(req, socket, head),
        close: () => this.close(),
      } satisfies HttpMount);
    }
  }

  /** Pages connected now. */
  get connections(): number {
    return this.sessions.size;
  }

  /** True when `/ready` answers 200: the runtime is not stopping, the gateway not closing, and the `ready` hook holds. */
  get ready(): boolean {
    if (this.closed || this.system.stopped) return false;
    if (this.runtime !== undefined && this.runtime.stopping) return false;
    if (this.gateway !== undefined && this.gateway.isClosing) return false;
    return this.readyHook === undefined || this.readyHook();
  }

  // ---------------------------------------------------------------- HTTP

  /** Serves the page, its assets, `/metrics`, `/alive` and `/ready`; false for any other URL (for your own server's handler). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q < 0 ? url : url.slice(0, q);
    const params = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    const page = pathname === this.path || pathname.startsWith(`${this.path}/`);
    const isMetrics = this.metricsOn && pathname === '/metrics';
    const isHealth = this.healthOn && (pathname === '/alive' || pathname === '/ready');
    if (!page && !isMetrics && !isHealth) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'application/json', JSON.stringify({ code: 'METHOD_NOT_ALLOWED', message: 'GET only' }), { Allow: 'GET, HEAD' });
      return true;
    }
    // Query parameters: only the page's `token` (handed to its channel); anything else is refused, not ignored.
    for (const key of params.keys()) {
      if (!(page && key === 'token')) {
        const err = new ObserverBadQueryError(`unknown parameter ${JSON.stringify(key.slice(0, 64))}`);
        send(res, 400, 'application/json', JSON.stringify({ code: err.code, message: err.message }));
        return true;
      }
    }
    if (isMetrics) {
      this.metrics.scrape().then(
        (text) => send(res, 200, this.metrics.contentType, text),
        (err: unknown) => {
          this.logger.error({ err }, 'metrics scrape failed');
          send(res, 500, 'text/plain', 'metrics failed\n');
        },
      );
      return true;
    }
    if (pathname === '/alive') {
      send(res, 200, 'text/plain', 'alive\n');
      return true;
    }
    if (pathname === '/ready') {
      const ok = this.ready;
      send(res, ok ? 200 : 503, 'text/plain', ok ? 'ready\n' : 'not ready\n');
      return true;
    }
    const rest = pathname.slice(this.path.length);
    if (rest === '') {
      res.writeHead(308, { Location: `${this.path}/${q < 0 ? '' : url.slice(q)}` });
      res.end();
      return true;
    }
    const asset = ASSETS[rest];
    if (asset === undefined) {
      send(res, 404, 'application/json', JSON.stringify({ code: 'NOT_FOUND', message: 'no such observer page' }));
      return true;
    }
    if (rest === '/') {
      send(res, 200, 'text/html; charset=utf-8', pageHtml(this.path), { 'Cache-Control': 'no-store' });
      return true;
    }
    const body = readAsset(asset.file);
    if (body === undefined) {
      send(res, 503, 'text/plain', 'the observer page is not built: run npm run build:observer\n');
      return true;
    }
    send(res, 200, asset.type, body, { 'Cache-Control': 'no-cache' });
    return true;
  }

  /** Takes an upgrade to `<path>/ws`; false for any other. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    if ((q < 0 ? url : url.slice(0, q)) !== `${this.path}/ws`) return false;
    socket.on('error', () => {});
    if (this.closed) {
      rejectUpgrade(socket, { status: 503, code: 'SHUTTING_DOWN', message: 'observer closed' });
      return true;
    }
    if (this.sessions.size >= this.maxConnections) {
      rejectUpgrade(socket, { status: 503, code: 'TOO_MANY_CONNECTIONS', message: `at most ${this.maxConnections} observer pages` });
      return true;
    }
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim());
    if (!offered.includes(OBSERVER_SUBPROTOCOL)) {
      rejectUpgrade(socket, { status: 400, code: 'UNSUPPORTED_SUBPROTOCOL', message: `connect with the ${OBSERVER_SUBPROTOCOL} subprotocol` });
      return true;
    }
    const accept = (principal: P): void => {
      if (socket.destroyed) return;
      this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, principal));
    };
    const hook = this.authenticate;
    if (hook === undefined) {
      if (this.allowAnonymous) accept(undefined as P);
      else rejectUpgrade(socket, { status: 401, code: 'UNAUTHENTICATED', message: 'the observer needs an authenticate hook, or allowAnonymous: true' });
      return true;
    }
    let result: ReturnType<Authenticate<P>>;
    try {
      result = hook(req);
    } catch (err) {
      this.logger.error({ err }, 'observer authenticate hook failed');
      rejectUpgrade(socket, { status: 500, code: 'AUTHENTICATION_FAILED', message: 'authentication failed' });
      return true;
    }
    Promise.resolve(result).then(
      (principal) => {
        if (principal === undefined || principal === null || principal === false) rejectUpgrade(socket, { status: 401, code: 'UNAUTHENTICATED', message: 'not authenticated' });
        else accept(principal);
      },
      (err: unknown) => {
        this.logger.error({ err }, 'observer authenticate hook failed');
        rejectUpgrade(socket, { status: 500, code: 'AUTHENTICATION_FAILED', message: 'authentication failed' });
      },
    );
    return true;
  }

  // ---------------------------------------------------------------- sessions

  private open(ws: WebSocket, principal: P): void {
    if (this.closed) {
      ws.close(1001, 'observer closed');
      return;
    }
    const s: Session<P> = { ws, principal, watching: false, query: defaultQuery, inflight: 0, rates: new Rates(), notBefore: 0 };
    this.sessions.add(s);
    this.counters.start();
    this.send(s, { type: 'hello', actions: this.actions, intervalMs: this.intervalMs, system: this.system.name });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return this.send(s, { type: 'error', error: wire(new ObserverBadFrameError('frames are JSON text')) });
      this.receive(s, (data as Buffer).toString('utf8'));
    });
    ws.on('close', () => {
      this.sessions.delete(s);
      if (this.sessions.size === 0) this.stopTicking();
    });
    ws.on('error', (err) => this.logger.debug({ err }, 'observer socket error'));
  }

  private receive(s: Session<P>, text: string): void {
    let frame: ClientFrame;
    let query: unknown;
    try {
      ({ frame, query } = parseFrame(text));
    } catch (err) {
      const ref = refOf(text);
      const error = wire(err);
      return this.send(s, ref === undefined ? { type: 'error', error } : { type: 'reply', ref, ok: false, error });
    }
    if (frame.op === 'watch') {
      try {
        s.query = parseQuery(query, s.query);
      } catch (err) {
        return this.send(s, { type: 'error', error: wire(err) });
      }
      s.watching = true;
      this.startTicking();
      this.sendUpdate(s, this.snapshot(), true);
      return;
    }
    if (s.inflight >= MAX_INFLIGHT) return this.send(s, { type: 'reply', ref: frame.ref, ok: false, error: wire(new ObserverBusyError(MAX_INFLIGHT)) });
    s.inflight++;
    const ref = frame.ref;
    this.serve(s, frame).then(
      (result) => {
        s.inflight--;
        this.send(s, { type: 'reply', ref, ok: true, result });
      },
      (err: unknown) => {
        s.inflight--;
        if (!(err instanceof ObserverError)) this.logger.warn({ err }, 'observer request failed');
        this.send(s, { type: 'reply', ref, ok: false, error: wire(err) });
      },
    );
  }

  private async serve(s: Session<P>, frame: Exclude<ClientFrame, { op: 'watch' }>): Promise<unknown> {
    switch (frame.op) {
      case 'process':
        return detailOf(this.actor(frame.id), 0);
      case 'entity':
        return this.entity(frame.type, frame.id);
      case 'action':
        return this.act(s, frame);
    }
  }

  private actor(id: number): Actor {
    for (const a of this.system.actors()) if (a.id === id) return a as Actor;
    throw new ObserverNotFoundError(`actor <${id}>`);
  }

  /** An entity's state, sequence number and last events; never activates it (a passivated one is read from the journal). */
  private async entity(type: string, id: string): Promise<EntityDetail> {
    const rt = this.runtime;
    const region = rt?.regionNamed(type);
    if (rt === undefined || region === undefined) throw new ObserverNotFoundError(`entity type ${JSON.stringify(type)}`);
    const slot = region.slots.get(id);
    const pid = `${type}|${id}`;
    const cell = slot?.actor?.state;
    const active = slot !== undefined && !slot.detached;
    let sequenceNr = slot?.version ?? 0;
    let recent: EntityDetail['recentEvents'] = [];
    if (region.type.kind === 'event-sourced') {
      if (!active) sequenceNr = await rt.store.journal.highestSequenceNr(pid);
      if (sequenceNr > 0) {
        const events = await rt.store.journal.read(pid, { fromSequenceNr: Math.max(1, sequenceNr - RECENT_EVENTS + 1), toSequenceNr: sequenceNr });
        recent = events.map((e) => ({ sequenceNr: e.sequenceNr, type: e.type, payload: jsonSafe(e.payload, 2048) }));
      }
    } else if (region.type.kind === 'value' && !active) {
      const record = await rt.store.durableState.get(pid);
      if (record === undefined) throw new ObserverNotFoundError(`entity ${type}/${id}`);
      return { type, id, active: false, state: jsonSafe(record.value, this.maxStateBytes), sequenceNr: record.revision, queued: 0, actor: undefined, recentEvents: [] };
    }
    if (!active && sequenceNr === 0) throw new ObserverNotFoundError(`entity ${type}/${id}`);
    return {
      type,
      id,
      active,
      state: active && cell instanceof EntityCell && cell.recovered ? jsonSafe(cell.state, this.maxStateBytes) : undefined,
      sequenceNr,
      queued: slot?.queue.length ?? 0,
      actor: slot?.actor?.id,
      recentEvents: recent,
    };
  }

  private async act(s: Session<P>, frame: Extract<ClientFrame, { op: 'action' }>): Promise<unknown> {
    if (!this.actions) throw new ObserverActionsDisabledError();
    const target =
      frame.action === 'kill' ? `<${frame.actor}>` : frame.action === 'passivate' ? `${frame.type}/${frame.id}` : `<${frame.supervisor}>/${frame.child}`;
    const request: ObserverActionRequest = { action: frame.action, target };
    const authorize = this.authorizeAction;
    let allowed = false;
    if (authorize !== undefined) {
      try {
        allowed = (await authorize(s.principal, request)) === true;
      } catch (err) {
        this.logger.error({ err }, 'observer authorizeAction hook failed');
      }
    }
    if (!allowed) throw new ObserverForbiddenError(`${frame.action} ${target}`);
    this.logger.warn({ action: frame.action, target }, 'observer action');
    switch (frame.action) {
      case 'kill': {
        const a = this.actor(frame.actor as number);
        this.system.kill(a);
        return { killed: a.id };
      }
      case 'restart-child':
      case 'terminate-child': {
        const sup = supervisorOf(this.actor(frame.supervisor as number));
        if (!(sup instanceof SupervisorRef)) throw new ObserverNotFoundError(`supervisor <${frame.supervisor}> (restart and terminate take a static supervisor's child id)`);
        const child = frame.child as string;
        try {
          if (frame.action === 'terminate-child') {
            await sup.terminateChild(child);
            return { terminated: child };
          }
          const ref = await sup.restartChild(child);
          return { restarted: child, actor: ref?.id };
        } catch (err) {
          if (err instanceof Error && 'code' in err && err.code === 'CHILD_NOT_FOUND') throw new ObserverNotFoundError(`child ${JSON.stringify(child)}`);
          throw err;
        }
      }
      case 'passivate': {
        const region = this.runtime?.regionNamed(frame.type as string);
        const slot = region?.slots.get(frame.id as string);
        if (region === undefined || slot === undefined) throw new ObserverNotFoundError(`active entity ${target}`);
        region.requestPassivation(slot, 'idle');
        return { passivating: target };
      }
    }
  }

  // ---------------------------------------------------------------- updates

  private startTicking(): void {
    if (this.timer !== null || this.closed) return;
    const tick = (): void => {
      this.timer = null;
      if (this.closed || this.sessions.size === 0) return;
      const snap = this.snapshot();
      for (const s of this.sessions) if (s.watching) this.sendUpdate(s, snap);
      this.timer = this.system.clock.setTimeout(tick, this.intervalMs);
      keepAlive(this.timer, false);
    };
    this.timer = this.system.clock.setTimeout(tick, this.intervalMs);
    keepAlive(this.timer, false);
  }

  private stopTicking(): void {
    if (this.timer !== null) this.system.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** What every page shares in one update (the process table is per page). */
  private snapshot(): Omit<Update, 'processes'> {
    const now = this.system.clock.now();
    const rt = this.runtime;
    const mem = process.memoryUsage();
    let journal: Update['journal'] = { appends: 0, events: 0, batches: 0, conflicts: 0, largestBatch: 0, appendsPerSecond: 0, batchSize: 0 };
    const entities: EntityTypeRow[] = [];
    if (rt !== undefined) {
      const j = rt.store.journal.stats();
      const last = this.lastJournal;
      const dt = last.at < 0 ? 0 : (now - last.at) / 1000;
      const dAppends = j.appends - last.appends;
      const dBatches = j.batches - last.batches;
      journal = {
        ...j,
        appendsPerSecond: dt > 0 ? Math.round(dAppends / dt) : 0,
        batchSize: dBatches > 0 ? Math.round((dAppends / dBatches) * 10) / 10 : 0,
      };
      this.lastJournal = { at: now, appends: j.appends, batches: j.batches };
      for (const e of entityCounts(rt)) {
        const c = this.counters.of(e.type);
        const prev = this.lastPersisted.get(e.type);
        const dte = prev === undefined ? 0 : (now - prev.at) / 1000;
        entities.push({
          ...e,
          activations: c.activations,
          recoveries: c.recoveries,
          recoveryFailures: c.recoveryFailures,
          passivations: c.passivations,
          poisonCommands: c.poisonCommands,
          snapshots: c.snapshots,
          eventsPersisted: c.eventsPersisted,
          eventsPerSecond: dte > 0 && prev !== undefined ? Math.round((c.eventsPersisted - prev.events) / dte) : 0,
        });
        this.lastPersisted.set(e.type, { at: now, events: c.eventsPersisted });
      }
    }
    return {
      type: 'update',
      at: Date.now(),
      overview: {
        system: this.system.name,
        uptimeMs: now - this.startedAt,
        actors: this.system.actorCount,
        activeEntities: rt?.activeEntities ?? 0,
        supervisorRestarts: totalRestarts(this.system),
        deadLetters: this.counters.deadLetters,
        heapUsed: mem.heapUsed,
        rss: mem.rss,
      },
      tree: supervisionTree(this.system, this.treeChildLimit),
      entities,
      journal,
      gateway: this.gatewayPanel(now),
    };
  }

  private gatewayPanel(now: number): Update['gateway'] {
    const st = this.gateway?.stats;
    const frames = st?.framesIn ?? 0;
    const last = this.lastFrames;
    const dt = last.at < 0 ? 0 : (now - last.at) / 1000;
    this.lastFrames = { at: now, frames };
    return {
      attached: this.gateway !== undefined,
      connections: this.gateway?.connections ?? 0,
      observers: this.sessions.size,
      framesIn: frames,
      framesPerSecond: dt > 0 ? Math.round((frames - last.frames) / dt) : 0,
      slowConsumersClosed: st?.slowConsumers ?? 0,
      authFailures: st?.authFailures ?? 0,
      forbidden: st?.forbidden ?? 0,
    };
  }

  private sendUpdate(s: Session<P>, snap: Omit<Update, 'processes'>, force = false): void {
    if (s.ws.bufferedAmount > MAX_BUFFERED) return;
    const t0 = performance.now();
    if (!force && t0 < s.notBefore) return;
    s.rates.all = s.query.sort === 'rate';
    s.rates.sample(this.system, this.system.clock.now());
    const page = processPage(this.system, s.rates, s.query);
    s.rates.shown(page.actors);
    // A table sorted by a column over 100 000 actors builds every row: keep each page's share of
    // the event loop near a tenth by spacing its updates out (one every 10× its build time).
    s.notBefore = t0 + (performance.now() - t0) * 10;
    this.send(s, { ...snap, processes: { total: page.total, query: s.query, rows: page.rows } });
  }

  private send(s: Session<P>, frame: ServerFrame): void {
    if (s.ws.readyState !== 1) return;
    const text = JSON.stringify(frame);
    if (frame.type === 'update') this.bytesSent += Buffer.byteLength(text);
    s.ws.send(text);
  }

  // ---------------------------------------------------------------- closing

  /** Closes every page (1001), stops the updates and the event counters, and unmounts from the gateway. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopTicking();
    this.unmount?.();
    this.unmount = null;
    this.counters.stop();
    const sockets = [...this.sessions].map((s) => s.ws);
    this.sessions.clear();
    for (const ws of sockets) ws.close(1001, 'observer closed');
    this.wss.close();
    // A page that does not answer the closing handshake would hold the HTTP server's close: cut it after a while.
    if (sockets.length > 0) {
      const t = setTimeout(() => {
        for (const ws of sockets) if (ws.readyState !== 3) ws.terminate();
      }, CLOSE_GRACE_MS);
      t.unref();
      await Promise.all(sockets.map((ws) => (ws.readyState === 3 ? undefined : new Promise((r) => ws.once('close', r)))));
      clearTimeout(t);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Starts an observer. With `gateway` it serves on the gateway's HTTP server at once; otherwise
 * call `observer.handle(req, res)` from your server's request handler and
 * `observer.handleUpgrade(req, socket, head)` from its 'upgrade' handler.
 *
 * ```ts
 * const observer = createObserver({ runtime, gateway, authorizeAction: (user, a) => user.admin, actions: true });
 * // http://localhost:8080/observer/  ·  /metrics  ·  /alive  ·  /ready
 * ```
 */
export function createObserver<P = unknown>(options: ObserverOptions<P>): Observer<P> {
  return new Observer(options);
}

function positive(field: string, v: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`observer ${field} must be an integer >= 1, got ${String(v)}`);
  return v;
}

function wire(err: unknown): { code: string; message: string } {
  if (err instanceof ObserverError) return { code: err.code, message: err.message };
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return { code: err.code, message: err.message };
  return { code: 'INTERNAL_ERROR', message: 'the observer failed to answer (logged)' };
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)), 'X-Content-Type-Options': 'nosniff', ...headers });
  res.end(body);
}

const ASSETS: Record<string, { file: string; type: string } | undefined> = {
  '/': { file: '', type: 'text/html' },
  '/observer.js': { file: 'observer.js', type: 'text/javascript; charset=utf-8' },
  '/observer.css': { file: 'observer.css', type: 'text/css; charset=utf-8' },
};

const assetCache = new Map<string, Buffer>();

/** The bundled page, built by `npm run build:observer` beside this module (dist/observer/assets in the package). */
function readAsset(file: string): Buffer | undefined {
  let b = assetCache.get(file);
  if (b !== undefined) return b;
  try {
    b = readFileSync(new URL(`./assets/${file}`, import.meta.url));
  } catch {
    return undefined;
  }
  assetCache.set(file, b);
  return b;
}

function pageHtml(path: string): string {
  const p = path.replace(/[&<>"']/g, '');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; img-src 'self' data:">
<title>beamstate observer</title><link rel="stylesheet" href="${p}/observer.css"></head>
<body><div id="app" data-path="${p}"></div><script type="module" src="${p}/observer.js"></script></body></html>
`;
}
