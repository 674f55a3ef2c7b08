"""Real processes for the end-to-end tests: lscd, apsim, the test PKI.

Everything here starts the project's own binaries from build/ (or
$LSCD_BUILD, e.g. build-asan) on loopback inside the test run's private
network namespace.
"""
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LSCD_BUILD", os.path.join(ROOT, "build"))
LSCD = os.path.join(BUILD, "lscd")
APSIM = os.path.join(BUILD, "apsim")
LSCCTL = os.path.join(BUILD, "lscctl")
# RSA keys for simulated APs, generated once and reused by every run.
KEYPOOL = os.environ.get("LSCD_KEYPOOL", os.path.join(ROOT, "build", "keypool.pem"))


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def wait_for(predicate, timeout, what, interval=0.1):
    """Poll predicate() until it returns something truthy; fail naming what."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


class TestPki:
    """tools/testpki.sh: the manufacturing CA (signs MICs) and the
    controller's own manufacturer certificate."""

    def __init__(self, directory):
        subprocess.run(["sh", os.path.join(ROOT, "tools", "testpki.sh"), directory], check=True)
        self.dir = directory
        self.mfg_ca = os.path.join(directory, "mfg-ca.pem")
        self.mfg_key = os.path.join(directory, "mfg-ca.key")
        self.wlc_cert = os.path.join(directory, "wlc.pem")
        self.wlc_key = os.path.join(directory, "wlc.key")


class Lscd:
    """One lscd process with a generated lscd.json in its own directory."""

    def __init__(self, workdir, pki, config=None, args=(), wrapper=(), binary=None):
        self.dir = workdir
        self.wrapper = list(wrapper)      # e.g. valgrind and its options
        self.binary = binary or LSCD
        self.port = free_udp_port()
        self.config_path = os.path.join(workdir, "lscd.json")
        self.log_path = os.path.join(workdir, "lscd.log")
        self.socket = os.path.join(workdir, "lscd.sock")
        self.state = os.path.join(workdir, "state")
        os.makedirs(self.state, exist_ok=True)
        self.config = {
            "listen": ["127.0.0.1:%d" % self.port],
            "state_dir": self.state,
            "control_socket": self.socket,
            "log_level": "info",
            # The test machine's kernel may call its clock unsynchronised;
            # the lifecycle tests that exercise the guard override this.
            "clock_valid": True,
            "wireless_management_trustpoint": "WLC",
            "mic_ca_bundle": pki.mfg_ca,
            "trustpoints": {"WLC": {"certificate": pki.wlc_cert, "private_key": pki.wlc_key}},
            "lsc_provision": {"mode": "disabled"},
            "capwap": {"echo_interval_s": 2},
        }
        for key, value in (config or {}).items():
            if isinstance(value, dict) and isinstance(self.config.get(key), dict):
                self.config[key].update(value)
            else:
                self.config[key] = value
        self.args = list(args)
        self.proc = None
        self.write_config()

    def write_config(self):
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=2)
        os.chmod(self.config_path, 0o640)

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self, wait="listening for CAPWAP control"):
        self.log_offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([*self.wrapper, self.binary, "-d", "-f", self.config_path, *self.args],
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if wait:
            self.wait_log(wait, timeout=60)
        return self

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=60, count=1):
        """Wait until pattern (a regex) appears count times in the log."""
        rx = re.compile(pattern)

        def seen():
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError("lscd exited with %s while waiting for %r:\n%s"
                                     % (self.proc.returncode, pattern, self.log()[-3000:]))
            return len(rx.findall(self.log())) >= count
        wait_for(seen, timeout, "%d× %r in lscd's log" % (count, pattern))

    def count_log(self, pattern):
        return len(re.findall(pattern, self.log()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        return rc

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def db(self):
        con = sqlite3.connect(os.path.join(self.state, "lscd.db"), timeout=10)
        con.row_factory = sqlite3.Row
        return con

    def ctl_run(self, *args, stdin=None):
        """Run lscctl against this daemon; returns the CompletedProcess."""
        return subprocess.run([LSCCTL, "-s", self.socket, *map(str, args)], capture_output=True,
                              text=True, timeout=60, input=stdin)

    def ctl(self, *args, check=True):
        """Run lscctl against this daemon; returns (rc, stdout)."""
        proc = self.ctl_run(*args)
        if check:
            assert proc.returncode == 0, "lscctl %s: %s %s" % (args, proc.stdout, proc.stderr)
        return proc.returncode, proc.stdout

    def ctl_json(self, *args):
        """lscctl --json: the daemon's data for a command that must succeed."""
        _, out = self.ctl("--json", *args)
        return json.loads(out)


class Apsim:
    """build/apsim: a fleet of simulated APs."""

    def __init__(self, workdir, pki, lscd, ac_trust=None, name="apsim"):
        self.dir = workdir
        self.status_path = os.path.join(workdir, name + "-status.json")
        self.log_path = os.path.join(workdir, name + ".log")
        self.base = [APSIM, "--ac", lscd.address, "--mfg-ca-cert", pki.mfg_ca,
                     "--mfg-ca-key", pki.mfg_key, "--ac-trust", ac_trust or pki.mfg_ca,
                     "--keypool", KEYPOOL, "--status-file", self.status_path,
                     "--progress", "1", "--retry", "300", "--reboot", "200",
                     "--retransmit", "500", "--max-retransmit", "3", "--wait", "5000"]
        self.proc = None

    def run(self, *args, timeout=300):
        """Run to completion; returns (returncode, output)."""
        with open(self.log_path, "a") as log:
            proc = subprocess.run(self.base + [str(a) for a in args], stdout=log,
                                  stderr=subprocess.STDOUT, timeout=timeout)
        return proc.returncode, self.output()

    def start(self, *args):
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
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError("apsim exited with %s while waiting for %s:\n%s"
                                     % (self.proc.returncode, what, self.output()[-3000:]))
            st = self.status()
            return st if st is not None and predicate(st) else None
        return wait_for(check, timeout, what, interval=0.3)

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        return rc


def by_state(status, state, cert=None):
    return [ap for ap in status["aps"]
            if ap["state"] == state and (cert is None or ap["cert"] == cert)]
