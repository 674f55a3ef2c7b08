"""Many proxy enrollments at once on one event loop, in one process.

The driver starts 200 enrollments on one libevent loop, with a 5 ms periodic
timer counting ticks, and reports every result. Timing figures are printed
for `make bench`-style reading but never asserted.

    sh tools/netns-run.sh pytest-3 -q tests/e2e/test_pki_concurrency.py
"""
import glob
import os
import subprocess

from conftest import openssl_pubkey

N = 200


def check_results(out, csr_dir, cert_dir, ca_pem):
    """Every OK result's cert carries its own CSR's key and chains to the CA."""
    csrs = sorted(glob.glob(os.path.join(csr_dir, "*.csr")))
    assert out["count"] == len(csrs) == N
    assert len(out["results"]) == N
    assert out["ops_left"] == 0
    ok = [r for r in out["results"] if r["status"] == "OK"]
    # One transaction per AP key, each through its own clone.
    assert len({r["txid"] for r in out["results"]}) == N
    assert len({r["clone"] for r in out["results"]}) == N
    by_key = {openssl_pubkey(c, "req"): c for c in csrs}
    for r in ok:
        cert = os.path.join(cert_dir, r["txid"] + ".pem")
        assert openssl_pubkey(cert, "x509") in by_key, "cert %s matches no CSR" % cert
    matched = {by_key[openssl_pubkey(os.path.join(cert_dir, r["txid"] + ".pem"), "x509")]
               for r in ok}
    assert len(matched) == len(ok)
    if ok:
        files = [os.path.join(cert_dir, r["txid"] + ".pem") for r in ok]
        v = subprocess.run(["openssl", "verify", "-CAfile", ca_pem, *files],
                           capture_output=True, text=True)
        assert v.returncode == 0, v.stdout + v.stderr
        assert v.stdout.count(": OK") == len(ok)
    # The loop kept serving its timer while enrollments were in flight, and
    # between the first and the last completion.
    assert out["ticks_busy"] > 0
    assert out["ticks_between_first_and_last_completion"] > 0
    print("\n%d enrollments: %d ms, %d ticks, max tick gap %d ms" % (
        N, out["elapsed_ms"], out["ticks"], out["max_tick_gap_ms"]))
    return ok


def test_200_concurrent_proxy_enrollments_micromdm(micromdm_ca, pki_driver, ap_csr_pool,
                                                   tmp_path):
    ca = micromdm_ca()
    csrs = ap_csr_pool(N)
    certs = str(tmp_path / "certs")
    os.mkdir(certs)
    out = pki_driver.run("concurrent", "--dir", str(tmp_path / "st"), "--name", "AP-LSC",
                         "--url", ca.url, "--pin", ca.pin, "--csr-dir", csrs,
                         "--max-concurrent", "16", "--out-dir", certs, timeout=600)
    ok = check_results(out, csrs, certs, ca.ca_pem)
    # micromdm's file depot has no locking: under parallel load it sometimes
    # fails to write its serial file and answers FAILURE (and hands out
    # duplicate serials, which is why serials are not compared here). Every
    # failure must be one of those, as its own log says.
    failed = [r for r in out["results"] if r["status"] != "OK"]
    assert {r["status"] for r in failed} <= {"CA_REJECTED"}
    ca.stop()
    with open(ca.log.name) as f:
        depot_races = sum(1 for l in f if 'msg="failed to sign CSR"' in l)
    assert len(failed) == depot_races
    assert len(ok) + len(failed) == N


def test_200_concurrent_proxy_enrollments_fake(fake_scep, pki_driver, ap_csr_pool, tmp_path):
    fake = fake_scep()
    csrs = ap_csr_pool(N)
    certs = str(tmp_path / "certs")
    os.mkdir(certs)
    out = pki_driver.run("concurrent", "--dir", str(tmp_path / "st"), "--name", "AP-LSC",
                         "--url", fake.url, "--pin", fake.pin, "--csr-dir", csrs,
                         "--max-concurrent", "64", "--out-dir", certs, timeout=600)
    ok = check_results(out, csrs, certs, fake.ca_pem)
    # A CA without depot races: every enrollment succeeds.
    assert len(ok) == N, [r["reason"] for r in out["results"] if r["status"] != "OK"][:3]
    assert len([r for r in fake.requests() if r.get("op") == "PKIOperation"]) == N
