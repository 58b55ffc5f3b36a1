#!/usr/bin/python3
"""An event-sourced counter as a Kalix user function, in Python, with no Kalix SDK.

It speaks the Kalix protocol itself: kalix.protocol.Discovery (Discover, ReportError,
HealthCheck, ProxyTerminated) and kalix.component.eventsourcedentity.EventSourcedEntities/Handle,
one bidirectional stream per active counter. It needs only the standard library, Debian's
python3-grpcio and python3-protobuf, and protoc (Debian's protobuf-compiler) to compile the
.proto files at start-up into a descriptor set; the message classes are built from that set at
run time, so no generated code is kept anywhere.

    /usr/bin/python3 counter.py [--port 8080] [--snapshot-every 3] [--proto-path DIR ...]

Prints "listening <port>" on stdout once the gRPC server is up (port 0 picks a free one), then
waits for a proxy (`beamstate proxy --user-function 127.0.0.1:<port>`) to call Discover.
"""

import argparse
import asyncio
import os
import platform
import signal
import subprocess
import sys
import tempfile

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '..', '..'))

# Where the protocol's and the annotations' .proto files are found by default: the protocol
# vendored in beamstate, and kalix/annotations.proto from the Kalix JavaScript SDK's proto folder
# (any Kalix SDK's copy does; only the entity_key field option is used).
DEFAULT_PROTO_PATHS = [
    os.path.join(REPO, 'src', 'proxy', 'protocol'),
    os.path.join(REPO, 'node_modules', '@kalix-io', 'kalix-javascript-sdk', 'proto'),
]

USER_FILES = ['counter_api.proto', 'counter_domain.proto']
PROTOCOL_FILES = [
    'kalix/protocol/discovery.proto',
    'kalix/component/eventsourcedentity/event_sourced_entity.proto',
]

SERVICE = 'com.example.counter.CounterService'
ENTITY_TYPE = 'counter'
EVENT_SOURCED = 'kalix.component.eventsourcedentity.EventSourcedEntities'
TYPE_URL_PREFIX = 'type.googleapis.com/'
PROTOCOL_MAJOR, PROTOCOL_MINOR = 1, 1
INVALID_ARGUMENT = 3  # gRPC status of a command refused for its input


def log(*parts):
    print('[python-counter]', *parts, file=sys.stderr, flush=True)


def compile_descriptors(proto_paths):
    """Runs protoc on the user's and the protocol's files; returns the FileDescriptorSet."""
    includes = [HERE] + [p for p in proto_paths if os.path.isdir(p)]
    if os.path.isdir('/usr/include/google/protobuf'):
        includes.append('/usr/include')  # the well-known types, from Debian's libprotobuf-dev / protobuf-compiler
    with tempfile.TemporaryDirectory(prefix='python-counter-') as tmp:
        out = os.path.join(tmp, 'all.desc')
        cmd = ['protoc', '--include_imports', '--descriptor_set_out=' + out]
        cmd += ['-I' + i for i in includes] + USER_FILES + PROTOCOL_FILES
        subprocess.run(cmd, check=True)
        with open(out, 'rb') as f:
            return descriptor_pb2.FileDescriptorSet.FromString(f.read())


def closure(fds, roots):
    """The files of `fds` that `roots` need (themselves and their imports), in dependency order."""
    by_name = {f.name: f for f in fds.file}
    seen, ordered = set(), []

    def visit(name):
        if name in seen:
            return
        seen.add(name)
        for dep in by_name[name].dependency:
            visit(dep)
        ordered.append(by_name[name])

    for r in roots:
        visit(r)
    out = descriptor_pb2.FileDescriptorSet()
    out.file.extend(ordered)
    return out


class Messages:
    """Message classes built at run time from the descriptor set (no generated _pb2 modules)."""

    def __init__(self, fds):
        self.pool = descriptor_pool.DescriptorPool()
        for f in fds.file:  # protoc writes them in dependency order
            self.pool.AddSerializedFile(f.SerializeToString())
        self.factory = message_factory.MessageFactory(self.pool)
        self.cache = {}

    def __getitem__(self, full_name):
        cls = self.cache.get(full_name)
        if cls is None:
            cls = self.factory.GetPrototype(self.pool.FindMessageTypeByName(full_name))
            self.cache[full_name] = cls
        return cls

    def pack(self, message):
        return self['google.protobuf.Any'](
            type_url=TYPE_URL_PREFIX + message.DESCRIPTOR.full_name, value=message.SerializeToString())

    def unpack(self, any_message):
        name = any_message.type_url[any_message.type_url.rfind('/') + 1:]
        return self[name].FromString(any_message.value)


class CounterEntity:
    """One counter's state and behaviour: commands → events, events → state."""

    def __init__(self, m, entity_id):
        self.m = m
        self.entity_id = entity_id
        self.value = 0
        self.sequence = 0  # of the last event applied

    def restore(self, snapshot):
        self.value = self.m.unpack(snapshot).value

    def apply(self, event):
        name = event.DESCRIPTOR.name
        if name == 'ValueIncreased':
            self.value += event.value
        elif name == 'ValueDecreased':
            self.value -= event.value
        else:
            raise ValueError('unknown event ' + event.DESCRIPTOR.full_name)

    def handle(self, name, command):
        """Returns (reply message, [events]) or raises CommandRefused; an unknown name raises KeyError."""
        d = 'com.example.counter.domain.'
        if name == 'Increase':
            if command.value < 0:
                raise CommandRefused('Increase requires a positive value. It was [%d].' % command.value)
            return self.m['google.protobuf.Empty'](), [self.m[d + 'ValueIncreased'](value=command.value)]
        if name == 'Decrease':
            if command.value < 0:
                raise CommandRefused('Decrease requires a positive value. It was [%d].' % command.value)
            return self.m['google.protobuf.Empty'](), [self.m[d + 'ValueDecreased'](value=command.value)]
        if name == 'GetCurrentCounter':
            return self.m['com.example.counter.CurrentCounter'](value=self.value), []
        raise KeyError(name)

    def snapshot(self):
        return self.m['com.example.counter.domain.CounterState'](value=self.value)


class CommandRefused(Exception):
    pass


class UserFunction:
    def __init__(self, fds, snapshot_every):
        self.m = Messages(fds)
        self.user_set = closure(fds, USER_FILES).SerializeToString()
        self.snapshot_every = snapshot_every

    # --- kalix.protocol.Discovery -------------------------------------------------------------

    async def discover(self, info, context):
        log('discovered by %s %s (protocol %d.%d)' % (info.proxy_name, info.proxy_version,
                                                      info.protocol_major_version, info.protocol_minor_version))
        if info.protocol_major_version != PROTOCOL_MAJOR:
            log('the proxy speaks protocol %d.x, this user function %d.%d' % (
                info.protocol_major_version, PROTOCOL_MAJOR, PROTOCOL_MINOR))
        if EVENT_SOURCED not in info.supported_entity_types:
            log('the proxy does not list %s among its supported components' % EVENT_SOURCED)
        p = 'kalix.protocol.'
        return self.m[p + 'Spec'](
            proto=self.user_set,
            components=[self.m[p + 'Component'](
                component_type=EVENT_SOURCED,
                service_name=SERVICE,
                entity=self.m[p + 'EntitySettings'](entity_type=ENTITY_TYPE),
            )],
            service_info=self.m[p + 'ServiceInfo'](
                service_name='python-counter',
                service_version='0.1.0',
                service_runtime='Python ' + platform.python_version(),
                # No Kalix SDK: the library it runs on is grpcio itself.
                support_library_name='grpcio',
                support_library_version=grpc.__version__,
                protocol_major_version=PROTOCOL_MAJOR,
                protocol_minor_version=PROTOCOL_MINOR,
            ),
        )

    async def report_error(self, error, context):
        log('the proxy reports an error: [%s] %s' % (error.code, error.message))
        return self.m['google.protobuf.Empty']()

    async def health_check(self, _empty, context):
        return self.m['google.protobuf.Empty']()

    async def proxy_terminated(self, _empty, context):
        log('the proxy terminated')
        return self.m['google.protobuf.Empty']()

    # --- kalix.component.eventsourcedentity.EventSourcedEntities/Handle -----------------------

    async def handle(self, requests, context):
        """One stream = one active counter: init, the journal's events, then commands in order."""
        m, es = self.m, 'kalix.component.eventsourcedentity.'
        out, entity = m[es + 'EventSourcedStreamOut'], None
        async for msg in requests:
            kind = msg.WhichOneof('message')
            if kind == 'init':
                if entity is not None:
                    yield out(failure=self.failure(0, 'a second init on one stream'))
                    return
                entity = CounterEntity(m, msg.init.entity_id)
                if msg.init.HasField('snapshot'):
                    entity.restore(msg.init.snapshot.snapshot)
                    entity.sequence = msg.init.snapshot.snapshot_sequence
                continue
            if entity is None:
                yield out(failure=self.failure(0, 'the stream did not start with init'))
                return
            if kind == 'event':
                entity.apply(m.unpack(msg.event.payload))
                entity.sequence = msg.event.sequence
            elif kind == 'command':
                reply = self.command(entity, msg.command)
                yield reply
                if reply.WhichOneof('message') == 'failure':
                    return  # a stream-level failure ends the stream; the proxy restarts the entity
            elif kind == 'snapshot_request':
                yield out(snapshot_reply=m[es + 'EventSourcedSnapshotReply'](
                    request_id=msg.snapshot_request.request_id, snapshot=m.pack(entity.snapshot())))

    def command(self, entity, cmd):
        m, es, c = self.m, 'kalix.component.eventsourcedentity.', 'kalix.component.'
        out = m[es + 'EventSourcedStreamOut']
        try:
            reply, events = entity.handle(cmd.name, m.unpack(cmd.payload))
        except CommandRefused as refused:
            # A failure the client sees; no events, the state is unchanged, the stream goes on.
            action = m[c + 'ClientAction'](failure=self.failure(cmd.id, str(refused), INVALID_ARGUMENT))
            return out(reply=m[es + 'EventSourcedReply'](command_id=cmd.id, client_action=action))
        except KeyError:
            return out(failure=self.failure(cmd.id, 'unknown command ' + cmd.name))
        before = entity.sequence
        for e in events:  # applied here as if replayed: the proxy persists them before replying
            entity.apply(e)
            entity.sequence += 1
        r = m[es + 'EventSourcedReply'](
            command_id=cmd.id,
            client_action=m[c + 'ClientAction'](reply=m[c + 'Reply'](payload=m.pack(reply))),
            events=[m.pack(e) for e in events],
        )
        # A snapshot whenever a multiple of snapshot_every is crossed (the proxy stores it with the events).
        if events and entity.sequence // self.snapshot_every > before // self.snapshot_every:
            r.snapshot.CopyFrom(m.pack(entity.snapshot()))
        return out(reply=r)

    def failure(self, command_id, description, status=0):
        return self.m['kalix.component.Failure'](command_id=command_id, description=description, grpc_status_code=status)

    def handlers(self):
        m, ser = self.m, (lambda msg: msg.SerializeToString())
        empty = m['google.protobuf.Empty'].FromString

        def unary(fn, req):
            return grpc.unary_unary_rpc_method_handler(fn, request_deserializer=req, response_serializer=ser)

        discovery = grpc.method_handlers_generic_handler('kalix.protocol.Discovery', {
            'Discover': unary(self.discover, m['kalix.protocol.ProxyInfo'].FromString),
            'ReportError': unary(self.report_error, m['kalix.protocol.UserFunctionError'].FromString),
            'HealthCheck': unary(self.health_check, empty),
            'ProxyTerminated': unary(self.proxy_terminated, empty),
        })
        entities = grpc.method_handlers_generic_handler(EVENT_SOURCED, {
            'Handle': grpc.stream_stream_rpc_method_handler(
                self.handle,
                request_deserializer=m['kalix.component.eventsourcedentity.EventSourcedStreamIn'].FromString,
                response_serializer=ser),
        })
        return [discovery, entities]


async def serve(args):
    uf = UserFunction(compile_descriptors(args.proto_path or DEFAULT_PROTO_PATHS), args.snapshot_every)
    # grpc.aio: every stream is a coroutine, so a thousand active counters need no thousand threads.
    server = grpc.aio.server(handlers=uf.handlers())
    port = server.add_insecure_port('%s:%d' % (args.host, args.port))
    await server.start()
    print('listening %d' % port, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(grace=1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, default=8080, help='0: a free one (default 8080, as the Kalix SDKs)')
    p.add_argument('--snapshot-every', type=int, default=3, help='events between snapshots (default 3)')
    p.add_argument('--proto-path', action='append', help='an include folder for protoc (repeatable)')
    asyncio.run(serve(p.parse_args()))


if __name__ == '__main__':
    main()
