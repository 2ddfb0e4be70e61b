"""Generated protobuf and gRPC code for ``protos/stopay/v1``; regenerate with ``python -m stopay.codegen``."""
