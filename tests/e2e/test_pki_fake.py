"""pki/ against build/fake_scep, a labelled FAKE CA, for what micromdm cannot
do: PENDING and CertPoll, corrupt CertReps, garbage, HTTP 500, hangs, RA
certificates, GetNextCACert.

    sh tools/netns-run.sh pytest-3 -q tests/e2e/test_pki_fake.py
"""
import os

import pytest

from conftest import make_ap_csr, openssl_pubkey, openssl_sha256_fingerprint, openssl_txid


def tp(fake, state, *extra):
    return ["--dir", state, "--name", "AP-LSC", "--url", fake.url, "--pin", fake.pin, *extra]


def proxy(pki_driver, fake, tmp_path, cn, *extra):
    _, csr = make_ap_csr(str(tmp_path), cn)
    out = pki_driver.run("proxy-enroll", *tp(fake, str(tmp_path / "st"), "--csr", csr, *extra))
    return out, csr


def pkiops(fake, cn):
    return [r for r in fake.requests() if r.get("op") == "PKIOperation" and r.get("cn") == cn]


def test_pending_then_success(fake_scep, pki_driver, tmp_path):
    fake = fake_scep()
    out, csr = proxy(pki_driver, fake, tmp_path, "pend2-AP-1", "--poll-first-ms", "100",
                     "--poll-retries", "5")
    assert out["status"] == "OK", out
    assert out["polls"] == 2
    # First interval, then doubled.
    assert [p["next_ms"] for p in out["pending"]] == [100, 200]
    cert = str(tmp_path / "ap.pem")
    with open(cert, "w") as f:
        f.write(out["cert_pem"])
    assert openssl_pubkey(cert, "x509") == openssl_pubkey(csr, "req")
    seen = pkiops(fake, "pend2-AP-1")
    assert [r["msg_type"] for r in seen] == [19, 20, 20]
    assert [r["answer"] for r in seen] == ["PENDING", "PENDING", "SUCCESS"]
    # One transaction: same txid and the same clone's signer throughout.
    assert {r["txid"] for r in seen} == {openssl_txid(csr)}
    assert {r["signer_subject"] for r in seen} == {"CN=Proxy-AP-LSC1"}
    assert out["clones_after"] == 0


def test_pending_forever_exhausts_retries(fake_scep, pki_driver, tmp_path):
    fake = fake_scep()
    out, _ = proxy(pki_driver, fake, tmp_path, "pendforever-AP-2", "--poll-first-ms", "50",
                   "--poll-retries", "3", "--poll-cap-ms", "80")
    assert out["status"] == "PENDING_EXHAUSTED"
    assert out["polls"] == 3
    assert "3 polls" in out["reason"]
    # Doubling stops at the cap.
    assert [p["next_ms"] for p in out["pending"]] == [50, 80, 80]
    seen = pkiops(fake, "pendforever-AP-2")
    assert [r["msg_type"] for r in seen] == [19, 20, 20, 20]
    assert out["clones_after"] == 0 and out["ops_left"] == 0


@pytest.mark.parametrize("cn,status", [
    ("badsig-AP", "BAD_SIGNATURE"),
    ("badnonce-AP", "NONCE_MISMATCH"),
    ("badtxid-AP", "TXID_MISMATCH"),
    ("garbage-AP", "CA_GARBAGE"),
    ("wrongtype-AP", "CA_GARBAGE"),
    ("wrongkey-AP", "NO_MATCHING_CERT"),
    ("wrongissuer-AP", "WRONG_ISSUER"),
])
def test_corrupt_certreps(fake_scep, pki_driver, tmp_path, cn, status):
    fake = fake_scep()
    out, _ = proxy(pki_driver, fake, tmp_path, cn)
    assert out["status"] == status, out
    assert out["cert_pem"] is None
    assert out["clones_after"] == 0
    # The fake really answered (the error is about its answer, not transport).
    assert pkiops(fake, cn)[0]["msg_type"] == 19


def test_failure_fail_info_mapped(fake_scep, pki_driver, tmp_path):
    fake = fake_scep()
    out, _ = proxy(pki_driver, fake, tmp_path, "fail-badtime-AP")
    assert out["status"] == "CA_REJECTED"
    assert out["fail_info"] == "badTime"
    assert "badTime" in out["reason"] and "fake CA refused" in out["reason"]
    out, _ = proxy(pki_driver, fake, tmp_path, "fail-badcertid-AP")
    assert out["fail_info"] == "badCertId"


def test_http_500(fake_scep, pki_driver, tmp_path):
    fake = fake_scep()
    out, _ = proxy(pki_driver, fake, tmp_path, "http500-AP")
    assert out["status"] == "CA_HTTP"
    assert out["http_code"] == 500


def test_hang_times_out(fake_scep, pki_driver, tmp_path):
    fake = fake_scep()
    out, _ = proxy(pki_driver, fake, tmp_path, "hang-AP", "--timeout-ms", "400")
    assert out["status"] == "CA_TIMEOUT"
    assert "400 ms" in out["reason"]
    # A CA that hangs from the first request on.
    hung = fake_scep("--mode", "hang")
    out = pki_driver.run("authenticate", *tp(hung, str(tmp_path / "h"), "--timeout-ms", "300"))
    assert out["status"] == "CA_TIMEOUT"


def test_getcacert_garbage_and_wrong_type(fake_scep, pki_driver, tmp_path):
    out = pki_driver.run("authenticate", *tp(fake_scep("--mode", "garbage-cacert"),
                                             str(tmp_path / "a")))
    assert out["status"] == "CA_GARBAGE"
    out = pki_driver.run("authenticate", *tp(fake_scep("--mode", "wrongtype-cacert"),
                                             str(tmp_path / "b")))
    assert out["status"] == "CA_GARBAGE"
    assert "text/plain" in out["reason"]


def test_ca_and_ra_selection(fake_scep, pki_driver, tmp_path):
    fake = fake_scep("--ra", "--certrep-cipher", "aes128")
    state = str(tmp_path / "st")
    out = pki_driver.run("authenticate", *tp(fake, state))
    assert out["status"] == "OK", out
    assert out["ra_enc"] is True and out["ra_sig"] is True
    d = os.path.join(state, "AP-LSC")
    # keyEncipherment RA for requests, digitalSignature RA for CertReps.
    assert openssl_sha256_fingerprint(os.path.join(d, "ra-enc.pem")) == \
        openssl_sha256_fingerprint(os.path.join(fake.dir, "ra-enc.pem"))
    assert openssl_sha256_fingerprint(os.path.join(d, "ra-sig.pem")) == \
        openssl_sha256_fingerprint(os.path.join(fake.dir, "ra-sig.pem"))
    assert openssl_sha256_fingerprint(os.path.join(d, "ca.pem")) == fake.pin
    # A full enrollment works only if both roles were chosen right: the fake
    # decrypts with the encryption RA's key and signs with the signature RA's.
    out, csr = proxy(pki_driver, fake, tmp_path, "ra-AP")
    assert out["status"] == "OK", out
    cert = str(tmp_path / "ra.pem")
    with open(cert, "w") as f:
        f.write(out["cert_pem"])
    assert openssl_pubkey(cert, "x509") == openssl_pubkey(csr, "req")


@pytest.mark.parametrize("caps,method,cipher,digest", [
    ("SHA-1,DES3", "GET", "DES-EDE3-CBC", "SHA1"),
    ("SHA-512,SHA-256,AES,POSTPKIOperation", "POST", "AES-128-CBC", "SHA512"),
    ("", "GET", "DES-CBC", "MD5"),
])
def test_caps_drive_the_request(fake_scep, pki_driver, tmp_path, caps, method, cipher, digest):
    fake = fake_scep("--caps", caps)
    out, _ = proxy(pki_driver, fake, tmp_path, "caps-AP")
    assert out["status"] == "OK", out
    req = pkiops(fake, "caps-AP")[0]
    assert (req["method"], req["cipher"], req["digest"]) == (method, cipher, digest)


def test_get_next_ca_cert(fake_scep, pki_driver, tmp_path):
    fake = fake_scep("--next-ca")
    state = str(tmp_path / "st")
    out = pki_driver.run("get-next-ca", *tp(fake, state))
    assert out["status"] == "OK", out
    assert out["sha256_hex"] == fake.next_pin != fake.pin
    assert openssl_sha256_fingerprint(os.path.join(state, "AP-LSC", "ca-next.pem")) == \
        fake.next_pin
    # Without the capability the fake answers 500, as micromdm does.
    out = pki_driver.run("get-next-ca", *tp(fake_scep(), str(tmp_path / "b")))
    assert out["status"] == "CA_HTTP"


def test_pending_survives_a_restart(fake_scep, pki_driver, tmp_path):
    fake = fake_scep()
    state = str(tmp_path / "st")
    saved = str(tmp_path / "txn.json")
    _, csr = make_ap_csr(str(tmp_path), "pend2-AP-restart")
    out = pki_driver.run("proxy-enroll", *tp(fake, state, "--csr", csr, "--poll-first-ms",
                                             "200", "--export-on-pending", saved))
    assert out["status"] == "EXPORTED"
    with open(saved) as f:
        text = f.read()
    assert "PRIVATE" not in text
    # A new process, same trustpoint directory: polls on with the same transaction.
    out = pki_driver.run("resume", *tp(fake, state, "--state", saved, "--poll-first-ms", "200"))
    assert out["status"] == "OK", out
    assert out["clone"] == "Proxy-AP-LSC1"
    assert out["txid"] == openssl_txid(csr)
    seen = pkiops(fake, "pend2-AP-restart")
    assert [r["msg_type"] for r in seen] == [19, 20, 20]
    assert seen[-1]["answer"] == "SUCCESS"


def test_trustpoint_freed_from_its_pending_callback(fake_scep, pki_driver, tmp_path):
    # Lifetime: freeing the trustpoint inside a callback cancels everything
    # cleanly (run with LSCD_BUILD=build-asan to have ASan watch it).
    fake = fake_scep()
    out, _ = proxy(pki_driver, fake, tmp_path, "pendforever-AP-free", "--poll-first-ms", "50",
                   "--free-on-pending")
    assert out["status"] == "FREED"
    assert out["_rc"] == 0
    assert [r["msg_type"] for r in pkiops(fake, "pendforever-AP-free")] == [19]
