"""Fixtures for smbgate's integration tests (run with /usr/bin/python3 -m pytest, as root).

  samba          session-wide private smbd (shares plain, ro, enc, big); see tests/rig/samba.py
  samba_signed   a second smbd with `server signing = mandatory` (adds the `signed` share)
  samba_nt1      a third smbd that allows SMB1 (NT1) and NTLMv1
  smbgate_bin    path of the binary: $SMBGATE_BIN or build/smbgate. A missing binary skips
                 the tests that use it, unless SMBGATE_REQUIRE_BIN=1 (make integration sets
                 it), where it fails them.
  run_smbgate    run_smbgate(*args, timeout=120, check=False, env=None, input=None,
                 text=True) -> CompletedProcess with stdout/stderr captured.
  shm_path       a fresh directory under /dev/shm for big local files, removed afterwards.

For the SFTP gateway tests (sftp_helpers.py):
  hostkey        path of a host key made once per test module, removed afterwards.
  area           a fresh sftp_helpers.Area (directory) in samba's plain share. Modules with
                 another meaning of `area` (test_cli.py, test_smb*.py) define their own.
  server         server(remote, *args, **kw) starts a sftp_helpers.Server on `remote` with
                 `hostkey`; every server started is stopped after the test. A module that
                 serves one folder by default wraps it (test_sftp_local.py).

Sanitizer reports of any process started during a test (ASan/UBSan builds) go to files in a
session directory; a test after which such a file appears fails with the report.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "rig"))

from samba import SambaServer  # noqa: E402

# ASan/UBSan reports go to files so they are seen even for processes whose stderr a test does
# not read (servers in the background); exit code 86 keeps them apart from smbgate's own codes.
_SAN_DIR = tempfile.mkdtemp(prefix="smbgate-san-")


def _add_opts(var, extra):
    cur = os.environ.get(var, "")
    os.environ[var] = (cur + ":" if cur else "") + extra


_add_opts("ASAN_OPTIONS", f"log_path={_SAN_DIR}/asan:exitcode=86")
_add_opts("UBSAN_OPTIONS", f"log_path={_SAN_DIR}/ubsan:print_stacktrace=1:halt_on_error=1:exitcode=86")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_SAN_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def _sanitizer_reports():
    before = set(os.listdir(_SAN_DIR))
    yield
    new = sorted(set(os.listdir(_SAN_DIR)) - before)
    if new:
        text = ""
        for n in new:
            with open(os.path.join(_SAN_DIR, n), errors="replace") as f:
                text += f"==> {n} <==\n{f.read()}\n"
        pytest.fail("sanitizer report(s) during this test:\n" + text, pytrace=False)


@pytest.fixture(scope="session")
def samba():
    with SambaServer() as s:
        yield s


@pytest.fixture(scope="session")
def samba_signed():
    with SambaServer(signing="mandatory") as s:
        yield s


@pytest.fixture(scope="session")
def samba_nt1():
    with SambaServer(nt1=True) as s:
        yield s


@pytest.fixture(scope="session")
def smbgate_bin():
    path = Path(os.environ.get("SMBGATE_BIN") or REPO / "build" / "smbgate")
    if not path.is_absolute():
        path = REPO / path
    if not (path.is_file() and os.access(path, os.X_OK)):
        msg = f"smbgate binary not found at {path} (set SMBGATE_BIN or run make build)"
        if os.environ.get("SMBGATE_REQUIRE_BIN") == "1":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return str(path)


@pytest.fixture(scope="session")
def run_smbgate(smbgate_bin):
    """Runs smbgate with a timeout so that no test can hang."""

    def run(*args, timeout=120, check=False, env=None, input=None, text=True, **kw):
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.run([smbgate_bin, *map(str, args)], timeout=timeout, check=check,
                              env=full_env, input=input, text=text, **kw)

    run.bin = smbgate_bin
    return run


@pytest.fixture
def shm_path():
    d = tempfile.mkdtemp(prefix="smbgate-test-", dir="/dev/shm")
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def hostkey():
    from sftp_helpers import HostKeys  # paramiko: only for the modules that use it

    k = HostKeys()
    yield k.path
    k.cleanup()


@pytest.fixture
def area(samba):
    from sftp_helpers import Area

    return Area(samba)


@pytest.fixture
def server(smbgate_bin, hostkey):
    from sftp_helpers import Server

    servers = []

    def start(remote, *args, **kw):
        s = Server(smbgate_bin, remote, *args, key=hostkey, **kw)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()
