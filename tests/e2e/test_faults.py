"""Fault injection end to end (issue 8): the CA down at start, down in the
middle of a storm, slow past the timeout, answering HTTP 500 or garbage,
re-keyed under a pin, PENDING for ever; an AP vanishing between its CSR and
its certificate; lscd killed with SIGKILL again and again during a 300-AP
storm. Real lscd and apsim; micromdm's scepserver is the CA wherever a real
CA can produce the fault, build/fake_scep (a labelled FAKE CA) only where it
cannot (garbage and corrupt CertReps, PENDING).

    sh tools/netns-run.sh pytest-3 -q tests/e2e/test_faults.py

Nothing here asserts a duration: outcomes are waited for with generous
limits, because the CI machine is small and shared.
"""
import glob
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest

from conftest import free_port, openssl
from lscd_env import Apsim, Lscd, by_state, wait_for
from test_provision import ac_trust, mac_of, provisioning

# Events that explain a provisioning round after an AP's first one.
EXPLAINING = ("restart", "params-abandoned", "cert-undelivered", "enroll-retry", "mic-fallback",
              "enroll-failed")

# ENROLL_FAILED reasons on the wire (capwap/capwap.h, enum capwap_lsc_fail)
CA_REJECTED, CA_TIMEOUT = 1, 2

OTHER_MAC = "02:00:00:01:00:01"       # a second fleet, away from mac_of(i)
OTHER_SRC = "127.2.0.1"


# --- helpers -----------------------------------------------------------------

def key(mac):
    """An AP's key in lscd's database."""
    return mac.replace(":", "").lower()


def query(lscd, sql, args=()):
    con = lscd.db()
    try:
        return [tuple(r) for r in con.execute(sql, args).fetchall()]
    finally:
        con.close()


def audit(lscd, mac):
    """The AP's audit trail as [(event, detail)], oldest first."""
    return query(lscd, "SELECT event, detail FROM audit WHERE mac = ? ORDER BY id", (key(mac),))


def events(lscd, mac):
    return [e for e, _ in audit(lscd, mac)]


def unexplained_rounds(evs):
    """Positions of 'params-sent' events (after the AP's first) that no
    explaining event precedes since the previous 'params-sent'."""
    bad, seen, explained = [], False, False
    for i, e in enumerate(evs):
        if e == "params-sent":
            if seen and not explained:
                bad.append(i)
            seen, explained = True, False
        elif e in EXPLAINING:
            explained = True
    return bad


def current_certs(lscd):
    """{db mac: number of current certificates}"""
    return dict(query(lscd, "SELECT mac, COUNT(*) FROM certificates WHERE current = 1 GROUP BY mac"))


def wlc_from_ca(tmp_path, ca):
    """The controller's certificate issued offline with the CA's own key (a
    micromdm depot exists before its scepserver runs): lscd can serve DTLS
    while no CA is on line, and APs that got an LSC from that CA trust it."""
    d = os.path.join(str(tmp_path), "wlc-from-ca")
    os.makedirs(d, exist_ok=True)
    cert, key_path = os.path.join(d, "wlc.pem"), os.path.join(d, "wlc.key")
    ext, csr = os.path.join(d, "ext.cnf"), os.path.join(d, "wlc.csr")
    with open(ext, "w") as f:
        f.write("basicConstraints = CA:FALSE\n"
                "keyUsage = critical, digitalSignature, keyEncipherment\n"
                "extendedKeyUsage = 1.3.6.1.5.5.7.3.18, serverAuth\n")
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/O=lscd tests/CN=lscd-wlc",
            "-keyout", key_path, "-out", csr)
    # micromdm's depot key is PEM-encrypted with an empty password
    openssl("x509", "-req", "-in", csr, "-CA", ca.ca_pem, "-CAkey", os.path.join(ca.depot, "ca.key"),
            "-passin", "pass:", "-set_serial", "0x7f0001", "-days", "30", "-sha256", "-extfile", ext,
            "-out", cert)
    os.chmod(key_path, 0o600)
    return {"certificate": cert, "private_key": key_path}


def static_wlc(test_pki):
    """The controller's manufacturer certificate: APs on MICs trust it."""
    return {"certificate": test_pki.wlc_cert, "private_key": test_pki.wlc_key}


def config(ca, wlc, mode="all", macs=None, metrics_port=None, tp=None, **lsc):
    """AP-LSC enrolls at ca; WLC is static (wlc) or, with wlc=None, enrolled
    at the same CA."""
    conf = provisioning(ca, mode=mode, macs=macs, scep_management=wlc is None, **lsc)
    if wlc is not None:
        conf["trustpoints"]["WLC"] = wlc
    conf["trustpoints"]["AP-LSC"].update(tp or {})
    if metrics_port:
        conf["metrics"] = {"listen": "127.0.0.1:%d" % metrics_port}
    return conf


def http_status(port):
    """lscd's /status (needs the metrics listener)."""
    with urllib.request.urlopen("http://127.0.0.1:%d/status" % port, timeout=20) as r:
        return json.loads(r.read())


def verifier(tmp_path, slow):
    """A micromdm -csrverifierexec script (the DER CSR comes on stdin; exit
    0 accepts) that runs the shell code `slow` while its flag file exists:
    a CA made slow, and fast again by removing the flag."""
    flag = os.path.join(str(tmp_path), "slow.flag")
    path = os.path.join(str(tmp_path), "verifier.sh")
    with open(path, "w") as f:
        f.write("#!/bin/sh\ncat >/dev/null\nif [ -e %s ]; then\n%s\nfi\nexit 0\n" % (flag, slow))
    os.chmod(path, 0o755)
    open(flag, "w").close()
    return path, flag


def told(ap, reason):
    """apsim says the controller sent this AP ENROLL_FAILED with reason
    (apsim keeps the note until the AP next reaches Run)."""
    return ap["enroll_failed"] >= 1 and \
        ap["last_error"] == "controller reports enrolment failed (reason %d)" % reason


def pkiops(fake, cn=None):
    return [r for r in fake.requests()
            if r.get("op") == "PKIOperation" and (cn is None or r.get("cn") == cn)]


def fake_cn(prefix, mac):
    """The CN apsim --cn-prefix PREFIX puts in the CSR; fake_scep acts on
    its prefix."""
    return "%s-%s" % (prefix, mac.replace(":", "").upper())


def fingerprints(pem_path):
    der = openssl("x509", "-in", pem_path, "-outform", "DER")
    return {name: hashlib.new(name, der).hexdigest() for name in ("md5", "sha1", "sha256")}


def hexonly(text):
    return re.sub(r"[^0-9a-f]", "", text.lower())


# --- 1. the CA down at start ----------------------------------------------------

def test_ca_down_at_start_joins_served_then_enrolled(test_pki, micromdm_ca, tmp_path):
    """lscd starts while nothing listens at the CA's address. Its management
    certificate was issued by that CA beforehand (wlc_from_ca). The
    alternatives fall short: enrolling the management trustpoint at the CA
    leaves lscd with no DTLS identity while the CA is down, so it could
    serve no join at all; and the manufacturer certificate is not signed by
    the LSC CA, so every AP given an LSC would fail its LSC joins. This way
    both halves are shown: MIC joins are served while the CA is down, and
    once it is up every AP ends in Run on its LSC."""
    ca = micromdm_ca(start=False)          # the depot (CA key and pin); no server yet
    # one enrolment at a time: micromdm's depot fails some concurrent ones,
    # and here no AP is to be told of any failure
    lscd = Lscd(str(tmp_path), test_pki, config(ca, wlc_from_ca(tmp_path, ca), max_concurrent=1,
                                               tp={"http_timeout_ms": 1000})).start()
    apsim = Apsim(str(tmp_path), test_pki, lscd, ac_trust(tmp_path, test_pki, ca))
    macs = [mac_of(i) for i in range(5)]
    try:
        lscd.wait_log(r"trustpoint AP-LSC: authentication failed \(.*\); retrying in 5 s")
        apsim.start("-n", 5, "--duration", 600)
        apsim.wait_status(lambda s: len(by_state(s, "run", "MIC")) == 5, 120, "5 APs in Run on MICs")
        for mac in macs:
            lscd.wait_log(r"ap %s: LSC provisioning waits: trustpoint AP-LSC has no authenticated CA "
                          r"yet \(authentication: " % mac)
        # it keeps trying, backing off
        lscd.wait_log(r"trustpoint AP-LSC: authentication failed \(.*\); retrying in 10 s", timeout=60)
        assert lscd.count_log(r"sending LSC certificate parameters") == 0
        assert lscd.count_log(r"trustpoint AP-LSC: CA authenticated") == 0
        ca.start()                           # on the port lscd was told about
        lscd.wait_log(r"trustpoint AP-LSC: CA authenticated", timeout=120)
        st = apsim.wait_status(lambda s: len(by_state(s, "run", "LSC")) == 5, 180,
                               "all 5 APs in Run on LSCs once the CA is up")
    finally:
        apsim.stop()
        assert lscd.stop() == 0
    # the APs waited for the CA: none was sent a failure, none provisioned twice
    assert all(ap["enroll_failed"] == 0 and ap["provisions"] == 1 for ap in st["aps"]), st["aps"]
    assert "LOOP RISK" not in lscd.log()
    assert current_certs(lscd) == {key(m): 1 for m in macs}
    assert set(r[0] for r in query(lscd, "SELECT prov_state FROM aps")) == {"provisioned"}
    for mac in macs:
        evs = events(lscd, mac)
        assert evs.count("params-sent") == 1, (mac, evs)
        assert evs.index("params-sent") < evs.index("cert-delivered") < evs.index("lsc-join"), (mac, evs)


# --- 2. the CA going down mid-storm ------------------------------------------------

def test_ca_down_mid_storm_every_ap_ends_provisioned(test_pki, micromdm_ca, tmp_path):
    # a CA that takes a fifth of a second per request (its verifier sleeps),
    # two at a time: the CSRs queue up, and the CA goes down with most of
    # them still to be enrolled, however fast the machine
    script, _ = verifier(tmp_path, "sleep 0.2")
    ca = micromdm_ca(verifier=script)
    n = 40
    macs = [mac_of(i) for i in range(n)]
    lscd = Lscd(str(tmp_path), test_pki, config(ca, None, max_concurrent=2,
                                               tp={"http_timeout_ms": 2000})).start()
    apsim = Apsim(str(tmp_path), test_pki, lscd, ac_trust(tmp_path, test_pki, ca))
    try:
        lscd.wait_log(r"trustpoint WLC: enrolled", timeout=60)
        apsim.start("-n", n, "--duration", 900)
        lscd.wait_log(r"LSC delivered", count=5, timeout=180)
        ca.stop()
        delivered_at_stop = lscd.count_log(r"LSC delivered")
        # lscd names the failure, tells the APs, and their retries fail too
        lscd.wait_log(r"enrolment at the CA failed after 0 polls: .*\(CA_UNREACHABLE\)", timeout=60)
        apsim.wait_status(lambda s: any(told(ap, CA_TIMEOUT) for ap in s["aps"]), 60,
                          "an AP told its enrolment failed for want of the CA")
        wait_for(lambda: query(lscd, "SELECT 1 FROM audit WHERE event = 'enroll-retry' AND detail "
                                     "LIKE 'trying again in 10 s (attempt 3 of 6)%'"),
                 90, "a second retry scheduled while the CA is down")
        assert delivered_at_stop < n, "the storm was over before the CA went down"
        ca.start()                           # same depot, same port: the same CA
        st = apsim.wait_status(lambda s: len(by_state(s, "run", "LSC")) == n, 300,
                               "all %d APs on LSCs after the CA came back" % n)
    finally:
        apsim.stop()
        assert lscd.stop() == 0
    assert query(lscd, "PRAGMA integrity_check") == [("ok",)]
    assert [r[0] for r in query(lscd, "SELECT prov_state FROM aps")].count("provisioned") == n
    assert current_certs(lscd) == {key(m): 1 for m in macs}
    told_n = {ap["mac"]: ap["enroll_failed"] for ap in st["aps"]}
    reasons, failed_aps = set(), 0
    for mac in macs:
        trail = audit(lscd, mac)
        evs = [e for e, _ in trail]
        # the AP was told exactly as often as the audit says its enrolment failed
        assert told_n[mac] == evs.count("enroll-failed"), (mac, told_n[mac], trail)
        # each failure was followed by a scheduled retry (none used all six)
        for i, e in enumerate(evs):
            if e == "enroll-failed":
                assert evs[i + 1] == "enroll-retry", (mac, trail)
        assert unexplained_rounds(evs) == [], (mac, trail)
        assert evs[-1] == "lsc-join", (mac, trail)
        failed_aps += "enroll-failed" in evs
        reasons |= {re.search(r"\((\w+)\)$", d).group(1) for e, d in trail if e == "enroll-failed"}
    assert failed_aps > 0
    assert "CA_UNREACHABLE" in reasons
    # The outage: refused connections (CA_UNREACHABLE) and, for a request in
    # flight when the CA died, a reset connection (pki/http.c counts that as
    # a broken response, CA_GARBAGE) or a timeout. Besides the outage only
    # micromdm's unlocked depot may have refused one (CA_REJECTED).
    assert reasons <= {"CA_UNREACHABLE", "CA_GARBAGE", "CA_TIMEOUT", "CA_REJECTED"}, reasons


# --- 3. the CA slow past the timeout ------------------------------------------------

def test_ca_slow_past_the_timeout(test_pki, micromdm_ca, tmp_path):
    script, flag = verifier(tmp_path, "sleep 3")
    ca = micromdm_ca(verifier=script)
    mport = free_port()
    slow = mac_of(0)                       # on the provision list
    lscd = Lscd(str(tmp_path), test_pki, config(
        ca, wlc_from_ca(tmp_path, ca), mode="provision-list", macs=[slow], metrics_port=mport,
        tp={"http_timeout_ms": 1000})).start()
    trust = ac_trust(tmp_path, test_pki, ca)
    ap1 = Apsim(str(tmp_path), test_pki, lscd, trust, name="slow")
    ap2 = Apsim(str(tmp_path), test_pki, lscd, trust, name="other")
    try:
        lscd.wait_log(r"trustpoint AP-LSC: CA authenticated")
        ap1.start("-n", 1, "--duration", 600)
        lscd.wait_log(r"ap %s: CSR accepted" % slow, timeout=120)
        ap2.start("-n", 1, "--mac-base", OTHER_MAC, "--src-base", OTHER_SRC, "--duration", 600)

        # lscd's event loop is not held by the hanging request: one snapshot
        # of /status shows the second AP in Run while the enrolment is in flight
        def joined_during_enrolment():
            s = http_status(mport)
            return s if s["provisioning"]["in_flight"] == 1 and s["aps"]["run"] == 2 else None
        wait_for(joined_during_enrolment, 120, "the other AP in Run while the enrolment hangs")
        ap2.wait_status(lambda s: s["aps"][0]["state"] == "run" and s["echo_rtt"]["samples"] > 0, 60,
                        "the other AP echoing")
        lscd.wait_log(r"ap %s: enrolment at the CA failed after 0 polls: .*\(CA_TIMEOUT\)" % slow,
                      timeout=60)
        ap1.wait_status(lambda s: told(s["aps"][0], CA_TIMEOUT), 60, "the AP told: CA timeout")
        wait_for(lambda: "enroll-retry" in events(lscd, slow), 30, "the retry audited")
        os.unlink(flag)                    # the CA is fast again
        st1 = ap1.wait_status(lambda s: len(by_state(s, "run", "LSC")) == 1, 240,
                              "the AP on its LSC after a retry")
        st2 = ap2.status()
    finally:
        ap1.stop()
        ap2.stop()
        assert lscd.stop() == 0
    assert st1["aps"][0]["enroll_failed"] >= 1
    assert st2["aps"][0]["state"] == "run" and st2["aps"][0]["cert"] == "MIC"
    assert st2["aps"][0]["sessions_lost"] == 0
    trail = audit(lscd, slow)
    evs = [e for e, _ in trail]
    first_fail = evs.index("enroll-failed")
    assert "CA_TIMEOUT" in trail[first_fail][1] and "1000 ms" in trail[first_fail][1], trail
    assert trail[first_fail + 1][0] == "enroll-retry"
    assert trail[first_fail + 1][1].startswith("trying again in 5 s (attempt 2 of 6)"), trail
    # every failure was a timeout, the last round succeeded
    assert all("CA_TIMEOUT" in d for e, d in trail if e == "enroll-failed"), trail
    assert evs.count("enroll-failed") == st1["aps"][0]["enroll_failed"]
    assert evs.index("cert-issued") > first_fail and evs[-1] == "lsc-join", trail
    assert unexplained_rounds(evs) == []
    assert current_certs(lscd) == {key(slow): 1}
    assert events(lscd, OTHER_MAC) == []     # never provisioned: not on the list


# --- 4. HTTP 500 and garbage (FAKE CA) ------------------------------------------------

CORRUPT = [
    # (apsim --cn-prefix: what fake_scep answers, the error lscd must name)
    ("http500", "CA_HTTP"),                # HTTP 500 to the PKIOperation
    ("garbage", "CA_GARBAGE"),             # 600 random bytes as a pki-message
    ("wrongtype", "CA_GARBAGE"),           # a good CertRep as text/html
    ("badsig", "BAD_SIGNATURE"),           # a CertRep whose signature is broken
    ("wrongkey", "NO_MATCHING_CERT"),      # a certificate for another key
    ("wrongissuer", "WRONG_ISSUER"),       # a certificate from another CA
]


def test_ca_answering_500_and_garbage(test_pki, fake_scep, tmp_path):
    """FAKE CA (build/fake_scep): micromdm cannot be made to answer HTTP 500,
    garbage or a corrupt CertRep to a PKIOperation. Each AP's CN prefix
    chooses what the fake answers. lscd names each error, tells the AP,
    delivers nothing, keeps running and tries again."""
    fake = fake_scep()
    lscd = Lscd(str(tmp_path), test_pki, config(fake, static_wlc(test_pki),
                                                 tp={"http_timeout_ms": 5000})).start()
    fleets = []
    try:
        lscd.wait_log(r"trustpoint AP-LSC: CA authenticated")
        for n, (prefix, _) in enumerate(CORRUPT):
            a = Apsim(str(tmp_path), test_pki, lscd, name=prefix)
            a.start("-n", 1, "--mac-base", "02:00:00:%02x:00:01" % (0x10 + n),
                    "--src-base", "127.%d.0.1" % (10 + n), "--cn-prefix", prefix, "--duration", 600)
            fleets.append(a)
        for n, (prefix, status) in enumerate(CORRUPT):
            mac = "02:00:00:%02x:00:01" % (0x10 + n)
            lscd.wait_log(r"ap %s: enrolment at the CA failed after 0 polls: .*\(%s\)" % (mac, status),
                          timeout=120)
            fleets[n].wait_status(lambda s: told(s["aps"][0], CA_REJECTED), 60,
                                  "%s: the AP told the CA refused" % prefix)
        # each is tried again (5 s later), and the fake sees the second request
        for n, (prefix, _) in enumerate(CORRUPT):
            cn = fake_cn(prefix, "02:00:00:%02x:00:01" % (0x10 + n))
            wait_for(lambda: [r["msg_type"] for r in pkiops(fake, cn)].count(19) >= 2, 90,
                     "%s: a second PKCSReq" % prefix)
        assert lscd.alive()
        sts = [a.status() for a in fleets]
    finally:
        for a in fleets:
            a.stop()
        assert lscd.stop() == 0          # a clean exit: it survived every answer
    for n, (prefix, status) in enumerate(CORRUPT):
        mac = "02:00:00:%02x:00:01" % (0x10 + n)
        ap = sts[n]["aps"][0]
        assert ap["cert"] == "MIC" and ap["provisions"] == 0, (prefix, ap)
        assert ap["state"] == "run", (prefix, ap)
        trail = audit(lscd, mac)
        fails = [d for e, d in trail if e == "enroll-failed"]
        assert fails and all(d.endswith("(%s)" % status) for d in fails), (prefix, trail)
        assert [e for e, _ in trail].count("enroll-retry") >= 1, (prefix, trail)
        # nothing was issued to it, nothing sent on
        assert "cert-issued" not in [e for e, _ in trail], (prefix, trail)
    assert query(lscd, "SELECT COUNT(*) FROM certificates") == [(0,)]
    assert lscd.count_log(r"delivering the CA root") == 0


# --- 5. the CA re-keyed under the pin ----------------------------------------------------

def test_ca_certificate_not_matching_the_pin_is_refused(test_pki, micromdm_ca, tmp_path):
    """The pin was taken from one CA; another CA (a new key) now answers at
    the URL. lscd must refuse it, say why with both fingerprints, show all
    three fingerprints of what it was offered, provision nobody and still
    serve joins."""
    pinned = micromdm_ca(start=False)      # the CA the pin was taken from
    ca = micromdm_ca()                     # what answers at the URL now
    lscd = Lscd(str(tmp_path), test_pki, config(ca, static_wlc(test_pki),
                                                 tp={"ca_fingerprint_sha256": pinned.pin})).start()
    apsim = Apsim(str(tmp_path), test_pki, lscd, ac_trust(tmp_path, test_pki, ca))
    macs = [mac_of(i) for i in range(3)]
    try:
        lscd.wait_log(r"trustpoint AP-LSC: CA certificate REFUSED")
        apsim.start("-n", 3, "--duration", 600)
        st = apsim.wait_status(lambda s: len(by_state(s, "run", "MIC")) == 3, 120,
                               "3 APs in Run on MICs after the refusal")
        for mac in macs:
            lscd.wait_log(r"ap %s: LSC provisioning waits: trustpoint AP-LSC has no authenticated CA yet"
                          % mac)
        # asked again, it refuses again
        lscd.wait_log(r"trustpoint AP-LSC: CA certificate REFUSED", count=2, timeout=60)
        _, out = lscd.ctl("--json", "show", "crypto", "pki", "trustpoints")
        st = apsim.status()
    finally:
        apsim.stop()
        assert lscd.stop() == 0
    offered = fingerprints(ca.ca_pem)
    assert offered["sha256"] != pinned.pin
    refused = re.findall(r"trustpoint AP-LSC: CA certificate REFUSED: (.*)", lscd.log())
    assert len(refused) >= 2
    assert "SHA-256 %s" % offered["sha256"] in refused[0] and "expects %s" % pinned.pin in refused[0], \
        refused[0]
    shown = re.findall(r"trustpoint AP-LSC: CA certificate fingerprints: MD5 (.*), SHA1 (.*), "
                       r"SHA256 (.*)", lscd.log())
    assert shown, "fingerprints not logged"
    assert [hexonly(x) for x in shown[0]] == [offered["md5"], offered["sha1"], offered["sha256"]]
    assert "trustpoint AP-LSC: CA authenticated" not in lscd.log()
    # no AP was provisioned or even asked
    assert lscd.count_log(r"sending LSC certificate parameters") == 0
    assert all(ap["cert"] == "MIC" and ap["csrs_sent"] == 0 and ap["provisions"] == 0
               for ap in st["aps"]), st["aps"]
    assert query(lscd, "SELECT COUNT(*) FROM certificates") == [(0,)]
    assert query(lscd, "SELECT COUNT(*) FROM audit WHERE event = 'params-sent'") == [(0,)]
    # the CA issued nothing
    assert [os.path.basename(p) for p in glob.glob(os.path.join(ca.depot, "*.pem"))] == ["ca.pem"]
    tps = json.loads(out)
    tps = tps.get("trustpoints", tps) if isinstance(tps, dict) else tps
    ap_lsc = [t for t in tps if t["name"] == "AP-LSC"]
    assert ap_lsc and ap_lsc[0]["authenticated"] is False, tps


# --- 6. PENDING for ever (FAKE CA) -----------------------------------------------------

def test_pending_forever_ends_exhausted_and_is_retried(test_pki, fake_scep, tmp_path):
    """FAKE CA (build/fake_scep): micromdm never answers PENDING. The CN
    prefix pendforever- makes the fake answer PENDING to the PKCSReq and to
    every CertPoll."""
    fake = fake_scep()
    lscd = Lscd(str(tmp_path), test_pki, config(fake, static_wlc(test_pki), tp={
        "poll_interval_s": 1, "poll_retries": 2, "http_timeout_ms": 5000})).start()
    apsim = Apsim(str(tmp_path), test_pki, lscd)
    mac = mac_of(0)
    cn = fake_cn("pendforever", mac)
    try:
        lscd.wait_log(r"trustpoint AP-LSC: CA authenticated")
        apsim.start("-n", 1, "--cn-prefix", "pendforever", "--duration", 600)
        lscd.wait_log(r"ap %s: enrolment at the CA failed after 2 polls: .*\(PENDING_EXHAUSTED\)" % mac,
                      timeout=120)
        apsim.wait_status(lambda s: told(s["aps"][0], CA_TIMEOUT), 60, "the AP told: CA timeout")
        # the retry is scheduled, audited, and happens: a new PKCSReq
        wait_for(lambda: "enroll-retry" in events(lscd, mac), 30, "the retry audited")
        wait_for(lambda: [r["msg_type"] for r in pkiops(fake, cn)].count(19) >= 2, 60,
                 "a second enrolment after the retry delay")
        st = apsim.status()
    finally:
        apsim.stop()
        assert lscd.stop() == 0
    ops = pkiops(fake, cn)
    second = [i for i, r in enumerate(ops) if r["msg_type"] == 19][1]
    first = ops[:second]
    # one transaction: the PKCSReq, then exactly poll_retries CertPolls, all
    # PENDING, and nothing more until the retry's new PKCSReq
    assert [r["msg_type"] for r in first] == [19, 20, 20], first
    assert {r["answer"] for r in first} == {"PENDING"}
    assert len({r["txid"] for r in first}) == 1
    trail = audit(lscd, mac)
    evs = [e for e, _ in trail]
    i = evs.index("enroll-failed")
    assert "after 2 polls" in trail[i][1] and trail[i][1].endswith("(PENDING_EXHAUSTED)"), trail
    assert trail[i + 1][0] == "enroll-retry" and \
        trail[i + 1][1].startswith("trying again in 5 s (attempt 2 of 6)"), trail
    assert evs.count("params-sent") >= 2 and unexplained_rounds(evs) == [], trail
    assert st["aps"][0]["cert"] == "MIC" and st["aps"][0]["provisions"] == 0
    assert query(lscd, "SELECT COUNT(*) FROM certificates") == [(0,)]


# --- 7. an AP vanishing between CSR and certificate -------------------------------------

class Vanishing:
    """One AP whose enrolment the CA holds (a verifier script waits while a
    flag file exists, up to a minute) so that the AP can be killed between
    its CSR and its certificate; then the same AP (same MAC, same address)
    comes back."""

    def __init__(self, test_pki, micromdm_ca, tmp_path, **capwap):
        flag = os.path.join(str(tmp_path), "slow.flag")
        script, self.flag = verifier(tmp_path, "i=0\nwhile [ -e %s ] && [ $i -lt 600 ]; do sleep 0.1; "
                                               "i=$((i+1)); done" % flag)
        self.ca = micromdm_ca(verifier=script)
        conf = config(self.ca, wlc_from_ca(tmp_path, self.ca), tp={"http_timeout_ms": 90000})
        if capwap:
            conf["capwap"] = capwap
        self.lscd = Lscd(str(tmp_path), test_pki, conf).start()
        trust = ac_trust(tmp_path, test_pki, self.ca)
        self.mac = mac_of(0)
        self.args = ("-n", 1, "--mac-base", self.mac, "--src-base", "127.1.0.1", "--duration", 600)
        self.gone = Apsim(str(tmp_path), test_pki, self.lscd, trust, name="vanishing")
        self.back = Apsim(str(tmp_path), test_pki, self.lscd, trust, name="back")

    def vanish_after_csr(self):
        self.lscd.wait_log(r"trustpoint AP-LSC: CA authenticated")
        self.gone.start(*self.args)
        self.lscd.wait_log(r"ap %s: CSR accepted" % self.mac, timeout=120)
        self.gone.stop(sig=signal.SIGKILL)      # the AP vanishes with its key

    def ca_answers(self):
        os.unlink(self.flag)

    def come_back(self):
        self.back.start(*self.args)

    def wait_on_lsc(self, timeout):
        return self.back.wait_status(lambda s: len(by_state(s, "run", "LSC")) == 1, timeout,
                                     "the AP back and on its LSC")

    def stop(self):
        self.back.stop()
        self.gone.stop()
        assert self.lscd.stop() == 0

    def check_db(self, st, issued):
        """issued certificates for the AP, exactly one current: the AP's."""
        rows = query(self.lscd, "SELECT serial_hex, current FROM certificates WHERE mac = ?",
                     (key(self.mac),))
        assert len(rows) == issued, rows
        current = [s for s, c in rows if c == 1]
        assert len(current) == 1, rows
        assert int(current[0], 16) == int(st["aps"][0]["lsc_serial"], 16)
        assert query(self.lscd, "SELECT prov_state FROM aps WHERE mac = ?", (key(self.mac),)) == \
            [("provisioned",)]


def test_ap_vanishing_between_csr_and_certificate(test_pki, micromdm_ca, tmp_path):
    """The AP is gone, and lscd has noticed, when its certificate arrives."""
    v = Vanishing(test_pki, micromdm_ca, tmp_path)
    lscd, mac = v.lscd, v.mac
    try:
        v.vanish_after_csr()
        lscd.wait_log(r"ap %s: session from \S+ closed" % mac, timeout=60)
        v.ca_answers()
        lscd.wait_log(r"ap %s: certificate issued but the AP is gone" % mac, timeout=120)
        assert lscd.alive()
        assert events(lscd, mac)[-1] == "cert-undelivered"
        v.come_back()
        st = v.wait_on_lsc(180)
    finally:
        v.stop()
    evs = events(lscd, mac)
    i = evs.index("cert-undelivered")
    assert evs[:i + 1] == ["params-sent", "csr-accepted", "cert-issued", "cert-undelivered"], evs
    assert evs[i + 1:].count("params-sent") == 1 and evs[-1] == "lsc-join", evs
    assert unexplained_rounds(evs) == []
    v.check_db(st, issued=2)


def test_ap_vanishing_while_its_certificate_is_delivered(test_pki, micromdm_ca, tmp_path):
    """The CA answers before lscd has noticed that the AP is gone (Echo
    every 5 s: the session is presumed dead only after 10 s): lscd sends the
    certificate into a dead session, which ends when the AP comes back.
    The AP's second provisioning round must be explained in the audit."""
    v = Vanishing(test_pki, micromdm_ca, tmp_path, echo_interval_s=5)
    lscd, mac = v.lscd, v.mac
    try:
        v.vanish_after_csr()
        v.ca_answers()
        lscd.wait_log(r"ap %s: certificate serial \S+ issued in \d+ ms; delivering" % mac, timeout=60)
        v.come_back()
        st = v.wait_on_lsc(180)
    finally:
        v.stop()
    evs = events(lscd, mac)
    assert evs.count("params-sent") == 2 and evs[-1] == "lsc-join", evs
    v.check_db(st, issued=2)
    assert unexplained_rounds(evs) == [], evs


def test_ap_rejoining_while_its_enrolment_is_at_the_ca(test_pki, micromdm_ca, tmp_path):
    """The AP reboots and rejoins (a new session replaces the old one) while
    the CA still holds the enrolment from its previous session. When the
    certificate arrives it cannot go to the new session (another txid): the
    new session must then be provisioned, not left on its MIC."""
    v = Vanishing(test_pki, micromdm_ca, tmp_path)
    lscd, mac = v.lscd, v.mac
    try:
        v.vanish_after_csr()
        v.come_back()
        lscd.wait_log(r"ap %s: session from \S+ closed: replaced by a new session" % mac, timeout=60)
        v.back.wait_status(lambda s: len(by_state(s, "run", "MIC")) == 1, 60, "the AP back in Run")
        v.ca_answers()
        lscd.wait_log(r"ap %s: certificate issued but the AP is gone" % mac, timeout=120)
        # provisioning an AP takes well under a second here; half a minute is generous
        st = v.wait_on_lsc(30)
    finally:
        v.stop()
    evs = events(lscd, mac)
    assert evs.count("cert-undelivered") == 1 and unexplained_rounds(evs) == [], evs
    v.check_db(st, issued=2)


# --- 8. SIGKILL at random points during a 300-AP storm ------------------------------------

def test_sigkill_during_a_300_ap_storm(test_pki, micromdm_ca, tmp_path):
    """lscd is killed with SIGKILL three times at random points (seeded) of a
    300-AP storm and restarted each time. micromdm's file depot is not safe
    under concurrency (scep-notes §2.7): the failures it causes are retried
    by lscd and are part of what the audit must explain."""
    rng = random.Random(0x8F17)
    n = 300
    eligible = sorted(rng.sample(range(n), 270))
    macs = [mac_of(i) for i in range(n)]
    ca = micromdm_ca()
    lscd = Lscd(str(tmp_path), test_pki, provisioning(
        ca, mode="provision-list", macs=[macs[i] for i in eligible], max_concurrent=4)).start()
    apsim = Apsim(str(tmp_path), test_pki, lscd, ac_trust(tmp_path, test_pki, ca))
    kills = []
    want_lsc = {macs[i] for i in eligible}

    def done(s):
        on_lsc = {ap["mac"] for ap in by_state(s, "run", "LSC")}
        return on_lsc == want_lsc and len(by_state(s, "run", "MIC")) == n - len(want_lsc)
    try:
        lscd.wait_log(r"trustpoint WLC: enrolled", timeout=60)
        apsim.start("-n", n, "--duration", 1200)
        # random points of the storm: after a random number of further
        # deliveries since the last (re)start, plus a random fraction of a second
        for _ in range(3):
            point = lscd.count_log(r"LSC delivered") + rng.randint(10, 40)
            lscd.wait_log(r"LSC delivered", count=point, timeout=300)
            time.sleep(rng.uniform(0.0, 0.5))
            delivered = set(re.findall(r"ap (\S+): LSC delivered", lscd.log()))
            lscd.kill9()
            kills.append((point, len(delivered)))
            lscd.start()
        print("kills (deliveries logged before, APs given an LSC before):", kills)
        st = apsim.wait_status(done, 600, "every eligible AP on its LSC, the others on MICs")
    finally:
        apsim.stop()
        if lscd.proc is not None:
            assert lscd.stop() == 0
    # every kill fell inside the storm: some eligible AP had no LSC yet
    assert all(d < len(want_lsc) for _, d in kills), kills
    assert query(lscd, "PRAGMA integrity_check") == [("ok",)]
    assert query(lscd, "SELECT mac FROM aps GROUP BY mac HAVING COUNT(*) > 1") == []
    states = dict(query(lscd, "SELECT mac, prov_state FROM aps"))
    assert len(states) == n
    assert {m for m, s in states.items() if s == "provisioned"} == {key(m) for m in want_lsc}
    assert set(states[key(m)] for m in macs if m not in want_lsc) == {"none"}
    # exactly one current certificate per eligible AP: the one it holds;
    # no certificate recorded twice
    assert current_certs(lscd) == {key(m): 1 for m in want_lsc}
    assert query(lscd, "SELECT sha256_hex FROM certificates GROUP BY sha256_hex HAVING COUNT(*) > 1") == []
    current = dict(query(lscd, "SELECT mac, serial_hex FROM certificates WHERE current = 1"))
    for ap in st["aps"]:
        if ap["mac"] in want_lsc:
            assert int(current[key(ap["mac"])], 16) == int(ap["lsc_serial"], 16), ap
    restarts = 0
    for mac in want_lsc:
        evs = events(lscd, mac)
        assert unexplained_rounds(evs) == [], (mac, evs)
        assert "lsc-join" in evs and "cert-issued" in evs, (mac, evs)
        # the last certificate issued was delivered, or a kill cut the
        # acknowledgement off and the restart says so
        last_issued = len(evs) - 1 - evs[::-1].index("cert-issued")
        assert {"cert-delivered", "restart"} & set(evs[last_issued:]), (mac, evs)
        restarts += evs.count("restart")
    assert restarts > 0, "no kill caught an AP in the middle of provisioning"
    for mac in (m for m in macs if m not in want_lsc):
        assert "params-sent" not in events(lscd, mac)
    assert query(lscd, "SELECT COUNT(*) FROM audit WHERE event = 'restart' AND mac NOT IN (%s)" %
                 ",".join("'%s'" % key(m) for m in want_lsc)) == [(0,)]



def test_sigkill_between_a_delivery_and_its_audit_line(test_pki, micromdm_ca, tmp_path):
    """SIGKILL at a chosen point instead of a random one: gdb stops lscd as
    it is about to write the audit line of a delivered certificate (the AP's
    record is saved already) and kills it there. After the restart the audit
    trail must still say how the AP's LSC came to be: delivered, or cut off
    by the restart."""
    if not shutil.which("gdb"):
        pytest.fail("gdb is not installed: sh tools/install-deps.sh installs it")
    ca = micromdm_ca()
    lscd = Lscd(str(tmp_path), test_pki, provisioning(ca, max_concurrent=1)).start()
    apsim = Apsim(str(tmp_path), test_pki, lscd, ac_trust(tmp_path, test_pki, ca))
    mac = mac_of(0)
    gdb_log = os.path.join(str(tmp_path), "gdb.log")
    gdb = None
    try:
        lscd.wait_log(r"trustpoint WLC: enrolled", timeout=60)
        with open(gdb_log, "w") as log:
            gdb = subprocess.Popen(
                ["gdb", "-q", "-batch", "-p", str(lscd.proc.pid),
                 "-ex", 'break store_audit if $_streq(event, "cert-delivered")',
                 "-ex", "echo gdb-ready\\n", "-ex", "continue", "-ex", "kill", "-ex", "quit"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(lambda: "gdb-ready" in open(gdb_log).read(), 60, "gdb attached to lscd")
        apsim.start("-n", 1, "--duration", 300)
        gdb.wait(timeout=120)
        assert "Breakpoint 1, store_audit" in open(gdb_log).read()
        assert lscd.proc.wait(timeout=30) == -signal.SIGKILL
        lscd.proc = None
        lscd.start()
        apsim.wait_status(lambda s: len(by_state(s, "run", "LSC")) == 1, 120, "the AP on its LSC")
    finally:
        if gdb is not None and gdb.poll() is None:
            gdb.kill()
            gdb.wait()
        apsim.stop()
        if lscd.proc is not None:
            assert lscd.stop() == 0
    evs = events(lscd, mac)
    assert query(lscd, "SELECT prov_state, provisions FROM aps WHERE mac = ?", (key(mac),)) == \
        [("provisioned", 1)]
    last_issued = len(evs) - 1 - evs[::-1].index("cert-issued")
    assert {"cert-delivered", "restart"} & set(evs[last_issued:]), evs
