"""The one shape of the daemon's long-running parts: reader workers, forwarders, the outbox
pruner, the control server and the metrics endpoint.

``start()`` begins the work in the part's own thread; ``stop(drain=False)`` asks it to end
(with ``drain=True`` it first finishes what is pending: a forwarder delivers the outbox,
the others have nothing to finish), never blocking; ``join(timeout)`` waits for its thread;
``healthy()`` says whether it is doing its job (the daemon pings systemd's watchdog only
while every part is healthy). ``Daemon.run`` starts them in order and ``Daemon.shutdown``
stops them in reverse, whatever failed on the way.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Service(Protocol):
    @property
    def name(self) -> str: ...

    def start(self) -> None: ...

    def stop(self, *, drain: bool = False) -> None: ...

    def join(self, timeout: float | None = None) -> None: ...

    def healthy(self) -> bool: ...
