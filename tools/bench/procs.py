"""Processes for the benchmarks: micromdm's scepserver, lscd, apsim,
pki_driver; and what /proc says about them (CPU seconds, RSS).

Kept apart from tests/e2e on purpose: a benchmark must not change when a
test helper does. Every process started here is stopped by its own pid.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LSCD_BUILD", os.path.join(ROOT, "build"))
# BENCH_LSCD: another lscd binary (A/B against a patched build)
LSCD = os.environ.get("BENCH_LSCD") or os.path.join(BUILD, "lscd")
APSIM = os.path.join(BUILD, "apsim")
PKI_DRIVER = os.path.join(BUILD, "pki_driver")
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """Something could not be measured."""


# ---- /proc ---------------------------------------------------------------

def cpu_seconds(pid):
    """utime + stime of a process, from /proc/<pid>/stat (clock ticks)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_ns(pid):
    """Time on a CPU in ns, from /proc/<pid>/schedstat (finer than ticks)."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def machine_busy_s():
    """CPU seconds all processes on the machine have used (from /proc/stat):
    the difference with our own processes over a run is other tenants'."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def cpu_wait_s(pid):
    """Time the process spent runnable but waiting for a CPU (schedstat)."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


def status_kib(pid, key="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise BenchError("no %s for pid %d" % (key, pid))


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    ssl = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    return {"cores": os.cpu_count(), "cpu_model": model, "kernel": os.uname().release,
            "mem_gib": round(mem_kib / 1048576, 1), "openssl": ssl,
            "loadavg_at_start": os.getloadavg()}


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def wait_for(predicate, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def stop(proc, sig=signal.SIGTERM, timeout=20):
    """Stop one process we started; returns its exit status."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def openssl_speed_rsa2048(seconds=3):
    """RSA-2048 sign/s of one process on one core (`openssl speed`)."""
    out = subprocess.run(["openssl", "speed", "-seconds", str(seconds), "rsa2048"],
                         capture_output=True, text=True, timeout=60 + 4 * seconds).stdout
    m = re.search(r"^rsa\s+2048 bits\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", out, re.M)
    if not m:
        raise BenchError("cannot read `openssl speed rsa2048`: %r" % out[-400:])
    return float(m.group(1))


# ---- the test PKI and the key pool ----------------------------------------

class TestPki:
    def __init__(self, directory):
        subprocess.run(["sh", os.path.join(ROOT, "tools", "testpki.sh"), directory], check=True)
        self.dir = directory
        self.mfg_ca = os.path.join(directory, "mfg-ca.pem")
        self.mfg_key = os.path.join(directory, "mfg-ca.key")
        self.wlc_cert = os.path.join(directory, "wlc.pem")
        self.wlc_key = os.path.join(directory, "wlc.key")


def keypool_count(path):
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as f:
        return f.read().count(b"-----BEGIN PRIVATE KEY-----")


# ---- micromdm ---------------------------------------------------------------

class Micromdm:
    """micromdm's scepserver with a fresh depot (one per measured run).
    cpus: a taskset CPU list to pin it to, or None."""

    def __init__(self, base, cpus=None):
        if not shutil.which("scepserver"):
            raise BenchError("scepserver missing: sh tools/install-deps.sh (Debian package scep)")
        os.makedirs(base, exist_ok=True)
        self.depot = os.path.join(base, "depot")
        subprocess.run(["scepserver", "ca", "-init", "-depot", self.depot, "-keySize", "2048"],
                       check=True, capture_output=True, timeout=60)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d/scep" % self.port
        self.ca_pem = os.path.join(self.depot, "ca.pem")
        out = subprocess.run(["openssl", "x509", "-in", self.ca_pem, "-noout", "-fingerprint",
                              "-sha256"], capture_output=True, text=True, check=True).stdout
        self.pin = out.strip().split("=", 1)[1].replace(":", "").lower()
        cmd = ["scepserver", "-depot", self.depot, "-port", str(self.port), "-allowrenew", "0"]
        if cpus is not None:
            cmd = ["taskset", "-c", str(cpus)] + cmd
        self.log_path = os.path.join(base, "scepserver.log")
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        log.close()

        def up():
            if self.proc.poll() is not None:
                raise BenchError("scepserver exited; see %s" % self.log_path)
            try:
                with urllib.request.urlopen(self.url + "?operation=GetCACaps", timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_for(up, 15, "scepserver to answer", interval=0.05)

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def depot_races(self):
        """Requests micromdm failed itself (its unlocked file depot)."""
        with open(self.log_path, errors="replace") as f:
            return sum(1 for line in f if 'msg="failed to sign CSR"' in line)

    def stop(self):
        stop(self.proc)


# ---- lscd -------------------------------------------------------------------

class Lscd:
    def __init__(self, workdir, pki, config=None):
        os.makedirs(workdir, exist_ok=True)
        self.dir = workdir
        self.port = free_port(socket.SOCK_DGRAM)
        self.config_path = os.path.join(workdir, "lscd.json")
        self.log_path = os.path.join(workdir, "lscd.log")
        self.state = os.path.join(workdir, "state")
        os.makedirs(self.state, exist_ok=True)
        self.config = {
            "listen": ["127.0.0.1:%d" % self.port],
            "state_dir": self.state,
            "control_socket": os.path.join(workdir, "lscd.sock"),
            "log_level": "info",
            "wireless_management_trustpoint": "WLC",
            "mic_ca_bundle": pki.mfg_ca,
            "trustpoints": {"WLC": {"certificate": pki.wlc_cert, "private_key": pki.wlc_key}},
            "lsc_provision": {"mode": "disabled"},
            "capwap": {"echo_interval_s": 30},
        }
        # BENCH_LSCD_CONFIG: JSON merged over every lscd.json (experiments)
        extra = json.loads(os.environ.get("BENCH_LSCD_CONFIG") or "{}")
        for overlay in (config or {}, extra):
            for key, value in overlay.items():
                if isinstance(value, dict) and isinstance(self.config.get(key), dict):
                    self.config[key].update(value)
                else:
                    self.config[key] = value
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=2)
        os.chmod(self.config_path, 0o640)
        self.proc = None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self, timeout=60, nice=0):
        """nice: a CPU priority for lscd (negative: ahead of the simulator)."""
        # Not -d: that logs at debug level. The configured level (info) is
        # what a production controller logs; it goes to stderr (and to
        # syslog, which is absent here).
        log = open(self.log_path, "a")
        env = dict(os.environ)
        # BENCH_LSCD_ENV="NAME=value ...": extra environment for lscd (experiments)
        for item in os.environ.get("BENCH_LSCD_ENV", "").split():
            name, _, value = item.partition("=")
            env[name] = value
        self.proc = subprocess.Popen([LSCD, "-f", self.config_path], stdout=log,
                                     stderr=subprocess.STDOUT, env=env,
                                     preexec_fn=(lambda: os.nice(nice)) if nice else None)
        log.close()
        # ready when its CAPWAP port is bound (the log line says so too, but
        # not at log_level warning)
        port = ":%04X " % self.port

        def bound():
            if self.proc.poll() is not None:
                raise BenchError("lscd exited with %s:\n%s" % (self.proc.returncode, self.log()[-2000:]))
            with open("/proc/%d/net/udp" % self.proc.pid) as f:
                return any(line.split()[1].endswith(port.strip()) for line in f.readlines()[1:])
        wait_for(bound, timeout, "lscd to listen on %s" % self.address, interval=0.05)
        return self

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def count_log(self, pattern):
        return len(re.findall(pattern, self.log()))

    def wait_log(self, pattern, timeout=60, count=1):
        rx = re.compile(pattern)

        def seen():
            if self.proc.poll() is not None:
                raise BenchError("lscd exited with %s:\n%s" % (self.proc.returncode, self.log()[-2000:]))
            return len(rx.findall(self.log())) >= count
        wait_for(seen, timeout, "%r in lscd's log" % pattern, interval=0.1)

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def cpu_ns(self):
        return cpu_ns(self.proc.pid)

    def rss_kib(self):
        return status_kib(self.proc.pid, "VmRSS")

    def db_count(self, sql):
        import sqlite3
        con = sqlite3.connect(os.path.join(self.state, "lscd.db"), timeout=10)
        try:
            return con.execute(sql).fetchone()[0]
        finally:
            con.close()

    def db_rows(self, sql):
        import sqlite3
        con = sqlite3.connect(os.path.join(self.state, "lscd.db"), timeout=10)
        try:
            return [r[0] for r in con.execute(sql).fetchall()]
        finally:
            con.close()

    def stop(self):
        return stop(self.proc, timeout=30)


# ---- apsim ------------------------------------------------------------------

class Apsim:
    """One build/apsim process (a fleet) against one lscd."""

    def __init__(self, workdir, pki, lscd, keypool, ac_trust=None, name="apsim"):
        self.dir = workdir
        self.name = name
        self.status_path = os.path.join(workdir, name + "-status.json")
        self.log_path = os.path.join(workdir, name + ".log")
        self.base = [APSIM, "--ac", lscd.address, "--mfg-ca-cert", pki.mfg_ca,
                     "--mfg-ca-key", pki.mfg_key, "--ac-trust", ac_trust or pki.mfg_ca,
                     "--keypool", keypool, "--status-file", self.status_path,
                     "--progress", "1", "--reboot", "200", "--retry", "500"]
        self.proc = None

    def start(self, *args):
        if os.path.exists(self.status_path):
            os.unlink(self.status_path)
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.base + [str(a) for a in args], stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()
        return self

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def status(self):
        try:
            with open(self.status_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def wait_status(self, predicate, timeout, what):
        def check():
            st = self.status()
            if st is not None and predicate(st):
                return st
            if self.proc.poll() is not None:
                st = self.status()
                if st is not None and predicate(st):
                    return st
                raise BenchError("apsim %s exited (%s) before %s:\n%s" % (
                    self.name, self.proc.returncode, what, self.output()[-2000:]))
            return None
        return wait_for(check, timeout, what, interval=0.2)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop(self.proc)
            raise BenchError("apsim %s did not finish in %s s" % (self.name, timeout))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def stop(self):
        return stop(self.proc, timeout=60)
