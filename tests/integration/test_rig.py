"""The test rig itself, checked with Samba's own smbclient (no smbgate needed), plus a first
smbgate smoke test that is skipped while the binary does not exist."""

import contextlib
import json
import os
import pwd
import re
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from samba import BIG_FILES, BIG_SPARSE, BIG_SPARSE_SIZE, SambaServer, _alive

RIG = Path(__file__).resolve().parents[1] / "rig" / "samba.py"


@contextlib.contextmanager
def connected(server, share, *extra):
    """An smbclient session held open on share, for smbstatus to look at."""
    p = subprocess.Popen(
        ["smbclient", "-s", server.conf, "-p", str(server.port), "-U",
         f"{server.user}%{server.password}", f"//{server.host}/{share}", *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            st = server.status()
            tcons = [t for t in st["tcons"].values() if t["service"] == share]
            if tcons:
                break
            if p.poll() is not None or time.monotonic() > deadline:
                out, err = p.communicate()
                pytest.fail(f"smbclient did not connect to {share}: {out}{err}")
            time.sleep(0.05)
        sess = st["sessions"][tcons[0]["session_id"]]
        yield sess, tcons[0]
    finally:
        p.communicate(timeout=20)


def test_plain_put_get(samba, tmp_path):
    data = os.urandom(1 << 20) + b"end"
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    r = samba.smbclient(share="plain", command=f"put {src} up.bin")
    assert r.returncode == 0, r.stdout + r.stderr
    on_disk = Path(samba.share_path("plain")) / "up.bin"
    assert on_disk.read_bytes() == data
    # smbd wrote it as the test user, not as root
    assert on_disk.stat().st_uid == pwd.getpwnam(samba.user).pw_uid
    dst = tmp_path / "dst.bin"
    r = samba.smbclient(share="plain", command=f"get up.bin {dst}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert dst.read_bytes() == data
    r = samba.smbclient(share="plain", command="rm up.bin")
    assert r.returncode == 0 and not on_disk.exists()


def test_wrong_password_refused(samba):
    r = subprocess.run(["smbclient", "-s", samba.conf, "-p", str(samba.port), "-U",
                        f"{samba.user}%not-the-password", f"//{samba.host}/plain", "-c", "ls"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "NT_STATUS_LOGON_FAILURE" in r.stdout + r.stderr


def test_ro_refuses_writes(samba, tmp_path):
    src = tmp_path / "x.txt"
    src.write_text("x")
    r = samba.smbclient(share="ro", command=f"put {src} x.txt")
    assert r.returncode != 0
    assert "NT_STATUS_ACCESS_DENIED" in r.stdout + r.stderr
    assert not (Path(samba.share_path("ro")) / "x.txt").exists()
    r = samba.smbclient(share="ro", command=f"get readme.txt {tmp_path / 'readme.txt'}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "readme.txt").read_text() == "this share is read-only\n"


def test_enc_requires_encryption(samba, tmp_path):
    src = tmp_path / "e.txt"
    src.write_text("sealed")
    r = samba.smbclient("--client-protection=encrypt", share="enc", command=f"put {src} e.txt")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (Path(samba.share_path("enc")) / "e.txt").read_text() == "sealed"
    # SMB 2.1 has no encryption: the share must turn it away
    r = samba.smbclient("-m", "SMB2_10", share="enc", command="ls")
    assert r.returncode != 0
    assert "NT_STATUS_ACCESS_DENIED" in r.stdout + r.stderr
    with connected(samba, "enc") as (sess, tcon):
        assert tcon["encryption"]["degree"] == "full"
    with connected(samba, "plain") as (sess, tcon):
        assert tcon["encryption"]["degree"] == "none"


def test_signing_mandatory_server(samba, samba_signed):
    with connected(samba_signed, "signed") as (sess, tcon):
        assert sess["signing"]["degree"] == "full"
    # even a client that would rather not sign is made to
    with connected(samba_signed, "plain", "--option=client signing=disabled") as (sess, tcon):
        assert sess["signing"]["degree"] == "full"
    with connected(samba, "plain", "--option=client signing=disabled") as (sess, tcon):
        assert sess["signing"]["degree"] != "full"
    assert "signed" not in samba.shares


def test_nt1_server(samba, samba_nt1):
    smb1 = ["-m", "NT1", "--option=client min protocol=NT1"]
    r = samba.smbclient(*smb1, share="plain", command="ls")
    assert r.returncode != 0, "the default server must refuse SMB1"
    r = samba_nt1.smbclient(*smb1, share="plain", command="ls")
    assert r.returncode == 0, r.stdout + r.stderr
    with connected(samba_nt1, "plain", *smb1) as (sess, tcon):
        assert sess["session_dialect"] == "NT1"
    with connected(samba_nt1, "plain") as (sess, tcon):
        assert sess["session_dialect"].startswith("SMB3")


def test_big_share(samba):
    r = samba.smbclient(share="big", command="ls", timeout=120)
    assert r.returncode == 0, r.stderr
    names = re.findall(r"^\s+(small-\d{5}\.txt)\s", r.stdout, re.M)
    assert len(names) == BIG_FILES == len(set(names))
    m = re.search(rf"^\s+{re.escape(BIG_SPARSE)}\s+\S+\s+(\d+)\s", r.stdout, re.M)
    assert m and int(m.group(1)) == BIG_SPARSE_SIZE
    st = os.stat(os.path.join(samba.share_path("big"), BIG_SPARSE))
    assert st.st_size == BIG_SPARSE_SIZE and st.st_blocks == 0  # sparse: costs no memory


def test_second_port_answers(samba):
    assert samba.nbport != samba.port
    r = samba.smbclient("-p", str(samba.nbport), share="plain", command="ls")
    assert r.returncode == 0, r.stdout + r.stderr


def test_url(samba):
    u = samba.url("plain", "a dir/ü.txt", max_protocol="3.0")
    p = urllib.parse.urlsplit(u)
    assert (p.scheme, p.hostname, p.port) == ("smb", "127.0.0.1", samba.port)
    assert urllib.parse.unquote(p.path) == "/plain/a dir/ü.txt"
    q = dict(urllib.parse.parse_qsl(p.query))
    assert q == {"auth-username": samba.user, "auth-password": samba.password,
                 "max-protocol": "3.0"}
    assert samba.url("ro", creds=None) == f"smb://127.0.0.1:{samba.port}/ro"
    assert samba.url("ro", creds="userinfo").startswith(f"smb://{samba.user}:")


def test_stop_leaves_nothing(tmp_path):
    s = SambaServer(big=False)
    s.start()
    d = s.dir
    r = s.smbclient("-L", s.host)  # starts samba-dcerpcd and rpcd_* helpers
    assert r.returncode == 0 and "plain" in r.stdout
    with connected(s, "plain"):
        pids = s.pids()
        assert len(pids) >= 3  # parent smbd, connection smbd, samba-dcerpcd...
    s.stop()
    assert not [p for p in pids if _alive(p)]
    assert not os.path.exists(d)


def test_cli_start_stop(tmp_path):
    d = Path("/dev/shm") / f"smbgate-rig-cli-{os.getpid()}"
    r = subprocess.run([sys.executable, str(RIG), "start", "--dir", str(d), "--no-big"],
                       capture_output=True, text=True, timeout=120)
    try:
        assert r.returncode == 0, r.stderr
        env = dict(line.split("=", 1) for line in (d / "env").read_text().splitlines())
        assert env["SMB_PORT"].isdigit()
        url = env["SMB_URL_PLAIN"].strip("'")
        assert url.startswith(f"smb://127.0.0.1:{env['SMB_PORT']}/plain?auth-username=")
        r = subprocess.run(["smbclient", "-s", env["SMB_CONF"], "-p", env["SMB_PORT"], "-U",
                            f"{env['SMB_USER']}%{env['SMB_PASSWORD']}", "//127.0.0.1/plain",
                            "-c", "ls"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        pids = json.loads((d / "rig.json").read_text())["pids"]
    finally:
        r2 = subprocess.run([sys.executable, str(RIG), "stop", "--dir", str(d)],
                            capture_output=True, text=True, timeout=120)
    assert r2.returncode == 0, r2.stderr
    assert not d.exists()
    assert not [p for p in pids if _alive(p)]


def test_smbgate_lists_plain(samba, run_smbgate, tmp_path):
    """First end-to-end check of the client; skipped while build/smbgate does not exist."""
    (Path(samba.share_path("plain")) / "smoke-list.txt").write_text("x")
    try:
        r = run_smbgate("ls", samba.url("plain"))
        assert r.returncode == 0, r.stderr
        assert "smoke-list.txt" in r.stdout
    finally:
        os.unlink(Path(samba.share_path("plain")) / "smoke-list.txt")
