"""Shared pytest fixtures for the end-to-end tests.

Every e2e test runs inside a private network namespace with only `lo`
(`make e2e` wraps pytest in tools/netns-run.sh). Fixtures are grouped by the
issue that added them; add yours in a section of your own.
"""
import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LSCD_BUILD", os.path.join(ROOT, "build"))


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _terminate(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- pki/ fixtures (issue 3): micromdm CA, fake SCEP CA, pki_driver ---------

PKI_DRIVER = os.path.join(BUILD, "pki_driver")
FAKE_SCEP = os.path.join(BUILD, "fake_scep")


def openssl(*args, stdin=None):
    """Runs the openssl CLI (an implementation independent of pki/)."""
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True,
                          check=True).stdout


def openssl_sha256_fingerprint(pem_path):
    out = openssl("x509", "-in", pem_path, "-noout", "-fingerprint", "-sha256").decode()
    return out.strip().split("=", 1)[1].replace(":", "").lower()


def openssl_serial(pem):
    """The certificate's serial number, as an integer."""
    return int(openssl("x509", "-in", pem, "-noout", "-serial").decode().strip().split("=", 1)[1], 16)


def openssl_dates(pem):
    """(notBefore, notAfter) of a certificate, in seconds since the epoch."""
    import datetime
    out = openssl("x509", "-in", pem, "-noout", "-startdate", "-enddate", "-dateopt", "iso_8601").decode()
    vals = {}
    for line in out.splitlines():
        k, v = line.split("=", 1)
        vals[k] = int(datetime.datetime.strptime(v.strip(), "%Y-%m-%d %H:%M:%SZ")
                      .replace(tzinfo=datetime.timezone.utc).timestamp())
    return vals["notBefore"], vals["notAfter"]


def openssl_pubkey(path, kind):
    """PEM public key of a cert ("x509"), CSR ("req") or private key ("pkey")."""
    if kind == "x509":
        return openssl("x509", "-in", path, "-noout", "-pubkey")
    if kind == "req":
        return openssl("req", "-in", path, "-noout", "-pubkey")
    return openssl("pkey", "-in", path, "-pubout")


def openssl_txid(csr_path):
    """Upper-case hex SHA-256 of the CSR's SubjectPublicKeyInfo."""
    pub = openssl("req", "-in", csr_path, "-noout", "-pubkey")
    der = openssl("pkey", "-pubin", "-outform", "DER", stdin=pub)
    import hashlib
    return hashlib.sha256(der).hexdigest().upper()


def make_ap_csr(directory, cn, org="test-ap", key="rsa", challenge=None):
    """An AP-style key and CSR made with the openssl CLI, not with pki/."""
    key_path = os.path.join(directory, cn + ".key")
    csr_path = os.path.join(directory, cn + ".csr")
    cnf = os.path.join(directory, cn + ".cnf")
    with open(cnf, "w") as f:
        f.write("[req]\ndistinguished_name=dn\nprompt=no\n")
        if challenge:
            f.write("attributes=attrs\n[attrs]\nchallengePassword=%s\n" % challenge)
        f.write("[dn]\nC=US\nO=%s\nCN=%s\n" % (org, cn))
    newkey = ["-newkey", "rsa:2048"] if key == "rsa" else [
        "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    openssl("req", "-new", *newkey, "-nodes", "-keyout", key_path, "-config", cnf,
            "-out", csr_path)
    return key_path, csr_path


class PkiDriver:
    """Runs build/pki_driver; every run prints one JSON object."""

    def __init__(self, workdir):
        self.workdir = workdir

    def run(self, cmd, *args, timeout=120):
        proc = subprocess.run([PKI_DRIVER, cmd, *map(str, args)], capture_output=True,
                              text=True, timeout=timeout, cwd=self.workdir)
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            assert marker not in proc.stderr, "pki_driver %s: %s" % (cmd, proc.stderr)
        lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
        assert lines, "pki_driver %s printed no JSON (rc %d): %s %s" % (
            cmd, proc.returncode, proc.stdout, proc.stderr)
        out = json.loads(lines[-1])
        out["_rc"] = proc.returncode
        out["_stderr"] = proc.stderr
        return out


@pytest.fixture
def pki_driver(tmp_path):
    if not os.access(PKI_DRIVER, os.X_OK):
        pytest.fail("%s is not built (make build/pki_driver)" % PKI_DRIVER)
    return PkiDriver(str(tmp_path))


class MicromdmCA:
    """A real SCEP CA: micromdm's scepserver with a fresh depot.

    port= serves on a port chosen by the caller (a CA that comes up where a
    daemon already looks for it); start=False creates the depot (the CA
    certificate and its pin exist) without serving it yet. stop() and
    start() take the server down and bring it back on the same port with
    the same depot: the same CA, as a restarted scepserver is.
    crtvalid= is the validity of the certificates it issues, in days
    (micromdm's -crtvalid, default 365): short-lived certificates from the
    real CA plus lscd's --time-offset make lifecycle tests possible;
    set_crtvalid() changes it for the next start()."""

    def __init__(self, base, challenge=None, verifier=None, allowrenew="0", port=None, start=True,
                 crtvalid=None):
        self.depot = os.path.join(base, "depot")
        subprocess.run(["scepserver", "ca", "-init", "-depot", self.depot, "-keySize", "2048"],
                       check=True, capture_output=True)
        self.port = port or free_port()
        self.url = "http://127.0.0.1:%d/scep" % self.port
        self.ca_pem = os.path.join(self.depot, "ca.pem")
        self.pin = openssl_sha256_fingerprint(self.ca_pem)
        # On one core: micromdm's file depot takes no locks, and with
        # concurrent requests on two cores it hands out a serial twice or
        # leaves the depot stuck failing one name forever ("file exists"),
        # which is micromdm's defect, not the client's (scep-notes §2.7).
        # Pinned, concurrent requests still arrive concurrently but the
        # races are gone (measured: no failure in 200-request runs).
        self.cmd = ["taskset", "-c", "0", "scepserver", "-depot", self.depot, "-port", str(self.port),
                    "-allowrenew", allowrenew]
        if challenge:
            self.cmd += ["-challenge", challenge]
        if verifier:
            self.cmd += ["-csrverifierexec", verifier]
        self.crtvalid = None
        if crtvalid is not None:
            self.set_crtvalid(crtvalid)
        self.log_path = os.path.join(base, "scepserver.log")
        self.proc = None
        self.log = None
        if start:
            self.start()

    def set_crtvalid(self, days):
        if "-crtvalid" in self.cmd:
            del self.cmd[self.cmd.index("-crtvalid"):self.cmd.index("-crtvalid") + 2]
        self.cmd += ["-crtvalid", str(days)]
        self.crtvalid = days

    def start(self):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(self.url + "?operation=GetCACaps", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("scepserver did not start; see %s" % self.log_path)
            time.sleep(0.05)
        return self

    def stop(self):
        if self.proc is not None:
            _terminate(self.proc)
            self.proc = None
        if self.log is not None:
            self.log.close()      # closed, not dropped: callers read self.log.name


@pytest.fixture
def micromdm_ca(tmp_path):
    """Factory: micromdm_ca(challenge=None, verifier=None, allowrenew="0", port=None,
    start=True, crtvalid=None) -> MicromdmCA."""
    if not shutil.which("scepserver"):
        pytest.fail("scepserver missing: sh tools/install-deps.sh (Debian package scep)")
    started = []

    def start(**kw):
        ca = MicromdmCA(str(tmp_path / ("ca%d" % len(started))), **kw)
        started.append(ca)
        return ca

    yield start
    for ca in started:
        ca.stop()


class FakeSCEP:
    """build/fake_scep: a labelled FAKE CA for what micromdm cannot do."""

    def __init__(self, base, *args):
        self.dir = base
        os.makedirs(base, exist_ok=True)
        self.proc = subprocess.Popen([FAKE_SCEP, "--dir", base, "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("fake_scep did not start: %s" % self.proc.stderr.read())
        ready = json.loads(line)
        self.port = ready["port"]
        self.url = "http://127.0.0.1:%d/scep" % self.port
        self.pin = ready["ca_sha256"]
        self.next_pin = ready["next_ca_sha256"]
        self.ca_pem = os.path.join(base, "ca.pem")

    def requests(self):
        path = os.path.join(self.dir, "requests.log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip()]

    def stop(self):
        _terminate(self.proc)


@pytest.fixture
def fake_scep(tmp_path):
    """Factory: fake_scep("--ra", "--next-ca", ...) -> FakeSCEP."""
    if not os.access(FAKE_SCEP, os.X_OK):
        pytest.fail("%s is not built (make build/fake_scep)" % FAKE_SCEP)
    started = []

    def start(*args):
        f = FakeSCEP(str(tmp_path / ("fake%d" % len(started))), *args)
        started.append(f)
        return f

    yield start
    for f in started:
        f.stop()


@pytest.fixture(scope="session")
def ap_csr_pool(tmp_path_factory):
    """Factory: ap_csr_pool(n) -> directory of n AP CSRs (RSA-2048, distinct keys),
    made once per session with the openssl CLI on every core."""
    import concurrent.futures
    made = {}

    def get(n):
        if n in made:
            return made[n]
        d = str(tmp_path_factory.mktemp("csrs%d" % n))
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
            list(ex.map(lambda i: make_ap_csr(d, "AP-%04d" % i), range(n)))
        made[n] = d
        return d

    return get


# --- lscd and apsim fixtures (issues 4, 5, 6): see lscd_env.py --------------

from lscd_env import TestPki  # noqa: E402


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory):
    """Manufacturing CA (MICs) and the controller's manufacturer certificate."""
    return TestPki(str(tmp_path_factory.mktemp("testpki")))
