"""The gRPC layer: validates and translates requests, and holds no business logic."""
