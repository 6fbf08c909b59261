"""The SMB client heals itself (DESIGN.md decision 9; src/smb/reconnect.c): a connection that
dies under a transfer is re-established, the open file is reopened (durable handle v2, or by
path when read-only) and the transfer goes on; a write whose fate is unknown on a handle the
server did not keep fails clearly. Against a private Samba that the tests restart, and a relay
(smb_helpers.FrameProxy) that cuts the connection while Samba keeps running (Samba keeps
durable handles across a disconnect, not across its own restart)."""

import hashlib
import os
import re
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rig"))
from samba import SambaServer  # noqa: E402
from smb_helpers import FrameProxy, own, shutdown_quietly  # noqa: E402

SIZE = 96 * 1024 * 1024


@pytest.fixture(scope="module")
def samba_r():
    """A Samba of this module's own: the tests restart it."""
    with SambaServer(big=False) as s:
        yield s


def make_file(server, share, name, size=SIZE):
    data = os.urandom(size)
    p = Path(server.share_path(share)) / name
    p.write_bytes(data)
    own(server, p)
    return hashlib.sha256(data).hexdigest(), p


def open_files(server):
    return server.status().get("open_files", {})


def wait_no_open_files(server, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        files = open_files(server)
        if not files:
            return
        time.sleep(0.2)
    raise AssertionError(f"handles left open on Samba: {list(files)}")


class SlowCat:
    """`smbgate -v cat URL` whose stdout is read slowly by a thread; hashes what it reads.
    .got counts the bytes read so far."""

    def __init__(self, smbgate_bin, url, chunk=1 << 20, pause=0.02):
        self.p = subprocess.Popen([smbgate_bin, "-v", "cat", url], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.h = hashlib.sha256()
        self.got = 0
        self.chunk, self.pause = chunk, pause
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        while True:
            b = self.p.stdout.read(self.chunk)
            if not b:
                return
            self.h.update(b)
            self.got += len(b)
            time.sleep(self.pause)

    def wait_for(self, n, timeout=60):
        deadline = time.time() + timeout
        while self.got < n:
            assert time.time() < deadline, f"only {self.got} bytes read"
            assert self.p.poll() is None, self.p.stderr.read().decode()
            time.sleep(0.01)

    def finish(self, timeout=120):
        err = self.p.stderr.read().decode()
        self.p.wait(timeout=timeout)
        self.t.join(timeout=timeout)
        return self.p.returncode, err


class CutProxy(FrameProxy):
    """A relay that, once armed with cut(), closes the connection it relays after `after`
    more bytes went in the direction given (to_server True: client -> server). Connections
    made after the cut pass untouched."""

    def __init__(self, upstream):
        self.lock = threading.Lock()
        self.armed = None  # (to_server, bytes left)
        self.cuts = 0
        self.live = []
        super().__init__(upstream)

    def handle(self, conn):
        self.live.append(conn)
        super().handle(conn)

    def cut(self, after=0, to_server=False):
        with self.lock:
            self.armed = [to_server, after]

    def rewrite(self, body, to_server):
        with self.lock:
            if self.armed and self.armed[0] == to_server:
                self.armed[1] -= len(body)
                if self.armed[1] <= 0:
                    self.armed = None
                    self.cuts += 1
                    for s in self.live:
                        shutdown_quietly(s)
                    self.live = []
                    raise OSError("cut")
        return body


def test_cat_resumes_across_samba_restart(samba_r, smbgate_bin):
    """Samba killed and started again on the same port mid-`cat`: the read-only handle is
    reopened by path and every byte arrives (SHA-256); nothing stays open on Samba."""
    digest, _ = make_file(samba_r, "durable", "restart.bin")
    cat = SlowCat(smbgate_bin, samba_r.url("durable", "restart.bin"))
    cat.wait_for(16 * 1024 * 1024)
    samba_r.restart(down=1.5, kill=True)
    rc, err = cat.finish()
    assert rc == 0, err
    assert cat.got == SIZE
    assert cat.h.hexdigest() == digest
    assert "reconnected to" in err, err
    assert "opened again by path" in err, err  # Samba keeps no durable handle over a restart
    wait_no_open_files(samba_r)


def cat_across_a_cut(server, smbgate_bin, share, name, size, cut_after, log_says):
    """smbgate cat of a new file of `size` bytes through a CutProxy that cuts the connection
    once, after `cut_after` bytes have arrived: every byte must arrive, smbgate's log must
    contain `log_says`, and no handle may stay open on the server after."""
    digest, _ = make_file(server, share, name, size)
    with CutProxy(server.port) as px:
        cat = SlowCat(smbgate_bin, px.url(server, share, name))
        cat.wait_for(cut_after)
        px.cut()
        rc, err = cat.finish()
    assert px.cuts == 1
    assert rc == 0, err
    assert cat.h.hexdigest() == digest and cat.got == size
    assert log_says in err, err
    wait_no_open_files(server)


def test_cat_resumes_on_durable_handle(samba_r, smbgate_bin):
    """The connection cut while Samba runs: the durable handle is reconnected (DH2C) and the
    reads in flight are sent again; every byte arrives and the handle is closed after."""
    cat_across_a_cut(samba_r, smbgate_bin, "durable", "cut.bin", SIZE, 16 * 1024 * 1024,
                     "durable handle reconnected")


def test_put_survives_cut_on_durable_handle(samba_r, run_smbgate, tmp_path):
    """A cut in the middle of an upload: the writes in flight are sent again on the durable
    handle (replay flag) and the file on the share is exactly the source."""
    data = os.urandom(64 * 1024 * 1024)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    with CutProxy(samba_r.port) as px:
        px.cut(after=20 * 1024 * 1024, to_server=True)
        r = run_smbgate("-v", "put", src, px.url(samba_r, "durable", "up.bin"))
    assert px.cuts == 1
    assert r.returncode == 0, r.stderr
    assert "durable handle reconnected" in r.stderr, r.stderr
    got = (Path(samba_r.share_path("durable")) / "up.bin").read_bytes()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    wait_no_open_files(samba_r)


def test_put_without_durable_handle_resumes_through_the_cli(samba_r, run_smbgate, tmp_path):
    """SMB 2.1 has no durable handles v2: a write in flight at the cut cannot be known to have
    landed, so the library fails the handle ("could not be kept") instead of carrying it; the
    CLI then resumes the upload over a new connection from what the server had confirmed, and
    the file on the share is exactly the source."""
    data = os.urandom(64 * 1024 * 1024)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    with CutProxy(samba_r.port) as px:
        px.cut(after=20 * 1024 * 1024, to_server=True)
        r = run_smbgate("-v", "put", src, px.url(samba_r, "plain", "nodur.bin", max_protocol="2.1"))
    assert px.cuts == 1
    assert r.returncode == 0, r.stderr
    assert re.search(r"handle lost in the reconnect: .*durable", r.stderr), r.stderr
    assert re.search(r"invalid or stale handle; reconnecting in 1 s \(retry 1 of 3\)", r.stderr), \
        r.stderr
    assert re.search(r"resuming the upload of nodur\.bin at byte [1-9]", r.stderr), r.stderr
    d = Path(samba_r.share_path("plain"))
    assert hashlib.sha256((d / "nodur.bin").read_bytes()).digest() == \
        hashlib.sha256(data).digest()
    assert not [x.name for x in d.iterdir() if x.name.startswith(".nodur.bin.")]  # no .partial
    wait_no_open_files(samba_r)


STATUS_NETWORK_SESSION_EXPIRED = 0xC000035C


class ExpireProxy(FrameProxy):
    """Answers the n-th READ response with STATUS_NETWORK_SESSION_EXPIRED instead (the
    session stays valid on Samba: the client's re-authentication must succeed there)."""

    def __init__(self, upstream, nth=20):
        self.left, self.expired = nth, 0
        super().__init__(upstream)

    def rewrite(self, body, to_server):
        if (to_server or len(body) < 64 or body[:4] != b"\xfeSMB"
                or struct.unpack_from("<H", body, 12)[0] != 8):
            return body
        self.left -= 1
        if self.left != 0:
            return body
        self.expired += 1
        hdr = bytearray(body[:64])
        struct.pack_into("<I", hdr, 8, STATUS_NETWORK_SESSION_EXPIRED)
        struct.pack_into("<I", hdr, 20, 0)  # NextCommand
        return bytes(hdr) + struct.pack("<HBBI", 9, 0, 0, 0) + b"\0"  # error response


def test_session_expiry_reauthenticates(samba_r, run_smbgate):
    """A READ answered STATUS_NETWORK_SESSION_EXPIRED: the session is logged into again in
    place and the read sent again; the download is complete."""
    digest, _ = make_file(samba_r, "plain", "expire.bin", 32 * 1024 * 1024)
    with ExpireProxy(samba_r.port) as px:
        r = run_smbgate("-vv", "cat", px.url(samba_r, "plain", "expire.bin"), text=False)
    assert px.expired == 1
    assert r.returncode == 0, r.stderr.decode()
    assert hashlib.sha256(r.stdout).hexdigest() == digest
    assert b"expired: logging in again" in r.stderr


def test_sftp_session_survives_samba_restart(samba_r, smbgate_bin):
    """The gateway: an SFTP session opened before Samba is killed and started again goes on
    in the same session: a file open for reading reads on, a listing and an upload work, and
    nothing stays open on Samba afterwards."""
    import io

    import paramiko
    from sftp_helpers import Area, HostKeys, Server

    area = Area(samba_r, "durable")
    data = os.urandom(8 * 1024 * 1024)
    area.write("a.bin", data)
    keys = HostKeys()
    s = Server(smbgate_bin, area.url(), key=keys.path)
    try:
        t = s.paramiko()
        sftp = paramiko.SFTPClient.from_transport(t)
        f = sftp.open("a.bin", "rb")
        head = f.read(1024 * 1024)
        samba_r.restart(down=1.0, kill=True)
        rest = f.read(len(data))
        f.close()
        assert head + rest == data
        assert "a.bin" in sftp.listdir(".")
        up = os.urandom(3 * 1024 * 1024)
        sftp.putfo(io.BytesIO(up), "b.bin")
        assert (area.path / "b.bin").read_bytes() == up
        sftp.close()
        t.close()
        log = s.log()
        assert "reconnected" in log, log
    except BaseException:
        print(s.log())
        raise
    finally:
        s.stop()
        keys.cleanup()
    wait_no_open_files(samba_r)


def test_cat_gives_up_when_samba_stays_down(samba_r, smbgate_bin):
    """Samba down for longer than the CLI's reconnect attempts (3: at once, +1 s, +2 s): the
    transfer fails with a connection error naming the attempts, within seconds, instead of
    waiting for ever."""
    make_file(samba_r, "durable", "down.bin")
    cat = SlowCat(smbgate_bin, samba_r.url("durable", "down.bin"), pause=0.05)
    cat.wait_for(8 * 1024 * 1024)
    t0 = time.monotonic()
    restarter = threading.Thread(target=samba_r.restart, kwargs={"down": 12, "kill": True})
    restarter.start()
    try:
        rc, err = cat.finish(timeout=60)
        took = time.monotonic() - t0
    finally:
        restarter.join(timeout=60)
    assert rc == 3, err  # connection error
    assert took < 11, f"gave up after {took:.1f} s"
    assert "3 reconnect attempts failed" in err, err
    assert cat.got < SIZE


def test_listing_resumes_without_duplicates(samba_r, run_smbgate):
    """A cut while the second round of a long listing is in flight: the directory is reopened,
    the round sent again, and the entries already delivered are passed over: every name
    exactly once."""
    d = Path(samba_r.share_path("durable")) / "many"
    d.mkdir(exist_ok=True)
    own(samba_r, d)
    names = sorted("entry-%05d-%s" % (i, "x" * 60) for i in range(9000))
    for n in names:
        (d / n).touch()
    with CutProxy(samba_r.port) as px:
        px.cut(after=1024 * 1024 + 64 * 1024)  # past the first 1 MiB round
        r = run_smbgate("-v", "ls", "-1", px.url(samba_r, "durable", "many"))
    assert px.cuts == 1
    assert r.returncode == 0, r.stderr
    assert "opened again by path" in r.stderr, r.stderr
    got = r.stdout.split()
    assert len(got) == len(names) and got == names


def test_cat_survives_close_share(samba_r, smbgate_bin):
    """The administrator closes the share (`smbcontrol smbd close-share`): requests get
    STATUS_NETWORK_NAME_DELETED; the client reconnects instead of failing every request from
    then on, and the download is complete."""
    digest, _ = make_file(samba_r, "durable", "closeshare.bin")
    cat = SlowCat(smbgate_bin, samba_r.url("durable", "closeshare.bin"))
    cat.wait_for(16 * 1024 * 1024)
    r = subprocess.run(["smbcontrol", "-s", samba_r.conf, "smbd", "close-share", "durable"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    rc, err = cat.finish()
    assert rc == 0, err
    assert cat.got == SIZE and cat.h.hexdigest() == digest
    assert "reconnected to" in err, err
    wait_no_open_files(samba_r)


@pytest.mark.parametrize("share,proto,survives", [("durable", "3.1.1", True),
                                                   ("plain", "2.1", False)])
def test_sftp_upload_across_cut(samba_r, smbgate_bin, tmp_path, share, proto, survives):
    """An SFTP upload (OpenSSH sftp) through the gateway while its SMB connection is cut: on a
    durable handle it completes intact; without one the SFTP client gets an error, never a
    success, and the gateway's log says the handle was lost."""
    from sftp_helpers import Area, HostKeys, Server

    area = Area(samba_r, share)
    data = os.urandom(40 * 1024 * 1024)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    keys = HostKeys()
    with CutProxy(samba_r.port) as px:
        s = Server(smbgate_bin, px.url(samba_r, share, area.rel, max_protocol=proto),
                   key=keys.path)
        try:
            px.cut(after=16 * 1024 * 1024, to_server=True)
            r = s.sftp_batch([f"put {src} up.bin"], check=False)
            log = s.log()
            assert px.cuts == 1
            if survives:
                assert r.returncode == 0, r.stderr + log
                assert (area.path / "up.bin").read_bytes() == data
                assert "durable handle reconnected" in log, log
            else:
                assert r.returncode != 0, "the upload succeeded across a lost write"
                assert "handle lost in the reconnect" in log, log
        finally:
            s.stop()
            keys.cleanup()
    wait_no_open_files(samba_r)


def test_cat_resumes_on_encrypted_share(samba_r, smbgate_bin):
    """The same cut on a share that requires encryption: the new session has new keys, and
    the reads sent again are sealed with them."""
    cat_across_a_cut(samba_r, smbgate_bin, "enc", "enc.bin", 32 * 1024 * 1024, 8 * 1024 * 1024,
                     "reconnected to")


def test_cat_resumes_on_signed_server(samba_signed, smbgate_bin):
    """The same cut with signing mandatory: requests sent again are signed with the new
    session's key (a stale signature would be refused)."""
    cat_across_a_cut(samba_signed, smbgate_bin, "signed", "signed.bin", 32 * 1024 * 1024,
                     8 * 1024 * 1024, "reconnected to")
