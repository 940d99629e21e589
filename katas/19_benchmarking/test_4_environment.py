"""Environment capture: the facts that decide how fast the same code runs on another machine."""

import json
import os
import platform
import sys
import types

import numpy as np

from tinytorch.systems import capture_environment
from tinytorch.systems.benchmarking import BLAS_THREAD_VARIABLES, cpu_model

KEYS = {"cpu_model", "cpu_count", "platform", "python", "numpy", "blas", "blas_thread_env",
        "blas_threads_in_use"}


def fake_threadpoolctl(pools: list[dict]) -> types.ModuleType:
    module = types.ModuleType("threadpoolctl")
    module.threadpool_info = lambda: pools
    return module


def test_it_records_the_machine_python_and_numpy():
    environment = capture_environment()
    assert set(environment) == KEYS
    assert environment["cpu_model"] == cpu_model() and environment["cpu_model"]
    assert environment["cpu_count"] == os.cpu_count()
    assert environment["platform"] == platform.platform()
    assert environment["python"] == platform.python_version()
    assert environment["numpy"] == np.__version__


def test_it_records_the_blas_numpy_was_built_with():
    environment = capture_environment()
    try:
        expected = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except TypeError:  # NumPy < 1.26
        expected = "unknown"
    assert environment["blas"] == expected


def test_a_numpy_without_show_config_dicts_gives_unknown(monkeypatch):
    def old_show_config():  # NumPy < 1.26 takes no mode argument
        print("blas_opt_info: ...")

    monkeypatch.setattr(np, "show_config", old_show_config)
    assert capture_environment()["blas"] == "unknown"


def test_it_records_every_blas_thread_variable_set_or_not(monkeypatch):
    for name in BLAS_THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setenv("MKL_NUM_THREADS", "1")

    recorded = capture_environment()["blas_thread_env"]

    assert set(recorded) == set(BLAS_THREAD_VARIABLES)
    assert recorded["OMP_NUM_THREADS"] == "3" and recorded["MKL_NUM_THREADS"] == "1"
    assert all(recorded[name] is None for name in BLAS_THREAD_VARIABLES
               if name not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"))


def test_threads_in_use_are_unknown_without_threadpoolctl(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # `import threadpoolctl` now fails
    assert capture_environment()["blas_threads_in_use"] == "unknown"


def test_threads_in_use_come_from_threadpoolctl_when_it_is_there(monkeypatch):
    pools = [{"user_api": "openmp", "num_threads": 8},
             {"user_api": "blas", "internal_api": "openblas", "num_threads": 2},
             {"user_api": "blas", "internal_api": "mkl", "num_threads": 4}]
    monkeypatch.setitem(sys.modules, "threadpoolctl", fake_threadpoolctl(pools))
    assert capture_environment()["blas_threads_in_use"] == 4


def test_threadpoolctl_without_a_blas_gives_unknown(monkeypatch):
    pools = [{"user_api": "openmp", "num_threads": 8}]
    monkeypatch.setitem(sys.modules, "threadpoolctl", fake_threadpoolctl(pools))
    assert capture_environment()["blas_threads_in_use"] == "unknown"


def test_the_environment_is_json():
    environment = capture_environment()
    assert json.loads(json.dumps(environment, allow_nan=False)) == environment

