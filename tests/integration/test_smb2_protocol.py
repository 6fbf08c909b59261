"""SMB2/3 protocol behaviour against real Samba: signing and encryption per dialect (checked on
the server side with smbstatus), the NetBIOS session service (with a scripted responder for the
negative-response path), signature verification (a proxy that tampers with responses), and a
fake server sending malformed responses."""

import os
import struct
import time

import pytest

from smb_helpers import (EXIT_CONNECT, EXIT_PROTO, EXIT_USAGE, FrameProxy, NbssResponder,
                         ScriptedServer, held_session, own, put_and_read_back)

DIALECTS = ["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"]
SMB3 = ["3.0", "3.0.2", "3.1.1"]


@pytest.mark.parametrize("proto", DIALECTS)
def test_mandatory_signing_server(samba_signed, run_smbgate, smbgate_bin, proto, tmp_path):
    """A server that requires signing: every dialect logs in, signs, and moves data intact."""
    url = samba_signed.url("signed", f"sig-{proto}.bin", max_protocol=proto)
    put_and_read_back(run_smbgate, url, tmp_path, 3 * 1024 * 1024 + 17)
    held = samba_signed.url("signed", f"held-{proto}.bin", max_protocol=proto)
    signed = lambda s: s["signing"]["degree"] != "none"  # noqa: E731
    with held_session(smbgate_bin, held, samba_signed, proto, ready=signed) as s:
        assert s["signing"]["degree"] == "full", s


@pytest.mark.parametrize("proto", SMB3)
def test_encrypt_required_option(samba, run_smbgate, smbgate_bin, proto, tmp_path):
    """encrypt=required on a share that does not demand it: everything after the session
    setup is sealed. (Samba reports "partial" for any client, smbclient included, because the
    SESSION_SETUP exchange itself cannot be encrypted; without encryption it says "none".)"""
    held = samba.url("plain", f"enc-opt-{proto}.bin", max_protocol=proto, encrypt="required")
    sealed = lambda s: s["encryption"]["degree"] != "none"  # noqa: E731
    with held_session(smbgate_bin, held, samba, proto, ready=sealed) as s:
        assert s["encryption"]["degree"] in ("partial", "full"), s
        assert s["encryption"]["cipher"].startswith("AES-"), s
    assert (open(samba.share_path("plain") + f"/enc-opt-{proto}.bin", "rb").read()
            == b"x" * 1000)


@pytest.mark.parametrize("cipher_proto", ["3.0", "3.1.1"])
def test_encrypted_share_roundtrip(samba, run_smbgate, cipher_proto, tmp_path):
    url = samba.url("enc", f"rt-{cipher_proto}.bin", max_protocol=cipher_proto)
    put_and_read_back(run_smbgate, url, tmp_path, 5 * 1024 * 1024 + 3, read="cat")


@pytest.mark.parametrize("proto", ["2.0.2", "2.1"])
def test_encrypt_required_needs_smb3(samba, run_smbgate, proto):
    r = run_smbgate("ls", samba.url("plain", max_protocol=proto, encrypt="required"))
    assert r.returncode == EXIT_PROTO, r.stderr
    assert "encryption is required" in r.stderr
    assert "3.0 or later" in r.stderr


def test_signing_required_option_on_plain_server(samba, run_smbgate, smbgate_bin):
    held = samba.url("plain", "sig-opt.bin", signing="required", max_protocol="3.0.2")
    signed = lambda s: s["signing"]["degree"] != "none"  # noqa: E731
    with held_session(smbgate_bin, held, samba, "3.0.2", ready=signed) as s:
        assert s["signing"]["degree"] == "full", s


def test_min_protocol_above_server(samba, run_smbgate):
    """A range the server cannot meet gives a protocol error naming the range."""
    r = run_smbgate("ls", samba.url("plain", min_protocol="3.1.1", max_protocol="3.1.1"))
    assert r.returncode == 0, r.stderr  # Samba 4.17 speaks 3.1.1
    r = run_smbgate("ls", samba.url("plain", min_protocol="3.0.2", max_protocol="3.0"))
    assert r.returncode == EXIT_USAGE, r.stderr


# ---------------------------------------------------------------------------------------------
# NetBIOS session service


def test_netbios_transport_against_samba(samba, run_smbgate, tmp_path):
    url = samba.url("plain", "nb.bin", transport="netbios")
    put_and_read_back(run_smbgate, url, tmp_path, 300 * 1024, read="cat")


def test_netbios_negative_response_falls_back_to_wildcard(samba, run_smbgate):
    """The called name LOCALHOST is refused; the retry as *SMBSERVER is accepted."""
    with NbssResponder(samba.port) as nb:
        r = run_smbgate("ls", nb.url(samba, "plain", host="localhost", transport="netbios"))
    assert r.returncode == 0, r.stderr
    assert nb.called == [("LOCALHOST", 0x20), ("*SMBSERVER", 0x20)], nb.called


def test_netbios_refused_by_every_name(samba, run_smbgate):
    with NbssResponder(samba.port, accept=()) as nb:
        r = run_smbgate("ls", nb.url(samba, "plain", host="localhost", transport="netbios"))
    assert r.returncode == EXIT_CONNECT, r.stderr
    assert "NetBIOS session refused" in r.stderr
    assert "called name not present" in r.stderr


# ---------------------------------------------------------------------------------------------
# Tampering and malformed servers


class TamperProxy(FrameProxy):
    """Flips one byte inside the first successful SMB2 READ response (after login), which a
    signed session must reject."""

    def __init__(self, upstream):
        self.tampered = 0
        super().__init__(upstream)

    def rewrite(self, body, to_server):
        if (not to_server and not self.tampered and len(body) > 200 and body[:4] == b"\xfeSMB"
                and body[12] == 8 and body[8:12] == b"\0\0\0\0"):
            body = body[:-1] + bytes([body[-1] ^ 0x01])
            self.tampered += 1
        return body


@pytest.mark.parametrize("proto", ["2.1", "3.0.2", "3.1.1"])
def test_tampered_signed_response_is_rejected(samba_signed, run_smbgate, proto, tmp_path):
    name = f"tamper-{proto}.bin"
    with open(os.path.join(samba_signed.share_path("signed"), name), "wb") as f:
        f.write(os.urandom(100000))
    own(samba_signed, os.path.join(samba_signed.share_path("signed"), name))
    dst = tmp_path / "out.bin"
    with TamperProxy(samba_signed.port) as proxy:
        r = run_smbgate("get", proxy.url(samba_signed, "signed", name, max_protocol=proto),
                        str(dst))
    assert proxy.tampered == 1
    assert r.returncode == EXIT_PROTO, r.stderr
    assert "bad signature" in r.stderr
    assert not dst.exists()
    assert not [p for p in tmp_path.iterdir()], list(tmp_path.iterdir())


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
    """A fake server answers the NEGOTIATE with MALFORMED[case] (sent as is) and then waits
    for the client to go away."""
    t0 = time.time()
    with ScriptedServer(MALFORMED[case]) as fake:
        r = run_smbgate("ls", f"smb://127.0.0.1:{fake.port}/share?auth-username=u"
                              "&auth-password=p", timeout=60)
    assert r.returncode in (EXIT_CONNECT, EXIT_PROTO), (case, r.returncode, r.stderr)
    assert r.stderr.startswith("smbgate ls:"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert time.time() - t0 < 45
