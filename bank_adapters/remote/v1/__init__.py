"""Generated protobuf and gRPC code for ``protos/bank_adapters/remote/v1``; regenerate with
``python -m stopay.codegen``."""
