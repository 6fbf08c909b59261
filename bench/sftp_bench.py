#!/usr/bin/python3
"""`smbgate serve sftp` against its peers, in one run (issue 3, "Speed").

    /usr/bin/python3 bench/sftp_bench.py [--runs 3] [--size-mib 1024] [--smbgate build/smbgate]
                                         [--smbgate-b OTHER/smbgate [--name-b smbgate-old]]
                                         [--ciphers chacha20-poly1305@openssh.com,aes128-gcm@openssh.com]
                                         [--only smbgate,rclone,sshd] [--tests small-up,small-down]
                                         [--server-logs DIR]

Starts the test rig's Samba (tests/rig/samba.py) on tmpfs and three SFTP servers on loopback:
  smbgate   `smbgate serve sftp` over the share (smb://)
  rclone    `rclone serve sftp` over the same share through rclone's smb backend
  sshd      OpenSSH sshd with `Subsystem sftp internal-sftp`, serving the same data from a
            local tmpfs folder: a real SSH server with no SMB behind it (the ceiling)
and drives each with the same client, OpenSSH's sftp/ssh (key login), for each cipher:
  get       1 GiB file (content checked into a file once, timed into /dev/null)
  put       1 GiB file from tmpfs
  ls        `ls -l` of the 10,000-file folder    up/down  1,000 small files (put -r / get -r)
  md5sum    `ssh host md5sum FILE` of the 1 GiB file (sshd runs coreutils); coreutils md5sum
            on the local file is measured alongside
  rss       peak RSS of the smbgate and rclone server processes (VmHWM) over the run
--tests picks some of get,put,ls,small-up,small-down,md5sum (default: all); the 1 GiB files
are made only when a test needs them. --smbgate-b serves a second smbgate build beside the
first (as --name-b, default smbgate-old); all servers take turns run by run, so a noisy
moment of this shared VM hits them alike. The table gives the minimum and the median of
--runs runs (the minimum is the least disturbed figure) and the median CPU seconds of each
side, from /proc and rusage, per GiB for get/put and per run otherwise: the sftp client
(sftp + its ssh, RUSAGE_CHILDREN), the server (smbgate/rclone process; sshd: its listener and
reaped children) and smbd (all the rig's processes, reaped children included). Every transfer
is checked (size every run, SHA-256 on the first), so a broken server cannot post a fast
figure; a failing step prints FAILED and the run goes on. MB/s is 10^6 bytes/s. Results, every
run included, go to bench/results-sftp-<date>.json (or --results FILE).
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import pwd
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "rig"))
from samba import SambaServer  # noqa: E402

from common import cpu_seconds, sha256, write_random  # noqa: E402

SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"]
SMALL_FILES = 1000
TESTS = ("get", "put", "ls", "small-up", "small-down", "md5sum")
TIMEOUT = 900


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, what):
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


def vm_hwm_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


class Peer:
    def __init__(self, name, port, proc, root, files_dir, big_dir, key):
        self.name = name
        self.port = port
        self.proc = proc      # None for sshd (forks per connection)
        self.root = root      # remote path prefix of the bench area
        self.files_dir = files_dir
        self.big_dir = big_dir
        self.key = key
        self.login = "bench"
        self.cpu_pids = []    # the server processes whose CPU is charged to this peer


def why(r, extra=""):
    """What a failed client command said: exit status, tails of stderr and stdout."""
    said = " | ".join(x.strip()[-200:] for x in (r.stderr, r.stdout) if x and x.strip())
    return f"FAILED (exit {r.returncode}{extra}) {said}"


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--smbgate", default=str(REPO / "build" / "smbgate"))
    ap.add_argument("--smbgate-b", help="a second smbgate binary, served beside the first")
    ap.add_argument("--name-b", default="smbgate-old",
                    help="server name of --smbgate-b in the table (default smbgate-old)")
    ap.add_argument("--ciphers",
                    default="chacha20-poly1305@openssh.com,aes128-gcm@openssh.com")
    ap.add_argument("--only", default="smbgate,rclone,sshd",
                    help="servers to run (comma-separated)")
    ap.add_argument("--tests", default=",".join(TESTS),
                    help="tests to run (comma-separated): " + ",".join(TESTS))
    ap.add_argument("--server-logs", help="keep the stderr of the smbgate and rclone servers "
                    "in this folder (smbgate with -v: its access log)")
    ap.add_argument("--results", help="JSON results file (default "
                    "bench/results-sftp-DATE.json)")
    args = ap.parse_args()
    want = set(args.tests.split(","))
    if not want or want - set(TESTS):
        ap.error(f"--tests: unknown test(s) {','.join(sorted(want - set(TESTS)))}; "
                 f"known: {','.join(TESTS)}")
    big_needed = bool(want & {"get", "put", "md5sum"})
    size = args.size_mib * 1024 * 1024
    ciphers = args.ciphers.split(",")
    only = set(args.only.split(","))
    if args.smbgate_b:
        if args.name_b in ("smbgate", "rclone", "sshd", "coreutils"):
            ap.error(f"--name-b: {args.name_b} is taken")
        only.add(args.name_b)
    work = Path(tempfile.mkdtemp(prefix="sftp-bench-", dir="/dev/shm"))
    results = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
               "host": platform.node(), "cpus": os.cpu_count(), "size": size,
               "runs": args.runs, "smbgate": args.smbgate, "smbgate_b": args.smbgate_b,
               "name_b": args.name_b if args.smbgate_b else None, "tests": {}}
    procs = []
    samba = None
    try:
        key = work / "client_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True)
        hostkey = work / "host_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hostkey)],
                       check=True)
        authkeys = work / "authorized_keys"
        shutil.copy(str(key) + ".pub", authkeys)
        os.chmod(authkeys, 0o600)

        print("starting Samba and making the data...", flush=True)
        samba = SambaServer(tmp_root="/dev/shm")
        samba.start()
        share = Path(samba.share_path("plain"))
        pw = pwd.getpwnam(samba.user)
        area = share / "bench"
        (area / "small").mkdir(parents=True)
        if big_needed:
            write_random(area / "big.bin", size)
        for i in range(SMALL_FILES):
            (area / "small" / f"s{i:04d}").write_bytes(os.urandom(4096))
        for p in [area, *([area / "big.bin"] if big_needed else []), area / "small",
                  *(area / "small").iterdir()]:
            os.chown(p, pw.pw_uid, pw.pw_gid)
        local = work / "local"
        (local / "small").mkdir(parents=True)
        if big_needed:
            write_random(local / "big.bin", size)
        for i in range(SMALL_FILES):
            (local / "small" / f"u{i:04d}").write_bytes(os.urandom(4096))
        big_sha = sha256(local / "big.bin") if big_needed else None
        share_sha = sha256(area / "big.bin") if big_needed else None
        # sshd serves copies of the same data from tmpfs
        sroot = work / "sshd-root"
        (sroot / "bench").mkdir(parents=True)
        if big_needed:
            shutil.copy(area / "big.bin", sroot / "bench" / "big.bin")
        shutil.copytree(area / "small", sroot / "bench" / "small")
        if "ls" in want:
            shutil.copytree(samba.share_path("big"), sroot / "big")

        peers = {}
        sshd_pid = None  # sshd forks per connection: its listener's cutime/cstime count
        logs = Path(args.server_logs) if args.server_logs else None
        if logs:
            logs.mkdir(parents=True, exist_ok=True)

        def log_to(what):
            return open(logs / f"{what}.log", "ab") if logs else subprocess.DEVNULL

        verbose = ["-v"] if logs else []
        builds = [("smbgate", args.smbgate)] if "smbgate" in only else []
        if args.smbgate_b:
            builds.append((args.name_b, args.smbgate_b))
        for gname, gbin in builds:
            port = free_port()
            p = subprocess.Popen([gbin, "serve", "sftp", *verbose, "--addr",
                                  f"127.0.0.1:{port}", "--authorized-keys", str(authkeys),
                                  "--key", str(hostkey), samba.url("plain")],
                                 stdout=subprocess.DEVNULL, stderr=log_to(gname))
            procs.append(p)
            wait_port(port, p, gname)
            # the 10,000-file listing: a second server on the `big` share
            port2 = free_port()
            p2 = subprocess.Popen([gbin, "serve", "sftp", *verbose, "--addr",
                                   f"127.0.0.1:{port2}", "--authorized-keys", str(authkeys),
                                   "--key", str(hostkey), samba.url("big")],
                                  stdout=subprocess.DEVNULL, stderr=log_to(f"{gname}-big"))
            procs.append(p2)
            wait_port(port2, p2, f"{gname} (big)")
            peers[gname] = (Peer(gname, port, p, "/bench", "small", "/", str(key)),
                            Peer(gname, port2, p2, "/", "", "/", str(key)))
        if "rclone" in only:
            conf = work / "rclone.conf"
            obscured = subprocess.run(["rclone", "obscure", samba.password],
                                      capture_output=True, text=True,
                                      check=True).stdout.strip()
            conf.write_text(f"[s]\ntype = smb\nhost = 127.0.0.1\nport = {samba.port}\n"
                            f"user = {samba.user}\npass = {obscured}\n")
            env = dict(os.environ, RCLONE_CONFIG=str(conf))
            pair = []
            for sh in ("plain", "big"):
                port = free_port()
                p = subprocess.Popen(["rclone", "serve", "sftp", f"s:{sh}", "--addr",
                                      f"127.0.0.1:{port}", "--authorized-keys", str(authkeys),
                                      "--key", str(hostkey)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=log_to(f"rclone-{sh}"))
                procs.append(p)
                wait_port(port, p, "rclone")
                pair.append(Peer("rclone", port, p, "/bench" if sh == "plain" else "/", "",
                                 "/", str(key)))
            peers["rclone"] = tuple(pair)
        if "sshd" in only:
            Path("/run/sshd").mkdir(exist_ok=True)
            port = free_port()
            cfg = work / "sshd_config"
            cfg.write_text(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {hostkey}\n"
                           f"PidFile {work}/sshd.pid\nAuthorizedKeysFile {authkeys}\n"
                           "UsePAM no\nStrictModes no\nPasswordAuthentication no\n"
                           "PermitRootLogin yes\nSubsystem sftp internal-sftp\n")
            p = subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", str(cfg), "-E",
                                  str(work / "sshd.log")])
            procs.append(p)
            wait_port(port, p, "sshd")
            sshd_pid = p.pid
            peers["sshd"] = (Peer("sshd", port, None, str(sroot / "bench"), "", "/", str(key)),
                             Peer("sshd", port, None, str(sroot / "big"), "", "/", str(key)))

        tests = results["tests"]
        last_cpu = {}  # CPU seconds of the last timed() call, recorded with its run

        def record(name, peer, cipher, secs, extra=None):
            key_ = f"{name}|{peer}|{cipher}"
            tests.setdefault(key_, {"name": name, "peer": peer, "cipher": cipher,
                                    "runs": [], "cpu": []})
            tests[key_]["runs"].append(secs)
            tests[key_]["cpu"].append(dict(last_cpu) if secs is not None else None)
            last_cpu.clear()
            if extra:
                tests[key_].update(extra)

        def timed(fn, peer):
            """Runs fn (one client command) and keeps the CPU seconds it cost each side."""
            last_cpu.clear()
            c0, s0, m0 = child_cpu(), cpu_seconds(peer.cpu_pids), cpu_seconds(samba.pids())
            t0 = time.monotonic()
            r = fn()
            secs = time.monotonic() - t0
            last_cpu.update(client=round(child_cpu() - c0, 3),
                            server=round(cpu_seconds(peer.cpu_pids) - s0, 3),
                            smbd=round(cpu_seconds(samba.pids()) - m0, 3))
            return secs, r

        # the login user: root for sshd (the data is root's); the others take any user
        for name, (pp, pbig) in peers.items():
            login = "root" if name == "sshd" else "bench"
            for peer in (pp, pbig):
                peer.login = login
                peer.cpu_pids = [peer.proc.pid] if peer.proc else [sshd_pid]

        def sftp(peer, commands, cipher):
            with tempfile.NamedTemporaryFile("w", suffix=".sftp", delete=False) as f:
                f.write("\n".join(commands) + "\n")
            try:
                return subprocess.run(["sftp", *SSH_OPTS, "-i", peer.key, "-c", cipher, "-P",
                                       str(peer.port), "-b", f.name,
                                       f"{peer.login}@127.0.0.1"],
                                      capture_output=True, text=True, timeout=TIMEOUT)
            finally:
                os.unlink(f.name)

        def ssh(peer, command, cipher):
            return subprocess.run(["ssh", *SSH_OPTS, "-i", peer.key, "-c", cipher, "-p",
                                   str(peer.port), f"{peer.login}@127.0.0.1", command],
                                  capture_output=True, text=True, timeout=TIMEOUT)

        def test_get(run, cipher, name, pp, pbig, tag):
            out = work / "out.bin"
            # checked into a file once, timed into /dev/null (a fresh tmpfs file costs this
            # VM about a second per GiB of page faults, which would hide the servers'
            # differences)
            if run == 0 and cipher == ciphers[0]:
                r = sftp(pp, [f"get {pp.root}/big.bin {out}"], cipher)
                ok = r.returncode == 0 and out.exists() and sha256(out) == share_sha
                if out.exists():
                    out.unlink()
                if not ok:
                    print(f"{tag} get FAILED the content check {r.stderr[-200:]}", flush=True)
                    record("get", name, cipher, None)
                    return
            secs, r = timed(lambda: sftp(pp, [f"get {pp.root}/big.bin /dev/null"], cipher),
                            pp)
            ok = r.returncode == 0
            record("get", name, cipher, secs if ok else None)
            print(f"{tag} get {secs:.2f}s {'ok' if ok else why(r)}",
                  flush=True)

        def test_put(run, cipher, name, pp, pbig, tag):
            cs = cipher.split("@")[0].split("-")[0]
            up = f"{pp.root}/up-{run}-{cs}.bin"
            secs, r = timed(lambda: sftp(pp, [f"put {local}/big.bin {up}"], cipher), pp)
            target = (sroot / "bench" if name == "sshd" else area) / f"up-{run}-{cs}.bin"
            ok = r.returncode == 0 and target.exists() and target.stat().st_size == size
            if ok and run == 0:
                ok = sha256(target) == big_sha
            record("put", name, cipher, secs if ok else None)
            if not ok:  # what the server left: the target, a temporary beside it
                left = [f"{q.name} {q.stat().st_size}" for q in target.parent.iterdir()
                        if f"up-{run}-{cs}" in q.name]
                print(f"{tag} put left {left or 'nothing'}", flush=True)
            print(f"{tag} put {secs:.2f}s {'ok' if ok else why(r)}",
                  flush=True)
            if target.exists():
                target.unlink()

        def test_ls(run, cipher, name, pp, pbig, tag):
            # ls of 10,000 entries
            secs, r = timed(lambda: sftp(pbig, [f"ls -l {pbig.root}"], cipher), pbig)
            n = sum(1 for line in r.stdout.splitlines() if "small-" in line)
            ok = r.returncode == 0 and n >= 10000
            record("ls", name, cipher, secs if ok else None)
            print(f"{tag} ls {secs:.2f}s {'ok' if ok else f'FAILED ({n} entries)'}", flush=True)

        def test_small_up(run, cipher, name, pp, pbig, tag):
            cs = cipher.split("@")[0].split("-")[0]
            dst = f"{pp.root}/up-small-{run}-{cs}"
            secs, r = timed(lambda: sftp(pp, [f"put -r {local}/small/ {dst}"], cipher), pp)
            tdir = (sroot / "bench" if name == "sshd" else area) / f"up-small-{run}-{cs}"
            ok = r.returncode == 0 and tdir.exists() and \
                len(list(tdir.iterdir())) == SMALL_FILES
            record("small-up", name, cipher, secs if ok else None)
            print(f"{tag} small-up {secs:.2f}s {'ok' if ok else why(r)}",
                  flush=True)
            shutil.rmtree(tdir, ignore_errors=True)

        def test_small_down(run, cipher, name, pp, pbig, tag):
            down = work / "down-small"
            shutil.rmtree(down, ignore_errors=True)
            down.mkdir()
            secs, r = timed(lambda: sftp(pp, [f"get -r {pp.root}/small {down}/"], cipher),
                            pp)
            got = list((down / "small").iterdir()) if (down / "small").exists() else []
            ok = r.returncode == 0 and len(got) == SMALL_FILES
            record("small-down", name, cipher, secs if ok else None)
            print(f"{tag} small-down {secs:.2f}s {'ok' if ok else why(r)}",
                  flush=True)
            shutil.rmtree(down, ignore_errors=True)

        def test_md5sum(run, cipher, name, pp, pbig, tag):
            secs, r = timed(lambda: ssh(pp, f"md5sum {pp.root}/big.bin", cipher), pp)
            digest = hashlib.md5((area / "big.bin").read_bytes()).hexdigest() \
                if run == 0 and cipher == ciphers[0] and name == list(peers)[0] else None
            ok = r.returncode == 0 and len(r.stdout.split()) >= 1 and \
                len(r.stdout.split()[0]) == 32
            if ok and digest:
                ok = r.stdout.split()[0] == digest
            record("md5sum", name, cipher, secs if ok else None)
            print(f"{tag} md5sum {secs:.2f}s "
                  f"{'ok' if ok else 'FAILED ' + (r.stderr or r.stdout)[-200:]}", flush=True)

        test_fns = {"get": test_get, "put": test_put, "ls": test_ls,
                    "small-up": test_small_up, "small-down": test_small_down,
                    "md5sum": test_md5sum}
        for run in range(args.runs):
            for cipher in ciphers:
                for name, (pp, pbig) in peers.items():
                    tag = f"run {run + 1} {cipher.split('@')[0]} {name}"
                    for t in TESTS:
                        if t in want:
                            test_fns[t](run, cipher, name, pp, pbig, tag)
            if "md5sum" in want:
                # coreutils md5sum on the same machine, the reference for the md5sum target
                t0 = time.monotonic()
                subprocess.run(["md5sum", str(local / "big.bin")], capture_output=True)
                secs = time.monotonic() - t0
                record("md5sum", "coreutils", "-", secs)
        for name, (pp, pbig) in peers.items():
            if pp.proc:
                results.setdefault("rss_kib", {})[name] = max(
                    x for x in (vm_hwm_kib(pp.proc.pid), vm_hwm_kib(pbig.proc.pid)) if x)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
        if samba:
            samba.stop()
        shutil.rmtree(work, ignore_errors=True)

    # ---- the table ----
    gib = size / (1 << 30)

    def stats(name, peer, cipher):
        """(min, median, failed runs, median CPU {side: s}) of one test, or None."""
        t = results["tests"].get(f"{name}|{peer}|{cipher}")
        if not t:
            return None
        runs = [x for x in t["runs"] if x is not None]
        cpus = [c for c in t.get("cpu", []) if c]
        cpu = {k: statistics.median(c[k] for c in cpus) for k in ("client", "server", "smbd")
               if cpus and all(k in c for c in cpus)}
        if not runs:
            return None, None, len(t["runs"]), cpu
        return min(runs), statistics.median(runs), len(t["runs"]) - len(runs), cpu

    lines = []
    peer_names = [p for p in ("smbgate", args.name_b, "rclone", "sshd") if p in only]
    for cipher in ciphers:
        lines.append(f"\ncipher {cipher}: min and median of {args.runs} alternating runs "
                     "(MB/s = 10^6 B/s); CPU = median CPU seconds "
                     "per GiB (get/put) or per run (others)")
        lines.append("| test | server | min | median | CPU client | CPU server | CPU smbd "
                     "| smbgate faster by (min / median) |")
        lines.append("|---" * 8 + "|")
        for name in (t for t in TESTS if t in want):
            base = stats(name, "smbgate", cipher)
            for p in peer_names:
                st = stats(name, p, cipher)
                if st is None:
                    continue
                lo, mid, failed, cpu = st
                per = gib if name in ("get", "put") else 1

                def fig(v):
                    if v is None:
                        return "-"
                    if name in ("get", "put", "md5sum"):
                        return f"{size / v / 1e6:.0f} MB/s ({v:.2f} s)"
                    return f"{v:.2f} s"
                cells = [fig(lo), fig(mid)]
                if failed:
                    cells[1] += f" FAILED in {failed} of {args.runs} runs (figures: the rest)"
                cells += [f"{cpu[k] / per:.2f}" if k in cpu else "-"
                          for k in ("client", "server", "smbd")]
                # a ratio only between complete sets of runs
                if p != "smbgate" and base and base[0] and not base[2] and lo and not failed:
                    cells.append(f"{lo / base[0]:.2f}x / {mid / base[1]:.2f}x")
                else:
                    cells.append("-")
                lines.append(f"| {name} | {p} | " + " | ".join(cells) + " |")
    cu = stats("md5sum", "coreutils", "-")
    if cu and cu[1]:
        lines.append(f"\ncoreutils md5sum of the local file: {size / cu[1] / 1e6:.0f} MB/s "
                     f"({cu[1]:.2f} s)")
    if results.get("rss_kib"):
        lines.append("peak server RSS: " + ", ".join(
            f"{k} {v / 1024:.1f} MiB" for k, v in results["rss_kib"].items()))
    text = "\n".join(lines)
    print(text)
    results["table"] = text
    out = Path(args.results) if args.results else \
        REPO / "bench" / f"results-sftp-{datetime.date.today().isoformat()}.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
