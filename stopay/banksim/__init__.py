"""``stopay bank-sim``: the simulated banks of a bank-network scenario served as a
``bank_adapters.remote.v1.RemoteBank`` gRPC server, so stopay and its banks run as separate processes.

Start it with :func:`stopay.banksim.server.serve` (or ``stopay bank-sim``) and point stopay's
``grpc`` bank adapter at it.
"""

from stopay.banksim.server import BankSim, serve

__all__ = ["BankSim", "serve"]
