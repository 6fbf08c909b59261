"""SMB session security against real Samba: a server that makes a named user a guest is
refused unless the URL says guest=true, and on dialects 3.0 and 3.0.2 the negotiation is
confirmed with FSCTL_VALIDATE_NEGOTIATE_INFO (a proxy that strips 3.1.1 from the client's
NEGOTIATE offer, a downgrade, must end the connection)."""

import pytest

from samba import SambaServer
from smb_helpers import EXIT_AUTH, EXIT_OK, EXIT_PROTO, FrameProxy

SMB2_NEGOTIATE = 0


@pytest.fixture(scope="module")
def samba_guest():
    """Samba mapping unknown users to guest (`map to guest = bad user`), SMB1 allowed, with a
    guest-readable share `pub`."""
    with SambaServer(nt1=True, big=False, extra_global={"map to guest": "bad user"},
                     extra_shares={"pub": {"guest ok": "yes", "read only": "yes"}}) as s:
        yield s


@pytest.fixture(scope="module")
def samba_smb300():
    """Samba whose highest dialect is 3.0 (`server max protocol = SMB3_00`)."""
    with SambaServer(max_protocol="SMB3_00", big=False) as s:
        yield s


def _guest_url(server, proto, **opts):
    u = server.url("pub", creds=None, max_protocol=proto, **opts)
    return u + ("&" if "?" in u else "?") + "auth-username=nosuchuser&auth-password=wrong"


@pytest.mark.parametrize("proto", ["3.1.1", "3.0", "NT1"])
def test_named_user_made_guest_is_refused(samba_guest, run_smbgate, proto):
    r = run_smbgate("ls", _guest_url(samba_guest, proto))
    assert r.returncode == EXIT_AUTH, (r.returncode, r.stderr)
    assert "logged nosuchuser in as guest" in r.stderr, r.stderr
    assert "guest=true" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize("proto", ["3.1.1", "NT1"])
def test_guest_when_asked_for(samba_guest, run_smbgate, proto):
    r = run_smbgate("ls", _guest_url(samba_guest, proto, guest="true"))
    assert r.returncode == EXIT_OK, r.stderr
    # the real user is still a real user
    r = run_smbgate("ls", samba_guest.url("pub", max_protocol=proto))
    assert r.returncode == EXIT_OK, r.stderr


@pytest.mark.parametrize("proto", ["3.0", "3.0.2"])
def test_validate_negotiate_on_smb3(samba, run_smbgate, proto):
    r = run_smbgate("ls", "-vv", samba.url("plain", max_protocol=proto))
    assert r.returncode == EXIT_OK, r.stderr
    assert f"VALIDATE_NEGOTIATE_INFO: dialect {proto} confirmed" in r.stderr, r.stderr


def test_validate_negotiate_server_max_smb3_00(samba_smb300, run_smbgate, tmp_path):
    """The client offers up to 3.1.1, the server can only 3.0: validated, and data moves."""
    r = run_smbgate("ls", "-vv", samba_smb300.url("plain"))
    assert r.returncode == EXIT_OK, r.stderr
    assert "VALIDATE_NEGOTIATE_INFO: dialect 3.0 confirmed" in r.stderr, r.stderr
    src = tmp_path / "v.bin"
    src.write_bytes(b"validated" * 1000)
    r = run_smbgate("put", src, samba_smb300.url("plain", "v.bin"))
    assert r.returncode == EXIT_OK, r.stderr


def test_validate_negotiate_signed_server(samba_signed, run_smbgate):
    r = run_smbgate("ls", "-vv", samba_signed.url("signed", max_protocol="3.0"))
    assert r.returncode == EXIT_OK, r.stderr
    assert "VALIDATE_NEGOTIATE_INFO: dialect 3.0 confirmed" in r.stderr, r.stderr


class DowngradeProxy(FrameProxy):
    """Replaces 3.1.1 in the client's NEGOTIATE dialect list by 3.0.2 (the list keeps its
    length and layout), so the server settles for 3.0.2 without the client knowing."""

    def __init__(self, upstream):
        self.rewrote = 0
        super().__init__(upstream)

    def rewrite(self, body, to_server):
        if (to_server and body[:4] == b"\xfeSMB" and len(body) >= 100
                and int.from_bytes(body[12:14], "little") == SMB2_NEGOTIATE):
            count = int.from_bytes(body[66:68], "little")
            b = bytearray(body)
            for i in range(count):
                at = 100 + 2 * i
                if b[at:at + 2] == b"\x11\x03":
                    b[at:at + 2] = b"\x02\x03"
                    self.rewrote += 1
            return bytes(b)
        return body


def test_downgrade_is_detected(samba, run_smbgate):
    with DowngradeProxy(samba.port) as proxy:
        r = run_smbgate("ls", proxy.url(samba, "plain"), timeout=60)
    assert proxy.rewrote == 1
    assert r.returncode == EXIT_PROTO, (r.returncode, r.stderr)
    assert "VALIDATE_NEGOTIATE_INFO" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
