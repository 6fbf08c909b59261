"""smbgate get/put/cat across a broken link (issue 8): a fault-injecting proxy
(fault_proxy.py) between smbgate and the private Samba cuts or stalls the connection once,
and Samba itself is killed mid-upload.

  - with --retries the client reconnects by itself (the library: durable handles carry an
    upload, reads are reopened by path); what it cannot carry (a handle open for writing
    without a durable handle: SMB 2.1, or a share with `durable handles = no`) the CLI resumes
    over a new connection where the server had confirmed; the result is byte-identical
    (SHA-256);
  - with --retries 0 it fails with a clear message; a put leaves nothing under the target's
    name (an old target stays as it was) and its data in the .NAME.XXXXXXXX.partial file the
    message names;
  - --inplace writes to the target itself, as before.
Results are checked on the share's directory on disk.
"""

import hashlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from fault_proxy import FaultProxy
from samba import SambaServer
from smb_helpers import (EXIT_AUTH, EXIT_CONNECT, EXIT_ERROR, EXIT_NOTFOUND, EXIT_OK, node_slug,
                         own, scratch_dir)

# smbgate keeps 7 MiB of requests in flight before it reads an answer: the cut comes well after
# that, so that a resumed transfer has confirmed data to keep.
SIZE = 32 << 20
CUT = 20 << 20  # bytes of the faulty direction before the cut: well inside the transfer
PARTIAL_RE = r"\.{name}\.[0-9a-f]{{8}}\.partial"


def sha(data):
    return hashlib.sha256(data).hexdigest()


def partials(d, name):
    return sorted(p.name for p in Path(d).iterdir() if re.fullmatch(PARTIAL_RE.format(
        name=re.escape(name)), p.name))


@pytest.fixture
def area(samba, request):
    name = node_slug(request, "f-")
    with scratch_dir(samba, "plain", name) as p:
        yield name, p


@pytest.fixture
def src(shm_path):
    p = shm_path / "src.bin"
    p.write_bytes(os.urandom(SIZE))
    return p


def on_share(samba, d, name, data):
    p = d / name
    p.write_bytes(data)
    own(samba, p)
    return p


def cut_proxy(samba, direction, **kw):
    return FaultProxy(samba.port, cut_after_bytes=CUT, direction=direction,
                      faulty_connections=1, **kw)


# ---- resumed with --retries ---------------------------------------------------------------

# The library's warning when it takes over a drop.
LOST_RE = r"^smbgate: warning: connection to 127\.0\.0\.1 lost \(.*\): reconnecting$"


@pytest.fixture(scope="module")
def samba_nodur():
    """A Samba whose sealed share grants no durable handles (SMB 2.1 cannot seal)."""
    with SambaServer(big=False, extra_shares={
            "encnd": {"smb encrypt": "required", "durable handles": "no"}}) as s:
        yield s


def assert_cli_resumed(r, retries):
    """The library reconnected, could not keep the handle open for writing, and the CLI resumed
    the upload over a new connection where the server had confirmed, not from the start."""
    assert re.search(LOST_RE, r.stderr, re.M), r.stderr
    assert re.search(r"handle lost in the reconnect: .*durable", r.stderr), r.stderr
    assert re.search(rf": invalid or stale handle; reconnecting in 1 s \(retry 1 of {retries}\)",
                     r.stderr), r.stderr
    m = re.search(r"resuming the upload of \S+ at byte (\d+)", r.stderr)
    assert m and 0 < int(m.group(1)) <= CUT, r.stderr


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_put_resumes_after_cut(samba, run_smbgate, area, src, reset):
    """SMB 2.1 (no durable handles v2): the library takes the drop over but fails the handle
    (a write was in flight); the CLI resumes into the same .partial on a new connection."""
    rel, d = area
    with cut_proxy(samba, "c2s", reset=reset) as p:
        r = run_smbgate("-v", "put", "--retries", "2", "--timeout", "5", src,
                        p.url(samba, "plain", f"{rel}/up.bin", max_protocol="2.1"), timeout=120)
        # the CLI's connection is the last: the library's attempt may or may not have come first
        assert p.cuts == 1 and p.connections in (2, 3), (p.connections, r.stderr)
    assert r.returncode == EXIT_OK, r.stderr
    assert_cli_resumed(r, 2)
    assert sha((d / "up.bin").read_bytes()) == sha(src.read_bytes())
    assert sorted(x.name for x in d.iterdir()) == ["up.bin"]  # no temporary left


def test_put_carried_by_durable_handle(samba, run_smbgate, area, src):
    """SMB 3.1.1 on a share that grants durable handles: the library reconnects the handle and
    sends the writes again; the CLI has nothing to resume."""
    rel, d = area
    with cut_proxy(samba, "c2s") as p:
        r = run_smbgate("-v", "put", "--timeout", "5", src,
                        p.url(samba, "plain", f"{rel}/dh.bin"), timeout=120)
        # a reconnect attempt that timed out on a loaded machine (ASan) costs one connection more
        assert p.cuts == 1 and p.connections in (2, 3), (p.connections, r.stderr)
    assert r.returncode == EXIT_OK, r.stderr
    assert re.search(LOST_RE, r.stderr, re.M), r.stderr
    assert "durable handle reconnected" in r.stderr, r.stderr
    assert "retry 1 of" not in r.stderr and "resuming the upload" not in r.stderr, r.stderr
    assert sha((d / "dh.bin").read_bytes()) == sha(src.read_bytes())
    assert sorted(x.name for x in d.iterdir()) == ["dh.bin"]


def test_put_resumes_after_cut_sealed(samba_nodur, run_smbgate, request, src):
    """A sealed session sends from the window's buffers, not with sendfile: the resumed part is
    read from the source at the confirmed offset."""
    samba = samba_nodur
    rel = node_slug(request, "f-")
    with scratch_dir(samba, "encnd", rel) as d, cut_proxy(samba, "c2s") as p:
        r = run_smbgate("-v", "put", "--timeout", "5", src,
                        p.url(samba, "encnd", f"{rel}/s.bin"), timeout=120)
        # the CLI's connection is the last: the library's attempt may or may not have come first
        assert p.cuts == 1 and p.connections in (2, 3), (p.connections, r.stderr)
        assert r.returncode == EXIT_OK, r.stderr
        assert "encryption on" in r.stderr, r.stderr
        assert_cli_resumed(r, 3)
        assert sha((d / "s.bin").read_bytes()) == sha(src.read_bytes())
        assert sorted(x.name for x in d.iterdir()) == ["s.bin"]


def test_get_resumes_after_cut(samba, run_smbgate, area, shm_path):
    """The library reconnects and reopens the file (read-only) by path: no CLI retry."""
    rel, d = area
    data = os.urandom(SIZE)
    on_share(samba, d, "down.bin", data)
    out = shm_path / "down.bin"
    with cut_proxy(samba, "s2c") as p:
        r = run_smbgate("get", "--timeout", "5", p.url(samba, "plain", f"{rel}/down.bin"), out,
                        timeout=120)
        assert p.cuts == 1 and p.connections == 2
    assert r.returncode == EXIT_OK, r.stderr
    assert re.fullmatch(LOST_RE + r"\n", r.stderr, re.M), r.stderr  # that line alone
    assert sha(out.read_bytes()) == sha(data)
    assert sorted(x.name for x in shm_path.iterdir()) == ["down.bin"]


def test_cat_resumes_after_cut(samba, run_smbgate, area):
    rel, d = area
    data = os.urandom(SIZE)
    on_share(samba, d, "cat.bin", data)
    with cut_proxy(samba, "s2c", reset=True) as p:
        r = run_smbgate("cat", "--timeout", "5", p.url(samba, "plain", f"{rel}/cat.bin"),
                        text=False, timeout=120)
        assert p.cuts == 1
    assert r.returncode == EXIT_OK, r.stderr
    assert len(r.stdout) == SIZE and sha(r.stdout) == sha(data)


def test_cat_range_resumes_after_cut(samba, run_smbgate, area):
    """--offset/--count: the resumed part keeps to the range."""
    rel, d = area
    data = os.urandom(SIZE)
    on_share(samba, d, "r.bin", data)
    off, count = (1 << 20) + 7, 24 << 20
    with cut_proxy(samba, "s2c") as p:
        r = run_smbgate("cat", "--offset", off, "--count", count, "--timeout", "5",
                        p.url(samba, "plain", f"{rel}/r.bin"), text=False, timeout=120)
        assert p.cuts == 1
    assert r.returncode == EXIT_OK, r.stderr
    assert sha(r.stdout) == sha(data[off:off + count])


def test_get_resumes_after_stall(samba, run_smbgate, area, shm_path):
    """A server that stops answering: the request times out (--timeout), the connection is
    given up and a new one resumes."""
    rel, d = area
    data = os.urandom(SIZE)
    on_share(samba, d, "stall.bin", data)
    out = shm_path / "stall.bin"
    with FaultProxy(samba.port, stall_after_bytes=CUT, stall_s=20, direction="s2c",
                    faulty_connections=1) as p:
        t0 = time.monotonic()
        r = run_smbgate("get", "--timeout", "2", p.url(samba, "plain", f"{rel}/stall.bin"), out,
                        timeout=120)
        took = time.monotonic() - t0
        assert p.stalls == 1
    assert r.returncode == EXIT_OK, r.stderr
    assert took < 15, f"{took:.1f} s: the stall was waited out, not timed out"
    assert sha(out.read_bytes()) == sha(data)


def test_get_does_not_resume_a_changed_file(samba, run_smbgate, area, shm_path):
    """The file changes while smbgate waits to resume: resuming would splice two versions. A
    stall (the read times out: the CLI resumes over a new connection) rather than a cut (the
    library would carry the open handle across, as if nothing had happened)."""
    rel, d = area
    f = on_share(samba, d, "chg.bin", os.urandom(SIZE))
    with FaultProxy(samba.port, stall_after_bytes=CUT, stall_s=20, direction="s2c",
                    faulty_connections=1) as p:
        proc = subprocess.Popen([run_smbgate.bin, "get", "--timeout", "2",
                                 p.url(samba, "plain", f"{rel}/chg.bin"), shm_path / "chg.bin"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while p.stalls == 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        with open(f, "ab") as fh:  # within the timeout and the 1 s pause before the resume
            fh.write(b"more")
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_ERROR, err
    assert "reconnecting in 1 s (retry 1 of 3)" in err, err
    assert err.splitlines()[-1] == (f"smbgate get: {rel}/chg.bin on smb://127.0.0.1:{p.port}/plain "
                                    "changed while it was read: not resuming"), err
    assert list(shm_path.iterdir()) == []


def test_put_tree_goes_on_after_cut(samba, run_smbgate, area, shm_path):
    """put -r: the files after the reconnect use the new connection."""
    rel, d = area
    tree = shm_path / "tree"
    tree.mkdir()
    files = {f"f{i}.bin": os.urandom(9 << 20) for i in range(4)}
    for n, b in files.items():
        (tree / n).write_bytes(b)
    with cut_proxy(samba, "c2s") as p:
        r = run_smbgate("put", "-r", "--timeout", "5", tree,
                        p.url(samba, "plain", rel), timeout=120)
        assert p.cuts == 1
    assert r.returncode == EXIT_OK, r.stderr
    got = {x.name: x.read_bytes() for x in (d / "tree").iterdir()}
    assert got == files


def test_missing_file_and_wrong_password_are_not_retried(samba, run_smbgate, area):
    rel, d = area
    t0 = time.monotonic()
    # cat opens the file within the retried transfer (get looks it up before)
    r = run_smbgate("cat", "--retries", "5", samba.url("plain", f"{rel}/nope.bin"))
    assert r.returncode == EXIT_NOTFOUND, r.stderr
    url = samba.url("plain", f"{rel}/nope.bin").replace(samba.password, "wrong-pw")
    r2 = run_smbgate("cat", "--retries", "5", url)
    assert r2.returncode == EXIT_AUTH, r2.stderr
    assert time.monotonic() - t0 < 5, "retry pauses were taken"  # 5 retries: 31 s of pauses
    assert "reconnecting" not in r.stderr + r2.stderr


# ---- --retries 0: a clear failure, nothing under the target's name --------------------------


def test_put_no_retries_leaves_target_alone(samba, run_smbgate, area, src):
    rel, d = area
    old = b"the old contents\n"
    on_share(samba, d, "keep.bin", old)
    with cut_proxy(samba, "c2s") as p:
        r = run_smbgate("put", "--retries", "0", "--timeout", "5", src,
                        p.url(samba, "plain", f"{rel}/keep.bin"), timeout=120)
        assert p.cuts == 1 and p.connections == 1
    assert r.returncode == EXIT_CONNECT, r.stderr
    lines = r.stderr.splitlines()
    where = f"smb://127.0.0.1:{p.port}/plain"
    assert len(lines) == 2, r.stderr
    assert re.fullmatch(rf"smbgate put: write {rel}/keep\.bin on {where}: "
                        r"(connection closed by the server|input/output error)", lines[0]), r.stderr
    m = re.fullmatch(rf"smbgate put: {rel}/keep\.bin was not changed; the (.+) uploaded are kept "
                     rf"in {rel}/({PARTIAL_RE.format(name='keep.bin')}) on {where}", lines[1])
    assert m, r.stderr
    assert (d / "keep.bin").read_bytes() == old
    assert partials(d, "keep.bin") == [m.group(2)]
    kept = (d / m.group(2)).read_bytes()
    assert 0 < len(kept) <= CUT
    assert kept == src.read_bytes()[:len(kept)]


def test_put_no_retries_new_target(samba, run_smbgate, area, src):
    rel, d = area
    with cut_proxy(samba, "c2s", reset=True) as p:
        r = run_smbgate("put", "--retries", "0", "--timeout", "5", src,
                        p.url(samba, "plain", f"{rel}/new.bin"), timeout=120)
    assert r.returncode == EXIT_CONNECT, r.stderr
    assert not (d / "new.bin").exists()
    assert len(partials(d, "new.bin")) == 1, os.listdir(d)


def test_get_no_retries_fails_cleanly(samba, run_smbgate, area, shm_path):
    rel, d = area
    on_share(samba, d, "g.bin", os.urandom(SIZE))
    with cut_proxy(samba, "s2c") as p:
        r = run_smbgate("get", "--retries", "0", "--timeout", "5",
                        p.url(samba, "plain", f"{rel}/g.bin"), shm_path / "g.bin", timeout=120)
    assert r.returncode == EXIT_CONNECT, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"smbgate get: read {rel}/g.bin on "), r.stderr
    assert list(shm_path.iterdir()) == []


def test_put_stdin_cannot_resume(samba, run_smbgate, area):
    """stdin cannot be read again: when the library cannot keep the handle (SMB 2.1, no durable
    handles) there is no resume: one clear error, and the temporary file is removed."""
    rel, d = area
    data = os.urandom(SIZE)
    with cut_proxy(samba, "c2s") as p:
        url = p.url(samba, "plain", f"{rel}/in.bin", max_protocol="2.1")
        r = run_smbgate("put", "--timeout", "5", "-", url, input=data, text=False, timeout=120)
    err = r.stderr.decode()
    assert r.returncode == EXIT_ERROR, err
    lines = [x for x in err.splitlines() if not x.startswith("smbgate: warning:")]
    assert len(lines) == 1, err
    assert re.fullmatch(rf"smbgate put: write {rel}/in\.bin on smb://127\.0\.0\.1:{p.port}/plain: "
                        r"invalid or stale handle \(.*could not be kept.*\)", lines[0]), err
    assert "retry 1 of" not in err, err
    assert list(d.iterdir()) == []


def test_put_stdin_carried_by_durable_handle(samba, run_smbgate, area):
    """The same on a durable handle: the library carries it across, nothing to resume."""
    rel, d = area
    data = os.urandom(SIZE)
    with cut_proxy(samba, "c2s") as p:
        r = run_smbgate("put", "--timeout", "5", "-", p.url(samba, "plain", f"{rel}/in.bin"),
                        input=data, text=False, timeout=120)
        assert p.cuts == 1 and p.connections == 2
    err = r.stderr.decode()
    assert r.returncode == EXIT_OK, err
    assert re.fullmatch(LOST_RE + r"\n", err, re.M), err
    assert sha((d / "in.bin").read_bytes()) == sha(data)
    assert sorted(x.name for x in d.iterdir()) == ["in.bin"]


# ---- Samba killed mid-upload --------------------------------------------------------------------


def test_samba_killed_mid_put_leaves_no_target(run_smbgate, shm_path):
    with SambaServer(big=False) as s:
        d = Path(s.share_path("plain"))
        data = os.urandom(SIZE)
        (shm_path / "k.bin").write_bytes(data)
        # 64 KiB writes, each held 5 ms by the proxy: the upload takes seconds, time to kill
        with FaultProxy(s.port, delay_per_frame_s=0.005, direction="c2s") as p:
            url = p.url(s, "plain", "k.bin", write_buffer_size=65536)
            proc = subprocess.Popen([run_smbgate.bin, "put", "--retries", "1", "--timeout", "5",
                                     shm_path / "k.bin", url],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                tmp = partials(d, "k.bin")
                if tmp and (d / tmp[0]).stat().st_size > (1 << 20):
                    break
                time.sleep(0.02)
            assert proc.poll() is None, proc.communicate()
            for pid in s.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            out, err = proc.communicate(timeout=120)
        assert proc.returncode == EXIT_CONNECT, err
        # the library's one attempt (--retries 1) is refused; the CLI does not do it again
        assert "1 reconnect attempts failed" in err, err
        assert "retry 1 of" not in err, err
        assert "uploaded are kept in" in err, err
        assert not (d / "k.bin").exists()
        assert len(partials(d, "k.bin")) == 1


# ---- --inplace ----------------------------------------------------------------------------------


def test_inplace_writes_the_target(samba, run_smbgate, area, src):
    rel, d = area
    on_share(samba, d, "ip.bin", b"old")
    r = run_smbgate("put", "--inplace", src, samba.url("plain", f"{rel}/ip.bin"))
    assert r.returncode == EXIT_OK, r.stderr
    assert sha((d / "ip.bin").read_bytes()) == sha(src.read_bytes())
    assert sorted(x.name for x in d.iterdir()) == ["ip.bin"]


def test_inplace_resumes_in_the_target(samba, run_smbgate, area, src):
    rel, d = area
    with cut_proxy(samba, "c2s") as p:
        r = run_smbgate("put", "--inplace", "--timeout", "5", src,
                        p.url(samba, "plain", f"{rel}/ipr.bin"), timeout=120)
        assert p.cuts == 1
    assert r.returncode == EXIT_OK, r.stderr
    assert sha((d / "ipr.bin").read_bytes()) == sha(src.read_bytes())
    assert sorted(x.name for x in d.iterdir()) == ["ipr.bin"]


def test_inplace_no_retries_as_before(samba, run_smbgate, area, src):
    """--inplace, --retries 0: the partial target cannot be deleted over the dead connection,
    and the message says so (the behaviour before temporary names)."""
    rel, d = area
    with cut_proxy(samba, "c2s") as p:
        r = run_smbgate("put", "--inplace", "--retries", "0", "--timeout", "5", src,
                        p.url(samba, "plain", f"{rel}/ipn.bin"), timeout=120)
    assert r.returncode == EXIT_CONNECT, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 2, r.stderr
    assert lines[1].startswith(f"smbgate put: could not delete the partial file {rel}/ipn.bin "), \
        r.stderr
    assert partials(d, "ipn.bin") == []
