"""What lscd leaves on disk, and what it refuses to start with (issue 8):
private keys 0600, the state database and its journal 0600, the debug
capture 0600; a world-writable configuration or private key is refused."""
import os
import stat
import subprocess

from lscd_env import LSCD, Apsim, Lscd
from test_provision import ac_trust, provisioning


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_keys_database_and_journal_are_private(test_pki, micromdm_ca, tmp_path):
    ca = micromdm_ca()
    lscd = Lscd(str(tmp_path), test_pki, provisioning(ca)).start()
    try:
        rc, out = Apsim(str(tmp_path), test_pki, lscd, ac_trust(tmp_path, test_pki, ca)).run(
            "-n", 2, "--expect", "lsc", "--timeout", 60)
        assert rc == 0, out[-2000:]
        for tp in ("WLC", "AP-LSC"):
            assert mode(os.path.join(lscd.state, "trustpoints", tp, "key.pem")) == 0o600
            assert mode(os.path.join(lscd.state, "trustpoints", tp)) & 0o077 == 0
        for name in ("lscd.db", "lscd.db-wal", "lscd.db-shm"):
            path = os.path.join(lscd.state, name)
            if os.path.exists(path):
                assert mode(path) & 0o077 == 0, (name, oct(mode(path)))
    finally:
        assert lscd.stop() == 0


def check(config_path):
    return subprocess.run([LSCD, "-n", "-f", config_path], capture_output=True, text=True)


def test_world_writable_config_is_refused(test_pki, tmp_path):
    lscd = Lscd(str(tmp_path), test_pki)
    assert check(lscd.config_path).returncode == 0
    os.chmod(lscd.config_path, 0o666)
    out = check(lscd.config_path)
    assert out.returncode != 0
    assert lscd.config_path in out.stderr and "writable" in out.stderr, out.stderr


def test_world_writable_private_key_is_refused(test_pki, tmp_path):
    key = os.path.join(str(tmp_path), "wlc.key")
    with open(test_pki.wlc_key) as src, open(key, "w") as dst:
        dst.write(src.read())
    os.chmod(key, 0o666)
    lscd = Lscd(str(tmp_path), test_pki, {
        "trustpoints": {"WLC": {"certificate": test_pki.wlc_cert, "private_key": key}}})
    out = check(lscd.config_path)
    assert out.returncode != 0
    assert key in out.stderr and "writable" in out.stderr, out.stderr
    # and lscd itself does not start with it
    proc = subprocess.run([LSCD, "-d", "-f", lscd.config_path], capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and key in proc.stderr
