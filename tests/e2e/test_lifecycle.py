"""The certificate lifecycle end to end (issue 9).

Time: lscd's clock is moved with its test-only --time-offset (its timers,
its DTLS peer verification and its show output all follow it); the CA is
micromdm's scepserver issuing one-day certificates (-crtvalid 1), so that
"80 % of the lifetime" is a point a test can put lscd just before. Nothing
here asserts how long anything took: the tests wait for events and then
check what happened.

CA rollover needs GetNextCACert, which micromdm 2.1.0 does not serve: those
tests use the FAKE CA (tests/fakes/fake_scep.c) and say so.
"""
import datetime
import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import openssl, openssl_dates, openssl_pubkey, openssl_serial
from lscd_env import Apsim, Lscd, by_state, free_udp_port, wait_for
from test_provision import SUBJECT, ac_trust, mac_of

DAY = 86400
WLC_SUBJECT = "C=US,O=lscd tests,CN=lscd-wlc"


# --- helpers ----------------------------------------------------------------

def cert_issuer(pem):
    return openssl("x509", "-in", pem, "-noout", "-issuer", "-nameopt", "RFC2253").decode().strip()


def sha256_of(pem):
    out = openssl("x509", "-in", pem, "-noout", "-fingerprint", "-sha256").decode()
    return out.strip().split("=", 1)[1].replace(":", "").lower()


def tp_file(lscd, tp, name):
    return os.path.join(lscd.state, "trustpoints", tp, name)


def timers(lscd):
    """show crypto pki timers as data: [(name, subject, due, remaining_ms)]."""
    data = lscd.ctl_json("show", "crypto", "pki", "timers")
    return [(t["name"], t["subject"], t["due"], t["remaining_ms"]) for t in data["timers"]]


def timer(lscd, name, subject):
    found = [t for t in timers(lscd) if t[0] == name and t[1] == subject]
    return found[0] if found else None


def trustpoint(lscd, name):
    data = lscd.ctl_json("show", "crypto", "pki", "trustpoints")
    return {t["name"]: t for t in data["trustpoints"]}[name]


def management(ca, auto_enroll=80, regenerate=False, **extra):
    """lscd with its wireless management identity enrolled at ca."""
    wlc = {"enrollment_url": ca.url, "subject": WLC_SUBJECT, "ca_fingerprint_sha256": ca.pin,
           "auto_enroll": auto_enroll, "regenerate": regenerate, "poll_interval_s": 1}
    wlc.update(extra)
    return {"trustpoints": {"WLC": wlc}}


def offset_before(due, seconds):
    """A --time-offset that puts lscd's clock `seconds` before `due`."""
    return int(due - time.time() - seconds)


def longer_certificates(ca, days=5):
    """From now on the CA issues `days`-day certificates. A renewed identity
    must not be due again at once: lscd's clock runs ahead of the CA's by
    most of a one-day lifetime in these tests."""
    ca.stop()
    ca.set_crtvalid(days)
    ca.start()


STARTED = r"lscd \S+ started"


def start_again(lscd):
    """Start a stopped lscd and wait for this start's line (the log is
    appended to, so the line of an earlier start does not count)."""
    seen = lscd.count_log(STARTED)
    lscd.start(wait=None)
    lscd.wait_log(STARTED, count=seen + 1)


def restart(lscd, offset):
    """Stop lscd and start it again with its clock `offset` seconds ahead."""
    assert lscd.stop() == 0
    lscd.args = ["--time-offset", str(offset)]
    start_again(lscd)


def presented_serial(tmp_path, lscd, test_pki, trust, name):
    """Join a fresh apsim AP (on its MIC) while tshark watches loopback, and
    return the serial number of the certificate lscd presented in the DTLS
    handshake, as Wireshark decodes it: an independent view of the wire,
    not lscd's word."""
    probe = free_udp_port()
    cmd = ["tshark", "-n", "-l", "-i", "lo", "-f", "udp port %d or udp port %d" % (lscd.port, probe),
           "-d", "udp.port==%d,capwap" % lscd.port, "-T", "fields", "-e", "udp.dstport",
           "-e", "x509af.serialNumber", "-Y", "udp.dstport == %d || dtls.handshake.type == 11" % probe]
    ts = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in ts.stdout], daemon=True).start()
    try:
        # tshark says "Capturing on" before the filter is really in place:
        # probe until a probe comes back decoded
        deadline = time.monotonic() + 30
        while True:
            assert time.monotonic() < deadline, "tshark never saw a probe"
            sock.sendto(b"probe", ("127.0.0.1", probe))
            try:
                if lines.get(timeout=0.2).startswith(str(probe)):
                    break
            except queue.Empty:
                pass
        rc, out = Apsim(str(tmp_path), test_pki, lscd, trust, name=name).run(
            "-n", 1, "--mac-base", "02:00:00:00:77:01", "--src-base", "127.77.0.1",
            "--expect", "run", "--timeout", 60)
        assert rc == 0, out[-2000:]
        serials = []
        while not serials:
            line = lines.get(timeout=30)
            cols = line.rstrip("\n").split("\t")
            if len(cols) > 1 and cols[1]:
                serials = cols[1].split(",")
        return serials
    finally:
        ts.terminate()
        ts.wait(timeout=20)
        sock.close()


# --- identity renewal ---------------------------------------------------------

@pytest.mark.parametrize("regenerate", [False, True], ids=["same-key", "regenerate"])
def test_identity_renews_at_the_configured_percentage(regenerate, test_pki, micromdm_ca, tmp_path):
    ca = micromdm_ca(crtvalid=1)
    lscd = Lscd(str(tmp_path), test_pki, management(ca, auto_enroll=80, regenerate=regenerate)).start()
    cert, key = tp_file(lscd, "WLC", "cert.pem"), tp_file(lscd, "WLC", "key.pem")
    trust = ac_trust(tmp_path, test_pki, ca)
    try:
        lscd.wait_log(r"trustpoint WLC: enrolled")
        nb, na = openssl_dates(cert)
        assert na - nb == DAY
        old_serial, old_pub = openssl_serial(cert), openssl_pubkey(key, "pkey")
        # RENEW at notBefore + 80 % of the lifetime, computed from the
        # certificate as soon as it is installed
        (name, subject, due, _), = [t for t in timers(lscd) if t[1] == "WLC"]
        assert (name, subject) == ("RENEW", "WLC")
        assert abs(due - (nb + DAY * 80 // 100)) <= 1, (due, nb)
        assert lscd.count_log(r"RENEW timer expired") == 0

        # 70 %: recomputed from the certificate at start, still ahead
        restart(lscd, offset_before(nb + DAY * 70 // 100, 0))
        t = timer(lscd, "RENEW", "WLC")
        assert t is not None and abs(t[2] - (nb + DAY * 80 // 100)) <= 1 and t[3] > 0
        assert lscd.count_log(r"RENEW timer expired") == 0
        assert openssl_serial(cert) == old_serial

        # 20 s before 80 %: the timer expires while lscd runs
        longer_certificates(ca)
        restart(lscd, offset_before(nb + DAY * 80 // 100, 20))
        t = timer(lscd, "RENEW", "WLC")
        assert t is not None and t[3] > 0, "RENEW should still be ahead: %r" % (t,)
        lscd.wait_log(r"trustpoint WLC: identity renewed", timeout=90)
        log = lscd.log()
        # micromdm advertises Renewal: a RenewalReq signed with the current certificate
        m = re.search(r"trustpoint WLC: RENEW timer expired: renewing the identity \(serial ([0-9A-F]+), "
                      r"valid until [^)]+\) with a RenewalReq signed by the current certificate, (\w+ \w+) "
                      r"pair", log)
        assert m and int(m.group(1), 16) == old_serial, log[-2000:]
        assert m.group(2) == ("new key" if regenerate else "same key")
        assert "trustpoint WLC: identity renewed (RenewalReq" in log
        assert lscd.count_log(r"RENEW timer expired") == 1

        # the files: a new certificate from the CA; the key is the same or new
        new_serial = openssl_serial(cert)
        assert new_serial != old_serial
        nb2, na2 = openssl_dates(cert)
        assert nb2 >= nb and na2 - nb2 == 5 * DAY
        subprocess.run(["openssl", "verify", "-CAfile", ca.ca_pem, cert], check=True, capture_output=True)
        new_pub = openssl_pubkey(key, "pkey")
        assert openssl_pubkey(cert, "x509") == new_pub, "key.pem and cert.pem are one pair"
        if regenerate:
            assert new_pub != old_pub
        else:
            assert new_pub == old_pub
        assert not os.path.exists(tp_file(lscd, "WLC", "key-new.pem"))
        assert not os.path.exists(tp_file(lscd, "WLC", "cert-new.pem"))
        # and the next RENEW is planned from the new certificate
        t = timer(lscd, "RENEW", "WLC")
        assert t is not None and abs(t[2] - (nb2 + (na2 - nb2) * 80 // 100)) <= 1

        # DTLS presents the new identity to an AP that joins now
        serials = presented_serial(tmp_path, lscd, test_pki, trust, "fresh-ap")
        assert [int(s) for s in serials][0] == new_serial, serials
    finally:
        assert lscd.stop() == 0


def test_renewal_without_the_renewal_capability_is_a_pkcsreq(test_pki, fake_scep, tmp_path):
    """FAKE CA (tests/fakes/fake_scep.c), told to advertise no Renewal
    (micromdm always advertises it): the renewal is a PKCSReq signed by a
    temporary self-signed certificate over the new key, not by the current
    certificate."""
    fake = fake_scep("--caps", "POSTPKIOperation,SHA-256,AES", "--cert-days", "1", "--renew-days", "5")
    lscd = Lscd(str(tmp_path), test_pki, {"trustpoints": {"WLC": {
        "enrollment_url": fake.url, "subject": WLC_SUBJECT, "ca_fingerprint_sha256": fake.pin,
        "auto_enroll": 80, "regenerate": True}}}).start()
    cert = tp_file(lscd, "WLC", "cert.pem")
    try:
        lscd.wait_log(r"trustpoint WLC: enrolled")
        nb, _ = openssl_dates(cert)
        old_serial, old_pub = openssl_serial(cert), openssl_pubkey(cert, "x509")
        restart(lscd, offset_before(nb + DAY * 80 // 100, 0))
        lscd.wait_log(r"trustpoint WLC: identity renewed \(PKCSReq", timeout=60)
        assert re.search(r"RENEW timer expired: .* with a PKCSReq signed by a temporary self-signed "
                         r"certificate, new key pair", lscd.log())
        assert openssl_serial(cert) != old_serial
        new_pub = openssl_pubkey(cert, "x509")
        assert new_pub != old_pub and openssl_pubkey(tp_file(lscd, "WLC", "key.pem"), "pkey") == new_pub
    finally:
        assert lscd.stop() == 0
    ops = [r for r in fake.requests() if r.get("op") == "PKIOperation"]
    assert [r["msg_type"] for r in ops] == [19, 19]
    # each transaction is named after its CSR's key: the renewal's is the new key
    def txid(pub):
        import hashlib
        return hashlib.sha256(openssl("pkey", "-pubin", "-outform", "DER", stdin=pub)).hexdigest().upper()
    assert ops[0]["txid"] == txid(old_pub) and ops[1]["txid"] == txid(new_pub)


DENY_VERIFIER = """#!/bin/sh
# micromdm -csrverifierexec hook: refuse every CSR while %s exists.
[ -e "%s" ] && exit 1
exit 0
"""


def test_rejected_renewal_stops_the_timer_until_an_operator_acts(test_pki, micromdm_ca, tmp_path):
    deny = os.path.join(str(tmp_path), "deny")
    hook = os.path.join(str(tmp_path), "verifier.sh")
    with open(hook, "w") as f:
        f.write(DENY_VERIFIER % (deny, deny))
    os.chmod(hook, 0o755)
    ca = micromdm_ca(crtvalid=1, verifier=hook)
    lscd = Lscd(str(tmp_path), test_pki, management(ca, auto_enroll=80)).start()
    cert = tp_file(lscd, "WLC", "cert.pem")
    try:
        lscd.wait_log(r"trustpoint WLC: enrolled")
        nb, _ = openssl_dates(cert)
        serial = openssl_serial(cert)
        # the CA now refuses; lscd's clock past 80 %
        open(deny, "w").close()
        restart(lscd, offset_before(nb + DAY * 85 // 100, 0))
        lscd.wait_log(r"trustpoint WLC: renewal REJECTED by the CA: .*failInfo badRequest.*The timer is stopped")
        assert timer(lscd, "RENEW", "WLC") is None
        tp = trustpoint(lscd, "WLC")
        assert "renewal REJECTED" in tp["last_error"] and "stopped" in tp["last_error"]
        _, out = lscd.ctl("show", "crypto", "pki", "trustpoints")
        assert re.search(r"Last Error: renewal REJECTED: CA http://[^ ]+ rejected the RenewalReq: failInfo "
                         r"badRequest", out), out
        assert openssl_serial(cert) == serial
        assert lscd.count_log(r"RENEW timer expired") == 1

        # a restart alone does not send the CA the same request again
        restart(lscd, offset_before(nb + DAY * 86 // 100, 0))
        lscd.wait_log(r"trustpoint WLC: renewal stays stopped after the restart")
        assert timer(lscd, "RENEW", "WLC") is None
        assert lscd.count_log(r"RENEW timer expired") == 1

        # the operator fixes the CA and reloads: renewal runs at once (overdue)
        os.unlink(deny)
        longer_certificates(ca)
        lscd.signal(signal.SIGHUP)
        lscd.wait_log(r"trustpoint WLC: identity renewed", timeout=60)
        assert lscd.count_log(r"RENEW timer expired") == 2
        assert openssl_serial(cert) != serial
        assert trustpoint(lscd, "WLC")["last_error"] == ""
        assert timer(lscd, "RENEW", "WLC") is not None
    finally:
        assert lscd.stop() == 0


def test_pending_renewal_polls_and_survives_a_restart(test_pki, fake_scep, tmp_path):
    """FAKE CA (tests/fakes/fake_scep.c): micromdm never answers PENDING.
    The fake answers PENDING twice to a request whose CN starts "pend2-"."""
    fake = fake_scep("--cert-days", "1", "--renew-days", "5")
    lscd = Lscd(str(tmp_path), test_pki, {"trustpoints": {"WLC": {
        "enrollment_url": fake.url, "subject": WLC_SUBJECT, "ca_fingerprint_sha256": fake.pin,
        "auto_enroll": 80, "regenerate": True, "poll_interval_s": 5}}}).start()
    cert = tp_file(lscd, "WLC", "cert.pem")
    shadow = tp_file(lscd, "WLC", "key-new.pem")
    try:
        lscd.wait_log(r"trustpoint WLC: enrolled")
        nb, _ = openssl_dates(cert)
        serial, old_pub = openssl_serial(cert), openssl_pubkey(cert, "x509")
        # the renewal request will carry CN=pend2-wlc: the fake keeps it PENDING twice
        lscd.config["trustpoints"]["WLC"]["subject"] = "C=US,O=lscd tests,CN=pend2-wlc"
        lscd.write_config()
        restart(lscd, offset_before(nb + DAY * 80 // 100, 0))
        lscd.wait_log(r"trustpoint WLC: the CA answered PENDING to the renewal \(poll 0\); next poll in 5 s")
        poll = timer(lscd, "POLL", "WLC")
        assert poll is not None and poll[3] <= 10000, poll
        assert timer(lscd, "RENEW", "WLC") is None       # the renewal is in flight
        # the shadow key exists and is not (yet) the trustpoint's key
        assert os.path.exists(shadow)
        shadow_pub = openssl_pubkey(shadow, "pkey")
        assert shadow_pub != old_pub
        assert openssl_pubkey(tp_file(lscd, "WLC", "key.pem"), "pkey") == old_pub
        assert lscd.stop() == 0
        # the transaction is in the store, for the next start
        row = lscd.db().execute("SELECT value FROM kv WHERE key = 'lifecycle.WLC.pending'").fetchone()
        assert row is not None
        saved = json.loads(row[0])
        assert saved["kind"] == "renew" and saved["op"]["shadow_key"] is True
        assert saved["op"]["msg_type"] == 17 and saved["op"]["pending"] is True

        start_again(lscd)       # same clock offset
        lscd.wait_log(r"trustpoint WLC: resuming the renewal the CA left PENDING before the restart")
        lscd.wait_log(r"trustpoint WLC: identity renewed \(RenewalReq, after 2 polls\)", timeout=90)
        assert lscd.count_log(r"RENEW timer expired") == 1     # one request, not two
        # the certificate carries the shadow key generated before the restart
        assert openssl_serial(cert) != serial
        assert openssl_pubkey(cert, "x509") == shadow_pub
        assert openssl_pubkey(tp_file(lscd, "WLC", "key.pem"), "pkey") == shadow_pub
        assert not os.path.exists(shadow)
        assert lscd.db().execute("SELECT value FROM kv WHERE key = 'lifecycle.WLC.pending'").fetchone() is None
    finally:
        assert lscd.stop() == 0
    ops = [r for r in fake.requests() if r.get("op") == "PKIOperation" and r.get("cn") == "pend2-wlc"]
    assert [r["msg_type"] for r in ops] == [17, 20, 20]
    assert [r["answer"] for r in ops] == ["PENDING", "PENDING", "SUCCESS"]
    assert len({r["txid"] for r in ops}) == 1


def test_ca_rollover_with_shadow_renewal(test_pki, fake_scep, tmp_path):
    """FAKE CA (tests/fakes/fake_scep.c): micromdm 2.1.0 has no GetNextCACert.
    The fake's CA lives two days; its rollover CA starts when it ends; it
    caps what it issues at its own end, and answers requests enveloped to
    the rollover CA from the rollover CA."""
    fake = fake_scep("--next-ca", "--ca-days", "2", "--cert-days", "5")
    tps = {
        "WLC": {"enrollment_url": fake.url, "subject": WLC_SUBJECT, "ca_fingerprint_sha256": fake.pin,
                "auto_enroll": 80, "poll_interval_s": 1},
        "AP-LSC": {"enrollment_url": fake.url, "ca_fingerprint_sha256": fake.pin},
    }
    lscd = Lscd(str(tmp_path), test_pki, {"trustpoints": tps}).start()
    cert = tp_file(lscd, "WLC", "cert.pem")
    ca1_nb, ca1_na = openssl_dates(fake.ca_pem)
    try:
        lscd.wait_log(r"trustpoint WLC: enrolled")
        lscd.wait_log(r"trustpoint AP-LSC: CA authenticated")
        nb, na = openssl_dates(cert)
        assert na == ca1_na, "the CA caps the identity at its own end"
        # identity ends with the CA, which rolls over: SHADOW, not RENEW,
        # at 80 % of the identity; the CA-only trustpoint at 90 % of the CA
        got = {(t[0], t[1]): t[2] for t in timers(lscd)}
        assert set(got) == {("SHADOW", "WLC"), ("SHADOW", "AP-LSC")}, got
        assert abs(got[("SHADOW", "WLC")] - (nb + (na - nb) * 80 // 100)) <= 1
        assert abs(got[("SHADOW", "AP-LSC")] - (ca1_nb + (ca1_na - ca1_nb) * 90 // 100)) <= 1
        # the IOS layout: soonest first, the first line unnamed
        _, out = lscd.ctl("show", "crypto", "pki", "timers")
        lines = out.splitlines()
        assert lines[0] == "PKI Timers"
        assert re.match(r"^\|\s*1d\s?\d{1,2}:\d\d:\d\d\.\d{3}$", lines[1]), lines
        assert re.match(r"^\|\s*1d\s?\d{1,2}:\d\d:\d\d\.\d{3}  SHADOW WLC$", lines[2]), lines
        assert re.match(r"^\|\s*1d\s?\d{1,2}:\d\d:\d\d\.\d{3}  SHADOW AP-LSC$", lines[3]), lines

        # 20 s before the WLC's SHADOW: fetch the rollover CA, renew against it
        restart(lscd, offset_before(got[("SHADOW", "WLC")], 20))
        lscd.wait_log(r"trustpoint WLC: rollover CA certificate fetched \(GetNextCACert, signed by the "
                      r"current CA\): CN=fake-scep CA 2", timeout=60)
        lscd.wait_log(r"trustpoint WLC: shadow identity from the rollover CA", timeout=60)
        assert sha256_of(tp_file(lscd, "WLC", "ca-next.pem")) == fake.next_pin
        shadow = tp_file(lscd, "WLC", "cert-next.pem")
        assert "CN=fake-scep CA 2" in cert_issuer(shadow)
        snb, sna = openssl_dates(shadow)
        assert snb == ca1_na, "the shadow identity starts when the old CA ends"
        # the current identity is untouched until then
        assert openssl_dates(cert) == (nb, na) and "CN=fake-scep CA," in cert_issuer(cert) + ","
        got = {(t[0], t[1]): t[2] for t in timers(lscd)}
        assert abs(got[("ROLLOVER", "WLC")] - ca1_na) <= 1, got
        assert ("SHADOW", "WLC") not in got
        # the request went to the rollover CA, signed with the current identity
        ops = [r for r in fake.requests() if r.get("op") in ("GetNextCACert", "PKIOperation")]
        assert [r["op"] for r in ops][-2:] == ["GetNextCACert", "PKIOperation"]
        assert ops[-1]["msg_type"] == 17 and ops[-1]["ca"] == "next"
        assert ops[-1]["signer_subject"] == "CN=lscd-wlc,O=lscd tests,C=US"

        # a minute after the old CA's end: both become active
        restart(lscd, offset_before(ca1_na, -60))
        lscd.wait_log(r"trustpoint WLC: ROLLOVER: the rollover CA is now the CA: CN=fake-scep CA 2")
        lscd.wait_log(r"trustpoint WLC: ROLLOVER: the shadow identity is now the identity")
        lscd.wait_log(r"trustpoint AP-LSC: ROLLOVER: the rollover CA is now the CA", timeout=60)
        for tp in ("WLC", "AP-LSC"):
            assert sha256_of(tp_file(lscd, tp, "ca.pem")) == fake.next_pin
            assert not os.path.exists(tp_file(lscd, tp, "ca-next.pem"))
        assert openssl_dates(cert) == (snb, sna)
        assert not os.path.exists(shadow)
        # and the configured pin (of the old CA) still accepts the new one
        restart(lscd, offset_before(ca1_na, -120))
        for tp in ("WLC", "AP-LSC"):
            assert trustpoint(lscd, tp)["authenticated"] is True
        assert trustpoint(lscd, "WLC")["identity"] is True
        assert lscd.count_log(r"CA certificate REFUSED") == 0
    finally:
        assert lscd.stop() == 0


def test_clock_guard(test_pki, micromdm_ca, tmp_path):
    """clock_valid false: no lifecycle timer runs (identity renewal nor AP
    renewal); declaring the clock valid by a reload starts them."""
    ca = micromdm_ca(crtvalid=1)
    conf = management(ca, auto_enroll=80)
    conf["trustpoints"]["AP-LSC"] = {"enrollment_url": ca.url, "ca_fingerprint_sha256": ca.pin}
    conf["lsc_provision"] = {"mode": "all", "trustpoint": "AP-LSC", "subject": SUBJECT,
                             "renew_percent": 80, "renew_spread_s": 0}
    conf["clock_valid"] = False
    lscd = Lscd(str(tmp_path), test_pki, conf).start()
    cert = tp_file(lscd, "WLC", "cert.pem")
    apsim = Apsim(str(tmp_path), test_pki, lscd, ac_trust(tmp_path, test_pki, ca))
    try:
        lscd.wait_log(r"clock_valid is false: no certificate lifecycle timer runs")
        lscd.wait_log(r"trustpoint WLC: enrolled")
        # enrollment and provisioning do not wait for the clock
        apsim.start("-n", 1, "--duration", 300)
        apsim.wait_status(lambda s: len(by_state(s, "run", "LSC")) == 1, 60, "the AP on its LSC")
        nb, _ = openssl_dates(cert)
        serial = openssl_serial(cert)
        assert timers(lscd) == []
        # past 80 % of the identity: still nothing
        restart(lscd, offset_before(nb + DAY * 85 // 100, 0))
        apsim.wait_status(lambda s: s["aps"][0]["joins_lsc"] >= 2 and len(by_state(s, "run", "LSC")) == 1,
                          60, "the AP back on its LSC")
        assert timers(lscd) == []
        assert lscd.count_log(r"RENEW timer expired") == 0
        assert lscd.count_log(r"came due for renewal while connected|due for renewal") == 0
        assert openssl_serial(cert) == serial

        # the operator declares the clock valid: RENEW fires (overdue), and
        # the AP's LSC, 85 % through its life, is re-provisioned
        longer_certificates(ca)
        lscd.config["clock_valid"] = True
        lscd.write_config()
        lscd.signal(signal.SIGHUP)
        lscd.wait_log(r"trustpoint WLC: identity renewed", timeout=60)
        lscd.wait_log(r"ap 02:00:00:00:00:01: sending LSC certificate parameters \(txid \w+\): its LSC is due "
                      r"for renewal", timeout=60)
        apsim.wait_status(lambda s: s["aps"][0]["provisions"] == 2 and len(by_state(s, "run", "LSC")) == 1,
                          60, "the AP on its renewed LSC")
        assert openssl_serial(cert) != serial
    finally:
        apsim.stop()
        assert lscd.stop() == 0


def kernel_clock_synchronised():
    """adjtimex(2) read-only, as lscd asks it: synchronised unless the state
    is TIME_ERROR or STA_UNSYNC is set (x86-64 struct timex layout)."""
    import ctypes
    import ctypes.util
    import struct

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    buf = ctypes.create_string_buffer(512)        # modes = 0: read only
    state = libc.adjtimex(buf)
    status = struct.unpack_from("i", buf.raw, 40)[0]
    return state not in (-1, 5) and not status & 0x40


def test_clock_valid_ntp_follows_the_kernel(test_pki, micromdm_ca, tmp_path):
    """clock_valid "ntp" (the default): trusted when the kernel says its
    clock is synchronised. This test machine's kernel decides which half
    of the test applies."""
    ca = micromdm_ca(crtvalid=1)
    lscd = Lscd(str(tmp_path), test_pki, management(ca, auto_enroll=80))
    del lscd.config["clock_valid"]          # the default: "ntp"
    lscd.write_config()
    lscd.start()
    try:
        lscd.wait_log(r"trustpoint WLC: enrolled")
        if kernel_clock_synchronised():
            assert timer(lscd, "RENEW", "WLC") is not None
            assert lscd.count_log(r"not synchronised") == 0
        else:
            lscd.wait_log(r"the kernel reports the clock as not synchronised \(clock_valid \"ntp\"\)")
            assert timers(lscd) == []
    finally:
        assert lscd.stop() == 0


def test_clock_skew_is_reported_with_both_times(test_pki, micromdm_ca, tmp_path):
    """lscd's clock two days behind: the CA certificate is not yet valid,
    and neither is an AP's MIC; both are reported as clock skew."""
    ca = micromdm_ca()
    ca_nb, _ = openssl_dates(ca.ca_pem)
    conf = {"trustpoints": {"AP-LSC": {"enrollment_url": ca.url, "ca_fingerprint_sha256": ca.pin,
                                       "auto_enroll": 80}}}
    lscd = Lscd(str(tmp_path), test_pki, conf, args=["--time-offset", str(-2 * DAY)]).start()
    try:
        lscd.wait_log(r"trustpoint AP-LSC: CA authenticated")
        lscd.wait_log(r"trustpoint AP-LSC: CLOCK SKEW: the CA certificate \(.*\) is valid from "
                      r"(\S+ \S+) but lscd's clock reads (\S+ \S+)")
        m = re.search(r"AP-LSC: CLOCK SKEW: .* is valid from (\S+ \S+) but lscd's clock reads (\S+ \S+);",
                      lscd.log())
        utc = lambda s: int(datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%SZ")
                            .replace(tzinfo=datetime.timezone.utc).timestamp())
        assert utc(m.group(1)) == ca_nb
        assert abs(utc(m.group(2)) - (time.time() - 2 * DAY)) < 600
        assert "clock skew" in trustpoint(lscd, "AP-LSC")["last_error"]
        assert timers(lscd) == []
        # an AP whose MIC (and manufacturer CA) are from lscd's future
        rc, out = Apsim(str(tmp_path), test_pki, lscd).run("-n", 1, "--expect", "run", "--timeout", 5)
        assert rc != 0
        lscd.wait_log(r"refused: clock skew: CN=.* is valid from \S+ \S+, the controller's clock reads \S+ \S+")
        m = re.search(r"clock skew: CN=.* is valid from (\S+ \S+), the controller's clock reads (\S+ \S+)",
                      lscd.log())
        assert utc(m.group(1)) > utc(m.group(2)) + DAY
    finally:
        assert lscd.stop() == 0


# --- AP LSCs ------------------------------------------------------------------

def fnv_spread(mac, spread):
    h = 2166136261
    for b in bytes.fromhex(mac.replace(":", "")):
        h = ((h ^ b) * 16777619) & 0xffffffff
    return h % spread


def test_connected_ap_is_reprovisioned_when_its_lsc_passes_renew_percent(test_pki, micromdm_ca, tmp_path):
    """One-day LSCs, renew_percent 1 (864 s) plus a spread of up to 20 s,
    and lscd's clock 834 s ahead: an AP's LSC comes due about half a minute
    after it joins with it, while it stays connected."""
    ca = micromdm_ca(crtvalid=1)
    conf = management(ca, auto_enroll=0)
    conf["trustpoints"]["AP-LSC"] = {"enrollment_url": ca.url, "ca_fingerprint_sha256": ca.pin,
                                     "max_concurrent": 1}
    conf["lsc_provision"] = {"mode": "all", "trustpoint": "AP-LSC", "subject": SUBJECT,
                             "join_attempts": 3, "renew_percent": 1, "renew_spread_s": 20}
    lscd = Lscd(str(tmp_path), test_pki, conf, args=["--time-offset", "834"]).start(wait=STARTED)
    mac = mac_of(0)
    apsim = Apsim(str(tmp_path), test_pki, lscd, ac_trust(tmp_path, test_pki, ca))
    try:
        lscd.wait_log(r"listening for CAPWAP control")
        apsim.start("-n", 1, "--duration", 300)
        st = apsim.wait_status(lambda s: len(by_state(s, "run", "LSC")) == 1, 60, "the AP on its first LSC")
        first = st["aps"][0]["lsc_serial"]
        row = lscd.db().execute("SELECT serial_hex, not_before, not_after FROM certificates "
                                "WHERE current = 1").fetchone()
        assert int(row["serial_hex"], 16) == int(first, 16)
        nb, na = row["not_before"], row["not_after"]
        due = nb + (na - nb) * 1 // 100 + fnv_spread(mac, 20)
        # on its LSC and in Run, not yet due: an AP-RENEW timer counts down
        t = wait_for(lambda: timer(lscd, "AP-RENEW", mac), 30, "the AP-RENEW timer")
        assert abs(t[2] - due) <= 1, (t, due)
        assert lscd.count_log(r"came due for renewal while connected") == 0
        # it comes due while the AP stays connected: parameters again, a new LSC
        lscd.wait_log(r"ap %s: LSC serial %s came due for renewal while connected \(1%% of its lifetime"
                      % (mac, first), timeout=120)
        st = apsim.wait_status(lambda s: s["aps"][0]["provisions"] >= 2 and
                               len(by_state(s, "run", "LSC")) == 1 and s["aps"][0]["lsc_serial"] != first,
                               120, "the AP on a new LSC")
        ap = st["aps"][0]
        assert ap["fallbacks"] == 0 and ap["lsc_join_failures"] == 0
        second = ap["lsc_serial"]
        assert int(second, 16) != int(first, 16)
        # it was connected on its LSC the whole time before the renewal:
        # the parameters reached it in Run with its LSC, not after a rejoin
        log = lscd.log()
        renew_at = log.index("came due for renewal while connected")
        assert log.rfind("in Run with its LSC", 0, renew_at) > log.rfind("session from", 0, renew_at)
    finally:
        apsim.stop()
        assert lscd.stop() == 0
    db = lscd.db()
    rows = db.execute("SELECT serial_hex, current FROM certificates ORDER BY issued_at").fetchall()
    # the first and the renewed LSC (and any later renewal: it keeps coming due)
    serials = [int(r["serial_hex"], 16) for r in rows]
    assert serials[:2] == [int(first, 16), int(second, 16)]
    assert [r["current"] for r in rows].count(1) == 1 and rows[-1]["current"] == 1
    events = [r[0] for r in db.execute("SELECT event FROM audit WHERE mac = ? ORDER BY id",
                                       (mac.replace(":", ""),))]
    assert events.count("params-sent") >= 2 and events.count("cert-issued") >= 2
    assert "mic-fallback" not in events


def test_expired_lsc_falls_back_to_mic_and_is_reprovisioned(test_pki, micromdm_ca, tmp_path):
    """An AP that kept its one-day LSC past its end (lscd's clock two days
    on): lscd refuses it as expired, with both times; the AP falls back to
    its MIC after join_attempts and, still eligible, is provisioned again
    (the CA now issues five-day LSCs, valid on lscd's clock)."""
    ca = micromdm_ca(crtvalid=1)
    conf = management(ca, auto_enroll=0)
    conf["trustpoints"]["AP-LSC"] = {"enrollment_url": ca.url, "ca_fingerprint_sha256": ca.pin}
    conf["lsc_provision"] = {"mode": "all", "trustpoint": "AP-LSC", "subject": SUBJECT,
                             "join_attempts": 2, "renew_percent": 0}
    lscd = Lscd(str(tmp_path), test_pki, conf).start()
    mac = mac_of(0)
    apsim = Apsim(str(tmp_path), test_pki, lscd, ac_trust(tmp_path, test_pki, ca))
    try:
        apsim.start("-n", 1, "--duration", 300)
        st = apsim.wait_status(lambda s: len(by_state(s, "run", "LSC")) == 1, 60, "the AP on its LSC")
        first = st["aps"][0]["lsc_serial"]
        assert lscd.stop() == 0
        ca.stop()
        ca.set_crtvalid(5)
        ca.start()
        restart_offset = 2 * DAY
        lscd.args = ["--time-offset", str(restart_offset)]
        lscd.start(wait=None)
        lscd.wait_log(r"ap %s: LSC join failed in DTLS: .*refused: certificate has expired: "
                      r"CN=ap3g3-020000000001 was valid until (\S+ \S+), the controller's clock reads" % mac,
                      timeout=60)
        st = apsim.wait_status(lambda s: s["aps"][0]["fallbacks"] == 1 and s["aps"][0]["provisions"] == 2 and
                               len(by_state(s, "run", "LSC")) == 1, 120,
                               "the AP back on an LSC after its MIC")
        ap = st["aps"][0]
        assert int(ap["lsc_serial"], 16) != int(first, 16)
        assert ap["lsc_join_failures"] >= 2
    finally:
        apsim.stop()
        assert lscd.stop() == 0
    db = lscd.db()
    events = [r[0] for r in db.execute("SELECT event FROM audit WHERE mac = ? ORDER BY id",
                                       (mac.replace(":", ""),))]
    fallback = events.index("mic-fallback")
    assert "lsc-join-failed" in events[:fallback]
    assert "params-sent" in events[fallback:] and "cert-issued" in events[fallback:]
    detail = db.execute("SELECT detail FROM audit WHERE mac = ? AND event = 'lsc-join-failed' ORDER BY id",
                        (mac.replace(":", ""),)).fetchone()[0]
    assert "certificate has expired" in detail and "the controller's clock reads" in detail
    row = db.execute("SELECT serial_hex FROM certificates WHERE current = 1").fetchone()
    assert int(row[0], 16) == int(ap["lsc_serial"], 16)
