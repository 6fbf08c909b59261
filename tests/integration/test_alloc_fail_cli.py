"""The CLI against the rig's Samba with the Nth allocation failing (issue 8).

smbgate_allocfail is the CLI linked with tests/unit/alloc_fail_env.c: SMBGATE_ALLOC_FAIL_AT=N
fails the Nth allocation of the process, SMBGATE_ALLOC_FAIL_REPORT=1 prints the count at exit.
Each command (ls, get, put, stat: negotiate, NTLMSSP/SPNEGO, session setup, tree connect,
create, read, write, query directory/info) is run once to count its allocations, then with
N = 1..K (every N, or a stride that keeps each command near SMBGATE_ALLOC_FAIL_BUDGET seconds,
default 14; set it high for every N) and must each time exit by
itself with 0 or a clean error: smbgate's message on stderr, no signal, no sanitizer report
(conftest.py turns an ASan/UBSan/LSan log into a failure), and no half file under the name a
failed put targets. Not counted: allocations inside glibc (vasprintf, getline) and shared
libraries (OpenSSL, json-c, libssh); --wrap reaches only the objects linked into the binary.
The binary is looked for next to SMBGATE_BIN (build/ or build-asan/).
"""

import math
import os
import subprocess
import time
from pathlib import Path

import pytest

from smb_helpers import EXIT_OK, scratch_dir

REPO = Path(__file__).resolve().parents[2]
# seconds of runs per command, about: every N when they fit, else a stride
BUDGET = float(os.environ.get("SMBGATE_ALLOC_FAIL_BUDGET", "14"))
CLEAN_EXITS = set(range(0, 8))  # README "Exit codes"


@pytest.fixture(scope="module")
def allocfail_bin():
    base = Path(os.environ.get("SMBGATE_BIN") or REPO / "build" / "smbgate")
    if not base.is_absolute():
        base = REPO / base
    path = base.parent / "smbgate_allocfail"
    if not (path.is_file() and os.access(path, os.X_OK)):
        msg = f"{path} not found (make build / make asan build it next to smbgate)"
        if os.environ.get("SMBGATE_REQUIRE_BIN") == "1":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return str(path)


def run(binary, args, fail_at, report=False):
    env = dict(os.environ)
    env["SMBGATE_ALLOC_FAIL_AT"] = str(fail_at)
    if report:
        env["SMBGATE_ALLOC_FAIL_REPORT"] = "1"
    return subprocess.run([binary, *map(str, args)], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=20)


def count_allocs(binary, args):
    r = run(binary, args, 0, report=True)
    assert r.returncode == EXIT_OK, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("alloc-fail: count="), r.stderr
    return int(last.split("count=")[1].split()[0])


def sweep(binary, args, after=None):
    """Runs args with N = 1..K (a stride when K runs would not fit BUDGET); after(N, result)
    checks what the run left behind."""
    t0 = time.monotonic()
    k = count_allocs(binary, args)
    per = time.monotonic() - t0
    assert k > 0
    stride = max(1, math.ceil(k * per / BUDGET))
    failures = 0
    for n in range(1, k + 1, stride):
        what = f"{args[0]} with allocation {n} of {k} failing"
        try:
            r = run(binary, args, n)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{what}: no exit in 20 s")
        assert r.returncode >= 0, f"{what}: killed by signal {-r.returncode}\n{r.stderr}"
        assert r.returncode in CLEAN_EXITS, f"{what}: exit {r.returncode}\n{r.stderr}"
        if r.returncode != 0:
            failures += 1
            # one message; put may add one line more of its own ("... was replaced before the
            # close failed"): every line is smbgate's, none a trace or a stray diagnostic
            lines = r.stderr.strip().splitlines()
            assert lines and len(lines) <= 2 and all(
                ln.startswith(f"smbgate {args[0]}: ") for ln in lines), (
                f"{what}: stderr not a clean message:\n{r.stderr}")
        if after:
            after(n, r)
    assert failures > 0, f"{args[0]}: no run failed: is SMBGATE_ALLOC_FAIL_AT honoured?"


@pytest.fixture
def area(samba, request):
    with scratch_dir(samba, "plain", "allocfail_" + request.node.name[:40]) as p:
        (p / "small.txt").write_text("hello, allocator\n" * 20)
        (p / "sub").mkdir()
        (p / "sub" / "inner.txt").write_text("in")
        yield p


def url(samba, area, name=""):
    return samba.url("plain", f"{area.name}/{name}" if name else area.name)


def test_ls(samba, area, allocfail_bin):
    sweep(allocfail_bin, ["ls", url(samba, area)])


def test_stat(samba, area, allocfail_bin):
    sweep(allocfail_bin, ["stat", url(samba, area, "small.txt")])


def test_get(samba, area, allocfail_bin, tmp_path):
    want = (area / "small.txt").read_bytes()
    dest = tmp_path / "got.txt"

    def after(n, r):
        if r.returncode == 0:
            assert dest.read_bytes() == want, f"get with allocation {n} failing: wrong bytes"
        dest.unlink(missing_ok=True)

    sweep(allocfail_bin, ["get", url(samba, area, "small.txt"), dest], after)


def test_put(samba, area, allocfail_bin, tmp_path):
    src = tmp_path / "up.bin"
    data = os.urandom(5000)
    src.write_bytes(data)
    target = area / "up.bin"

    def after(n, r):
        # a failed put leaves nothing under the target name, a good one the whole file
        if target.exists():
            assert target.read_bytes() == data, (
                f"put with allocation {n} failing (exit {r.returncode}): half file\n{r.stderr}")
            target.unlink()
        else:
            assert r.returncode != 0, f"put with allocation {n} failing: exit 0, no file"

    sweep(allocfail_bin, ["put", src, url(samba, area, "up.bin")], after)
