"""A steady, bounded stream of pushes and pulls against a real registry (fault tests).

:class:`SteadyLoad` runs in a background thread: each round, ``alice`` pushes a fresh tiny
image with ``skopeo`` to one of a few repositories (a new tag each time) and ``bob`` pulls
the previous one (manifest GET by tag, HEAD by tag, config blob GET), then waits
``interval`` seconds. It records what it
did as a :class:`ScenarioResult`, so :mod:`tests.support.expected_events` can compare it with
what reached Kafka and the store. It stops on :meth:`stop`, after ``max_rounds``, or
after ``max_seconds``, whichever comes first; :meth:`pause` holds it between rounds.

:class:`PendingSampler` reads the registry's ``/debug/vars`` every ``every`` seconds and
keeps the highest ``Pending`` it saw.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from devstack.ociimage import build_image
from tests.support.registry import LocalRegistry, RegistryError
from tests.support.scenario import PULLER, RegistryClient, ScenarioResult, ScenarioRun, expected_tags

REPOSITORIES = ("load/red", "load/green", "load/blue")


class SteadyLoad:
    def __init__(
        self,
        registry: LocalRegistry,
        workdir: Path,
        *,
        max_rounds: int = 200,
        max_seconds: float = 300.0,  # a safety net: the tests stop it long before on a quiet machine
        interval: float = 0.3,
    ) -> None:
        self._run = ScenarioRun(registry, workdir)
        self._registry = registry
        self.max_rounds, self.max_seconds, self.interval = max_rounds, max_seconds, interval
        self.rounds = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._go = threading.Event()
        self._go.set()
        self._idle = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="steady-load", daemon=True)
        self._salt = os.urandom(4).hex()

    @property
    def result(self) -> ScenarioResult:
        result = self._run.result
        result.tag_digests = expected_tags(result)
        return result

    def start(self) -> SteadyLoad:
        self._thread.start()
        return self

    def pause(self) -> None:
        """Hold the load between two rounds; returns once the current round is done."""
        self._go.clear()
        self._idle.wait(timeout=120)

    def wait_rounds(self, rounds: int, within: float = 120.0) -> None:
        """Until ``rounds`` more rounds are done; raises at once if the load has ended."""
        target, deadline = self.rounds + rounds, time.monotonic() + within
        while self.rounds < target:
            if not self._thread.is_alive():
                raise AssertionError(f"the load ended after {self.rounds} rounds: {self.error!r}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{rounds} rounds of load not done within {within}s")
            time.sleep(0.1)

    def resume(self) -> None:
        self._go.set()

    def halt(self) -> None:
        """Stop without reporting (clean-up)."""
        self._stop.set()
        self._go.set()
        if self._thread.is_alive():
            self._thread.join(timeout=120)

    def stop(self) -> ScenarioResult:
        """Stop after the current round; raises what the load thread raised, if anything."""
        self._stop.set()
        self._go.set()
        self._thread.join(timeout=120)
        if self.error is not None:
            raise AssertionError(f"the load failed after {self.rounds} rounds: {self.error!r}")
        return self.result

    def _loop(self) -> None:
        puller = RegistryClient(self._registry, PULLER)
        deadline = time.monotonic() + self.max_seconds
        previous: tuple[str, str] | None = None
        try:
            while not self._stop.is_set() and self.rounds < self.max_rounds and time.monotonic() < deadline:
                self._idle.set()
                self._go.wait()
                self._idle.clear()
                if self._stop.is_set():
                    break
                if not self._go.is_set():  # paused between the wait and here
                    continue
                previous = self._round(puller, previous)
                self.rounds += 1
                self._stop.wait(self.interval)
        except Exception as exc:  # reported by stop()
            self.error = exc
        finally:
            self._idle.set()
            puller.close()

    def _round(self, puller: RegistryClient, previous: tuple[str, str] | None) -> tuple[str, str]:
        n = self.rounds
        repository, tag = REPOSITORIES[n % len(REPOSITORIES)], f"t{n}"
        image = build_image("load", f"{self._salt}-{n}")
        self._run.push_image(repository, tag, image, f"load-{n}")
        if previous is not None:
            self._run.pull(puller, *previous)
            self._run.pull(puller, *previous, method="HEAD")
        config = image.config.digest
        self._run.pull_blob(puller, repository, config)
        return repository, tag


class PendingSampler:
    """The highest ``Pending`` of the registry's notification endpoint, sampled in a thread."""

    def __init__(self, registry: LocalRegistry, every: float = 0.2) -> None:
        self._registry = registry
        self._every = every
        self.max_pending = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pending-sampler", daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                pending = self._registry.endpoint_counters().pending
            except RegistryError:
                pending = 0
            self.max_pending = max(self.max_pending, pending)
            self.samples += 1
            self._stop.wait(self._every)

    def __enter__(self) -> PendingSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
