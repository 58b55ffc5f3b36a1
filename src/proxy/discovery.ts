import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { userRoot } from './descriptors.js';
import { ProtocolVersionMismatchError, UserFunctionUnavailableError } from './errors.js';
import { codecOf, PROTOCOL_MAJOR_VERSION, PROTOCOL_MINOR_VERSION } from './protocol.js';

/** Component types (Kalix's gRPC service names for each kind). */
export const ComponentType = {
  eventSourced: 'kalix.component.eventsourcedentity.EventSourcedEntities',
  value: 'kalix.component.valueentity.ValueEntities',
  action: 'kalix.component.action.Actions',
} as const;

/** What the proxy serves today; sent in ProxyInfo.supported_entity_types. */
export const SUPPORTED_COMPONENT_TYPES: readonly string[] = [ComponentType.eventSourced, ComponentType.value, ComponentType.action];

/** A component the user function declared in its Spec. */
export interface DiscoveredComponent {
  readonly componentType: string;
  readonly serviceName: string;
  /** Entities only: the Kalix entity type (its journal's name). */
  readonly entityType: string | undefined;
  /** Entities only: the user's passivation timeout in ms, if any. */
  readonly passivationTimeoutMs: number | undefined;
}

export interface ServiceInfo {
  readonly serviceName: string;
  readonly serviceVersion: string;
  readonly serviceRuntime: string;
  readonly supportLibraryName: string;
  readonly supportLibraryVersion: string;
  readonly protocolMajorVersion: number;
  readonly protocolMinorVersion: number;
}

export interface Discovered {
  readonly root: protobuf.Root;
  /** `Spec.proto` as sent: the serialized FileDescriptorSet (custom options such as `(kalix.field).entity_key`, which the root drops, are read from it). */
  readonly descriptorSet: Uint8Array;
  readonly components: readonly DiscoveredComponent[];
  readonly serviceInfo: ServiceInfo;
}

export interface ProxyIdentity {
  readonly proxyName: string;
  readonly proxyVersion: string;
  /** Where the user function reaches the proxy back (for its cross-component calls). */
  readonly proxyHostname: string;
  readonly proxyPort: number;
  readonly devMode: boolean;
}

const DISCOVERY = '/kalix.protocol.Discovery/';
const proxyInfo = codecOf('kalix.protocol.ProxyInfo');
const spec = codecOf('kalix.protocol.Spec');
const empty = codecOf('google.protobuf.Empty');
const userFunctionError = codecOf('kalix.protocol.UserFunctionError');

function unary<Res>(client: grpc.Client, method: string, req: object, codec: { serialize: (v: object) => Buffer }, res: { deserialize: (b: Buffer) => unknown }, deadlineMs: number): Promise<Res> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(DISCOVERY + method, codec.serialize, res.deserialize, req, { deadline: Date.now() + deadlineMs }, (err, value) => {
      if (err) reject(new UserFunctionUnavailableError(`Discovery/${method} failed: ${err.message}`, { cause: err }));
      else resolve(value as Res);
    });
  });
}

/** The discovery calls to one user function. */
export class DiscoveryClient {
  constructor(
    private readonly client: grpc.Client,
    private readonly deadlineMs = 10_000,
  ) {}

  /** Calls Discover and checks the protocol's major version (a mismatch is PROTOCOL_VERSION_MISMATCH). */
  async discover(identity: ProxyIdentity): Promise<Discovered> {
    const reply = await unary<RawSpec>(
      this.client,
      'Discover',
      {
        protocolMajorVersion: PROTOCOL_MAJOR_VERSION,
        protocolMinorVersion: PROTOCOL_MINOR_VERSION,
        proxyName: identity.proxyName,
        proxyVersion: identity.proxyVersion,
        supportedEntityTypes: SUPPORTED_COMPONENT_TYPES,
        devMode: identity.devMode,
        proxyHostname: identity.proxyHostname,
        internalProxyHostname: identity.proxyHostname,
        proxyPort: identity.proxyPort,
      },
      proxyInfo,
      spec,
      this.deadlineMs,
    );
    const info = reply.serviceInfo ?? {};
    const major = info.protocolMajorVersion ?? 0;
    const minor = info.protocolMinorVersion ?? 0;
    if (major !== PROTOCOL_MAJOR_VERSION) throw new ProtocolVersionMismatchError(`${major}.${minor}`, `${PROTOCOL_MAJOR_VERSION}.${PROTOCOL_MINOR_VERSION}`);
    const components = (reply.components ?? []).map(
      (c): DiscoveredComponent => ({
        componentType: c.componentType ?? '',
        serviceName: c.serviceName ?? '',
        entityType: c.entity?.entityType || undefined,
        passivationTimeoutMs: c.entity?.passivationStrategy?.timeout?.timeout || undefined,
      }),
    );
    const descriptorSet = reply.proto ?? new Uint8Array();
    return {
      root: userRoot(descriptorSet),
      descriptorSet,
      components,
      serviceInfo: {
        serviceName: info.serviceName ?? '',
        serviceVersion: info.serviceVersion ?? '',
        serviceRuntime: info.serviceRuntime ?? '',
        supportLibraryName: info.supportLibraryName ?? '',
        supportLibraryVersion: info.supportLibraryVersion ?? '',
        protocolMajorVersion: major,
        protocolMinorVersion: minor,
      },
    };
  }

  /** Tells the user function about an error in what it declared (it logs it for its developer). */
  async reportError(message: string, code: string): Promise<void> {
    await unary(this.client, 'ReportError', { message, code, severity: 1 }, userFunctionError, empty, this.deadlineMs);
  }

  async healthCheck(): Promise<void> {
    await unary(this.client, 'HealthCheck', {}, empty, empty, this.deadlineMs);
  }

  async proxyTerminated(): Promise<void> {
    await unary(this.client, 'ProxyTerminated', {}, empty, empty, this.deadlineMs);
  }
}

interface RawSpec {
  readonly proto?: Uint8Array;
  readonly components?: readonly {
    readonly componentType?: string;
    readonly serviceName?: string;
    readonly entity?: { readonly entityType?: string; readonly passivationStrategy?: { readonly timeout?: { readonly timeout?: number } } };
  }[];
  readonly serviceInfo?: Partial<ServiceInfo>;
}
