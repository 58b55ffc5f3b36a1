import * as grpc from '@grpc/grpc-js';
import type { EntitySettings, EntityType } from '../entities/definition.js';
import type { EntityRuntime } from '../entities/runtime.js';
import { silentLogger, type Logger } from '../logger.js';
import { serviceModel } from './descriptors.js';
import { ComponentType, type Discovered, DiscoveryClient, type ProxyIdentity, SUPPORTED_COMPONENT_TYPES } from './discovery.js';
import { UnsupportedComponentError, UserFunctionUnavailableError } from './errors.js';
import { eventSourcedComponent } from './event-sourced.js';
import { actionComponent } from './action.js';
import { effectRouter, entityIdReader, type RoutableComponent } from './action-effects.js';
import { valueEntityComponent } from './value-entity.js';

export interface ProxyOptions {
  /** The user function's gRPC address, `host:port` (a Kalix SDK service started with `start({ port })`). */
  readonly userFunction: string;
  /** Where the Kalix entities are served: each becomes an entity type of this runtime. */
  readonly runtime: EntityRuntime;
  /** Longest wait for the user function's answer to one command; then its stream is ended and the command fails USER_FUNCTION_TIMEOUT. Default 10 000 ms (on the system clock). */
  readonly commandTimeoutMs?: number;
  /** Largest message either way between the proxy and the user function (gRPC's default, 4 MiB); a bigger command or answer is MESSAGE_TOO_LARGE. */
  readonly maxMessageBytes?: number;
  /** Event-sourced entities: ask the user function for a snapshot (snapshot_request) once this many events follow the latest one. Default 0: only the snapshots it sends itself. */
  readonly snapshotRequestEvery?: number;
  /** Longest wait for the user function to accept the connection and answer Discover. Default 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /** Serve the supported components even when the user function declares others (each is still reported to it). Default false: startup fails with UNSUPPORTED_COMPONENT. */
  readonly allowUnsupported?: boolean;
  /** Per-type settings for every Kalix entity (passivation, batch size, backoff…); the user function's passivation timeout wins over `idleTimeoutMs`. */
  readonly settings?: EntitySettings;
  /** Sent in ProxyInfo. */
  readonly identity?: Partial<ProxyIdentity>;
  readonly logger?: Logger;
}

/** Defaults of {@link ProxyOptions}, in one place. */
export const proxyDefaults = {
  commandTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  maxMessageBytes: 4 * 1024 * 1024,
  snapshotRequestEvery: 0,
  proxyName: 'beamstate-proxy',
  proxyVersion: '0.1.0',
} as const;

/** What the proxy holds for each served component, whatever its kind. */
interface ServedComponent {
  readonly definition: EntityType;
  readonly openStreams: () => number;
  readonly streamsOpened: () => number;
  readonly close: () => void;
}

/** A running proxy for one user function. Made by {@link startProxy}. */
export class KalixProxy implements AsyncDisposable {
  /** @internal */
  constructor(
    /** What Discover returned. */
    readonly discovered: Discovered,
    /** The entity types registered for the user function's components. */
    readonly entityTypes: readonly EntityType[],
    /** Components the proxy does not serve (each reported to the user function). */
    readonly unsupported: readonly UnsupportedComponentError[],
    private readonly client: grpc.Client,
    private readonly discovery: DiscoveryClient,
    private readonly components: ReadonlyMap<string, ServedComponent>,
    private readonly servicesToTypes: ReadonlyMap<string, string>,
  ) {}

  /** The beamstate entity type serving a user service (`com.example.ShoppingCartService` → `shopping-cart`). */
  entityTypeOf(serviceName: string): string | undefined {
    return this.servicesToTypes.get(serviceName);
  }

  /** Streams open to the user function now, across entity types. */
  get openStreams(): number {
    let n = 0;
    for (const c of this.components.values()) n += c.openStreams();
    return n;
  }

  /** Streams opened since start (one `init` each). */
  get streamsOpened(): number {
    let n = 0;
    for (const c of this.components.values()) n += c.streamsOpened();
    return n;
  }

  /** Calls the user function's HealthCheck; rejects with USER_FUNCTION_UNAVAILABLE. */
  healthCheck(): Promise<void> {
    return this.discovery.healthCheck();
  }

  /**
   * Closes every stream, tells the user function (ProxyTerminated; an unreachable one is not an
   * error) and closes the connection. Stop the runtime first so that no command is in flight.
   */
  async close(): Promise<void> {
    for (const c of this.components.values()) c.close();
    await this.discovery.proxyTerminated().catch(() => undefined);
    this.client.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Connects to a user function, discovers its components and registers each supported one as an
 * entity type of `options.runtime` (named by its Kalix entity type; commands are its gRPC
 * method names, inputs and replies the messages' canonical JSON).
 */
export async function startProxy(options: ProxyOptions): Promise<KalixProxy> {
  const log = options.logger ?? silentLogger;
  const client = new grpc.Client(options.userFunction, grpc.credentials.createInsecure(), {
    // A user function that restarts is found again quickly (grpc's default backoff grows to 2 minutes).
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 1000,
    'grpc.max_receive_message_length': options.maxMessageBytes ?? proxyDefaults.maxMessageBytes,
    'grpc.max_send_message_length': options.maxMessageBytes ?? proxyDefaults.maxMessageBytes,
  });
  try {
    const connectTimeoutMs = options.connectTimeoutMs ?? proxyDefaults.connectTimeoutMs;
    await new Promise<void>((resolve, reject) =>
      client.waitForReady(Date.now() + connectTimeoutMs, (err) =>
        err ? reject(new UserFunctionUnavailableError(`the user function at ${options.userFunction} did not accept a connection within ${connectTimeoutMs} ms`, { cause: err })) : resolve(),
      ),
    );
    const discovery = new DiscoveryClient(client, connectTimeoutMs);
    const [host, port] = splitAddress(options.userFunction);
    const discovered = await discovery.discover({
      proxyName: options.identity?.proxyName ?? proxyDefaults.proxyName,
      proxyVersion: options.identity?.proxyVersion ?? proxyDefaults.proxyVersion,
      proxyHostname: options.identity?.proxyHostname ?? host,
      proxyPort: options.identity?.proxyPort ?? port,
      devMode: options.identity?.devMode ?? false,
    });
    log.info({ serviceInfo: discovered.serviceInfo, components: discovered.components.length }, 'kalix user function discovered');

    const unsupported: UnsupportedComponentError[] = [];
    const components = new Map<string, ServedComponent>();
    const servicesToTypes = new Map<string, string>();
    const entityTypes: EntityType[] = [];
    const served: (typeof discovered.components)[number][] = [];
    // Every served component, by service name: the targets of forwards and side effects.
    const routable = new Map<string, RoutableComponent>();
    for (const c of discovered.components) {
      if (!SUPPORTED_COMPONENT_TYPES.includes(c.componentType)) {
        const err = new UnsupportedComponentError(c.componentType, c.serviceName);
        unsupported.push(err);
        log.error({ componentType: c.componentType, serviceName: c.serviceName }, err.message);
        await discovery.reportError(err.message, err.code).catch((e: unknown) => log.warn({ err: e }, 'ReportError failed'));
        continue;
      }
      served.push(c);
      const kind = c.componentType === ComponentType.action ? 'action' : 'entity';
      routable.set(c.serviceName, { kind, entityType: c.entityType ?? c.serviceName, service: serviceModel(discovered.root, c.serviceName) });
    }
    const effects = effectRouter(discovered.root, routable, entityIdReader(discovered.descriptorSet));
    for (const c of served) {
      const entityType = c.entityType ?? c.serviceName;
      const settings: EntitySettings = { ...options.settings, ...(c.passivationTimeoutMs !== undefined ? { idleTimeoutMs: c.passivationTimeoutMs } : {}) };
      const common = {
        client,
        system: options.runtime.system,
        root: discovered.root,
        service: serviceModel(discovered.root, c.serviceName),
        entityType,
        commandTimeoutMs: options.commandTimeoutMs ?? proxyDefaults.commandTimeoutMs,
        maxMessageBytes: options.maxMessageBytes ?? proxyDefaults.maxMessageBytes,
        settings,
      };
      const component: ServedComponent =
        c.componentType === ComponentType.value
          ? valueEntityComponent({ ...common, effects })
          : c.componentType === ComponentType.action
            ? actionComponent({ ...common, effects })
            : eventSourcedComponent({
                ...common,
                effects,
                snapshotRequestEvery: options.snapshotRequestEvery ?? proxyDefaults.snapshotRequestEvery,
              });
      components.set(entityType, component);
      servicesToTypes.set(c.serviceName, entityType);
      entityTypes.push(component.definition);
    }
    if (unsupported.length > 0 && options.allowUnsupported !== true) throw unsupported[0];
    for (const t of entityTypes) options.runtime.register(t);
    return new KalixProxy(discovered, entityTypes, unsupported, client, discovery, components, servicesToTypes);
  } catch (err) {
    client.close();
    throw err;
  }
}

function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  return [i > 0 ? address.slice(0, i) : address, Number.isInteger(port) ? port : 0];
}
