"""Generated protobuf/gRPC stubs for ``proto/moderation.proto`` (the wire contract).

The ``*_pb2*`` modules here are build outputs of ``modgate.pb.build`` (run by the
package build hook and by CI), never hand-edited. They live in ``modgate`` because the
contract's messages are shared vocabulary: the gateway serves them, the CLI client and
the slow path (Kafka payloads) read them, and nothing may import ``gateway``.
"""
