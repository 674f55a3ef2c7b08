"""pki/ against a real SCEP CA: micromdm's scepserver, started per test.

Run inside the private network namespace:
    sh tools/netns-run.sh pytest-3 -q tests/e2e/test_pki_micromdm.py
"""
import os
import stat
import subprocess

from conftest import (make_ap_csr, openssl, openssl_pubkey, openssl_sha256_fingerprint,
                      openssl_txid, free_port)


def tp(ca_url, pin, state, *extra):
    return ["--dir", state, "--name", "AP-LSC", "--url", ca_url, "--pin", pin, *extra]


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def verify_chain(ca_pem, cert_pem_path):
    out = subprocess.run(["openssl", "verify", "-CAfile", ca_pem, cert_pem_path],
                         capture_output=True, text=True)
    return out.returncode == 0 and out.stdout.strip().endswith(": OK")


def test_authenticate_pin_and_fingerprints(micromdm_ca, pki_driver, tmp_path):
    ca = micromdm_ca()
    state = str(tmp_path / "st")
    out = pki_driver.run("authenticate", *tp(ca.url, ca.pin, state))
    assert out["status"] == "OK", out
    assert out["authenticated"] is True
    fp = out["fingerprints"]
    assert fp["sha256_hex"] == ca.pin
    # IOS style: upper-case hex in groups of 8, as `openssl x509 -fingerprint` digits.
    md5 = openssl("x509", "-in", ca.ca_pem, "-noout", "-fingerprint", "-md5").decode()
    md5 = md5.strip().split("=")[1].replace(":", "")
    assert fp["md5"] == " ".join(md5[i:i + 8] for i in range(0, 32, 8))
    assert len(fp["sha1"].split(" ")) == 5
    # micromdm has no RA: its CA (keyCertSign/cRLSign only) serves both roles.
    assert out["ra_enc"] is False and out["ra_sig"] is False
    stored = os.path.join(state, "AP-LSC", "ca.pem")
    assert openssl_sha256_fingerprint(stored) == ca.pin


def test_authenticate_refuses_wrong_pin(micromdm_ca, pki_driver, tmp_path):
    ca = micromdm_ca()
    state = str(tmp_path / "st")
    wrong = ("0" if ca.pin[0] != "0" else "1") + ca.pin[1:]
    out = pki_driver.run("authenticate", *tp(ca.url, wrong, state))
    assert out["status"] == "PIN_MISMATCH"
    assert out["authenticated"] is False
    assert ca.pin in out["reason"] and wrong in out["reason"]
    # The fingerprints are still reported, so an operator can compare them.
    assert out["fingerprints"]["sha256_hex"] == ca.pin
    assert not os.path.exists(os.path.join(state, "AP-LSC", "ca.pem"))
    # Enrolling through an unauthenticated trustpoint re-authenticates and fails again.
    _, csr = make_ap_csr(str(tmp_path), "AP-1")
    out = pki_driver.run("proxy-enroll", *tp(ca.url, wrong, state), "--csr", csr)
    assert out["status"] == "PIN_MISMATCH"


def test_caps(micromdm_ca, pki_driver, tmp_path):
    ca = micromdm_ca()
    out = pki_driver.run("caps", *tp(ca.url, ca.pin, str(tmp_path / "st")))
    assert out["status"] == "OK"
    assert out["known"] is True
    for word in ("POSTPKIOperation", "SHA-256", "AES", "Renewal", "SCEPStandard"):
        assert word in out["caps"].split()
    assert "SHA-512" not in out["caps"].split()
    assert out["select"] == {"post": True, "digest": "SHA-256", "cipher": "AES-128-CBC"}


def test_enroll_own_rsa_key(micromdm_ca, pki_driver, tmp_path):
    ca = micromdm_ca()
    state = str(tmp_path / "st")
    cert = str(tmp_path / "wlc.pem")
    out = pki_driver.run("enroll", *tp(ca.url, ca.pin, state, "--subject",
                                       "C=US,ST=CA,L=San Jose,O=lscd,OU=wlan,CN=wlc-1",
                                       "--out", cert))
    assert out["status"] == "OK", out
    assert out["type"] == 19 and out["clone"] is None and out["has_identity"] is True
    assert verify_chain(ca.ca_pem, cert)
    key = os.path.join(state, "AP-LSC", "key.pem")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert openssl_pubkey(cert, "x509") == openssl_pubkey(key, "pkey")
    subj = openssl("x509", "-in", cert, "-noout", "-subject", "-nameopt", "RFC2253").decode()
    assert "CN=wlc-1,OU=wlan,O=lscd,L=San Jose,ST=CA,C=US" in subj
    # The identity cert is stored and survives a restart of the process.
    stored = os.path.join(state, "AP-LSC", "cert.pem")
    assert openssl_pubkey(stored, "x509") == openssl_pubkey(key, "pkey")
    # RenewalReq (17), signed with that identity cert: micromdm grants it.
    out2 = pki_driver.run("renew", *tp(ca.url, ca.pin, state, "--subject",
                                       "C=US,ST=CA,L=San Jose,O=lscd,OU=wlan,CN=wlc-1"))
    assert out2["status"] == "OK", out2
    assert out2["type"] == 17
    assert out2["serial"] != out["serial"]


def test_proxy_enroll_ap_csr(micromdm_ca, pki_driver, tmp_path):
    ca = micromdm_ca()
    state = str(tmp_path / "st")
    ap_key, csr = make_ap_csr(str(tmp_path), "AP-LSC-0001", org="test-ap")
    cert = str(tmp_path / "ap.pem")
    out = pki_driver.run("proxy-enroll", *tp(ca.url, ca.pin, state, "--csr", csr,
                                             "--out", cert))
    assert out["status"] == "OK", out
    # The cert carries the AP's key, not the controller's.
    assert openssl_pubkey(cert, "x509") == openssl_pubkey(csr, "req")
    assert openssl_pubkey(cert, "x509") == openssl_pubkey(ap_key, "pkey")
    tp_key = os.path.join(state, "AP-LSC", "key.pem")
    assert openssl_pubkey(cert, "x509") != openssl_pubkey(tp_key, "pkey")
    # ... the CSR's subject, and it chains to the CA.
    s_cert = openssl("x509", "-in", cert, "-noout", "-subject", "-nameopt", "RFC2253")
    s_csr = openssl("req", "-in", csr, "-noout", "-subject", "-nameopt", "RFC2253")
    assert s_cert.split(b"=", 1)[1] == s_csr.split(b"=", 1)[1]
    assert verify_chain(ca.ca_pem, cert)
    # Cisco-style transaction: txid from the AP key, a clone named Proxy-<TP><n>,
    # removed once done.
    assert out["txid"] == openssl_txid(csr)
    assert out["clone"] == "Proxy-AP-LSC1"
    assert out["clones_after"] == 0 and out["ops_left"] == 0
    assert out["has_identity"] is False
    # The CA cert handed back is the authenticated one.
    assert openssl_sha256_fingerprint(write(str(tmp_path / "ca.pem"), out["ca_pem"])) == ca.pin


def test_failure_via_challenge(micromdm_ca, pki_driver, tmp_path):
    ca = micromdm_ca(challenge="s3cret")
    state = str(tmp_path / "st")
    _, csr = make_ap_csr(str(tmp_path), "AP-nochallenge")
    out = pki_driver.run("proxy-enroll", *tp(ca.url, ca.pin, state, "--csr", csr))
    assert out["status"] == "CA_REJECTED"
    assert out["fail_info"] == "badRequest"
    assert ca.url in out["reason"]
    _, csr = make_ap_csr(str(tmp_path), "AP-wrong", challenge="guess")
    assert pki_driver.run("proxy-enroll", *tp(ca.url, ca.pin, state, "--csr", csr))[
        "status"] == "CA_REJECTED"
    # The AP put the right challenge in its own CSR: granted.
    _, csr = make_ap_csr(str(tmp_path), "AP-right", challenge="s3cret")
    out = pki_driver.run("proxy-enroll", *tp(ca.url, ca.pin, state, "--csr", csr))
    assert out["status"] == "OK", out
    # Own enrollment: the trustpoint's challenge goes into its CSR.
    out = pki_driver.run("enroll", *tp(ca.url, ca.pin, state, "--subject", "CN=wlc",
                                       "--challenge", "s3cret"))
    assert out["status"] == "OK", out
    assert "s3cret" not in out["_stderr"] + out["reason"]


VERIFIER = """#!/bin/sh
# micromdm -csrverifierexec hook: DER CSR on stdin; non-zero exit = FAILURE.
subject=$(openssl req -inform DER -noout -subject 2>/dev/null)
case "$subject" in
*slow-*) sleep 5 ;;
esac
case "$subject" in
*deny-*) exit 1 ;;
esac
exit 0
"""


def verifier(tmp_path):
    path = write(str(tmp_path / "verifier.sh"), VERIFIER)
    os.chmod(path, 0o755)
    return path


def test_failure_via_csr_verifier(micromdm_ca, pki_driver, tmp_path):
    ca = micromdm_ca(verifier=verifier(tmp_path))
    state = str(tmp_path / "st")
    _, csr = make_ap_csr(str(tmp_path), "deny-AP-7")
    out = pki_driver.run("proxy-enroll", *tp(ca.url, ca.pin, state, "--csr", csr))
    assert out["status"] == "CA_REJECTED"
    assert out["fail_info"] == "badRequest"
    assert out["cert_pem"] is None
    _, csr = make_ap_csr(str(tmp_path), "AP-8")
    assert pki_driver.run("proxy-enroll", *tp(ca.url, ca.pin, state, "--csr", csr))[
        "status"] == "OK"


def test_ca_slow_past_timeout(micromdm_ca, pki_driver, tmp_path):
    ca = micromdm_ca(verifier=verifier(tmp_path))
    state = str(tmp_path / "st")
    _, csr = make_ap_csr(str(tmp_path), "slow-AP-9")
    out = pki_driver.run("proxy-enroll", *tp(ca.url, ca.pin, state, "--csr", csr,
                                             "--timeout-ms", "1000"))
    assert out["status"] == "CA_TIMEOUT"
    assert "1000 ms" in out["reason"] and ca.url in out["reason"]
    assert out["clones_after"] == 0


def test_ca_unreachable(pki_driver, tmp_path):
    url = "http://127.0.0.1:%d/scep" % free_port()
    out = pki_driver.run("authenticate", *tp(url, "00" * 32, str(tmp_path / "st")))
    assert out["status"] == "CA_UNREACHABLE"
    assert url in out["reason"]
    out = pki_driver.run("caps", *tp(url, "00" * 32, str(tmp_path / "st")))
    assert out["status"] == "CA_UNREACHABLE"


def test_wrong_path_and_unsupported_operations(micromdm_ca, pki_driver, tmp_path):
    ca = micromdm_ca()
    # IOS's default path: micromdm serves /scep only.
    url = ca.url.replace("/scep", "/cgi-bin/pkiclient.exe")
    out = pki_driver.run("authenticate", *tp(url, ca.pin, str(tmp_path / "a")))
    assert out["status"] == "CA_HTTP" and out["http_code"] == 404
    out = pki_driver.run("get-next-ca", *tp(ca.url, ca.pin, str(tmp_path / "b")))
    assert out["status"] == "CA_HTTP" and out["http_code"] == 500


def test_ec_ap_csr_forwarded_and_refused_by_micromdm(micromdm_ca, pki_driver, tmp_path):
    # lscd forwards an EC CSR as it is; micromdm (RSA CA) refuses EC CSRs.
    ca = micromdm_ca()
    _, csr = make_ap_csr(str(tmp_path), "AP-ec", key="ec")
    out = pki_driver.run("proxy-enroll", *tp(ca.url, ca.pin, str(tmp_path / "st"),
                                             "--csr", csr))
    assert out["status"] == "CA_REJECTED"
    assert out["txid"] == openssl_txid(csr)
