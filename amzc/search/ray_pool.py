"""Islands as Ray actors (``amzc evolve --ray auto|local|ray://host:port``).

Ray is optional (``pip install 'amzc[ray]'``). Each actor is an :class:`IslandHost`, exactly as
a local worker process is, so the coordinator cannot tell the transports apart. A lost actor is
replaced: its islands are rebuilt from the state of the last checkpoint (or from scratch if
none was taken yet), the call that failed is repeated, and the event is reported through
:meth:`RayPool.drain_events` so that the run's log records it."""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import uuid
from collections.abc import Sequence
from typing import Any

from amzc.errors import AmzConfigError
from amzc.search.islands import IslandHost, IslandSpec, WorkerError

log = logging.getLogger("amzc.search")

NAMESPACE = "amzc"
MAX_RESTARTS_PER_CALL = 3


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise AmzConfigError("--ray needs Ray, an optional dependency: "
                             "pip install 'amzc[ray]'") from None
    return ray


def connect(address: str, workers: int | None) -> Any:
    """Join (or, for ``local``, start) a Ray cluster; returns the ray module."""
    if address == "local":
        # A private single-node instance on the loopback interface only: Ray would otherwise
        # advertise the machine's network address to its own processes.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = import_ray()
    if ray.is_initialized():
        return ray
    try:
        if address == "local":
            # address="local": a new instance even when a cluster runs on this machine (a
            # plain ray.init() would join that one). Ray starts its workers at nice 15 (so
            # that its own daemons stay responsive on a busy node); on a private instance the
            # islands are the work, and at nice 15 every other process preempts them.
            ray.init(address="local", num_cpus=workers or os.cpu_count() or 1,
                     include_dashboard=False, log_to_driver=False, namespace=NAMESPACE,
                     _node_ip_address="127.0.0.1", _system_config={"worker_niceness": 0})
        else:
            ray.init(address=address, log_to_driver=False, namespace=NAMESPACE)
    except Exception as e:  # noqa: BLE001 - Ray raises many kinds; all mean "cannot connect"
        raise AmzConfigError(f"--ray {address}: cannot connect to a Ray cluster: "
                             f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    return ray


class RayPool:
    """Island hosts as Ray actors, island i on actor i mod workers."""

    def __init__(self, address: str, workers: int | None = None) -> None:
        self.ray = connect(address, workers)
        self.address = address
        if workers is None:
            workers = max(int(self.ray.cluster_resources().get("CPU", 1)), 1)
        self.workers = workers
        self.run_id = uuid.uuid4().hex[:8]
        self._actor_class = self.ray.remote(num_cpus=1, max_restarts=0)(IslandHost)
        self._actors = [self._new_actor(w) for w in range(workers)]
        self._owner: dict[int, int] = {}
        self._specs: dict[int, IslandSpec] = {}  # how to rebuild island i
        self._events: list[dict[str, Any]] = []
        self._generation = [0] * workers  # how often each worker's actor was replaced
        # submitted calls not collected yet: (method, [(island, args, generation, ref)])
        self._outstanding: collections.deque[tuple[str, list[tuple[int, tuple[Any, ...], int,
                                                                   Any]]]] = collections.deque()

    def actor_name(self, worker: int) -> str:
        return f"amzc-{self.run_id}-host-{worker}"

    def _new_actor(self, worker: int) -> Any:
        return self._actor_class.options(name=self.actor_name(worker)).remote(worker_process=True)

    @property
    def islands(self) -> list[int]:
        return sorted(self._owner)

    def create_all(self, items: Sequence[IslandSpec]) -> None:
        refs = []
        for item in items:
            index = item[0]
            self._owner[index] = index % self.workers
            self._specs[index] = item
            refs.append(self._actors[self._owner[index]].create.remote(*_create_args(item)))
        self._get(refs)

    def call_all(self, method: str, args: Sequence[tuple[Any, ...]]) -> list[Any]:
        self.submit(method, args)
        return self.collect()

    def submit(self, method: str, args: Sequence[tuple[Any, ...]]) -> None:
        # an actor runs one caller's calls in submission order, so a round can be queued
        # behind the one still running
        islands = self.islands
        calls = []
        for index, a in zip(islands, args, strict=True):
            worker = self._owner[index]
            calls.append((index, a, self._generation[worker],
                          self._actors[worker].call.remote(index, method, *a)))
        self._outstanding.append((method, calls))

    def collect(self) -> list[Any]:
        method, calls = self._outstanding.popleft()
        results = [self._result(index, ref, generation, method, a)
                   for index, a, generation, ref in calls]
        if method == "state":  # the checkpoint: what a replacement actor restarts from
            for (index, *_), state in zip(calls, results, strict=True):
                i, config, spec, seed, _, promote_to = self._specs[index]
                self._specs[index] = (i, config, spec, seed, state, promote_to)
        return results

    def _result(self, index: int, ref: Any, generation: int, method: str,
                args: tuple[Any, ...]) -> Any:
        for _ in range(MAX_RESTARTS_PER_CALL):
            try:
                return self.ray.get(ref)
            except self.ray.exceptions.RayActorError as e:
                worker = self._owner[index]
                if self._generation[worker] == generation:  # not replaced yet (a queued
                    # call of the same lost actor fails too, and must not replace it again)
                    self._replace(worker, str(e).splitlines()[0] if str(e) else "")
                generation = self._generation[worker]
                ref = self._actors[worker].call.remote(index, method, *args)
            except self.ray.exceptions.RayTaskError as e:
                raise WorkerError(f"island {index} failed: {e}") from None
        raise WorkerError(f"island {index}: its worker died {MAX_RESTARTS_PER_CALL} times")

    def _replace(self, worker: int, reason: str) -> None:
        """A new actor for ``worker``, holding its islands as of the last checkpoint."""
        with contextlib.suppress(Exception):  # it is already gone
            self.ray.kill(self._actors[worker])
        self._actors[worker] = self._new_actor(worker)
        self._generation[worker] += 1
        islands = [i for i, w in self._owner.items() if w == worker]
        self._get([self._actors[worker].create.remote(*_create_args(self._specs[i]))
                   for i in islands])
        event = {"kind": "worker_restart", "worker": worker, "islands": islands,
                 "from_checkpoint": any(self._specs[i][4] is not None for i in islands),
                 "reason": reason}
        log.warning("Ray worker %d was lost (%s); restarted islands %s from the last "
                    "checkpoint", worker, reason, islands)
        self._events.append(event)

    def drain_events(self) -> list[dict[str, Any]]:
        events, self._events = self._events, []
        return events

    def _get(self, refs: list[Any]) -> list[Any]:
        try:
            return self.ray.get(refs)
        except self.ray.exceptions.RayTaskError as e:
            raise WorkerError(str(e)) from None

    def drop_all(self) -> None:
        self._get([actor.drop.remote() for actor in self._actors])
        self._owner.clear()
        self._specs.clear()

    def close(self) -> None:
        for actor in self._actors:
            with contextlib.suppress(Exception):
                self.ray.kill(actor)
        self._actors.clear()
        if self.address == "local":
            self.ray.shutdown()


def _create_args(item: IslandSpec) -> tuple[Any, ...]:
    index, config, spec, seed, state, promote_to = item
    return (config, index, spec, seed, state, promote_to)
