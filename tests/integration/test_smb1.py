"""SMB1 (CIFS, dialect "NT LM 0.12") and the NetBIOS name service, against real Samba.

Servers: `samba_nt1` (conftest: min protocol NT1, ntlm auth = ntlmv1-permitted) and a few made
here: SMB1 only (max protocol NT1), signing mandatory, NTLMv2 only, raw NTLMv2 allowed. Results
are checked on the share's directory, with smbstatus (the dialect and signing Samba sees), and
with curl. A proxy between smbgate and smbd shows what went over the wire and rewrites single
fields to make Samba behave like an older server: no extended security (plain
challenge/response), no 32-bit status codes (DOS errors), NTLMv2 refused. Name queries go to a
scripted UDP responder, and to nmbd in a network namespace when the machine allows one.

Run: SMBGATE_BIN=build/smbgate /usr/bin/python3 -m pytest -q tests/integration/test_smb1.py
"""

import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from samba import BIG_FILES, BIG_SPARSE, BIG_SPARSE_SIZE, SambaServer
from smb_helpers import (EXIT_AUTH, EXIT_CONNECT, EXIT_ERROR, EXIT_NOTFOUND, EXIT_PROTO,
                         EXIT_USAGE, FrameProxy, NbssResponder, ScriptedServer, held_session,
                         nb_decode, node_slug, own, put_and_read_back, scratch_dir)

GiB = 1024 ** 3


# ---- servers --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nt1_only():
    """A server that speaks SMB1 only."""
    with SambaServer(nt1=True, max_protocol="NT1", big=False) as s:
        yield s


@pytest.fixture(scope="module")
def nt1_signed():
    """SMB1 allowed, signing mandatory (the `signed` share)."""
    with SambaServer(nt1=True, signing="mandatory", big=False) as s:
        yield s


@pytest.fixture(scope="module")
def nt1_v2only():
    """SMB1 allowed but Samba's default `ntlm auth = ntlmv2-only`: NTLMv1 is refused."""
    with SambaServer(min_protocol="NT1", big=False) as s:
        yield s


@pytest.fixture(scope="module")
def nt1_rawv2():
    """Takes NTLMv2 outside NTLMSSP too (`raw NTLMv2 auth = yes`; Samba refuses it otherwise)."""
    with SambaServer(nt1=True, big=False, extra_global={"raw NTLMv2 auth": "yes"}) as s:
        yield s


@pytest.fixture
def area(samba_nt1, request):
    """A fresh directory in samba_nt1's plain share (owned by the share user): (name, path)."""
    name = node_slug(request, "s1-")
    with scratch_dir(samba_nt1, "plain", name) as p:
        yield name, p


def nt1_url(server, share, path="", transport="direct", **opts):
    """URL for SMB1 only (max-protocol=NT1), over direct TCP or NetBIOS (port 139 role)."""
    opts.setdefault("max_protocol", "NT1")
    u = server.url(share, path, **opts)
    if transport == "netbios":
        u = u.replace(f":{server.port}/", f":{server.nbport}/") + "&transport=netbios"
    return u


# ---- a proxy that shows and rewrites SMB1 messages ------------------------------------------


class Smb1Proxy(FrameProxy):
    """TCP proxy between smbgate and smbd (direct TCP framing). It records every message and
    can rewrite a field: no_extsec clears FLAGS2_EXTENDED_SECURITY in the client's NEGOTIATE
    (the server then offers a plain challenge), no_status32 clears CAP_STATUS32 in the server's
    NEGOTIATE response (the client then gets DOS error codes), break_ntlmv2 corrupts NTLMv2 and
    LMv2 responses (a server that refuses NTLMv2), tamper_read flips a data byte in READ_ANDX
    responses after the logon (a signature must catch it), no_unicode clears CAP_UNICODE in
    the NEGOTIATE response (names then travel as OEM strings)."""

    def __init__(self, port, no_extsec=False, no_status32=False, break_ntlmv2=False,
                 tamper_read=False, no_unicode=False):
        self.no_extsec, self.no_status32, self.no_unicode = no_extsec, no_status32, no_unicode
        self.break_ntlmv2, self.tamper_read = break_ntlmv2, tamper_read
        self.seen = []  # (to_server, message)
        super().__init__(port)

    def url(self, server, share, path="", **opts):
        opts.setdefault("max_protocol", "NT1")
        return super().url(server, share, path, **opts)

    def rewrite(self, m, to_server):
        self.seen.append((to_server, bytes(m)))
        if len(m) < 35 or m[:4] != b"\xffSMB":
            return m
        m = bytearray(m)
        cmd = m[4]
        if to_server and cmd == 0x72 and self.no_extsec:
            struct.pack_into("<H", m, 10, struct.unpack_from("<H", m, 10)[0] & ~0x0800)
        if not to_server and cmd == 0x72 and self.no_status32 and m[32] == 17:
            struct.pack_into("<I", m, 52, struct.unpack_from("<I", m, 52)[0] & ~0x40)
        if not to_server and cmd == 0x72 and self.no_unicode and m[32] == 17:
            struct.pack_into("<I", m, 52, struct.unpack_from("<I", m, 52)[0] & ~0x04)
        if to_server and cmd == 0x73 and self.break_ntlmv2 and m[32] == 13:
            oem, uni = struct.unpack_from("<HH", m, 47)
            if uni > 24:  # an NTLMv2 response: spoil it and the LMv2 one
                m[61] ^= 0xFF
                m[61 + oem] ^= 0xFF
        if not to_server and cmd == 0x2E and self.tamper_read and m[32] == 12:
            off = struct.unpack_from("<H", m, 33 + 12)[0]
            if off < len(m):
                m[off] ^= 0x01
        return bytes(m)

    def messages(self, to_server, cmd=None):
        return [m for t, m in self.seen if t == to_server and m[:4] == b"\xffSMB"
                and (cmd is None or m[4] == cmd)]


# ---- negotiation ----------------------------------------------------------------------------


def test_max_protocol_nt1_gives_smb1(samba_nt1, run_smbgate, smbgate_bin):
    """max-protocol=NT1: the session is SMB1, as Samba sees it too."""
    r = run_smbgate("-v", "ls", nt1_url(samba_nt1, "plain"))
    assert r.returncode == 0, r.stderr
    assert "connected: SMB NT1" in r.stderr
    # held_session fails unless smbstatus shows an NT1 session while it is held
    with held_session(smbgate_bin, nt1_url(samba_nt1, "plain", "held-nt1.bin"), samba_nt1,
                      "NT1"):
        pass


def test_multi_protocol_negotiate_upgrades_to_smb2(samba_nt1, run_smbgate):
    """min-protocol=NT1 with SMB2 allowed: one SMB1 NEGOTIATE offering NT LM 0.12, SMB 2.002
    and SMB 2.???; Samba answers 0x02FF and the SMB2 NEGOTIATE follows with MessageId 1."""
    with Smb1Proxy(samba_nt1.port) as px:
        r = run_smbgate("-v", "ls", px.url(samba_nt1, "plain", max_protocol="3.1.1",
                                           min_protocol="NT1"))
        assert r.returncode == 0, r.stderr
        assert "connected: SMB 3.1.1" in r.stderr
        first = px.seen[0][1]
        assert first[:5] == b"\xffSMB\x72"
        for d in (b"\x02NT LM 0.12\x00", b"\x02SMB 2.002\x00", b"\x02SMB 2.???\x00"):
            assert d in first
        smb2 = [m for t, m in px.seen if t and m[:4] == b"\xfeSMB"]
        assert smb2 and struct.unpack_from("<H", smb2[0], 12)[0] == 0  # NEGOTIATE
        assert struct.unpack_from("<Q", smb2[0], 24)[0] == 1  # MessageId 1
        answers = [m for t, m in px.seen if not t and m[:4] == b"\xfeSMB"]
        assert struct.unpack_from("<H", answers[0], 64 + 4)[0] == 0x02FF


def test_multi_protocol_negotiate_202_direct(samba_nt1, run_smbgate):
    """Up to 2.0.2 only: the server picks "SMB 2.002" in its answer to the SMB1 NEGOTIATE and
    no second NEGOTIATE is sent."""
    with Smb1Proxy(samba_nt1.port) as px:
        r = run_smbgate("-v", "ls", px.url(samba_nt1, "plain", max_protocol="2.0.2",
                                           min_protocol="NT1"))
        assert r.returncode == 0, r.stderr
        assert "connected: SMB 2.0.2" in r.stderr
        assert b"SMB 2.???" not in px.seen[0][1]
        neg2 = [m for t, m in px.seen if t and m[:4] == b"\xfeSMB"
                and struct.unpack_from("<H", m, 12)[0] == 0]
        assert neg2 == []


def test_smb1_only_server(nt1_only, run_smbgate):
    """A server limited to NT1 answers the multi-protocol NEGOTIATE with NT LM 0.12; without
    min-protocol=NT1 smbgate does not speak SMB1 and says so."""
    r = run_smbgate("-v", "ls", nt1_only.url("plain", min_protocol="NT1"))
    assert r.returncode == 0, r.stderr
    assert "connected: SMB NT1" in r.stderr
    r = run_smbgate("ls", nt1_only.url("plain"))
    assert r.returncode in (EXIT_CONNECT, EXIT_PROTO), r.stderr
    assert "negotiate" in r.stderr


# ---- every operation, over direct TCP and NetBIOS -------------------------------------------


@pytest.mark.parametrize("transport", ["direct", "netbios"])
def test_operations(samba_nt1, run_smbgate, area, tmp_path, transport):
    name, local = area
    u = lambda p="", **o: nt1_url(samba_nt1, "plain", f"{name}/{p}" if p else name,
                                 transport=transport, **o)
    data = os.urandom(5 * 1024 * 1024 + 123)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    # put / get (READ_ANDX / WRITE_ANDX, many in flight)
    r = run_smbgate("put", src, u("f.bin"))
    assert r.returncode == 0, r.stderr
    assert (local / "f.bin").read_bytes() == data
    r = run_smbgate("get", u("f.bin"), tmp_path / "back.bin")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "back.bin").read_bytes() == data
    # put sets the modification time (SET_FILE_INFORMATION basic info)
    os.utime(src, (1_500_000_000, 1_500_000_000))
    r = run_smbgate("put", src, u("t.bin"))
    assert r.returncode == 0, r.stderr
    assert int((local / "t.bin").stat().st_mtime) == 1_500_000_000
    # cat with offset and count
    r = run_smbgate("cat", "--offset", "1000", "--count", "50", u("f.bin"), text=False)
    assert r.returncode == 0 and r.stdout == data[1000:1050]
    # stat (QUERY_PATH_INFORMATION)
    r = run_smbgate("stat", u("f.bin"))
    assert r.returncode == 0 and f"{len(data)}" in r.stdout and "regular file" in r.stdout
    # mkdir (CREATE_DIRECTORY), exists -> error
    r = run_smbgate("mkdir", u("d"))
    assert r.returncode == 0, r.stderr
    assert (local / "d").is_dir()
    r = run_smbgate("mkdir", u("d"))
    assert r.returncode == EXIT_ERROR and "OBJECT_NAME_COLLISION" in r.stderr
    # mv within a directory, across directories, and over an existing file (RENAME)
    r = run_smbgate("mv", u("t.bin"), f"{name}/t2.bin")
    assert r.returncode == 0, r.stderr
    assert (local / "t2.bin").exists() and not (local / "t.bin").exists()
    r = run_smbgate("mv", u("t2.bin"), f"{name}/d/t3.bin")
    assert r.returncode == 0, r.stderr
    assert (local / "d" / "t3.bin").read_bytes() == data
    (local / "small.txt").write_text("small")
    own(samba_nt1, local / "small.txt")
    r = run_smbgate("mv", u("small.txt"), f"{name}/d/t3.bin")
    assert r.returncode == 0, r.stderr
    assert (local / "d" / "t3.bin").read_text() == "small"
    # ls (FIND_FIRST2)
    r = run_smbgate("ls", "-1", u())
    assert r.returncode == 0 and sorted(r.stdout.split()) == ["d/", "f.bin"]
    # rmdir of a non-empty directory fails; rm then rmdir (DELETE, DELETE_DIRECTORY)
    r = run_smbgate("rmdir", u("d"))
    assert r.returncode == EXIT_ERROR and "DIRECTORY_NOT_EMPTY" in r.stderr
    r = run_smbgate("rm", u("d/t3.bin"))
    assert r.returncode == 0, r.stderr
    r = run_smbgate("rmdir", u("d"))
    assert r.returncode == 0, r.stderr
    assert not (local / "d").exists()
    r = run_smbgate("rm", u("d"))
    assert r.returncode == EXIT_NOTFOUND and "OBJECT_NAME_NOT_FOUND" in r.stderr
    # df (QUERY_FS_INFORMATION)
    r = run_smbgate("df", u())
    assert r.returncode == 0 and "Size:" in r.stdout
    st = os.statvfs(local)
    kb = int(r.stdout.split("Size:")[1].split()[0])
    assert abs(kb - st.f_blocks * st.f_frsize // 1024) <= 1
    # test: connect, write, read back, delete
    r = run_smbgate("test", u())
    assert r.returncode == 0 and "all checks passed" in r.stdout
    assert "SMB NT1" in r.stdout


@pytest.mark.parametrize("signed", [False, True])
def test_handle_operations_live(samba_nt1, nt1_signed, smbgate_bin, area, signed):
    """tests/unit/test_smb1_live.c (built next to the binary) against Samba: set size, times
    and delete through a FID and by path, fstat both ways, the replacing rename through a FID,
    flush and echo: what no CLI command reaches."""
    live = Path(smbgate_bin).parent / "test_smb1_live"
    if not live.exists():
        pytest.skip(f"{live} not built")
    if signed:
        server, share, sub = nt1_signed, "signed", "live"
        local = Path(server.share_path(share)) / sub
        shutil.rmtree(local, ignore_errors=True)
        local.mkdir()
        own(server, local)
    else:
        server, share, (sub, local) = samba_nt1, "plain", area
    env = dict(os.environ, SMBGATE_SMB1_URL=nt1_url(server, share, sub))
    r = subprocess.run([str(live)], capture_output=True, text=True, timeout=120, env=env)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "PASSED  ] 3 test(s)" in out and "SKIPPED" not in out, out
    assert list(local.iterdir()) == []  # it cleaned up after itself


def test_rm_directory_and_type_errors(samba_nt1, run_smbgate, area):
    name, local = area
    (local / "sub").mkdir()
    own(samba_nt1, local / "sub")
    (local / "file").write_text("x")
    own(samba_nt1, local / "file")
    r = run_smbgate("rmdir", nt1_url(samba_nt1, "plain", f"{name}/file"))
    assert r.returncode == EXIT_ERROR and "NOT_A_DIRECTORY" in r.stderr
    r = run_smbgate("cat", nt1_url(samba_nt1, "plain", f"{name}/sub"))
    assert r.returncode == EXIT_ERROR and "IS_A_DIRECTORY" in r.stderr


def test_unicode_names(samba_nt1, run_smbgate, area, tmp_path):
    name, local = area
    fancy = "ünïcødé 日本語 🎉.txt"
    src = tmp_path / "u.txt"
    src.write_text("unicode")
    r = run_smbgate("put", src, nt1_url(samba_nt1, "plain", f"{name}/{fancy}"))
    assert r.returncode == 0, r.stderr
    assert (local / fancy).read_text() == "unicode"
    r = run_smbgate("ls", "-1", nt1_url(samba_nt1, "plain", name))
    assert r.stdout.strip() == fancy


def test_oem_strings(samba_nt1, run_smbgate, area, tmp_path):
    """A server without CAP_UNICODE: names travel as OEM (ASCII) strings both ways; a name
    that is not ASCII cannot be sent and says so."""
    name, local = area
    (tmp_path / "a.txt").write_text("oem")
    with Smb1Proxy(samba_nt1.port, no_unicode=True) as px:
        r = run_smbgate("put", tmp_path / "a.txt",
                        px.url(samba_nt1, "plain", f"{name}/Plain Name.txt"))
        assert r.returncode == 0, r.stderr
        assert (local / "Plain Name.txt").read_text() == "oem"
        r = run_smbgate("ls", "-1", px.url(samba_nt1, "plain", name))
        assert r.returncode == 0 and r.stdout == "Plain Name.txt\n", r.stderr
        r = run_smbgate("stat", px.url(samba_nt1, "plain", f"{name}/Plain Name.txt"))
        assert r.returncode == 0 and "regular file" in r.stdout
        setups = px.messages(True, 0xA2)
        assert setups and not any(struct.unpack_from("<H", m, 10)[0] & 0x8000 for m in setups)
        r = run_smbgate("put", tmp_path / "a.txt", px.url(samba_nt1, "plain", f"{name}/é.txt"))
        assert r.returncode == EXIT_USAGE, r.stderr


def test_listing_10000_entries(samba_nt1, run_smbgate):
    """FIND_FIRST2 and every FIND_NEXT2 round until the end of the search."""
    r = run_smbgate("ls", "-1", nt1_url(samba_nt1, "big"))
    assert r.returncode == 0, r.stderr
    names = r.stdout.split("\n")[:-1]
    assert len(names) == BIG_FILES + 1
    assert set(names) == {f"small-{i:05d}.txt" for i in range(BIG_FILES)} | {BIG_SPARSE}


def test_reads_above_4gib(samba_nt1, run_smbgate, area):
    """64-bit offsets: markers around and beyond 4 GiB in a sparse file come back in place."""
    name, local = area
    f = local / "sparse.bin"
    size = 4 * GiB + 4 * 1024 * 1024
    with open(f, "wb") as fh:
        fh.truncate(size)
        for off, mark in ((4 * GiB - 7, b"ACROSS-4GIB"), (4 * GiB + 1_000_003, b"BEYOND")):
            fh.seek(off)
            fh.write(mark)
    own(samba_nt1, f)
    url = nt1_url(samba_nt1, "plain", f"{name}/sparse.bin")
    r = run_smbgate("cat", "--offset", str(4 * GiB - 7), "--count", "11", url, text=False)
    assert r.returncode == 0 and r.stdout == b"ACROSS-4GIB"
    r = run_smbgate("cat", "--offset", str(4 * GiB + 1_000_000), "--count", "12", url,
                    text=False)
    assert r.returncode == 0 and r.stdout == b"\0\0\0BEYOND\0\0\0"
    r = run_smbgate("stat", url)
    assert str(size) in r.stdout
    # The big share's 5 GiB file: its last 64 MiB read to the end, and its size.
    url = nt1_url(samba_nt1, "big", BIG_SPARSE)
    r = run_smbgate("cat", "--offset", str(BIG_SPARSE_SIZE - 64 * 1024 * 1024), url, text=False)
    assert r.returncode == 0 and len(r.stdout) == 64 * 1024 * 1024 and not r.stdout.strip(b"\0")


# ---- signing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["direct", "netbios"])
def test_signing_required_by_server(nt1_signed, run_smbgate, smbgate_bin, tmp_path, transport):
    """`server signing = mandatory`: SMB1 MD5 signing with sequence numbers, data intact, and
    Samba reports the session as signed."""
    url = nt1_url(nt1_signed, "signed", "s.bin", transport=transport)
    _, put, _ = put_and_read_back(run_smbgate, url, tmp_path, 3 * 1024 * 1024 + 5, opts=("-v",))
    assert "signing on" in put.stderr
    r = run_smbgate("ls", nt1_url(nt1_signed, "signed", transport=transport))
    assert r.returncode == 0 and "s.bin" in r.stdout
    signed = lambda s: s["signing"]["degree"] != "none"  # noqa: E731
    with held_session(smbgate_bin, nt1_url(nt1_signed, "signed", "held.bin"), nt1_signed,
                      "NT1", ready=signed) as s:
        assert s["signing"]["degree"] != "none", s


def test_signing_required_by_client(samba_nt1, nt1_signed, run_smbgate):
    r = run_smbgate("-v", "ls", nt1_url(nt1_signed, "signed", signing="required"))
    assert r.returncode == 0 and "signing on" in r.stderr, r.stderr
    # A server that does not sign SMB1 cannot meet signing=required.
    r = run_smbgate("ls", nt1_url(samba_nt1, "plain", signing="required"))
    assert r.returncode == EXIT_PROTO
    assert "signing is required" in r.stderr


def test_tampered_signed_read_is_rejected(nt1_signed, run_smbgate, tmp_path):
    (Path(nt1_signed.share_path("signed")) / "t.bin").write_bytes(os.urandom(100_000))
    own(nt1_signed, Path(nt1_signed.share_path("signed")) / "t.bin")
    with Smb1Proxy(nt1_signed.port, tamper_read=True) as px:
        r = run_smbgate("get", px.url(nt1_signed, "signed", "t.bin"), tmp_path / "t.bin")
        assert r.returncode == EXIT_PROTO, r.stderr
        assert "signature" in r.stderr


# ---- authentication ---------------------------------------------------------------------------


def test_wrong_password_and_share(samba_nt1, run_smbgate):
    r = run_smbgate("ls", nt1_url(samba_nt1, "plain").replace("smbgtest-Pw.1", "wrong"))
    assert r.returncode == EXIT_AUTH and "LOGON_FAILURE" in r.stderr
    r = run_smbgate("ls", nt1_url(samba_nt1, "nosuchshare"))
    assert r.returncode == EXIT_NOTFOUND and "BAD_NETWORK_NAME" in r.stderr


def test_plain_ntlmv2(nt1_rawv2, run_smbgate):
    """Without extended security: NTLMv2/LMv2 to the NEGOTIATE challenge, and nothing else."""
    with Smb1Proxy(nt1_rawv2.port, no_extsec=True) as px:
        r = run_smbgate("-v", "ls", px.url(nt1_rawv2, "plain"))
        assert r.returncode == 0, r.stderr
        assert "NTLMv1" not in r.stderr
        setups = px.messages(True, 0x73)
        assert setups and all(s[32] == 13 for s in setups)
        assert all(struct.unpack_from("<H", s, 49)[0] > 24 for s in setups)  # NTLMv2 sizes


def test_ntlmv1_only_with_option(samba_nt1, run_smbgate):
    """Samba takes no NTLMv2 outside NTLMSSP by default: without auth-ntlmv1 smbgate says why
    and sends no NTLMv1; with it, it falls back to NTLMv1 (24-byte responses) and warns."""
    with Smb1Proxy(samba_nt1.port, no_extsec=True) as px:
        r = run_smbgate("ls", px.url(samba_nt1, "plain"))
        assert r.returncode == EXIT_PROTO, r.stderr
        assert "auth-ntlmv1=true" in r.stderr
        assert all(struct.unpack_from("<H", s, 49)[0] > 24 for s in px.messages(True, 0x73))
        px.seen.clear()
        r = run_smbgate("ls", px.url(samba_nt1, "plain") + "&auth-ntlmv1=true")
        assert r.returncode == 0, r.stderr
        assert "NTLMv1" in r.stderr and "warning" in r.stderr
        assert struct.unpack_from("<H", px.messages(True, 0x73)[-1], 49)[0] == 24


def test_ntlmv1_fallback_when_ntlmv2_refused(nt1_rawv2, run_smbgate):
    with Smb1Proxy(nt1_rawv2.port, no_extsec=True, break_ntlmv2=True) as px:
        r = run_smbgate("ls", px.url(nt1_rawv2, "plain"))
        assert r.returncode == EXIT_AUTH and "LOGON_FAILURE" in r.stderr
        r = run_smbgate("ls", px.url(nt1_rawv2, "plain") + "&auth-ntlmv1=true")
        assert r.returncode == 0, r.stderr


def test_ntlmv1_refused_by_server(nt1_v2only, run_smbgate):
    """`ntlm auth = ntlmv2-only` (Samba's default): NTLMv1 fails even when allowed here."""
    with Smb1Proxy(nt1_v2only.port, no_extsec=True) as px:
        r = run_smbgate("ls", px.url(nt1_v2only, "plain") + "&auth-ntlmv1=true")
        assert r.returncode == EXIT_AUTH, r.stderr
        assert "LOGON_FAILURE" in r.stderr
        # Extended security (NTLMSSP, NTLMv2) works on the same server.
        r = run_smbgate("ls", nt1_url(nt1_v2only, "plain"))
        assert r.returncode == 0, r.stderr


def test_session_setup_chains_tree_connect(samba_nt1, run_smbgate):
    """The last SESSION_SETUP_ANDX leg carries TREE_CONNECT_ANDX (AndX chain): no separate
    TREE_CONNECT_ANDX request goes out."""
    with Smb1Proxy(samba_nt1.port) as px:
        r = run_smbgate("ls", px.url(samba_nt1, "plain"))
        assert r.returncode == 0, r.stderr
        last = px.messages(True, 0x73)[-1]
        assert last[33] == 0x75  # AndXCommand
        assert px.messages(True, 0x75) == []


def test_dos_error_codes(samba_nt1, run_smbgate, area):
    """Without CAP_STATUS32 the server answers with DOS error classes; they map to the same
    errors and messages as NT status codes."""
    name, local = area
    (local / "here.txt").write_text("here")
    own(samba_nt1, local / "here.txt")
    with Smb1Proxy(samba_nt1.port, no_status32=True) as px:
        r = run_smbgate("cat", px.url(samba_nt1, "plain", f"{name}/missing.txt"))
        assert r.returncode == EXIT_NOTFOUND, r.stderr
        assert "OBJECT_NAME_NOT_FOUND" in r.stderr
        dos = [m for m in px.messages(False) if not struct.unpack_from("<H", m, 10)[0] & 0x4000
               and m[5] == 0x01]
        assert dos, "the server sent no DOS error"
        r = run_smbgate("cat", px.url(samba_nt1, "plain", f"{name}/here.txt"))
        assert r.returncode == 0 and r.stdout == "here"
        r = run_smbgate("ls", px.url(samba_nt1, "nosuchshare"))
        assert r.returncode == EXIT_NOTFOUND and "BAD_NETWORK_NAME" in r.stderr


# ---- peers ------------------------------------------------------------------------------------


def test_curl_reads_what_smbgate_wrote(samba_nt1, run_smbgate, area, tmp_path):
    """curl's smb:// (SMB1, NTLMv1) reads back what smbgate wrote over SMB1."""
    if not shutil.which("curl"):
        pytest.skip("curl missing")
    name, local = area
    data = os.urandom(2 * 1024 * 1024 + 77)
    (tmp_path / "w.bin").write_bytes(data)
    r = run_smbgate("put", tmp_path / "w.bin", nt1_url(samba_nt1, "plain", f"{name}/w.bin"))
    assert r.returncode == 0, r.stderr
    out = tmp_path / "curl.bin"
    c = subprocess.run(["curl", "-sS", "-u", f"{samba_nt1.user}:{samba_nt1.password}",
                        f"smb://127.0.0.1:{samba_nt1.port}/plain/{name}/w.bin", "-o", str(out)],
                       capture_output=True, text=True, timeout=60)
    assert c.returncode == 0, c.stderr
    assert out.read_bytes() == data


# ---- servers smbgate refuses ------------------------------------------------------------------


def smb1_negotiate_reply(words, data=b"", flags2=0xC853):
    """reply(request) for a ScriptedServer: an SMB1 NEGOTIATE response with the given words
    and bytes, under the request's MID."""

    def reply(req):
        msg = (b"\xffSMB\x72" + bytes(4) + bytes([0x88]) + struct.pack("<H", flags2)
               + bytes(2 + 8 + 2 + 6) + req[30:32])
        msg += bytes([len(words) // 2]) + words
        msg += struct.pack("<H", len(data)) + data
        return len(msg).to_bytes(4, "big") + msg

    return reply


def _neg_words(security_mode, caps=0x8000F3FD):
    return struct.pack("<HBHHIIIIQhB", 0, security_mode, 50, 1, 16644, 65536, 0, caps, 0, 0, 0)


@pytest.mark.parametrize("words,data,message", [
    (_neg_words(0x02), b"\x11" * 16, "share-level security"),
    (b"\xff\xff", b"", "none of the offered dialects"),
], ids=["share_level_server", "no_common_dialect"])
def test_server_refused_at_negotiate(run_smbgate, words, data, message):
    """A share-level security server, and one that takes none of the offered dialects (index
    0xFFFF): a protocol error naming the reason."""
    with ScriptedServer(smb1_negotiate_reply(words, data), hold=0.5) as fake:
        r = run_smbgate("ls", f"smb://127.0.0.1:{fake.port}/s?max-protocol=NT1"
                              "&auth-username=u&auth-password=p")
        assert r.returncode == EXIT_PROTO
        assert message in r.stderr


# ---- NetBIOS session service: negative response -------------------------------------------


def test_netbios_negative_session_response(samba_nt1, run_smbgate):
    """Port 139 in front of Samba refuses the called name LOCALHOST: the retry as *SMBSERVER
    gets the session; refusing every name is a connection error naming the name."""
    with NbssResponder(samba_nt1.port) as gate:
        r = run_smbgate("-v", "ls", gate.url(samba_nt1, "plain", host="localhost",
                                             max_protocol="NT1", transport="netbios"))
        assert r.returncode == 0, r.stderr
        assert gate.called == [("LOCALHOST", 0x20), ("*SMBSERVER", 0x20)]
        assert "SMB NT1" in r.stderr
    with NbssResponder(samba_nt1.port, accept=()) as gate:
        r = run_smbgate("ls", gate.url(samba_nt1, "plain", host="localhost", max_protocol="NT1",
                                       transport="netbios"))
        assert r.returncode == EXIT_CONNECT
        assert "called name not present" in r.stderr and "LOCALHOST" in r.stderr


# ---- NetBIOS name service -----------------------------------------------------------------


class NbnsResponder:
    """A scripted NetBIOS name server on UDP: `names` maps NAME -> IPv4 address; other names
    get a negative response unless `silent`; node status lists fixed names."""

    def __init__(self, names, host="127.0.0.1", port=0, silent=False):
        self.names, self.silent, self.queries = names, silent, []
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((host, port))
        self.port = self.s.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                d, a = self.s.recvfrom(2048)
            except OSError:
                return
            if len(d) < 50:
                continue
            tid, flags = struct.unpack(">HH", d[:4])
            name, ntype = nb_decode(d[13:45])
            qtype = struct.unpack(">H", d[46:48])[0]
            self.queries.append((name, ntype, flags, qtype))
            if self.silent:
                continue
            q = d[12:46]
            if qtype == 0x21:
                names = [("TESTHOST", 0x00, 0x0400), ("TESTHOST", 0x20, 0x0400),
                         ("TESTGROUP", 0x00, 0x8400)]
                rd = bytes([len(names)]) + b"".join(
                    n.encode().ljust(15, b" ") + bytes([t]) + struct.pack(">H", f)
                    for n, t, f in names) + bytes([0x02, 0x11, 0x22, 0x33, 0x44, 0x55]) + bytes(40)
                pkt = struct.pack(">HHHHHH", tid, 0x8400, 0, 1, 0, 0) + q + struct.pack(
                    ">HHIH", 0x21, 1, 0, len(rd)) + rd
            elif name in self.names:
                rd = struct.pack(">H", 0) + socket.inet_aton(self.names[name])
                pkt = struct.pack(">HHHHHH", tid, 0x8580, 0, 1, 0, 0) + q + struct.pack(
                    ">HHIH", 0x20, 1, 300000, len(rd)) + rd
            else:
                pkt = struct.pack(">HHHHHH", tid, 0x8583, 0, 1, 0, 0) + q + struct.pack(
                    ">HHIH", 0x0A, 1, 0, 0)
            self.s.sendto(pkt, a)

    def close(self):
        self.s.close()


@pytest.fixture
def nbns():
    r = NbnsResponder({"TESTHOST": "127.0.0.1", "OTHERHOST": "127.0.0.2"})
    yield r
    r.close()


def test_lookup_unicast(run_smbgate, nbns):
    r = run_smbgate("lookup", "--wins-server", "127.0.0.1", "--port", nbns.port, "testhost")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "127.0.0.1 testhost<20>\n"
    name, ntype, flags, qtype = nbns.queries[-1]
    assert (name, ntype, qtype) == ("TESTHOST", 0x20, 0x20)
    assert flags & 0x0100 and not flags & 0x0010  # recursion desired, not broadcast
    r = run_smbgate("lookup", "--wins-server", "127.0.0.1", "--port", nbns.port, "OTHERHOST#00")
    assert r.returncode == 0 and r.stdout == "127.0.0.2 OTHERHOST<00>\n"


def test_lookup_node_status(run_smbgate, nbns):
    r = run_smbgate("lookup", "-S", "--wins-server", "127.0.0.1", "--port", nbns.port,
                    "TESTHOST")
    assert r.returncode == 0, r.stderr
    assert "Node status of 127.0.0.1" in r.stdout
    assert "TESTGROUP" in r.stdout and "<GROUP>" in r.stdout and "<ACTIVE>" in r.stdout
    assert "MAC Address = 02-11-22-33-44-55" in r.stdout
    assert nbns.queries[-1][0] == "*" and nbns.queries[-1][3] == 0x21


def test_lookup_negative_answer(run_smbgate, nbns):
    r = run_smbgate("lookup", "--wins-server", "127.0.0.1", "--port", nbns.port, "NOBODY")
    assert r.returncode == EXIT_NOTFOUND
    assert "NOBODY<20> not found" in r.stderr


def test_lookup_timeout_message(run_smbgate):
    silent = NbnsResponder({}, silent=True)
    try:
        t0 = time.monotonic()
        r = run_smbgate("lookup", "--wins-server", "127.0.0.1", "--port", silent.port,
                        "--timeout", "2", "TESTHOST")
        took = time.monotonic() - t0
        assert r.returncode == EXIT_CONNECT
        assert "timed out: no answer" in r.stderr
        assert 1.8 <= took < 5
        # Broadcast: 3 tries 250 ms apart (RFC 1002 BCAST_REQ_RETRY_*), then the message.
        silent.queries.clear()
        t0 = time.monotonic()
        bcast = NbnsResponder({}, host="127.255.255.255", silent=True)
        r = run_smbgate("lookup", "--broadcast", "127.255.255.255", "--port", bcast.port,
                        "TESTHOST")
        took = time.monotonic() - t0
        assert r.returncode == EXIT_CONNECT
        assert "3 tries 250 ms apart" in r.stderr
        assert 0.7 <= took < 3
        assert len(bcast.queries) == 3 and all(q[2] & 0x0010 for q in bcast.queries)
        bcast.close()
    finally:
        silent.close()


def test_lookup_bad_names(run_smbgate):
    for bad in ("WAYTOOLONGNAME1234", "BAD*NAME", "a b", "NAME#zz"):
        r = run_smbgate("lookup", bad)
        assert r.returncode == EXIT_USAGE, bad
        assert "bad" in r.stderr


def test_connect_by_netbios_name(samba_nt1, run_smbgate):
    """smb://NAME/share: DNS does not know NAME, the name server (wins=, UDP 137) does."""
    try:
        ns = NbnsResponder({"SMB1TESTHOST": "127.0.0.1"}, port=137)
    except OSError as e:
        pytest.skip(f"UDP 127.0.0.1:137 unavailable: {e}")
    try:
        q = f"auth-username={samba_nt1.user}&auth-password={samba_nt1.password}&wins=127.0.0.1"
        r = run_smbgate("ls", f"smb://smb1testhost:{samba_nt1.port}/plain?{q}&max-protocol=NT1")
        assert r.returncode == 0, r.stderr
        assert ("SMB1TESTHOST", 0x20) == ns.queries[-1][:2]
        r = run_smbgate("ls", f"smb://SMB1TESTHOST:{samba_nt1.nbport}/plain?{q}"
                              "&transport=netbios")
        assert r.returncode == 0, r.stderr
        r = run_smbgate("-v", "ls", f"smb://NOSUCHSMBHOST:{samba_nt1.port}/plain?{q}")
        assert r.returncode == EXIT_CONNECT
        assert "NOSUCHSMBHOST<20> not found" in r.stderr
    finally:
        ns.close()


# ---- nmbd in a network namespace ----------------------------------------------------------


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def nmbd_netns(tmp_path_factory):
    """nmbd serving NMBDHOST on a veth pair between two namespaces made here (nmbd will not
    serve on loopback alone)."""
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nmbd"):
        pytest.skip("needs root, iproute2 and nmbd")
    tag = f"s1{os.getpid() % 100000}"
    ns_srv, ns_cli = f"{tag}srv", f"{tag}cli"
    if _ip("netns", "add", ns_srv, check=False).returncode != 0:
        pytest.skip("cannot create network namespaces here")
    d = tmp_path_factory.mktemp("nmbd")
    proc = None
    try:
        _ip("netns", "add", ns_cli)
        _ip("link", "add", f"{tag}a", "type", "veth", "peer", "name", f"{tag}b")
        _ip("link", "set", f"{tag}a", "netns", ns_srv)
        _ip("link", "set", f"{tag}b", "netns", ns_cli)
        for ns, dev, addr in ((ns_srv, f"{tag}a", "10.219.7.1/24"),
                              (ns_cli, f"{tag}b", "10.219.7.2/24")):
            _ip("-n", ns, "addr", "add", addr, "brd", "10.219.7.255", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        for sub in ("lock", "state", "cache", "run", "private", "log"):
            (d / sub).mkdir()
        conf = d / "smb.conf"
        conf.write_text(
            "[global]\n"
            "netbios name = NMBDHOST\nworkgroup = S1GROUP\n"
            f"interfaces = {tag}a\nbind interfaces only = yes\n"
            f"lock directory = {d}/lock\nstate directory = {d}/state\n"
            f"cache directory = {d}/cache\npid directory = {d}/run\n"
            f"private dir = {d}/private\nlog file = {d}/log/nmbd.log\n"
            "server role = standalone server\nload printers = no\n")
        proc = subprocess.Popen(["ip", "netns", "exec", ns_srv, "nmbd", "-F",
                                 "--no-process-group", "-s", str(conf)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        # nmbd registers its names by broadcast first (a few seconds).
        deadline = time.time() + 30
        while time.time() < deadline:
            if "NMBDHOST" in (d / "log" / "nmbd.log").read_text(errors="replace") \
                    if (d / "log" / "nmbd.log").exists() else False:
                break
            time.sleep(0.5)
        time.sleep(3)
        yield ns_cli
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        _ip("netns", "del", ns_srv, check=False)
        _ip("netns", "del", ns_cli, check=False)


def test_lookup_against_nmbd(nmbd_netns, smbgate_bin):
    """Broadcast and unicast name queries, and node status, answered by a real nmbd."""
    run = lambda *a: subprocess.run(["ip", "netns", "exec", nmbd_netns, smbgate_bin, *a],
                                    capture_output=True, text=True, timeout=60)
    r = run("lookup", "--broadcast", "10.219.7.255", "NMBDHOST")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "10.219.7.1 NMBDHOST<20>"
    r = run("lookup", "--wins-server", "10.219.7.1", "NMBDHOST#00")
    # nmbd answers unicast queries for its own names too
    assert r.returncode == 0, r.stderr
    r = run("lookup", "-S", "--broadcast", "10.219.7.255", "NMBDHOST")
    assert r.returncode == 0, r.stderr
    assert "S1GROUP" in r.stdout and "NMBDHOST" in r.stdout
    r = run("lookup", "--broadcast", "10.219.7.255", "NOTTHERE")
    assert r.returncode == EXIT_CONNECT and "timed out" in r.stderr
