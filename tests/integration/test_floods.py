"""Pre-auth floods on `smbgate serve sftp` (issue 8, "Limits"): idle TCP connections, SSH
banners that then stall, wrong passwords. A legitimate client must still log in (and list a
folder) within 5 s, and the gateway must not spin while the flood is held.

The floods come from 127.0.0.2 and the legitimate client from 127.0.0.1 (both loopback; the
gateway listens on 127.0.0.1): limits per source address are meant to fall on the flooder, not
on everyone. The legitimate client may reconnect within its 5 s, as a client dropped by
OpenSSH-style random early drop (MaxStartups) would.

The gateway serves a local folder: these tests are about the SSH side, not SMB.

Tests of options the gateway may not have yet (--login-grace-time, --max-startups,
--max-connections) are marked NEEDS_OPTION and skip only when `smbgate serve sftp --help`
does not list the option.
"""

import concurrent.futures
import re
import socket
import subprocess
import time

import paramiko
import pytest

from load_helpers import cpu_seconds
from sftp_helpers import PASSWORD, USER, Server

FLOOD_SRC = "127.0.0.2"
LEGIT_SRC = "127.0.0.1"
LOGIN_BUDGET_S = 5.0
# CPU a gateway may use in 2 s while a flood is held: a sound one waits in poll (0.02 s
# measured here, 200 idle connections); a spinning accept loop took 0.5-0.74 s on this shared
# 2-core machine (load 10), a full core when it is alone.
CPU_IDLE_MAX_S = 0.2


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "hello.txt").write_text("hello\n")
    return tmp_path


@pytest.fixture
def servers():
    started = []
    yield started
    for s in started:
        s.stop()


_help = {}


def serve_help(binary):
    if binary not in _help:
        r = subprocess.run([binary, "serve", "sftp", "--help"], capture_output=True, text=True,
                           timeout=30)
        _help[binary] = r.stdout + r.stderr
    return _help[binary]


def needs_option(binary, option):
    """NEEDS_OPTION: skips the test while the gateway does not know `option` (issue 8 adds
    it); runs it as soon as --help lists it."""
    if option not in serve_help(binary):
        pytest.skip(f"NEEDS_OPTION {option}: not in `smbgate serve sftp --help` yet")


def limited_binary(binary, nofile, tmp_path):
    """A wrapper that execs the gateway with RLIMIT_NOFILE = nofile (same pid, via exec)."""
    w = tmp_path / "smbgate-nofile.sh"
    w.write_text(f'#!/bin/sh\nulimit -n {nofile} || exit 99\nexec "{binary}" "$@"\n')
    w.chmod(0o755)
    return str(w)


# ---- flooders ---------------------------------------------------------------------------------


def flood_connect(port, n, banner=False, src=FLOOD_SRC):
    """n TCP connections from src; with banner, each sends an SSH identification line and
    then nothing. Connections the gateway refuses or drops are counted, not kept."""
    socks, refused = [], 0
    for _ in range(n):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.bind((src, 0))
            s.connect(("127.0.0.1", port))
            if banner:
                s.sendall(b"SSH-2.0-flooder_1.0\r\n")
            socks.append(s)
        except OSError:
            refused += 1
            s.close()
    return socks, refused


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def count_closed(socks, wait):
    """How many of socks the peer has closed after `wait` seconds (checked all at once)."""
    time.sleep(wait)
    return sum(closed_by_peer(x, 0.05) for x in socks)


def closed_by_peer(sock, timeout):
    """True when the peer closes sock within timeout (whatever it sent before)."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            sock.settimeout(left)
            if not sock.recv(4096):
                return True
    except socket.timeout:
        return False
    except OSError:  # a reset is a close too
        return True


# ---- clients ----------------------------------------------------------------------------------


def try_login(port, password, timeout, src=LEGIT_SRC):
    """One SSH password login from src on a new connection, bounded by timeout in every step.
    Returns the transport (logged in) or raises."""
    sock = socket.socket()
    sock.settimeout(timeout)
    sock.bind((src, 0))
    sock.connect(("127.0.0.1", port))
    t = paramiko.Transport(sock)
    t.banner_timeout = t.auth_timeout = timeout
    try:
        t.start_client(timeout=timeout)
        t.auth_password(USER, password)
        return t
    except BaseException:
        t.close()
        raise


def legit_login(port, budget=LOGIN_BUDGET_S):
    """Logs in from 127.0.0.1 and lists "/" within budget seconds, reconnecting as often as
    needed in that time. Returns the seconds it took; fails the test with every error seen."""
    t0 = time.monotonic()
    errors = []
    while True:
        left = budget - (time.monotonic() - t0)
        if left <= 0.05:
            pytest.fail(f"no login within {budget} s; attempts: {errors}", pytrace=False)
        t = None
        try:
            t = try_login(port, PASSWORD, left)
            sf = paramiko.SFTPClient.from_transport(t)
            sf.get_channel().settimeout(max(0.1, budget - (time.monotonic() - t0)))
            assert "hello.txt" in sf.listdir("/")
            took = time.monotonic() - t0
            if took > budget:
                pytest.fail(f"login and listing took {took:.1f} s (budget {budget} s)",
                            pytrace=False)
            return took
        except (paramiko.SSHException, OSError, EOFError) as e:
            errors.append(f"{time.monotonic() - t0:.2f}s {e!r}")
            time.sleep(0.05)
        finally:
            if t is not None:
                t.close()


def gateway_cpu_while(pid, seconds):
    c0 = cpu_seconds([pid])
    time.sleep(seconds)
    return cpu_seconds([pid]) - c0


# ---- floods with today's options --------------------------------------------------------------


def test_idle_and_stalled_banner_flood_then_login(smbgate_bin, hostkey, folder, servers):
    s = Server(smbgate_bin, folder, key=hostkey, verbose=False)
    servers.append(s)
    idle, _ = flood_connect(s.port, 200)
    stalled, _ = flood_connect(s.port, 50, banner=True)
    try:
        took = legit_login(s.port)
        cpu = gateway_cpu_while(s.proc.pid, 2.0)
        assert s.proc.poll() is None, "the gateway died under the flood"
        # a gateway that waits on 250 idle sockets uses next to no CPU; a spinning accept
        # loop or busy-polling threads burn a core (2 s here)
        assert cpu < CPU_IDLE_MAX_S, f"gateway used {cpu:.2f} s of CPU in 2 s with the flood held"
    finally:
        close_all(idle + stalled)
    print(f"login under 200 idle + 50 stalled connections took {took:.2f} s; gateway CPU "
          f"{cpu:.2f} s in 2 s")


def test_flood_beyond_the_fd_limit_then_login(smbgate_bin, hostkey, folder, servers, tmp_path):
    """The gateway with 128 descriptors and 200 idle connections (issue 8 measured 300 idle
    connections against a limit of 256: accept failed with EMFILE and the listener spun at
    100% of a core). The gateway must neither spin nor lock the legitimate client out: it has
    to shed flood connections (per-source limit, spare descriptor) rather than wait for them
    to time out.
    NEEDS_OPTION --max-connections: today's gateway fails this (0.45-0.74 s of CPU in 2 s,
    measured); the fix (EMFILE back-off, spare descriptor, limits per source) comes with the
    connection limits, so the test runs once the gateway lists --max-connections."""
    needs_option(smbgate_bin, "--max-connections")
    s = Server(limited_binary(smbgate_bin, 128, tmp_path), folder, key=hostkey, verbose=False)
    servers.append(s)
    idle, _ = flood_connect(s.port, 200)
    try:
        time.sleep(0.5)  # the gateway takes in what it can
        cpu = gateway_cpu_while(s.proc.pid, 2.0)
        assert s.proc.poll() is None, "the gateway died under the flood"
        try:
            legit_login(s.port)
            login = "ok"
        except pytest.fail.Exception as e:
            login = str(e)
        # both checked, both reported
        assert cpu < CPU_IDLE_MAX_S and login == "ok", \
            f"gateway CPU {cpu:.2f} s in 2 s with the flood held; login: {login}"
    finally:
        close_all(idle)
    legit_login(s.port)  # and after the flood


def test_wrong_password_flood_then_login(smbgate_bin, hostkey, folder, servers):
    s = Server(smbgate_bin, folder, key=hostkey, verbose=False)
    servers.append(s)

    def wrong(i):
        try:
            # a gateway may hold a flooding source's attempts back (a growing delay per
            # address): an attempt not answered in 8 s counts as dropped
            t = try_login(s.port, f"wrong-{i}", 8, src=FLOOD_SRC)
        except paramiko.AuthenticationException:
            return "denied"
        except (paramiko.SSHException, OSError, EOFError):
            return "dropped"  # refused by a limit: also fine
        t.close()
        return "LOGGED IN"

    with concurrent.futures.ThreadPoolExecutor(50) as ex:
        futs = [ex.submit(wrong, i) for i in range(50)]
        time.sleep(0.5)
        during = legit_login(s.port)  # while the wrong passwords are being answered
        outcomes = [f.result(timeout=120) for f in futs]
    assert "LOGGED IN" not in outcomes
    assert outcomes.count("denied") >= 1, outcomes  # the passwords were really tried
    took = legit_login(s.port)
    print(f"login during 50 wrong passwords took {during:.2f} s, after them {took:.2f} s "
          f"({outcomes.count('denied')} denied, {outcomes.count('dropped')} dropped)")


# ---- NEEDS_OPTION: limits issue 8 adds (skip until the gateway lists them) --------------------


def test_login_grace_time_closes_idle_and_stalled(smbgate_bin, hostkey, folder, servers):
    needs_option(smbgate_bin, "--login-grace-time")
    s = Server(smbgate_bin, folder, "--login-grace-time", "2", key=hostkey, verbose=False)
    servers.append(s)
    idle, _ = flood_connect(s.port, 5)
    stalled, _ = flood_connect(s.port, 5, banner=True)
    try:
        for sock in idle + stalled:
            assert closed_by_peer(sock, 2 + 3), "a connection outlived --login-grace-time 2"
        legit_login(s.port)  # a login that goes on is not cut
    finally:
        close_all(idle + stalled)


def test_max_startups_sheds_beyond_full(smbgate_bin, hostkey, folder, servers):
    needs_option(smbgate_bin, "--max-startups")
    s = Server(smbgate_bin, folder, "--max-startups", "5", key=hostkey, verbose=False)
    servers.append(s)
    held, _ = flood_connect(s.port, 5, src=LEGIT_SRC)
    extra, refused = flood_connect(s.port, 5, src=LEGIT_SRC)
    try:
        # beyond 5 unauthenticated connections every new one is closed at once
        assert refused + count_closed(extra, 1.5) == 5
        for x in held[:3]:
            assert not closed_by_peer(x, 0.2), "a connection within the limit was dropped"
    finally:
        close_all(held + extra)
    legit_login(s.port)  # once the flood is gone


def test_max_connections_bounds_the_total(smbgate_bin, hostkey, folder, servers):
    needs_option(smbgate_bin, "--max-connections")
    needs_option(smbgate_bin, "--max-startups")
    s = Server(smbgate_bin, folder, "--max-connections", "3", "--max-startups", "100",
               key=hostkey, verbose=False)
    servers.append(s)
    logged = [try_login(s.port, PASSWORD, 5) for _ in range(3)]
    try:
        with pytest.raises((paramiko.SSHException, OSError, EOFError)):
            t = try_login(s.port, PASSWORD, 5)
            t.close()
    finally:
        for t in logged:
            t.close()
    legit_login(s.port)


def per_source_option(binary):
    """The option that limits connections per source address, by what --help says of it
    (issue 8 asks for one, default 32; its name is the SSH part's to choose)."""
    for line in serve_help(binary).splitlines():
        m = re.match(r"\s*(--[\w-]+)\s+N?\s*.*\b(per (source|address|client|IP))", line, re.I)
        if m:
            return m.group(1)
    m = re.search(r"(--max-[\w-]*(?:per-source|per-address|per-ip|per-host)[\w-]*)",
                  serve_help(binary))
    return m.group(1) if m else None


def test_per_source_limit_spares_other_sources(smbgate_bin, hostkey, folder, servers):
    opt = per_source_option(smbgate_bin)
    if opt is None:
        pytest.skip("NEEDS_OPTION a per-source connection limit: none in --help yet")
    args = [opt, "4"]
    if "--max-startups" in serve_help(smbgate_bin):
        args += ["--max-startups", "100"]  # random early drop out of the way
    s = Server(smbgate_bin, folder, *args, key=hostkey, verbose=False)
    servers.append(s)
    flood, refused = flood_connect(s.port, 10)
    try:
        dropped = refused + count_closed(flood, 1.5)
        assert dropped >= 6, f"{opt} 4: only {dropped} of 10 connections from one source shed"
        legit_login(s.port)  # another source is not held by the flood's limit
    finally:
        close_all(flood)
