"""The smbgate command line against the private Samba of tests/rig/samba.py.

Every result is checked independently: on the share's directory on disk (samba.share_path) or
with Samba's smbclient. Every failure case checks the exit code (README "Exit codes") and the
one-line message. Run: SMBGATE_BIN=build/smbgate /usr/bin/python3 -m pytest tests/integration/test_cli.py
"""

import hashlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from samba import BIG_FILES, BIG_SPARSE, BIG_SPARSE_SIZE
from smb_helpers import (EXIT_AUTH, EXIT_CONNECT, EXIT_DENIED, EXIT_ERROR, EXIT_NOTFOUND,
                         EXIT_PROTO, EXIT_USAGE, FrameProxy, TcpServer, free_port, node_slug, own,
                         put_and_read_back, scratch_dir)

COMMANDS = ["ls", "get", "put", "cat", "rm", "mkdir", "rmdir", "mv", "stat", "df", "test"]
UNICODE_NAME = "ünïcødé 日本語 🎉.txt"


# ---- helpers ------------------------------------------------------------------------------


class Area:
    """A fresh directory in the plain share, owned by the share's user (smbd works as it)."""

    def __init__(self, samba, name):
        self.samba = samba
        self.rel = name
        self.path = Path(samba.share_path("plain")) / name

    def url(self, sub="", **kw):
        return self.samba.url("plain", f"{self.rel}/{sub}" if sub else self.rel, **kw)

    def where(self):
        return f"smb://127.0.0.1:{self.samba.port}/plain"

    def mkdir(self, sub):
        p = self.path
        for part in Path(sub).parts:
            p = p / part
            if not p.exists():
                p.mkdir()
                own(self.samba, p)
        return p

    def write(self, sub, data):
        if isinstance(data, str):
            data = data.encode()
        if os.path.dirname(sub):
            self.mkdir(os.path.dirname(sub))
        p = self.path / sub
        p.write_bytes(data)
        own(self.samba, p)
        return p


@pytest.fixture
def area(samba, request):
    name = node_slug(request, "t-")
    with scratch_dir(samba, "plain", name):
        yield Area(samba, name)


def one_line(r):
    """The stderr of a failed run: exactly one line, returned without its newline."""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {r.stderr!r}"
    return lines[0]


def temp_leftovers(d):
    return [p.name for p in Path(d).rglob("*") if ".smbgate-" in p.name]


def tree_files(root):
    """{relative path: bytes} of every file, and the set of directories, under root."""
    files, dirs = {}, set()
    for dp, dns, fns in os.walk(root):
        for n in dns:
            dirs.add(os.path.relpath(os.path.join(dp, n), root))
        for n in fns:
            p = os.path.join(dp, n)
            files[os.path.relpath(p, root)] = Path(p).read_bytes()
    return files, dirs


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 22)
            if not b:
                return h.hexdigest()
            h.update(b)


class FakeServer(TcpServer):
    """A TCP listener on 127.0.0.1 that does one thing to every connection: "close" at once,
    "silent" (accept and never answer), or "garbage" (send bytes that are not SMB)."""

    def __init__(self, mode):
        self.mode, self.conns = mode, []
        super().__init__()

    def handle(self, conn):
        if self.mode == "close":
            conn.close()
            return
        if self.mode == "garbage":
            try:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n" + b"\xff" * 200)
            except OSError:
                pass
        self.conns.append(conn)

    def close(self):
        super().close()
        for c in self.conns:
            c.close()


def ls_fake_server(run_smbgate, mode, *opts):
    """`smbgate ls [opts] smb://127.0.0.1:PORT/plain` against a FakeServer(mode), closed once
    the run ends: (result, port, seconds taken)."""
    with FakeServer(mode) as srv:
        t0 = time.monotonic()
        r = run_smbgate("ls", *opts, f"smb://127.0.0.1:{srv.port}/plain", timeout=60)
        return r, srv.port, time.monotonic() - t0


# ---- help, version, usage -----------------------------------------------------------------


def test_global_help_and_version(run_smbgate):
    r = run_smbgate("--help")
    assert r.returncode == 0 and r.stderr == ""
    for c in COMMANDS + ["serve"]:
        assert re.search(rf"^  {c}\s", r.stdout, re.M), c
    assert "Exit codes" in r.stdout and "smb://" in r.stdout
    r = run_smbgate("--version")
    assert r.returncode == 0 and re.match(r"smbgate \d+\.\d+", r.stdout)


@pytest.mark.parametrize("cmd", COMMANDS)
def test_command_help(run_smbgate, cmd):
    r = run_smbgate(cmd, "--help")
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith(f"Usage: smbgate {cmd} ")
    assert "Options:" in r.stdout and "--help" in r.stdout
    assert re.search(rf"Example:\n  smbgate {cmd} ", r.stdout)


def test_usage_errors(run_smbgate):
    r = run_smbgate()
    assert r.returncode == EXIT_USAGE and "Usage: smbgate" in r.stderr
    r = run_smbgate("frobnicate")
    assert r.returncode == EXIT_USAGE
    assert one_line(r) == "smbgate: unknown command 'frobnicate' (see `smbgate --help`)"
    r = run_smbgate("get")
    assert r.returncode == EXIT_USAGE
    assert one_line(r).startswith("smbgate get: missing argument (usage: smbgate get ")
    r = run_smbgate("ls", "--bogus", "smb://h/s")
    assert r.returncode == EXIT_USAGE
    assert one_line(r) == "smbgate ls: unknown option --bogus (see `smbgate ls --help`)"
    r = run_smbgate("ls", "-r", "-1", "-x", "smb://h/s")
    assert r.returncode == EXIT_USAGE and "unknown option -x" in one_line(r)
    r = run_smbgate("mv", "smb://h/s/a")
    assert r.returncode == EXIT_USAGE and "missing argument" in one_line(r)
    r = run_smbgate("df", "smb://h/s", "smb://h/t")
    assert r.returncode == EXIT_USAGE
    assert one_line(r).startswith("smbgate df: too many arguments: smb://h/t")
    r = run_smbgate("cat", "--offset", "12Q", "smb://h/s/f")
    assert r.returncode == EXIT_USAGE and "--offset wants a byte count, not 12Q" in one_line(r)
    r = run_smbgate("ls", "--timeout", "soon", "smb://h/s")
    assert r.returncode == EXIT_USAGE and "--timeout wants a number of seconds" in one_line(r)


# ---- ls --------------------------------------------------------------------------------


def test_ls(samba, run_smbgate, area):
    area.write("b.txt", "hello")
    area.write("a.txt", "x" * 1234)
    area.mkdir("sub")
    area.write("sub/inner.txt", "in")
    os.utime(area.path / "a.txt", (1700000000, 1700000000))
    r = run_smbgate("ls", area.url())
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert len(lines) == 3
    assert re.fullmatch(r"- +1234 \d{4}-\d\d-\d\d \d\d:\d\d a\.txt", lines[0])
    assert re.fullmatch(r"- +5 \d{4}-\d\d-\d\d \d\d:\d\d b\.txt", lines[1])
    assert re.fullmatch(r"d +\d+ \d{4}-\d\d-\d\d \d\d:\d\d sub/", lines[2])
    assert time.strftime("%Y-%m-%d %H:%M", time.localtime(1700000000)) in lines[0]

    r = run_smbgate("ls", "-1", area.url())
    assert r.returncode == 0 and r.stdout == "a.txt\nb.txt\nsub/\n"
    r = run_smbgate("ls", "-1", "-r", area.url())
    assert r.returncode == 0 and r.stdout == "a.txt\nb.txt\nsub/\nsub/inner.txt\n"
    # a file path lists that file
    r = run_smbgate("ls", area.url("b.txt"))
    assert r.returncode == 0
    assert re.fullmatch(r"- +5 \S+ \S+ b\.txt\n", r.stdout)


def test_ls_share_root_userinfo_url(samba, run_smbgate, area):
    r = run_smbgate("ls", "-1", samba.url("plain", creds="userinfo"))
    assert r.returncode == 0, r.stderr
    assert f"{area.rel}/" in r.stdout.splitlines()


def test_ls_big_share(samba, run_smbgate):
    r = run_smbgate("ls", samba.url("big"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == BIG_FILES + 1
    names = [l.split()[-1] for l in lines]
    assert names == sorted(names)
    assert names[:2] == ["small-00000.txt", "small-00001.txt"] and names[-2] == "small-09999.txt"
    sparse = [l for l in lines if l.endswith(" " + BIG_SPARSE)]
    assert len(sparse) == 1 and sparse[0].split()[1] == str(BIG_SPARSE_SIZE)
    small = [l for l in lines if l.endswith(" small-00042.txt")]
    assert small[0].split()[1] == str(len("small file 00042\n"))


def test_ls_unicode(samba, run_smbgate, area):
    area.write(UNICODE_NAME, "u")
    area.mkdir("dïr ✓")
    r = run_smbgate("ls", "-1", area.url())
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == sorted([UNICODE_NAME, "dïr ✓/"])


# ---- get / cat -------------------------------------------------------------------------


def test_get_file(samba, run_smbgate, area, tmp_path):
    data = os.urandom(300000)
    area.write("doc.bin", data)
    os.utime(area.path / "doc.bin", (1600000000, 1600000000.5))
    # into an existing directory: keeps the name
    r = run_smbgate("get", area.url("doc.bin"), tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "" and r.stdout == ""  # no progress bar when piped
    assert (tmp_path / "doc.bin").read_bytes() == data
    assert int((tmp_path / "doc.bin").stat().st_mtime) == 1600000000
    # to an explicit name, replacing what is there
    (tmp_path / "other.bin").write_bytes(b"old")
    r = run_smbgate("get", area.url("doc.bin"), tmp_path / "other.bin")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "other.bin").read_bytes() == data
    # to stdout
    r = run_smbgate("get", area.url("doc.bin"), "-", text=False)
    assert r.returncode == 0 and r.stdout == data
    # default: the current directory
    sub = tmp_path / "cwd"
    sub.mkdir()
    r = run_smbgate("get", area.url("doc.bin"), cwd=sub)
    assert r.returncode == 0 and (sub / "doc.bin").read_bytes() == data
    assert temp_leftovers(tmp_path) == []


def test_get_empty_and_unicode(samba, run_smbgate, area, tmp_path):
    area.write("empty", b"")
    area.write(UNICODE_NAME, "ünï")
    r = run_smbgate("get", area.url("empty"), tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "empty").read_bytes() == b""
    r = run_smbgate("get", area.url(UNICODE_NAME), tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / UNICODE_NAME).read_text() == "ünï"


def test_get_directory_needs_r(samba, run_smbgate, area, tmp_path):
    area.mkdir("d")
    r = run_smbgate("get", area.url("d"), tmp_path)
    assert r.returncode == EXIT_ERROR
    assert one_line(r) == f"smbgate get: {area.rel}/d on {area.where()} is a directory (use -r)"
    assert list(tmp_path.iterdir()) == []


def test_cat(samba, run_smbgate, area):
    area.write("a.txt", "first\n")
    area.write("b.txt", "second\n")
    r = run_smbgate("cat", area.url("a.txt"), area.url("b.txt"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "first\nsecond\n" and r.stderr == ""
    r = run_smbgate("cat", "--offset", "2", "--count", "3", area.url("a.txt"))
    assert r.returncode == 0 and r.stdout == "rst"
    r = run_smbgate("cat", "--offset=100", area.url("a.txt"))
    assert r.returncode == 0 and r.stdout == ""


def test_cat_above_4gib(samba, run_smbgate, area):
    """Reads at offsets that do not fit in 32 bits, from a sparse file with markers."""
    p = area.write("sparse.bin", b"")
    size = 5 * 2**30 + 2
    low, high = 4 * 2**30 + 12345, size - 9
    with open(p, "r+b") as f:
        f.truncate(size)
        f.seek(low)
        f.write(b"MARK-ABOVE-4G")
        f.seek(high)
        f.write(b"TAIL-MARK")
    r = run_smbgate("cat", "--offset", low - 3, "--count", 19, area.url("sparse.bin"), text=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"\0\0\0MARK-ABOVE-4G\0\0\0"
    # a range running past the end stops at the end
    r = run_smbgate("cat", "--offset", high - 3, "--count", 100, area.url("sparse.bin"),
                    text=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"\0\0\0TAIL-MARK"
    r = run_smbgate("cat", "--offset", size - 3, area.url("sparse.bin"), text=False)
    assert r.returncode == 0 and r.stdout == b"ARK"
    # the big share's sparse 5 GiB file, 1 MiB above 4.5 GiB (suffixes)
    r = run_smbgate("cat", "--offset", "4608M", "--count", "1M", samba.url("big", BIG_SPARSE),
                    text=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"\0" * 2**20


# ---- put ------------------------------------------------------------------------------


def test_put_file(samba, run_smbgate, area, tmp_path):
    data = os.urandom(200000)
    src = tmp_path / "up.bin"
    src.write_bytes(data)
    os.utime(src, (1500000000, 1500000000))
    # URL names a directory: the local name is kept
    r = run_smbgate("put", src, area.url())
    assert r.returncode == 0, r.stderr
    assert r.stderr == "" and r.stdout == ""
    assert (area.path / "up.bin").read_bytes() == data
    assert int((area.path / "up.bin").stat().st_mtime) == 1500000000
    # an explicit name, overwriting a longer file
    area.write("named.bin", b"y" * 500000)
    r = run_smbgate("put", src, area.url("named.bin"))
    assert r.returncode == 0, r.stderr
    assert (area.path / "named.bin").read_bytes() == data
    # stdin
    r = run_smbgate("put", "-", area.url("stdin.txt"), input="from stdin\n")
    assert r.returncode == 0, r.stderr
    assert (area.path / "stdin.txt").read_text() == "from stdin\n"
    # checked with smbclient too
    r = samba.smbclient(share="plain", command=f"ls {area.rel}/*")
    assert r.returncode == 0 and "up.bin" in r.stdout and "stdin.txt" in r.stdout


SMB2_CREATE, SMB2_CLOSE, SMB2_SET_INFO = 5, 6, 17


def smb2_sent(stderr, command):
    """How many SMB2 requests with this command number a -vvv run sent (its trace lines)."""
    return len(re.findall(rf"trace: smb2 -> cmd {command} mid ", stderr))


def test_put_renames_through_the_open_handle(samba, run_smbgate, area, tmp_path):
    """put over an existing file renames the temporary file over it through the handle that
    wrote it, one SET_INFO: no more CREATEs and CLOSEs than --inplace (a rename by path opens
    and closes the temporary file again), and no .partial left behind."""
    data = os.urandom(100000)
    src = tmp_path / "new.bin"
    src.write_bytes(data)
    os.utime(src, (1500000000, 1500000000))
    runs = {}
    for name, opts in (("atomic.bin", ()), ("inplace.bin", ("--inplace",))):
        area.write(name, b"old" * 50000)
        r = run_smbgate("-vvv", "put", *opts, src, area.url(name))
        assert r.returncode == 0, r.stderr
        assert (area.path / name).read_bytes() == data
        assert int((area.path / name).stat().st_mtime) == 1500000000
        runs[name] = r.stderr
    assert sorted(os.listdir(area.path)) == ["atomic.bin", "inplace.bin"]
    atomic, inplace = runs["atomic.bin"], runs["inplace.bin"]
    assert "through its open handle" in atomic
    sent = {c: (smb2_sent(atomic, c), smb2_sent(inplace, c))
            for c in (SMB2_CREATE, SMB2_CLOSE, SMB2_SET_INFO)}
    assert sent[SMB2_CREATE][0] == sent[SMB2_CREATE][1] > 0, sent
    assert sent[SMB2_CLOSE][0] == sent[SMB2_CLOSE][1] > 0, sent
    assert sent[SMB2_SET_INFO][0] == sent[SMB2_SET_INFO][1] + 1, sent  # the rename


def test_put_over_a_target_another_client_reads(samba, run_smbgate, area, tmp_path):
    """Samba renames over a target that another client holds open for reading (without
    FILE_SHARE_DELETE): the put succeeds through the open handle, the reader goes on reading
    the old content, and no .partial is left."""
    smbconnection = pytest.importorskip("impacket.smbconnection")
    area.write("held.txt", b"old content\n")
    src = tmp_path / "held.txt"
    src.write_bytes(b"new content\n")
    reader = smbconnection.SMBConnection("127.0.0.1", "127.0.0.1", sess_port=samba.port)
    reader.login(samba.user, samba.password)
    try:
        tid = reader.connectTree("plain")
        fid = reader.openFile(tid, f"{area.rel}/held.txt", desiredAccess=0x1,  # READ_DATA
                              shareMode=0x1)  # FILE_SHARE_READ only
        r = run_smbgate("-vv", "put", src, area.url("held.txt"))
        assert r.returncode == 0, r.stderr
        assert "through its open handle" in r.stderr
        assert reader.readFile(tid, fid) == b"old content\n"
        reader.closeFile(tid, fid)
    finally:
        reader.close()
    assert (area.path / "held.txt").read_bytes() == b"new content\n"
    assert os.listdir(area.path) == ["held.txt"]


def test_put_smb1_falls_back_to_rename_by_path(samba_nt1, run_smbgate, request, tmp_path):
    """Over SMB1 Samba refuses to rename the hidden .NAME...partial through its handle
    (STATUS_NO_SUCH_FILE: a hidden source with no search attributes): the put closes it and
    renames by path, and the target is replaced all the same."""
    src = tmp_path / "one.bin"
    src.write_bytes(b"new" * 1000)
    os.utime(src, (1500000000, 1500000000))
    with scratch_dir(samba_nt1, "plain", node_slug(request, "t-")) as d:
        (d / "one.bin").write_bytes(b"old\n")
        own(samba_nt1, d / "one.bin")
        url = samba_nt1.url("plain", f"{d.name}/one.bin", max_protocol="NT1")
        r = run_smbgate("-vv", "put", src, url)
        assert r.returncode == 0, r.stderr
        assert "renaming it by path after the close" in r.stderr
        assert (d / "one.bin").read_bytes() == b"new" * 1000
        assert int((d / "one.bin").stat().st_mtime) == 1500000000
        assert os.listdir(d) == ["one.bin"]


def test_put_stdin_to_directory_is_usage_error(samba, run_smbgate, area):
    r = run_smbgate("put", "-", area.url(), input="x")
    assert r.returncode == EXIT_USAGE
    assert one_line(r) == (f"smbgate put: {area.rel} on {area.where()} is a directory: "
                           "give a file name to store stdin under")


def test_put_unicode(samba, run_smbgate, area, tmp_path):
    src = tmp_path / UNICODE_NAME
    src.write_text("unicode content")
    r = run_smbgate("put", src, area.url())
    assert r.returncode == 0, r.stderr
    assert (area.path / UNICODE_NAME).read_text() == "unicode content"


def test_put_local_missing_or_directory(samba, run_smbgate, area, tmp_path):
    r = run_smbgate("put", tmp_path / "nope.txt", area.url())
    assert r.returncode == EXIT_ERROR
    assert one_line(r) == f"smbgate put: open {tmp_path}/nope.txt: No such file or directory"
    r = run_smbgate("put", tmp_path, area.url())
    assert r.returncode == EXIT_ERROR
    assert one_line(r) == f"smbgate put: {tmp_path} is a directory (use -r)"


# ---- trees ------------------------------------------------------------------------------


def make_local_tree(root):
    files = {
        "top.txt": b"top",
        "a/one.bin": os.urandom(70000),
        "a/b/two.txt": b"deep",
        f"a/{UNICODE_NAME}": "ünï".encode(),
        "ü dir/x y.txt": b"spaces",
        "empty.bin": b"",
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (root / "a" / "emptydir").mkdir()
    return files


def test_put_r_and_get_r(samba, run_smbgate, area, tmp_path):
    src = tmp_path / "tree"
    files = make_local_tree(src)
    r = run_smbgate("put", "-r", src, area.url())
    assert r.returncode == 0, r.stderr
    got_files, got_dirs = tree_files(area.path / "tree")
    assert got_files == files
    assert "a/emptydir" in got_dirs
    # to a name that does not exist: the tree is created as that name
    r = run_smbgate("put", "-r", src, area.url("copy2"))
    assert r.returncode == 0, r.stderr
    assert tree_files(area.path / "copy2")[0] == files

    dst = tmp_path / "back"
    dst.mkdir()
    r = run_smbgate("get", "-r", area.url("tree"), dst)
    assert r.returncode == 0, r.stderr
    back_files, back_dirs = tree_files(dst / "tree")
    assert back_files == files and "a/emptydir" in back_dirs
    r = run_smbgate("get", "-r", area.url("tree"), tmp_path / "newname")
    assert r.returncode == 0, r.stderr
    assert tree_files(tmp_path / "newname")[0] == files
    assert temp_leftovers(tmp_path) == []


def test_put_r_into_missing_parent(samba, run_smbgate, area, tmp_path):
    src = tmp_path / "t"
    make_local_tree(src)
    r = run_smbgate("put", "-r", src, area.url("no/such/parent"))
    assert r.returncode == EXIT_NOTFOUND
    line = one_line(r)
    assert line.startswith(f"smbgate put: make directory {area.rel}/no/such/parent on "
                           f"{area.where()}: STATUS_OBJECT_PATH_NOT_FOUND")


# ---- rm, mkdir, rmdir, mv ---------------------------------------------------------------


def test_rm(samba, run_smbgate, area):
    area.write("f1", "1")
    area.write("f2", "2")
    area.write("d/x/y.txt", "y")
    area.write("d/z.txt", "z")
    r = run_smbgate("rm", area.url("f1"), area.url("f2"))
    assert r.returncode == 0, r.stderr
    assert not (area.path / "f1").exists() and not (area.path / "f2").exists()
    r = run_smbgate("rm", area.url("d"))
    assert r.returncode == EXIT_ERROR
    assert one_line(r) == f"smbgate rm: {area.rel}/d on {area.where()} is a directory (use -r, or rmdir)"
    assert (area.path / "d/z.txt").exists()
    r = run_smbgate("rm", "-r", area.url("d"))
    assert r.returncode == 0, r.stderr
    assert not (area.path / "d").exists()
    r = run_smbgate("rm", area.url("f1"))
    assert r.returncode == EXIT_NOTFOUND
    assert one_line(r) == (f"smbgate rm: stat {area.rel}/f1 on {area.where()}: "
                           "STATUS_OBJECT_NAME_NOT_FOUND (no such file or directory)")
    r = run_smbgate("rm", "-r", samba.url("plain"))
    assert r.returncode == EXIT_USAGE
    assert one_line(r) == f"smbgate rm: refusing to remove the share root {area.where()}"
    assert area.path.exists()


def test_mkdir_rmdir(samba, run_smbgate, area):
    r = run_smbgate("mkdir", area.url("new"))
    assert r.returncode == 0, r.stderr
    assert (area.path / "new").is_dir()
    r = run_smbgate("mkdir", area.url("new"))
    assert r.returncode == EXIT_ERROR
    assert one_line(r) == (f"smbgate mkdir: make directory {area.rel}/new on {area.where()}: "
                           "STATUS_OBJECT_NAME_COLLISION (already exists)")
    r = run_smbgate("mkdir", area.url("p/q/r"))
    assert r.returncode == EXIT_NOTFOUND
    assert one_line(r).startswith(f"smbgate mkdir: make directory {area.rel}/p/q/r on "
                                  f"{area.where()}: STATUS_OBJECT_PATH_NOT_FOUND")
    r = run_smbgate("mkdir", "-p", area.url("p/q/r"), area.url("new"))
    assert r.returncode == 0, r.stderr
    assert (area.path / "p/q/r").is_dir()
    area.write("file", "f")
    r = run_smbgate("mkdir", "-p", area.url("file"))
    assert r.returncode == EXIT_ERROR
    assert one_line(r) == (f"smbgate mkdir: make directory {area.rel}/file on {area.where()}: "
                           "not a directory")

    r = run_smbgate("rmdir", area.url("p"))
    assert r.returncode == EXIT_ERROR
    assert one_line(r) == (f"smbgate rmdir: remove directory {area.rel}/p on {area.where()}: "
                           "STATUS_DIRECTORY_NOT_EMPTY (directory not empty)")
    r = run_smbgate("rmdir", area.url("p/q/r"), area.url("new"))
    assert r.returncode == 0, r.stderr
    assert not (area.path / "p/q/r").exists() and not (area.path / "new").exists()
    r = run_smbgate("rmdir", area.url("new"))
    assert r.returncode == EXIT_NOTFOUND
    assert "STATUS_OBJECT_NAME_NOT_FOUND" in one_line(r)


def test_mv(samba, run_smbgate, area):
    area.write("a.txt", "A")
    area.mkdir("dir")
    # share-relative path
    r = run_smbgate("mv", area.url("a.txt"), f"{area.rel}/b.txt")
    assert r.returncode == 0, r.stderr
    assert (area.path / "b.txt").read_text() == "A" and not (area.path / "a.txt").exists()
    # a full URL on the same share, into an existing directory
    r = run_smbgate("mv", area.url("b.txt"), area.url("dir"))
    assert r.returncode == 0, r.stderr
    assert (area.path / "dir/b.txt").read_text() == "A"
    # leading slash, Unicode, replacing an existing file
    area.write(UNICODE_NAME, "old")
    r = run_smbgate("mv", area.url("dir/b.txt"), f"/{area.rel}/{UNICODE_NAME}")
    assert r.returncode == 0, r.stderr
    assert (area.path / UNICODE_NAME).read_text() == "A"
    # another share
    r = run_smbgate("mv", area.url(UNICODE_NAME), samba.url("ro", "x.txt"))
    assert r.returncode == EXIT_USAGE
    assert one_line(r) == (f"smbgate mv: smb://127.0.0.1:{samba.port}/ro and {area.where()} "
                           "are not the same share: mv renames within one share")
    r = run_smbgate("mv", area.url(UNICODE_NAME), "../../etc/passwd")
    assert r.returncode == EXIT_USAGE and "path leaves the share" in one_line(r)
    r = run_smbgate("mv", area.url("missing"), f"{area.rel}/m2")
    assert r.returncode == EXIT_NOTFOUND
    assert one_line(r).startswith(f"smbgate mv: rename {area.rel}/missing to {area.rel}/m2 on "
                                  f"{area.where()}: STATUS_OBJECT_NAME_NOT_FOUND")


# ---- stat, df, test ---------------------------------------------------------------------


def parse_kv(text):
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        out[k.strip()] = v.strip()
    return out


def iso_to_epoch(s):
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})([+-]\d\d:\d\d)", s)
    assert m, s
    import datetime
    dt = datetime.datetime.fromisoformat(m.group(1) + m.group(3))
    return dt.timestamp() + int(m.group(2)) / 1e9


def test_stat(samba, run_smbgate, area):
    p = area.write("s.bin", b"z" * 4321)
    os.utime(p, ns=(1650000000_000000000, 1650000000_123456700))
    r = run_smbgate("stat", area.url("s.bin"))
    assert r.returncode == 0, r.stderr
    kv = parse_kv(r.stdout)
    assert kv["Path"] == f"{area.rel}/s.bin"
    assert kv["Type"] == "regular file"
    assert kv["Size"] == "4321"
    assert re.fullmatch(r"0x[0-9a-f]{8} \(.*\)", kv["Attributes"])
    assert abs(iso_to_epoch(kv["Modify"]) - 1650000000.1234567) < 1e-6
    assert abs(iso_to_epoch(kv["Access"]) - 1650000000) < 1e-6
    r = run_smbgate("stat", area.url())
    assert r.returncode == 0
    kv = parse_kv(r.stdout)
    assert kv["Type"] == "directory" and "DIRECTORY" in kv["Attributes"]
    r = run_smbgate("stat", samba.url("big", BIG_SPARSE))
    assert r.returncode == 0 and parse_kv(r.stdout)["Size"] == str(BIG_SPARSE_SIZE)


def test_df(samba, run_smbgate):
    r = run_smbgate("df", samba.url("plain"))
    assert r.returncode == 0, r.stderr
    kv = parse_kv(r.stdout)
    assert kv["Share"] == f"smb://127.0.0.1:{samba.port}/plain"
    vfs = os.statvfs(samba.share_path("plain"))
    size_k = int(kv["Size"].split()[0])
    avail_k = int(kv["Available"].split()[0])
    used_k = int(kv["Used"].split()[0])
    assert abs(size_k - vfs.f_blocks * vfs.f_frsize // 1024) <= max(1024, size_k // 100)
    assert abs(avail_k - vfs.f_bavail * vfs.f_frsize // 1024) <= max(65536, size_k // 50)
    assert used_k <= size_k
    assert re.fullmatch(r"\d+ 1K-blocks \(\d+(\.\d)? [KMGTP]?i?B\)", kv["Size"])
    assert re.fullmatch(r"\d+%", kv["Use"])


def test_test_ok(samba, run_smbgate, area):
    r = run_smbgate("test", area.url())
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "all checks passed"
    steps = [re.split(r"\s{2,}", l.strip()) for l in lines[:-1]]
    assert [s[0].split()[0] for s in steps] == ["resolve", "connect", "negotiate", "log",
                                                "connect", "find", "write", "read", "delete"]
    assert all(s[-1].startswith("ok") for s in steps), r.stdout
    assert re.search(r"negotiate\s+ok \(SMB 3\.1\.1, signing \w+, encryption off\)", r.stdout)
    assert "content matches" in r.stdout
    assert list(area.path.iterdir()) == []  # the test file is gone


def test_test_read_only_share(samba, run_smbgate):
    r = run_smbgate("test", samba.url("ro"))
    assert r.returncode == EXIT_DENIED
    assert re.search(r"^connect to share ro\s+ok$", r.stdout, re.M)
    assert re.search(r"^write \.smbgate-test-\S+ \(65536 bytes\)\s+FAILED$", r.stdout, re.M)
    assert "all checks passed" not in r.stdout
    assert re.fullmatch(rf"smbgate test: create \.smbgate-test-\S+ on smb://127\.0\.0\.1:"
                        rf"{samba.port}/ro: STATUS_(ACCESS_DENIED \(access denied\)|"
                        r"MEDIA_WRITE_PROTECTED \(read-only share or file system\))", one_line(r))


def test_test_wrong_password(samba, run_smbgate):
    url = samba.url("plain", creds=None, auth_username=samba.user, auth_password="wrong-pw")
    r = run_smbgate("test", url)
    assert r.returncode == EXIT_AUTH
    assert re.search(r"^negotiate\s+ok", r.stdout, re.M)
    assert re.search(rf"^log in as {samba.user}\s+FAILED$", r.stdout, re.M)
    assert "connect to share" not in r.stdout
    assert "STATUS_LOGON_FAILURE" in one_line(r)


def test_test_unknown_share(samba, run_smbgate):
    r = run_smbgate("test", samba.url("nosuchshare"))
    assert r.returncode == EXIT_NOTFOUND
    assert re.search(r"^log in as \S+\s+ok$", r.stdout, re.M)
    assert re.search(r"^connect to share nosuchshare\s+FAILED$", r.stdout, re.M)
    assert "STATUS_BAD_NETWORK_NAME" in one_line(r)


def test_test_refused(run_smbgate):
    port = free_port()
    r = run_smbgate("test", f"smb://127.0.0.1:{port}/plain")
    assert r.returncode == EXIT_CONNECT
    assert re.search(rf"^connect to 127\.0\.0\.1 port {port}\s+FAILED$", r.stdout, re.M)
    assert one_line(r) == f"smbgate test: connect to 127.0.0.1:{port}: connection refused"


# ---- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize("user,password", [
    (None, "Wrong-Pass-1"),
    ("nosuchuser", "Unknown-Pass-2"),
], ids=["wrong_password", "unknown_user"])
def test_logon_failure(samba, run_smbgate, user, password):
    """A wrong password for the share's user (user None), and a user the server does not know:
    the same message, naming the user and never the password."""
    user = user or samba.user
    url = samba.url("plain", creds=None, auth_username=user, auth_password=password)
    r = run_smbgate("ls", url)
    assert r.returncode == EXIT_AUTH
    assert one_line(r) == (f"smbgate ls: log in as {user} to smb://127.0.0.1:{samba.port}"
                           "/plain: STATUS_LOGON_FAILURE (wrong user name or password)")
    assert password not in r.stdout + r.stderr


def test_unknown_share(samba, run_smbgate):
    r = run_smbgate("ls", samba.url("nosuchshare"))
    assert r.returncode == EXIT_NOTFOUND
    assert one_line(r) == (f"smbgate ls: connect to share smb://127.0.0.1:{samba.port}/nosuchshare"
                           ": STATUS_BAD_NETWORK_NAME (no such share)")


def test_missing_file_and_folder(samba, run_smbgate, area, tmp_path):
    r = run_smbgate("get", area.url("missing.txt"), tmp_path)
    assert r.returncode == EXIT_NOTFOUND
    assert one_line(r) == (f"smbgate get: stat {area.rel}/missing.txt on {area.where()}: "
                           "STATUS_OBJECT_NAME_NOT_FOUND (no such file or directory)")
    assert list(tmp_path.iterdir()) == []
    r = run_smbgate("cat", area.url("missing.txt"))
    assert r.returncode == EXIT_NOTFOUND
    assert one_line(r) == (f"smbgate cat: open {area.rel}/missing.txt on {area.where()}: "
                           "STATUS_OBJECT_NAME_NOT_FOUND (no such file or directory)")
    r = run_smbgate("ls", area.url("nodir"))
    assert r.returncode == EXIT_NOTFOUND
    assert one_line(r).startswith(f"smbgate ls: stat {area.rel}/nodir on {area.where()}: "
                                  "STATUS_OBJECT_NAME_NOT_FOUND")
    r = run_smbgate("get", area.url("nodir/x.txt"), tmp_path)
    assert r.returncode == EXIT_NOTFOUND
    assert one_line(r) == (f"smbgate get: stat {area.rel}/nodir/x.txt on {area.where()}: "
                           "STATUS_OBJECT_PATH_NOT_FOUND (no such file or directory)")
    r = run_smbgate("put", "-", area.url("nodir/x.txt"), input="x")
    assert r.returncode == EXIT_NOTFOUND
    assert "STATUS_OBJECT_PATH_NOT_FOUND" in one_line(r)


def test_refused_connection(run_smbgate):
    port = free_port()
    r = run_smbgate("ls", f"smb://127.0.0.1:{port}/plain")
    assert r.returncode == EXIT_CONNECT
    assert one_line(r) == f"smbgate ls: connect to 127.0.0.1:{port}: connection refused"


def test_unresolvable_host(run_smbgate):
    r = run_smbgate("ls", "smb://no-such-host.invalid/plain", timeout=60)
    assert r.returncode == EXIT_CONNECT
    assert one_line(r) == ("smbgate ls: resolve host no-such-host.invalid: "
                           "host name could not be resolved")


def test_wrong_port_closes(run_smbgate):
    r, port, _ = ls_fake_server(run_smbgate, "close")
    assert r.returncode == EXIT_CONNECT
    assert one_line(r) == (f"smbgate ls: negotiate with 127.0.0.1:{port}: "
                           "connection closed by the server")


def test_wrong_port_garbage(run_smbgate):
    r, port, _ = ls_fake_server(run_smbgate, "garbage")
    assert r.returncode in (EXIT_PROTO, EXIT_CONNECT)
    line = one_line(r)
    assert line.startswith(f"smbgate ls: negotiate with 127.0.0.1:{port}: ")
    assert "protocol error" in line or "closed" in line


def test_wrong_port_silent_times_out(run_smbgate):
    r, port, took = ls_fake_server(run_smbgate, "silent", "--timeout", "2")
    assert r.returncode == EXIT_CONNECT
    assert one_line(r) == f"smbgate ls: negotiate with 127.0.0.1:{port}: timed out"
    assert took < 20


@pytest.mark.parametrize("url,reason", [
    ("http://127.0.0.1/plain", None),
    ("smb://", None),
    ("smb://127.0.0.1", "share"),
    ("smb://127.0.0.1:99999/plain", None),
    ("smb://127.0.0.1:12x/plain", None),
    ("smb://127.0.0.1/plain?bogus-option=1", None),
    ("smb://127.0.0.1/plain?max-protocol=9.9", None),
    ("smb://127.0.0.1/plain/%zz", None),
    ("smb://[::1/plain", None),
])
def test_malformed_url(run_smbgate, url, reason):
    r = run_smbgate("ls", url)
    assert r.returncode == EXIT_USAGE
    line = one_line(r)
    assert line.startswith(f"smbgate ls: malformed URL {url}: "), line
    if reason:
        assert reason in line


def test_malformed_url_hides_password(run_smbgate):
    r = run_smbgate("ls", "smb://bob:Sekr1t-PW@127.0.0.1:notaport/plain")
    assert r.returncode == EXIT_USAGE
    line = one_line(r)
    assert line.startswith("smbgate ls: malformed URL smb://***@127.0.0.1:notaport/plain: ")
    assert "Sekr1t-PW" not in r.stdout + r.stderr
    r = run_smbgate("ls", "smb://127.0.0.1:1x/plain?auth-username=bob&auth-password=Sekr1t-PW")
    assert r.returncode == EXIT_USAGE
    assert "auth-password=***" in one_line(r)
    assert "Sekr1t-PW" not in r.stdout + r.stderr


def test_non_utf8_names(samba, run_smbgate, area, tmp_path):
    r = run_smbgate("ls", area.url("PLACEHOLDER").replace("PLACEHOLDER", "bad%FFname"))
    assert r.returncode == EXIT_USAGE
    assert one_line(r).startswith("smbgate ls: invalid name in URL ")
    src = Path(os.fsdecode(bytes(tmp_path) + b"/bad\xffname.txt"))
    src.write_bytes(b"x")
    r = subprocess.run([run_smbgate.bin, "put", bytes(src), area.url()], capture_output=True,
                       timeout=60)
    assert r.returncode == EXIT_USAGE
    assert r.stderr.decode() == (f"smbgate put: {tmp_path}/bad\\xFFname.txt: name is not valid "
                                 "UTF-8 and cannot be stored on an SMB share\n")
    assert list(area.path.iterdir()) == []
    # inside a tree: the bad name stops the upload with the same message
    tree = tmp_path / "tree"
    tree.mkdir()
    os.rename(src, Path(os.fsdecode(bytes(tree) + b"/bad\xffname.txt")))
    r = subprocess.run([run_smbgate.bin, "put", "-r", bytes(tree), area.url()],
                       capture_output=True, timeout=60)
    assert r.returncode == EXIT_USAGE
    assert b"bad\\xFFname.txt: name is not valid UTF-8" in r.stderr


def test_local_file_cannot_be_written(samba, run_smbgate, area, tmp_path):
    area.write("f.txt", "content")
    (tmp_path / "plainfile").write_text("x")
    r = run_smbgate("get", area.url("f.txt"), tmp_path / "plainfile" / "f.txt")
    assert r.returncode == EXIT_ERROR
    assert one_line(r) == f"smbgate get: create {tmp_path}/plainfile/f.txt: Not a directory"
    r = run_smbgate("get", area.url("f.txt"), tmp_path / "no" / "such" / "dir.txt")
    assert r.returncode == EXIT_ERROR
    assert one_line(r) == f"smbgate get: create {tmp_path}/no/such/dir.txt: No such file or directory"
    # a full disk: stdout is /dev/full
    with open("/dev/full", "wb") as full:
        r = subprocess.run([run_smbgate.bin, "get", area.url("f.txt"), "-"], stdout=full,
                           stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == EXIT_ERROR
    assert one_line(r) == "smbgate get: write stdout: No space left on device"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plainfile"]


def test_read_only_share_put(samba, run_smbgate, tmp_path):
    src = tmp_path / "x.txt"
    src.write_text("x")
    r = run_smbgate("put", src, samba.url("ro"))
    assert r.returncode == EXIT_DENIED
    assert re.fullmatch(rf"smbgate put: create x\.txt on smb://127\.0\.0\.1:{samba.port}/ro: "
                        r"STATUS_(ACCESS_DENIED \(access denied\)|MEDIA_WRITE_PROTECTED \(read-only"
                        r" share or file system\))", one_line(r))
    assert not (Path(samba.share_path("ro")) / "x.txt").exists()
    r = run_smbgate("mkdir", samba.url("ro", "d"))
    assert r.returncode == EXIT_DENIED
    r = run_smbgate("rm", samba.url("ro", "readme.txt"))
    assert r.returncode == EXIT_DENIED
    assert (Path(samba.share_path("ro")) / "readme.txt").exists()


def connection_pids(samba, share):
    st = samba.status()
    return {int(t["server_id"]["pid"]) for t in st["tcons"].values() if t["service"] == share}


def start_big_get(samba, run_smbgate, dest, *extra):
    """Starts `smbgate get` of the 5 GiB sparse file and waits until data is flowing."""
    p = subprocess.Popen([run_smbgate.bin, "get", *extra, samba.url("big", BIG_SPARSE), str(dest)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        tmp = [f for f in dest.iterdir() if f.name.startswith(f".{BIG_SPARSE}.smbgate-")]
        if tmp and tmp[0].stat().st_size > 20 << 20:
            return p, tmp[0]
        if p.poll() is not None:
            break
        time.sleep(0.005)
    p.kill()
    out, err = p.communicate()
    pytest.fail(f"the get did not start writing: rc={p.returncode} {err}")


def test_server_closes_mid_transfer(samba, run_smbgate, shm_path):
    """smbd killed under a get: the library reconnects by itself (the file, open for reading,
    is reopened by path) and the download goes on; interrupted, it leaves nothing behind."""
    p, tmp = start_big_get(samba, run_smbgate, shm_path)
    pids = connection_pids(samba, "big")
    assert pids, "no smbd serves the big share"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    size = tmp.stat().st_size
    deadline = time.monotonic() + 30
    while tmp.stat().st_size < size + (64 << 20):
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()[1]
        time.sleep(0.01)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert re.search(r"^smbgate: warning: connection to 127\.0\.0\.1 lost \(.*\): reconnecting$",
                     err, re.M), err
    assert "retry 1 of" not in err, err  # carried by the library, not the CLI's retries
    assert list(shm_path.iterdir()) == []  # no partial file, no temporary file


def test_server_closes_mid_transfer_no_retries(samba, run_smbgate, shm_path):
    """--retries 0 turns the library's reconnect off too: one error line, nothing left."""
    p, tmp = start_big_get(samba, run_smbgate, shm_path, "--retries", "0")
    for pid in connection_pids(samba, "big"):
        os.kill(pid, signal.SIGKILL)
    out, err = p.communicate(timeout=60)
    assert p.returncode == EXIT_CONNECT, err
    assert len(err.splitlines()) == 1, err
    assert re.fullmatch(rf"smbgate get: read {BIG_SPARSE} on smb://127\.0\.0\.1:{samba.port}/big: "
                        r"(connection closed by the server|input/output error)\n", err), err
    assert list(shm_path.iterdir()) == []


def test_interrupted_get_leaves_nothing(samba, run_smbgate, shm_path):
    p, tmp = start_big_get(samba, run_smbgate, shm_path)
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGINT
    assert list(shm_path.iterdir()) == []


def test_failed_put_deletes_partial_file(samba, run_smbgate, area, tmp_path):
    """A local read error after the remote file was created: the file must not stay behind.
    (stdin is a directory, so the first read fails with EISDIR.)"""
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        r = run_smbgate("put", "-", area.url("partial.bin"), stdin=fd)
    finally:
        os.close(fd)
    assert r.returncode == EXIT_ERROR
    assert one_line(r) == "smbgate put: read stdin: Is a directory"
    assert list(area.path.iterdir()) == []


def test_server_closes_mid_put(samba, run_smbgate, area):
    """The server goes away during an upload from stdin, which cannot be read again to resume:
    a connection error, and the temporary file is deleted over a new connection."""
    p = subprocess.Popen([run_smbgate.bin, "put", "-", area.url("cut.bin")],
                         stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(os.urandom(16 << 20))  # more than one write request holds
    p.stdin.flush()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        f = [x for x in area.path.iterdir() if x.name.startswith(".cut.bin.")]
        if f and f[0].stat().st_size > 0:
            break
        time.sleep(0.01)
    pids = connection_pids(samba, "plain")
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    try:
        p.stdin.write(os.urandom(4 << 20))
        p.stdin.close()
    except BrokenPipeError:
        pass
    err = p.stderr.read().decode()
    p.wait(timeout=60)
    assert p.returncode == EXIT_ERROR, err
    # The library reconnects, but cannot keep a handle open for writing on a share without
    # durable handles; the CLI cannot resume stdin: one clear error after the warnings.
    lines = [l for l in err.splitlines() if not l.startswith("smbgate: warning:")]
    assert len(lines) == 1, err
    assert re.fullmatch(rf"smbgate put: write {area.rel}/cut\.bin on {area.where()}: "
                        r"(connection closed by the server|input/output error|invalid or stale "
                        r"handle \(.*could not be kept.*\))", lines[0]), err
    assert list(area.path.iterdir()) == []


class RenameAnswerLost(FrameProxy):
    """Relays to Samba and, on the first connection only, closes it in place of the server's
    final answer to the first rename (SMB2 SET_INFO, FileRenameInformation): the rename is done,
    the client never hears of it."""

    def __init__(self, upstream):
        self.renames, self.cuts = set(), 0
        super().__init__(upstream)

    def rewrite(self, body, to_server):
        if body[:4] != b"\xfeSMB":
            return body
        command, mid = int.from_bytes(body[12:14], "little"), body[24:32]
        if to_server and command == SMB2_SET_INFO and body[66] == 1 and body[67] == 10:
            self.renames.add(mid)
        elif (not to_server and mid in self.renames and self.cuts == 0
              and int.from_bytes(body[8:12], "little") != 0x103):  # not STATUS_PENDING
            self.cuts += 1
            raise OSError("the answer to the rename is lost")  # the pump closes both sides
        return body


@pytest.mark.parametrize("retries", ["2", "0"])
def test_put_rename_answer_lost(samba, run_smbgate, area, tmp_path, retries):
    """The connection drops after the server renamed the temporary file over the target but
    before its answer came. With --retries the put reconnects, finds the temporary file gone
    and the target holding the upload's size, and succeeds; with --retries 0 the message says
    that the target may hold the upload or the temporary file may still."""
    data = os.urandom(300000)
    src = tmp_path / "lost.bin"
    src.write_bytes(data)
    area.write("lost.bin", b"old\n")
    with RenameAnswerLost(samba.port) as p:
        r = run_smbgate("-v", "put", "--retries", retries, "--timeout", "10", src,
                        p.url(samba, "plain", f"{area.rel}/lost.bin"), timeout=120)
    assert p.cuts == 1, r.stderr
    assert (area.path / "lost.bin").read_bytes() == data  # the server did rename
    if retries != "0":
        assert r.returncode == 0, r.stderr
        assert "already holds the upload" in r.stderr
        assert os.listdir(area.path) == ["lost.bin"]
        return
    assert r.returncode == EXIT_CONNECT, r.stderr
    tmp = re.escape(area.rel) + r"/\.lost\.bin\.[0-9a-f]{8}\.partial"
    assert re.search(rf"smbgate put: the connection was lost while {tmp} was renamed over "
                     rf"{re.escape(area.rel)}/lost\.bin: either {re.escape(area.rel)}/lost\.bin "
                     rf"holds the whole upload \(.+\) or it is still in {tmp} on ", r.stderr), \
        r.stderr


# ---- passwords -------------------------------------------------------------------------


def test_password_file_and_env(samba, run_smbgate, area, tmp_path):
    area.write("pw.txt", "pw")
    url = f"smb://{samba.user}@127.0.0.1:{samba.port}/plain/{area.rel}/pw.txt"
    pwfile = tmp_path / "pw"
    pwfile.write_text(samba.password + "\n")
    r = run_smbgate("cat", "--password-file", pwfile, url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "pw"
    r = run_smbgate("cat", url, env={"SMBGATE_PASSWORD": samba.password})
    assert r.returncode == 0 and r.stdout == "pw", r.stderr
    r = run_smbgate("cat", url, env={"SMBGATE_PASSWORD": "not-it"})
    assert r.returncode == EXIT_AUTH and "STATUS_LOGON_FAILURE" in one_line(r)
    # --password-file wins over the environment
    r = run_smbgate("cat", f"--password-file={pwfile}", url, env={"SMBGATE_PASSWORD": "not-it"})
    assert r.returncode == 0 and r.stdout == "pw", r.stderr
    # the URL's own password wins over both
    r = run_smbgate("cat", samba.url("plain", f"{area.rel}/pw.txt"),
                    env={"SMBGATE_PASSWORD": "not-it"})
    assert r.returncode == 0 and r.stdout == "pw", r.stderr
    r = run_smbgate("cat", "--password-file", tmp_path / "missing", url)
    assert r.returncode == EXIT_ERROR
    assert one_line(r) == (f"smbgate cat: read password file {tmp_path}/missing: "
                           "No such file or directory")


def test_password_never_printed(samba, run_smbgate, area, tmp_path):
    pw = samba.password
    area.write("f.txt", "data")
    src = tmp_path / "s.txt"
    src.write_text("s")
    runs = [
        run_smbgate("-vv", "ls", samba.url("plain", area.rel)),
        run_smbgate("-vv", "cat", samba.url("plain", f"{area.rel}/f.txt", creds="userinfo")),
        run_smbgate("-vv", "put", src, samba.url("plain", area.rel)),
        run_smbgate("-vv", "test", samba.url("plain", area.rel)),
        run_smbgate("-vvv", "stat", samba.url("plain", f"{area.rel}/missing")),
        run_smbgate("-vv", "ls", samba.url("nosuchshare", creds="userinfo")),
        run_smbgate("-vv", "ls", f"smb://{samba.user}@127.0.0.1:{samba.port}/plain",
                    env={"SMBGATE_PASSWORD": pw}),
        run_smbgate("ls", "-vv", samba.url("plain", creds=None, auth_username=samba.user,
                                           auth_password=pw + "x")),
    ]
    for r in runs:
        assert pw not in r.stdout and pw not in r.stderr, r.args
    assert runs[0].returncode == 0 and runs[0].stderr != ""  # -vv did log something
    assert runs[-1].returncode == EXIT_AUTH


# ---- encryption share, dialects --------------------------------------------------------


@pytest.mark.parametrize("proto", ["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"])
def test_dialects_get_put(samba, run_smbgate, area, tmp_path, proto):
    data, put, cat = put_and_read_back(run_smbgate, area.url("d.bin", max_protocol=proto),
                                       tmp_path, 1 << 20, read="cat", opts=("-v",))
    assert (area.path / "d.bin").read_bytes() == data
    assert f"SMB {proto}" in put.stderr
    assert f"SMB {proto}".encode() in cat.stderr


def test_encrypted_share(samba, run_smbgate, tmp_path):
    data = os.urandom(500000)
    src = tmp_path / "e.bin"
    src.write_bytes(data)
    r = run_smbgate("put", src, samba.url("enc"))
    assert r.returncode == 0, r.stderr
    enc = Path(samba.share_path("enc")) / "e.bin"
    try:
        assert enc.read_bytes() == data
        r = run_smbgate("-v", "cat", samba.url("enc", "e.bin"), text=False)
        assert r.returncode == 0 and r.stdout == data
        assert b"encryption on" in r.stderr
    finally:
        enc.unlink(missing_ok=True)


# ---- progress ---------------------------------------------------------------------------


def test_progress_forced(samba, run_smbgate, area, tmp_path):
    area.write("p.bin", os.urandom(2 << 20))
    r = run_smbgate("get", "--progress", area.url("p.bin"), tmp_path)
    assert r.returncode == 0, r.stderr
    assert "100% 2.0 MiB / 2.0 MiB" in r.stderr
    r = run_smbgate("get", "--no-progress", area.url("p.bin"), tmp_path / "q.bin")
    assert r.returncode == 0 and r.stderr == ""


# ---- 1 GiB round trip ------------------------------------------------------------------


@pytest.mark.slow
def test_roundtrip_1gib_sha256(samba, run_smbgate, area, shm_path):
    src = shm_path / "src.bin"
    block = bytearray(os.urandom(1 << 20))
    h = hashlib.sha256()
    with open(src, "wb") as f:
        for i in range(1024):
            block[:8] = i.to_bytes(8, "little")  # every MiB differs
            f.write(block)
            h.update(block)
    want = h.hexdigest()
    r = run_smbgate("put", src, area.url("big.bin"), timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # no progress bar when stderr is a pipe
    assert sha256_file(area.path / "big.bin") == want
    dst = shm_path / "dst.bin"
    r = run_smbgate("get", area.url("big.bin"), dst, timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert sha256_file(dst) == want
    assert temp_leftovers(shm_path) == []
