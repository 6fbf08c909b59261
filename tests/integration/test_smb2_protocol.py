"""SMB2/3 protocol behaviour against real Samba: signing and encryption per dialect (checked on
the server side with smbstatus), the NetBIOS session service (with a scripted responder for the
negative-response path), signature verification (a proxy that tampers with responses), and a
fake server sending malformed responses."""

import os
import socket
import struct
import subprocess
import threading
import time

import pytest

DIALECTS = ["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"]
SMB3 = ["3.0", "3.0.2", "3.1.1"]
SAMBA_NAME = {"2.0.2": "SMB2_02", "2.1": "SMB2_10", "3.0": "SMB3_00", "3.0.2": "SMB3_02",
              "3.1.1": "SMB3_11"}


def _url(server, share, path="", **opts):
    return server.url(share, path, **opts)


def _held_session(smbgate_bin, url):
    """Starts `smbgate put - URL` and keeps its session open until the returned process's
    stdin is closed."""
    p = subprocess.Popen([smbgate_bin, "put", "-", url], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(b"x" * 1000)
    p.stdin.flush()
    return p


def _session_for(server, dialect, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        sessions = server.status().get("sessions", {})
        for s in sessions.values():
            if s.get("session_dialect") == SAMBA_NAME[dialect]:
                return s
        time.sleep(0.2)
    raise AssertionError(f"no {dialect} session seen by smbstatus")


def _finish(p):
    out, err = p.communicate(timeout=60)  # closes stdin: the upload ends
    assert p.returncode == 0, err.decode()


@pytest.mark.parametrize("proto", DIALECTS)
def test_mandatory_signing_server(samba_signed, run_smbgate, smbgate_bin, proto, tmp_path):
    """A server that requires signing: every dialect logs in, signs, and moves data intact."""
    data = os.urandom(3 * 1024 * 1024 + 17)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    url = _url(samba_signed, "signed", f"sig-{proto}.bin", **{"max-protocol": proto})
    r = run_smbgate("put", str(src), url)
    assert r.returncode == 0, r.stderr
    dst = tmp_path / "dst.bin"
    r = run_smbgate("get", url, str(dst))
    assert r.returncode == 0, r.stderr
    assert dst.read_bytes() == data
    p = _held_session(smbgate_bin, _url(samba_signed, "signed", f"held-{proto}.bin",
                                        **{"max-protocol": proto}))
    try:
        s = _session_for(samba_signed, proto)
        assert s["signing"]["degree"] == "full", s
    finally:
        _finish(p)


@pytest.mark.parametrize("proto", SMB3)
def test_encrypt_required_option(samba, run_smbgate, smbgate_bin, proto, tmp_path):
    """encrypt=required on a share that does not demand it: everything after the session
    setup is sealed. (Samba reports "partial" for any client, smbclient included, because the
    SESSION_SETUP exchange itself cannot be encrypted; without encryption it says "none".)"""
    p = _held_session(smbgate_bin, _url(samba, "plain", f"enc-opt-{proto}.bin",
                                        **{"max-protocol": proto, "encrypt": "required"}))
    try:
        s = _session_for(samba, proto)
        assert s["encryption"]["degree"] in ("partial", "full"), s
        assert s["encryption"]["cipher"].startswith("AES-"), s
    finally:
        _finish(p)
    assert (open(samba.share_path("plain") + f"/enc-opt-{proto}.bin", "rb").read()
            == b"x" * 1000)


@pytest.mark.parametrize("cipher_proto", ["3.0", "3.1.1"])
def test_encrypted_share_roundtrip(samba, run_smbgate, cipher_proto, tmp_path):
    data = os.urandom(5 * 1024 * 1024 + 3)
    src = tmp_path / "e.bin"
    src.write_bytes(data)
    url = _url(samba, "enc", f"rt-{cipher_proto}.bin", **{"max-protocol": cipher_proto})
    r = run_smbgate("put", str(src), url)
    assert r.returncode == 0, r.stderr
    r = run_smbgate("cat", url, text=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout == data


@pytest.mark.parametrize("proto", ["2.0.2", "2.1"])
def test_encrypt_required_needs_smb3(samba, run_smbgate, proto):
    r = run_smbgate("ls", _url(samba, "plain", **{"max-protocol": proto,
                                                  "encrypt": "required"}))
    assert r.returncode == 7, r.stderr
    assert "encryption is required" in r.stderr
    assert "3.0 or later" in r.stderr


def test_signing_required_option_on_plain_server(samba, run_smbgate, smbgate_bin):
    p = _held_session(smbgate_bin, _url(samba, "plain", "sig-opt.bin", signing="required",
                                        **{"max-protocol": "3.0.2"}))
    try:
        s = _session_for(samba, "3.0.2")
        assert s["signing"]["degree"] == "full", s
    finally:
        _finish(p)


def test_min_protocol_above_server(samba, run_smbgate):
    """A range the server cannot meet gives a protocol error naming the range."""
    r = run_smbgate("ls", _url(samba, "plain", **{"min-protocol": "3.1.1",
                                                  "max-protocol": "3.1.1"}))
    assert r.returncode == 0, r.stderr  # Samba 4.17 speaks 3.1.1
    r = run_smbgate("ls", _url(samba, "plain", **{"min-protocol": "3.0.2",
                                                  "max-protocol": "3.0"}))
    assert r.returncode == 2, r.stderr


# ---------------------------------------------------------------------------------------------
# NetBIOS session service


def _nb_decode(b):
    """First-level decoding of a 34-byte encoded name: returns (name, type)."""
    assert b[0] == 32
    raw = bytes(((b[1 + 2 * i] - 65) << 4) | (b[2 + 2 * i] - 65) for i in range(16))
    return raw[:15].rstrip(b" \0").decode("ascii"), raw[15]


class NbssResponder:
    """A scripted NetBIOS session service: answers session requests whose called name is not
    in `accept` with a NEGATIVE SESSION RESPONSE (0x82: called name not present); an accepted
    session is then relayed to the real Samba port."""

    def __init__(self, upstream_port, accept=("*SMBSERVER",)):
        self.upstream = upstream_port
        self.accept = accept
        self.called = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _relay(self, a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            hdr = c.recv(4, socket.MSG_WAITALL)
            if len(hdr) < 4 or hdr[0] != 0x81:
                c.close()
                continue
            body = c.recv(struct.unpack(">H", hdr[2:])[0], socket.MSG_WAITALL)
            name, ntype = _nb_decode(body[:34])
            self.called.append((name, ntype))
            if name not in self.accept:
                c.sendall(b"\x83\x00\x00\x01\x82")
                c.close()
                continue
            c.sendall(b"\x82\x00\x00\x00")
            up = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._relay, args=(c, up), daemon=True).start()
            threading.Thread(target=self._relay, args=(up, c), daemon=True).start()

    def close(self):
        self.stop = True
        self.sock.close()


def _local_url(samba, port, share, path="", **opts):
    return samba.url(share, path, **opts).replace(f"127.0.0.1:{samba.port}",
                                                  f"localhost:{port}", 1)


def test_netbios_transport_against_samba(samba, run_smbgate, tmp_path):
    src = tmp_path / "nb.bin"
    src.write_bytes(os.urandom(300 * 1024))
    url = _url(samba, "plain", "nb.bin", transport="netbios")
    r = run_smbgate("put", str(src), url)
    assert r.returncode == 0, r.stderr
    r = run_smbgate("cat", url, text=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout == src.read_bytes()


def test_netbios_negative_response_falls_back_to_wildcard(samba, run_smbgate):
    nb = NbssResponder(samba.port)
    try:
        r = run_smbgate("ls", _local_url(samba, nb.port, "plain", transport="netbios"))
    finally:
        nb.close()
    assert r.returncode == 0, r.stderr
    assert nb.called == [("LOCALHOST", 0x20), ("*SMBSERVER", 0x20)], nb.called


def test_netbios_refused_by_every_name(samba, run_smbgate):
    nb = NbssResponder(samba.port, accept=())
    try:
        r = run_smbgate("ls", _local_url(samba, nb.port, "plain", transport="netbios"))
    finally:
        nb.close()
    assert r.returncode == 3, r.stderr
    assert "NetBIOS session refused" in r.stderr
    assert "called name not present" in r.stderr


# ---------------------------------------------------------------------------------------------
# Tampering and malformed servers


class TamperProxy:
    """Relays frames between client and server; flips one byte inside the first successful
    SMB2 READ response (after login), which a signed session must reject."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.tampered = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _frames(self, a, b, tamper):
        try:
            while True:
                hdr = a.recv(4, socket.MSG_WAITALL)
                if len(hdr) < 4:
                    break
                n = int.from_bytes(hdr[1:], "big")
                body = bytearray(a.recv(n, socket.MSG_WAITALL))
                if (tamper and not self.tampered and len(body) > 200 and body[:4] == b"\xfeSMB"
                        and body[12] == 8 and body[8:12] == b"\0\0\0\0"):
                    body[-1] ^= 0x01
                    self.tampered += 1
                b.sendall(hdr + bytes(body))
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._frames, args=(c, up, False), daemon=True).start()
            threading.Thread(target=self._frames, args=(up, c, True), daemon=True).start()

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("proto", ["2.1", "3.0.2", "3.1.1"])
def test_tampered_signed_response_is_rejected(samba_signed, run_smbgate, proto, tmp_path):
    name = f"tamper-{proto}.bin"
    with open(os.path.join(samba_signed.share_path("signed"), name), "wb") as f:
        f.write(os.urandom(100000))
    os.chown(os.path.join(samba_signed.share_path("signed"), name),
             *_owner(samba_signed.share_path("signed")))
    proxy = TamperProxy(samba_signed.port)
    try:
        url = samba_signed.url("signed", name, **{"max-protocol": proto}).replace(
            f":{samba_signed.port}/", f":{proxy.port}/", 1)
        dst = tmp_path / "out.bin"
        r = run_smbgate("get", url, str(dst))
    finally:
        proxy.close()
    assert proxy.tampered == 1
    assert r.returncode == 7, r.stderr
    assert "bad signature" in r.stderr
    assert not dst.exists()
    assert not [p for p in tmp_path.iterdir()], list(tmp_path.iterdir())


def _owner(path):
    st = os.stat(path)
    return st.st_uid, st.st_gid


class FakeServer:
    """Accepts one connection, reads the client's first frame, answers with `reply` (bytes,
    sent as is), then waits for the client to go away."""

    def __init__(self, reply):
        self.reply = reply
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        try:
            c, _ = self.sock.accept()
            hdr = c.recv(4, socket.MSG_WAITALL)
            c.recv(int.from_bytes(hdr[1:], "big"), socket.MSG_WAITALL)
            c.sendall(self.reply)
            c.settimeout(20)
            while c.recv(4096):
                pass
        except OSError:
            pass

    def close(self):
        self.sock.close()


def _smb2_hdr(cmd, status=0, body=b""):
    h = (b"\xfeSMB" + struct.pack("<HHIHHIIQIIQ", 64, 0, status, cmd, 1, 1, 0, 0, 0xFEFF, 0, 0)
         + b"\0" * 16)
    msg = h + body
    return len(msg).to_bytes(4, "big") + msg


MALFORMED = {
    # NEGOTIATE response whose StructureSize is wrong
    "bad-structure-size": _smb2_hdr(0, body=struct.pack("<H", 64) + b"\0" * 70),
    # NEGOTIATE response cut short inside its fixed part
    "truncated-body": _smb2_hdr(0, body=struct.pack("<HHH", 65, 1, 0x302)),
    # security buffer offset pointing past the end of the message
    "blob-out-of-range": _smb2_hdr(0, body=struct.pack("<HHHH16sIIIIQQHHI", 65, 1, 0x302, 0,
                                                       b"G" * 16, 0, 65536, 65536, 65536, 0,
                                                       0, 4000, 100, 0) + b"\0"),
    # a frame that announces 16 MiB and stops
    "oversized-frame": b"\x00\xff\xff\xff" + b"\0" * 100,
    # an SMB1 reply to an SMB2-only negotiate
    "not-smb2": (37).to_bytes(4, "big") + b"\xffSMB" + b"\0" * 33,
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_negotiate_response(run_smbgate, case):
    fake = FakeServer(MALFORMED[case])
    try:
        t0 = time.time()
        r = run_smbgate("ls", f"smb://127.0.0.1:{fake.port}/share?auth-username=u"
                              "&auth-password=p", timeout=60)
    finally:
        fake.close()
    assert r.returncode in (3, 7), (case, r.returncode, r.stderr)
    assert r.stderr.startswith("smbgate ls:"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert time.time() - t0 < 45
