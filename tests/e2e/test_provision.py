"""LSC provisioning end to end (issue 5): micromdm's scepserver as the CA,
real lscd and apsim. Provision lists, mode all, CSR checks against hostile
APs, the MIC-fallback loop guard, and kill -9 in the middle of a storm."""
import glob
import hashlib
import os
import random
import re
import subprocess

from conftest import openssl
from lscd_env import Apsim, Lscd, by_state, wait_for

SUBJECT = {"country": "US", "state": "California", "city": "San Jose",
           "organization": "Example Wireless", "department": "Access", "email": "wifi@example.org"}


def mac_of(i):
    """apsim's MAC for AP index i (--mac-base 02:00:00:00:00:01)."""
    return "02:00:00:00:%02x:%02x" % ((i + 1) >> 8, (i + 1) & 0xff)


def provisioning(ca, mode="all", macs=None, scep_management=True, max_concurrent=4, **lsc):
    tps = {"AP-LSC": {"enrollment_url": ca.url, "ca_fingerprint_sha256": ca.pin,
                      "max_concurrent": max_concurrent}}
    if scep_management:
        tps["WLC"] = {"enrollment_url": ca.url, "subject": "C=US,O=lscd tests,CN=lscd-wlc",
                      "ca_fingerprint_sha256": ca.pin}
    conf = {"mode": mode, "trustpoint": "AP-LSC", "join_attempts": 3, "subject": SUBJECT}
    if macs is not None:
        conf["provision_list"] = macs
    conf.update(lsc)
    return {"trustpoints": tps, "lsc_provision": conf}


def ac_trust(tmp_path, test_pki, ca):
    """What an AP on its MIC trusts for the controller: the manufacturer and,
    since the controller enrolled at the CA, that CA."""
    path = os.path.join(str(tmp_path), "ac-trust.pem")
    with open(path, "w") as out:
        for pem in (test_pki.mfg_ca, ca.ca_pem):
            with open(pem) as f:
                out.write(f.read())
    return path


def issued(ca):
    """Certificates micromdm issued to APs: {CN: [paths]} from its depot."""
    out = {}
    for path in glob.glob(os.path.join(ca.depot, "ap3g3-*.pem")):
        cn = os.path.basename(path).split(".")[0]
        out.setdefault(cn, []).append(path)
    return out


def cn_for(mac):
    return "ap3g3-" + mac.replace(":", "").upper()


def subject_of(path):
    return openssl("x509", "-in", path, "-noout", "-subject", "-nameopt", "RFC2253").decode().strip()


def test_provision_list_gives_lscs_to_exactly_the_listed_aps(test_pki, micromdm_ca, tmp_path):
    ca = micromdm_ca()
    rng = random.Random(20)
    # (enrolments run 4 at a time: micromdm may fail one, lscd retries it)
    listed = sorted(rng.sample(range(50), 20))
    # half inline in assorted notations, half from a CSV file
    inline = []
    for n, i in enumerate(listed[:10]):
        m = mac_of(i).replace(":", "")
        inline.append([mac_of(i), m[0:4] + "." + m[4:8] + "." + m[8:12], mac_of(i).replace(":", "-").upper(),
                       m.upper()][n % 4])
    csv = os.path.join(str(tmp_path), "aps.csv")
    with open(csv, "w") as f:
        f.write("mac,name\n# the second half of the list\n")
        for i in listed[10:]:
            f.write("%s,AP-%d\r\n" % (mac_of(i), i))
    lscd = Lscd(str(tmp_path), test_pki, provisioning(
        ca, mode="provision-list", macs=inline, provision_list_file=csv)).start()
    apsim = Apsim(str(tmp_path), test_pki, lscd, ac_trust(tmp_path, test_pki, ca))
    try:
        apsim.start("-n", 50, "--duration", 300)
        st = apsim.wait_status(lambda s: len(by_state(s, "run", "LSC")) == 20 and
                               len(by_state(s, "run", "MIC")) == 30, 120,
                               "20 APs on LSCs and 30 on MICs")
        on_lsc = sorted(int(ap["mac"].replace(":", ""), 16) - 0x020000000001 for ap in by_state(st, "run", "LSC"))
        assert on_lsc == listed
        lsc_joins = lscd.count_log(r"in Run with its LSC")
        assert lsc_joins == 20
    finally:
        assert apsim.stop() == 0
        assert lscd.stop() == 0
    # exactly the listed APs were ever offered parameters (an AP may be
    # offered them again when micromdm's unlocked depot fails a request:
    # each such retry is in the audit trail)
    offered = set(re.findall(r"ap ([0-9a-f:]{17}): sending LSC certificate parameters", lscd.log()))
    assert offered == {mac_of(i) for i in listed}
    retries = lscd.db().execute("SELECT COUNT(*) FROM audit WHERE event = 'enroll-retry'").fetchone()[0]
    assert lscd.count_log(r"sending LSC certificate parameters") == 20 + retries
    certs = issued(ca)
    assert sorted(certs) == sorted(cn_for(mac_of(i)) for i in listed)
    for cn, paths in certs.items():
        for path in paths:
            subprocess.run(["openssl", "verify", "-CAfile", ca.ca_pem, path], check=True,
                           capture_output=True)
    db = lscd.db()
    states = dict(db.execute("SELECT mac, prov_state FROM aps").fetchall())
    assert len(states) == 50
    for i in range(50):
        mac = mac_of(i).replace(":", "")
        assert states[mac] == ("provisioned" if i in listed else "none"), (i, states[mac])


def test_mode_all_issues_certificates_with_the_configured_subject(test_pki, micromdm_ca, tmp_path):
    ca = micromdm_ca()
    # one enrolment at a time: micromdm's file depot is only reliable so
    # (scep-notes §2.7), and this test reads the certificates from it
    lscd = Lscd(str(tmp_path), test_pki, provisioning(ca, max_concurrent=1)).start()
    try:
        rc, out = Apsim(str(tmp_path), test_pki, lscd, ac_trust(tmp_path, test_pki, ca)).run(
            "-n", 10, "--expect", "lsc", "--timeout", 120)
        assert rc == 0, out[-3000:]
    finally:
        assert lscd.stop() == 0
    certs = issued(ca)
    assert len(certs) == 10
    db = lscd.db()
    current = {r["mac"]: r for r in db.execute("SELECT * FROM certificates WHERE current = 1")}
    assert len(current) == 10
    for i in range(10):
        mac = mac_of(i)
        (path,) = certs[cn_for(mac)]
        subj = subject_of(path)
        # micromdm 2.1.0 drops emailAddress when it copies the CSR's subject
        # (Go's pkix.Name does not re-encode it); lscd checked it in the CSR.
        for part in ("C=US", "ST=California", "L=San Jose", "O=Example Wireless", "OU=Access",
                     "CN=" + cn_for(mac)):
            assert part in subj, (part, subj)
        subprocess.run(["openssl", "verify", "-CAfile", ca.ca_pem, path], check=True, capture_output=True)
        # lscd recorded the very certificate the CA issued
        der = openssl("x509", "-in", path, "-outform", "DER")
        row = current[mac.replace(":", "")]
        assert row["sha256_hex"] == hashlib.sha256(der).hexdigest()
        serial = openssl("x509", "-in", path, "-noout", "-serial").decode().split("=")[1].strip()
        assert int(row["serial_hex"], 16) == int(serial, 16)


def test_loop_is_detected_and_stopped(test_pki, micromdm_ca, tmp_path):
    """The classic loop: the management certificate (from the manufacturer)
    is not signed by the LSC CA, so APs that got an LSC cannot join with it,
    fall back to their MIC after join_attempts, and would be provisioned
    again forever."""
    ca = micromdm_ca()
    lscd = Lscd(str(tmp_path), test_pki, provisioning(
        ca, scep_management=False, join_attempts=2, max_reprovision=1, max_concurrent=1)).start()
    apsim = Apsim(str(tmp_path), test_pki, lscd)
    try:
        lscd.wait_log(r"LSC PROVISIONING LOOP RISK: provisioning is enabled \(all\) but the wireless "
                      r"management trustpoint WLC is not signed by the CA of trustpoint AP-LSC")
        apsim.start("-n", 3, "--duration", 300)
        lscd.wait_log(r"LOOP SUSPECTED", count=3, timeout=120)
        st = apsim.wait_status(lambda s: len(by_state(s, "run", "MIC")) == 3 and
                               all(ap["fallbacks"] == 2 for ap in s["aps"]), 60,
                               "3 APs back on MICs after two fallbacks")
        params_sent = lscd.count_log(r"sending LSC certificate parameters")
        for ap in st["aps"]:
            assert ap["provisions"] == 2          # first provision + one re-provision
            assert ap["fallbacks"] == 2
            assert ap["lsc_join_failures"] == 4   # join_attempts × 2 rounds
        # a few echo intervals later nothing was provisioned again
        apsim.wait_status(lambda s: s["elapsed_s"] > st["elapsed_s"] + 5, 30, "5 more seconds")
        assert lscd.count_log(r"sending LSC certificate parameters") == params_sent == 6
    finally:
        apsim.stop()
        assert lscd.stop() == 0
    db = lscd.db()
    for row in db.execute("SELECT * FROM aps"):
        assert row["loop_suspected"] == 1
        assert row["prov_state"] == "loop-suspected"
        assert row["mic_fallbacks"] == 2
        assert row["provisions"] == 2
        assert row["lsc_join_failures"] == 4
        assert "LOOP SUSPECTED" in row["last_failure"]
        events = [r[0] for r in db.execute("SELECT event FROM audit WHERE mac = ? ORDER BY id", (row["mac"],))]
        assert events.count("mic-fallback") == 1 and events.count("loop-suspected") == 1
        assert events.count("lsc-join-failed") == 4


def test_hostile_csrs_are_refused_and_get_nothing(test_pki, micromdm_ca, tmp_path):
    ca = micromdm_ca()
    lscd = Lscd(str(tmp_path), test_pki, provisioning(ca)).start()
    trust = ac_trust(tmp_path, test_pki, ca)
    cases = [
        ("other-mac", r"CSR refused: subject CN \"ap3g3-020000001000\" names 02:00:00:00:10:00 but the "
                      r"DTLS session authenticated 02:00:00:00:10:01"),
        ("short-key", r"CSR refused: key RSA-1024, but RSA-2048 was asked for"),
        ("wrong-key-type", r"CSR refused: key EC-P256, but RSA-2048 was asked for"),
    ]
    try:
        for n, (kind, reason) in enumerate(cases):
            apsim = Apsim(str(tmp_path), test_pki, lscd, trust, name=kind)
            apsim.start("-n", 1, "--mac-base", "02:00:00:00:%02x:01" % (0x10 * (n + 1)),
                        "--src-base", "127.%d.0.1" % (10 + n), "--misbehave", kind, "--duration", 60)
            lscd.wait_log(reason, timeout=60)
            st = apsim.wait_status(lambda s: s["aps"][0]["enroll_failed"] == 1, 30,
                                   "%s AP told its enrolment failed" % kind)
            assert st["aps"][0]["cert"] == "MIC" and st["aps"][0]["provisions"] == 0
            apsim.stop()
    finally:
        assert lscd.stop() == 0
    assert issued(ca) == {}, "the CA saw a hostile CSR"
    db = lscd.db()
    refused = db.execute("SELECT COUNT(*) FROM audit WHERE event = 'csr-refused'").fetchone()[0]
    assert refused == 3
    assert db.execute("SELECT COUNT(*) FROM certificates").fetchone()[0] == 0


def test_kill_9_in_the_middle_of_provisioning_loses_nothing(test_pki, micromdm_ca, tmp_path):
    ca = micromdm_ca()
    macs = [mac_of(i) for i in range(100)]
    lscd = Lscd(str(tmp_path), test_pki, provisioning(ca, mode="provision-list", macs=macs)).start()
    apsim = Apsim(str(tmp_path), test_pki, lscd, ac_trust(tmp_path, test_pki, ca))
    try:
        apsim.start("-n", 100, "--concurrency", 16, "--duration", 600)
        lscd.wait_log(r"LSC delivered", count=25, timeout=120)
        lscd.kill9()
        lscd.start()
        st = apsim.wait_status(lambda s: len(by_state(s, "run", "LSC")) == 100, 240,
                               "all 100 APs on LSCs after the restart")
        assert all(ap["cert"] == "LSC" for ap in st["aps"])
    finally:
        apsim.stop()
        assert lscd.stop() == 0
    db = lscd.db()
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    per_ap = dict(db.execute("SELECT mac, COUNT(*) FROM certificates WHERE current = 1 GROUP BY mac"))
    assert len(per_ap) == 100 and set(per_ap.values()) == {1}
    states = [r[0] for r in db.execute("SELECT prov_state FROM aps")]
    assert states.count("provisioned") == 100
    retried = 0
    for mac in (m.replace(":", "") for m in macs):
        events = [r[0] for r in db.execute("SELECT event FROM audit WHERE mac = ? ORDER BY id", (mac,))]
        for step in ("params-sent", "csr-accepted", "cert-issued", "lsc-join"):
            assert step in events, (mac, step, events)
        # the delivery was acknowledged, or the kill cut the acknowledgement
        # off and the restart says so before the AP joined with the LSC
        last_issued = len(events) - 1 - events[::-1].index("cert-issued")
        assert "cert-delivered" in events[last_issued:] or "restart" in events[last_issued:], (mac, events)
        # every provisioning round after the first is explained
        rounds = events.count("params-sent")
        if rounds > 1:
            retried += 1
            explained = sum(events.count(e) for e in ("restart", "params-abandoned", "cert-undelivered",
                                                     "mic-fallback", "enroll-failed", "csr-refused"))
            assert explained >= rounds - 1, (mac, events)
    # the CA issued each AP its current certificate: one current row each,
    # possibly older ones from rounds the kill cut short
    assert db.execute("SELECT COUNT(*) FROM certificates").fetchone()[0] >= 100


def test_capture_shows_the_lsc_payloads_to_tshark(test_pki, micromdm_ca, tmp_path):
    """The debug capture of a provisioning run, read by Wireshark's own
    CAPWAP dissector: Configuration Update Requests and a WTP Event Request
    carry Vendor Specific Payloads of vendor 0x00409600 (4232704) with
    Cisco element 104, whose raw inner bytes start with the inner vendor id
    and the inner ids 63 (parameters) and 64 (CSR, pending, root, device)."""
    ca = micromdm_ca()
    pcap = os.path.join(str(tmp_path), "capture.pcap")
    conf = provisioning(ca)
    conf["debug"] = {"capture_pcap": pcap}
    lscd = Lscd(str(tmp_path), test_pki, conf).start()
    try:
        rc, out = Apsim(str(tmp_path), test_pki, lscd, ac_trust(tmp_path, test_pki, ca)).run(
            "-n", 1, "--expect", "lsc", "--timeout", 60)
        assert rc == 0, out[-2000:]
    finally:
        assert lscd.stop() == 0
    rows = subprocess.run(
        ["tshark", "-r", pcap, "-d", "udp.port==%d,capwap" % lscd.port, "-T", "fields", "-E", "separator=|",
         "-e", "capwap.control.header.message_type",
         "-e", "capwap.control.message_element.vsp.vendor_identifier",
         "-e", "capwap.control.message_element.vsp.vendor_element_id",
         "-e", "capwap.control.cisco.unknown"],
        capture_output=True, text=True, check=True).stdout.splitlines()
    inner = []
    for row in rows:
        msg_type, vendor, element, data = row.split("|")
        if not vendor:
            continue
        assert vendor == "4232704" and element == "104", row
        raw = data.replace(":", "")
        assert raw.startswith("00409600"), row
        inner.append((int(msg_type), int(raw[8:12], 16), raw[12:]))
    # parameters, then the CSR, pending, root and device certificates (§3.3)
    kinds = [(t, i) for t, i, _ in inner]
    assert kinds.count((7, 63)) == 1 and kinds.count((9, 64)) == 1
    assert kinds.count((7, 64)) == 3
    # inside 64: Version 1, then the Operation sub-TLV (type 2, length 1)
    ops = sorted(int(body[18:20], 16) for t, i, body in inner if i == 64)
    assert ops == [1, 2, 3, 4]
