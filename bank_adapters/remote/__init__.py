"""The ``grpc`` bank adapter: stopay reaches a bank (or a bank's gateway) that serves
``bank_adapters.remote.v1.RemoteBank`` (protos/bank_adapters/remote/v1/remote_bank.proto).

:mod:`bank_adapters.remote.adapter` is the client (:class:`~bank_adapters.remote.adapter.RemoteBanks`),
:mod:`bank_adapters.remote.convert` turns the protocol dataclasses into messages and back.
"""
