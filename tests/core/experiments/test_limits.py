"""Limits that fail fast with the allowed range, and waits with a deadline (issue 23.4)."""

from __future__ import annotations

import socket
import time

import pytest

from core.errors import ConfigError
from core.experiments.local import LocalExecutor, check_local_limits, cpu_cores
from core.experiments.ray_executor import RayExecutor, check_reachable
from core.experiments.spec import ExperimentSpec, SearchSpec


def test_a_closed_port_is_refused_within_seconds_naming_what_was_awaited() -> None:
    with socket.socket() as probe:  # a port nobody listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(ConfigError, match=f"Nothing answers at 127.0.0.1:{port} .*Ray's "
                                              f"head node"):
            check_reachable(f"127.0.0.1:{port}", deadline_s=3)
        assert time.monotonic() - start < 5


def test_a_listening_address_and_auto_pass() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        check_reachable(f"127.0.0.1:{server.getsockname()[1]}")
        check_reachable(f"ray://127.0.0.1:{server.getsockname()[1]}")
    check_reachable("auto")


@pytest.mark.parametrize("address", ["host:port", "host:0", "host:70000", ":6379"])
def test_malformed_addresses_are_refused(address: str) -> None:
    with pytest.raises(ConfigError, match="is not an address"):
        check_reachable(address)


def test_local_and_ray_limits_say_the_allowed_range() -> None:
    most = max(2, cpu_cores())
    for parallel in (0, -3, most + 1, 10**9):
        with pytest.raises(ConfigError, match=f"run 1 to {most} trials at once"):
            LocalExecutor(parallel=parallel)
    with pytest.raises(ConfigError, match=f"1 to {cpu_cores()} torch threads"):
        check_local_limits(1, 1000)
    check_local_limits(1, 0)
    with pytest.raises(ConfigError, match="--cpus-per-trial 0 is out of range: 1 to 256"):
        RayExecutor(cpus_per_trial=0)
    with pytest.raises(ConfigError, match="--max-failures -1 is out of range: 0 to 100"):
        RayExecutor(max_failures=-1)


def test_a_huge_grid_is_refused_without_being_listed() -> None:
    spec = ExperimentSpec(name="huge", search=SearchSpec(space={
        "lr": [0.01 * i for i in range(1, 101)], "momentum": [0.5 + i / 1000 for i in range(100)],
        "batch_size": list(range(16, 116)), "epochs": list(range(1, 101))}))
    start = time.monotonic()
    with pytest.raises(ConfigError, match="100,000,000 trials"):
        spec.validate()  # listing 10^8 points first took minutes and gigabytes
    assert time.monotonic() - start < 2
