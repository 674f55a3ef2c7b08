"""The operator surface end to end (issue 6): lscctl over the control
socket, every show command against a running lscd with a fleet provisioned
by micromdm's scepserver, --json against the tables, operator commands that
persist, reload (SIGHUP and lscctl), metrics, and the log's hygiene.

The module shares one fleet: 12 simulated APs, 5 of them on the provision
list. Tests that only look come first; tests that change the fleet or the
configuration come after them, in file order, and say what they change.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import urllib.request

import pytest

from conftest import MicromdmCA, free_port, openssl, openssl_dates, openssl_serial
from lscd_env import LSCCTL, LSCD, ROOT, Apsim, Lscd, by_state, wait_for
from test_provision import SUBJECT, ac_trust, cn_for, issued, mac_of, provisioning

N_APS = 12
LISTED = [0, 3, 5, 8, 11]
MAC_RX = re.compile(r"\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b")


def dotted(mac):
    h = mac.replace(":", "")
    return "%s.%s.%s" % (h[0:4], h[4:8], h[8:12])


def ios_fp(colon_hex):
    """openssl's "AB:CD:..." as IOS prints it: upper-case groups of eight."""
    h = colon_hex.replace(":", "").upper()
    return " ".join(h[i:i + 8] for i in range(0, len(h), 8))


def openssl_fp(pem, digest):
    out = openssl("x509", "-in", pem, "-noout", "-fingerprint", "-" + digest).decode()
    return out.strip().split("=", 1)[1]


def openssl_name(pem, which):
    """Subject or issuer as IOS lines: lower-case attr=value, most specific first."""
    out = openssl("x509", "-in", pem, "-noout", "-" + which, "-nameopt", "RFC2253").decode().strip()
    rdns = out.split("=", 1)[1].split(",")
    return ["%s=%s" % (r.split("=", 1)[0].lower(), r.split("=", 1)[1]) for r in rdns]


def table(text):
    """Rows of an lscctl table as dicts, columns found from the dashes line."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line and set(line) <= {"-", " "} and "  " in line and i > 0:
            spans = [m.span() for m in re.finditer(r"-+", line)]
            head, rows = lines[i - 1], lines[i + 1:]
            break
    else:
        raise AssertionError("no table in:\n" + text)

    def cells(line):
        out = []
        for n, (a, b) in enumerate(spans):
            end = spans[n + 1][0] if n + 1 < len(spans) else len(line)
            out.append(line[a:end].strip())
        return out
    names = cells(head)
    return [dict(zip(names, cells(r))) for r in rows if r.strip()]


def block(text):
    """"Key : value" lines as a dict."""
    out = {}
    for line in text.splitlines():
        if " : " in line:
            k, v = line.split(" : ", 1)
            out[k.strip()] = v.strip()
    return out


def current_cert(fleet, mac):
    """The depot file of the LSC the AP holds now. An AP may have been
    provisioned more than once (a session lost mid-way under load): the
    one it holds is the one whose serial apsim reports."""
    held = [a["lsc_serial"] for a in fleet.apsim.status()["aps"] if a["mac"] == mac]
    for pem in issued(fleet.ca)[cn_for(mac)]:
        if held and int(held[0], 16) == openssl_serial(pem):
            return pem
    raise AssertionError("no certificate in the depot has the serial %s holds (%s)" % (mac, held))


def n_issued(fleet):
    return sum(len(paths) for paths in issued(fleet.ca).values())


def fnv_spread(mac, spread_s):
    h = 2166136261
    for b in bytes.fromhex(mac.replace(":", "")):
        h = ((h ^ b) * 16777619) & 0xffffffff
    return h % spread_s


class Fleet:
    pass


@pytest.fixture(scope="module")
def fleet(test_pki, tmp_path_factory):
    base = str(tmp_path_factory.mktemp("operator"))
    ca = MicromdmCA(os.path.join(base, "ca"))
    f = Fleet()
    f.ca = ca
    f.base = base
    f.metrics_port = free_port()
    f.listed = [mac_of(i) for i in LISTED]
    conf = provisioning(ca, mode="provision-list", macs=f.listed)
    conf["metrics"] = {"listen": "127.0.0.1:%d" % f.metrics_port}
    f.lscd = Lscd(base, test_pki, conf).start()
    f.apsim = Apsim(base, test_pki, f.lscd, ac_trust(base, test_pki, ca))
    try:
        f.apsim.start("-n", N_APS, "--duration", 1800)
        f.apsim.wait_status(lambda s: len(by_state(s, "run", "LSC")) == len(LISTED) and
                            len(by_state(s, "run", "MIC")) == N_APS - len(LISTED), 120,
                            "5 APs on LSCs and 7 on MICs")

        def settled():
            d = f.lscd.ctl_json("show", "ap", "summary")
            return d["run"] == N_APS and d["lsc"] == len(LISTED) and all(
                ap["prov_state"] == ("provisioned" if ap["cert_type"] == "LSC" else "none")
                for ap in d["aps"])
        wait_for(settled, 60, "lscd to see 12 APs in Run, 5 provisioned")
        yield f
    finally:
        f.apsim.stop()
        rc = f.lscd.stop()
        ca.stop()
        assert rc == 0


# ---- show commands on the provisioned fleet ------------------------------------

def test_show_ap_summary_lists_every_ap_with_its_certificate_type(fleet):
    rc, out = fleet.lscd.ctl("show", "ap", "summary")
    assert out.startswith("Number of APs: 12\n")
    assert "APs on LSC: 5, on MIC: 7, in Run: 12" in out
    rows = table(out)
    assert len(rows) == N_APS
    by_mac = {r["AP MAC"]: r for r in rows}
    assert sorted(by_mac) == sorted(mac_of(i) for i in range(N_APS))
    for i in range(N_APS):
        r = by_mac[mac_of(i)]
        listed = i in LISTED
        assert r["Certificate Type"] == ("LSC" if listed else "MIC"), r
        assert r["AP Name"] == "AP" + dotted(mac_of(i))
        assert r["Operational Status"] == "REG" and r["Admin Status"] == "Enabled"
        assert re.fullmatch(r"\d+ d, \d\d h \d\d m \d\d s", r["Up Time"]), r
        assert r["LSC Provisioning"] == ("provisioned" if listed else "none")
        assert r["IP Address"].startswith("127.1.0.")
    # the JSON is the data the table was drawn from
    data = fleet.lscd.ctl_json("show", "ap", "summary")
    assert (data["total"], data["lsc"], data["mic"], data["run"]) == (12, 5, 7, 12)
    for ap in data["aps"]:
        r = by_mac[ap["mac"]]
        assert (r["AP Name"], r["Certificate Type"], r["AP Model"], r["IP Address"], r["LSC Provisioning"]) == \
            (ap["name"], ap["cert_type"], ap["model"], ap["address"], ap["prov_state"])
        assert ap["state"] == "Run" and ap["oper_status"] == "REG"
    # what the APs themselves say they hold
    st = fleet.apsim.status()
    for ap in st["aps"]:
        assert by_mac[ap["mac"]]["Certificate Type"] == ap["cert"]
    # keywords may be shortened
    rc, short = fleet.lscd.ctl("sh", "ap", "sum")
    assert short.startswith("Number of APs: 12\n")


def test_show_ap_lsc_provision_summary_is_the_9800_layout(fleet):
    rc, out = fleet.lscd.ctl("show", "ap", "lsc-provision", "summary")
    expected = [
        "AP LSC-provisioning : Enabled for APs in provision list",
        "Trustpoint used for LSC-provisioning : AP-LSC",
        "LSC Revert Count in AP reboots : 3",
        "AP LSC Parameters :",
        "Country : US",
        "State : California",
        "City : San Jose",
        "Orgn : Example Wireless",
        "Dept : Access",
        "Email : wifi@example.org",
        "Key Size : 2048",
        "AP LSC-provision List :",
        "Total number of APs in provision list: 5",
        "Mac Addresses :",
        "--------------",
    ] + [dotted(m) for m in sorted(fleet.listed)]
    assert out.splitlines() == expected
    data = fleet.lscd.ctl_json("show", "ap", "lsc-provision", "summary")
    assert data["mode"] == "provision-list" and data["trustpoint"] == "AP-LSC"
    assert data["join_attempts"] == 3 and data["key_type"] == "rsa" and data["key_size"] == 2048
    assert data["subject"] == SUBJECT
    assert data["provision_list"] == sorted(fleet.listed) and data["provision_list_count"] == 5
    assert [dotted(m) for m in data["provision_list"]] == out.splitlines()[15:]


def test_show_lsc_provision_status_matches_the_issued_certificates(fleet):
    certs = issued(fleet.ca)
    rc, out = fleet.lscd.ctl("show", "ap", "lsc-provision", "status")
    assert out.startswith("Total number of APs: 12 (LSC provisioned: 5, loop suspected: 0)")
    rows = {r["AP MAC"]: r for r in table(out)}
    data = fleet.lscd.ctl_json("show", "ap", "lsc-provision", "status")
    assert data["total"] == 12 and data["provisioned"] == 5 and data["loop_suspected"] == 0
    apsim = {ap["mac"]: ap for ap in fleet.apsim.status()["aps"]}
    for ap in data["aps"]:
        mac = ap["mac"]
        i = int(mac.replace(":", ""), 16) - 0x020000000001
        r = rows[mac]
        assert r["Loop Suspected"] == "No" and ap["loop_suspected"] is False
        assert r["Connected"] == ap["cert_type"]
        assert int(r["MIC Joins"]) == ap["mic_joins"] >= 1
        if i in LISTED:
            pem = current_cert(fleet, mac)
            serial = openssl_serial(pem)
            _, not_after = openssl_dates(pem)
            assert int(ap["lsc"]["serial"], 16) == serial == int(apsim[mac]["lsc_serial"], 16)
            assert int(r["LSC Serial"], 16) == serial
            assert ap["lsc"]["not_after"] == not_after
            assert r["LSC Expiry"] == ap_time(not_after)
            assert ap["lsc"]["sha256"] == hashlib.sha256(openssl("x509", "-in", pem, "-outform", "DER")).hexdigest()
            # delivered LSCs: at least the one it holds, at most what the CA issued for it
            assert 1 <= ap["provisions"] <= len(certs[cn_for(mac)])
            assert int(r["LSCs Issued"]) == ap["provisions"]
            assert ap["lsc_joins"] >= 1 and r["Provisioning State"] == "provisioned"
        else:
            assert ap["lsc"] is None and r["LSC Serial"] == "-" and r["LSCs Issued"] == "0"
            assert r["Provisioning State"] == "none"
    # one AP in detail, with its audit trail
    mac = fleet.listed[1]
    rc, out = fleet.lscd.ctl("show", "ap", "lsc-provision", "status", dotted(mac))
    kv = block(out)
    one = fleet.lscd.ctl_json("show", "ap", "lsc-provision", "status", mac.replace(":", "-"))["ap"]
    assert kv["AP MAC Address"] == mac == one["mac"]
    assert kv["Connected"] == "Yes (Run, LSC)"
    assert kv["LSC Provisioning State"] == "provisioned"
    assert int(kv["Issued LSC Serial Number (hex)"], 16) == openssl_serial(current_cert(fleet, mac))
    events = [a["event"] for a in one["audit"]]
    for step in ("params-sent", "csr-accepted", "cert-issued", "cert-delivered", "lsc-join"):
        assert step in events
        assert re.search(r"^  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC  %s\b" % step, out, re.M), step
    # an AP lscd never saw
    proc = fleet.lscd.ctl_run("show", "ap", "lsc-provision", "status", "02:00:00:00:ff:ff")
    assert proc.returncode == 1
    assert "lscctl: no record of AP 02:00:00:00:ff:ff" in proc.stderr


def ap_time(t):
    import time
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def test_show_wireless_management_trustpoint_hashes_the_real_certificate(fleet):
    cert = os.path.join(fleet.lscd.state, "trustpoints", "WLC", "cert.pem")
    sha1 = openssl_fp(cert, "sha1").replace(":", "").lower()
    rc, out = fleet.lscd.ctl("show", "wireless", "management", "trustpoint")
    assert out.splitlines() == [
        "Trustpoint  Name : WLC",
        "Certificate Info : Available",
        # enrolled at the CA that issues the LSCs
        "Certificate Type : LSC",
        "Certificate Hash : " + sha1,
        "Private key Info : Available",
    ]
    data = fleet.lscd.ctl_json("show", "wireless", "management", "trustpoint")
    assert data["sha1"] == sha1 and data["certificate_type"] == "LSC"
    assert data["sha256"] == openssl_fp(cert, "sha256").replace(":", "").lower()
    assert data["private_key_available"] is True


def cert_blocks(text):
    blocks, cur = {}, None
    for line in text.splitlines():
        if line and not line.startswith(" "):
            cur = line
            blocks[cur] = []
        elif cur is not None and line:
            blocks[cur].append(line)
    return blocks


def check_block(lines, pem, trustpoints):
    text = "\n".join(lines)
    assert "  Status: Available" in lines and "  Version: 3" in lines
    serial = re.search(r"Certificate Serial Number \(hex\): ([0-9A-F]+)", text).group(1)
    assert int(serial, 16) == openssl_serial(pem)
    for digest, label in (("md5", "MD5"), ("sha1", "SHA1"), ("sha256", "SHA256")):
        assert "  Fingerprint %s: %s" % (label, ios_fp(openssl_fp(pem, digest))) in lines, (label, text)
    issuer = lines.index("  Issuer:")
    subject = lines.index("  Subject:")
    validity = lines.index("  Validity Date:")
    assert [l.strip() for l in lines[issuer + 1:subject]] == openssl_name(pem, "issuer")
    assert [l.strip() for l in lines[subject + 1:validity]] == openssl_name(pem, "subject")
    assert lines[validity + 1].startswith("    start date: ") and " UTC " in lines[validity + 1]
    assert lines[validity + 2].startswith("    end date: ")
    assert "    RSA Public Key: (2048 bit)" in lines
    assert "  Signature Algorithm: SHA256 with RSA Encryption" in lines
    assert re.search(r"^  Associated Trustpoints: (.*)$", text, re.M).group(1).split() == trustpoints
    # lscd's addition comes last
    assert lines[-1].startswith("  Fingerprint SHA256: ")


def test_show_crypto_pki_certificates_verbose_fingerprints_match_openssl(fleet):
    ca_pem = fleet.ca.ca_pem
    wlc_pem = os.path.join(fleet.lscd.state, "trustpoints", "WLC", "cert.pem")
    rc, out = fleet.lscd.ctl("show", "crypto", "pki", "certificates", "verbose", "AP-LSC")
    blocks = cert_blocks(out)
    # AP-LSC enrolled no identity of its own; micromdm has no separate RA
    assert list(blocks) == ["CA Certificate"]
    check_block(blocks["CA Certificate"], ca_pem, ["WLC", "AP-LSC"])
    rc, out = fleet.lscd.ctl("show", "crypto", "pki", "certificates", "verbose", "WLC")
    blocks = cert_blocks(out)
    assert list(blocks) == ["Certificate", "CA Certificate"]
    check_block(blocks["Certificate"], wlc_pem, ["WLC"])
    check_block(blocks["CA Certificate"], ca_pem, ["WLC", "AP-LSC"])
    assert "  Certificate Usage: General Purpose" in blocks["CA Certificate"] or \
        "  Certificate Usage: Signature" in blocks["CA Certificate"]
    data = fleet.lscd.ctl_json("show", "crypto", "pki", "certificates", "verbose", "WLC")
    (tp,) = data["trustpoints"]
    assert tp["name"] == "WLC" and [c["role"] for c in tp["certificates"]] == ["identity", "ca"]
    ident = tp["certificates"][0]
    assert ident["sha1"] == openssl_fp(wlc_pem, "sha1").replace(":", "").lower()
    assert ident["md5"] == openssl_fp(wlc_pem, "md5").replace(":", "").lower()
    assert ["%s=%s" % (a["attr"], a["value"]) for a in ident["subject"]] == openssl_name(wlc_pem, "subject")
    assert ident["key_alg"] == "RSA" and ident["key_bits"] == 2048
    assert ident["serial"] in "\n".join(blocks["Certificate"])
    # all trustpoints: the shared CA once
    rc, out = fleet.lscd.ctl("show", "crypto", "pki", "certificates", "verbose")
    assert out.count("\nCA Certificate\n") + out.startswith("CA Certificate\n") == 1
    proc = fleet.lscd.ctl_run("show", "crypto", "pki", "certificates", "verbose", "NOPE")
    assert proc.returncode == 1 and 'no trustpoint named "NOPE" (configured: ' in proc.stderr


def test_show_crypto_pki_trustpoints(fleet):
    rc, out = fleet.lscd.ctl("show", "crypto", "pki", "trustpoints")
    sections = {}
    for part in out.split("\n\n"):
        lines = part.splitlines()
        sections[lines[0]] = dict(l.strip().split(": ", 1) for l in lines[1:])
    assert set(sections) == {"Trustpoint WLC:", "Trustpoint AP-LSC:"}
    wlc, lsc = sections["Trustpoint WLC:"], sections["Trustpoint AP-LSC:"]
    assert wlc["Enrollment URL"] == lsc["Enrollment URL"] == fleet.ca.url
    assert wlc["CA Certificate Authenticated"] == lsc["CA Certificate Authenticated"] == "Yes"
    assert wlc["Identity Certificate"] == "Present" and lsc["Identity Certificate"] == "Not present"
    assert wlc["Used for"] == "wireless-management" and lsc["Used for"] == "lsc-provisioning"
    assert lsc["CA Fingerprint Pin (SHA256)"] == fleet.ca.pin
    assert wlc["Last Error"] == "none" and lsc["Key"] == "RSA-2048"
    assert lsc["Enrollments"].startswith("%d succeeded, 0 failed" % n_issued(fleet))
    data = fleet.lscd.ctl_json("show", "crypto", "pki", "trustpoints")
    tps = {t["name"]: t for t in data["trustpoints"]}
    assert tps["AP-LSC"]["authenticated"] is True and tps["AP-LSC"]["stats"]["enrolled"] == n_issued(fleet)
    assert tps["WLC"]["identity"] is True and tps["WLC"]["roles"] == ["wireless-management"]


def test_show_crypto_pki_timers_has_one_renewal_per_lsc_ap(fleet):
    rc, out = fleet.lscd.ctl("show", "crypto", "pki", "timers")
    lines = out.splitlines()
    assert lines[0] == "PKI Timers"
    rx = re.compile(r"^\|([ \dd:.]{16})(?:  (\S+) (\S+))?$")
    parsed = [rx.match(l) for l in lines[1:]]
    assert all(parsed), lines
    assert parsed[0].group(2) is None and parsed[0].group(1) == parsed[1].group(1)
    named = [(m.group(2), m.group(3)) for m in parsed[1:]]
    assert sorted(named) == sorted(("AP-RENEW", m) for m in fleet.listed)
    data = fleet.lscd.ctl_json("show", "crypto", "pki", "timers")
    rem = [t["remaining_ms"] for t in data["timers"]]
    assert rem == sorted(rem), "soonest first"
    assert [(t["name"], t["subject"]) for t in data["timers"]] == named
    for t in data["timers"]:
        nb, na = openssl_dates(current_cert(fleet, t["subject"]))
        due = nb + (na - nb) * 80 // 100
        spread = fnv_spread(t["subject"], 3600)
        due += spread if due + spread < na else 0
        # lscd's "due" is its clock plus the remaining time, to the second
        assert abs(t["due"] - due) <= 2, (t, due)


def parse_prometheus(text):
    """A strict reader of the text format: families with HELP and TYPE
    before their samples, label values escaped, numbers that parse."""
    types, samples = {}, []
    sample_rx = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
    label_rx = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(?:,|$)')
    helped = set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split()[2]
            assert name not in helped, "HELP twice for " + name
            helped.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name not in types and kind in ("counter", "gauge", "histogram", "summary", "untyped")
            types[name] = kind
            continue
        m = sample_rx.match(line)
        assert m, "not a sample line: %r" % line
        name, labels, value = m.groups()
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(name[:-len(suffix)]) == "histogram":
                family = name[:-len(suffix)]
        assert family in types and family in helped, "sample before its TYPE/HELP: " + line
        lab = {}
        if labels:
            pos = 0
            for lm in label_rx.finditer(labels):
                assert lm.start() == pos, "bad labels: " + labels
                lab[lm.group(1)] = lm.group(2)
                pos = lm.end()
            assert pos == len(labels), "bad labels: " + labels
        float(value)
        samples.append((name, lab, float(value)))
    return types, samples


def metric(samples, name, **labels):
    vals = [v for n, l, v in samples if n == name and l == labels]
    assert len(vals) == 1, (name, labels, vals)
    return vals[0]


def test_metrics_count_the_fleet(fleet):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % fleet.metrics_port, timeout=10) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    types, samples = parse_prometheus(text)
    assert metric(samples, "lscd_aps", state="Run", cert="LSC") == 5
    assert metric(samples, "lscd_aps", state="Run", cert="MIC") == 7
    assert metric(samples, "lscd_aps", state="Join", cert="MIC") == 0
    assert metric(samples, "lscd_sessions") == 12
    # one enrolment per certificate in the CA's depot (more than 5 when a
    # session was lost mid-way and the AP was provisioned again)
    issued_n = n_issued(fleet)
    delivered = sum(ap["provisions"] for ap in fleet.lscd.ctl_json("show", "ap", "lsc-provision", "status")["aps"])
    assert issued_n >= 5 and delivered >= 5
    assert metric(samples, "lscd_csrs_total", outcome="accepted") == issued_n
    assert metric(samples, "lscd_csrs_total", outcome="refused") == 0
    assert metric(samples, "lscd_enrollments_total", outcome="succeeded") == issued_n
    assert metric(samples, "lscd_enrollments_total", outcome="failed") == 0
    assert metric(samples, "lscd_certs_total", outcome="delivered") == delivered
    assert metric(samples, "lscd_enrollments_in_flight") == 0
    assert metric(samples, "lscd_ap_records", prov_state="provisioned") == 5
    assert metric(samples, "lscd_ap_records", prov_state="none") == 7
    assert metric(samples, "lscd_provision_list_size") == 5
    assert metric(samples, "lscd_lsc_provision_mode", mode="provision-list") == 1
    assert metric(samples, "lscd_lsc_provision_mode", mode="all") == 0
    assert metric(samples, "lscd_trustpoint_authenticated", trustpoint="AP-LSC") == 1
    assert metric(samples, "lscd_joins_total") >= 17         # 12 MIC joins + 5 LSC joins
    assert types["lscd_ca_latency_seconds"] == "histogram"
    assert types["lscd_join_failures_total"] == "counter"
    # the handshake backlog is drained and, for twelve APs, dropped nothing
    assert metric(samples, "lscd_dtls_backlog_datagrams") == 0
    assert metric(samples, "lscd_dtls_backlog_dropped_total") == 0
    # every family lscd exports is in lscd(8)'s table, with the same type
    manual = os.path.join(ROOT, "docs", "lscd.8.md")
    documented = dict(re.findall(r"^\| `(lscd_\w+)` \| (\w+) \|", open(manual).read(), re.M))
    assert types == documented
    buckets = [(l["le"], v) for n, l, v in samples if n == "lscd_ca_latency_seconds_bucket"]
    assert buckets[-1] == ("+Inf", issued_n)
    assert [v for _, v in buckets] == sorted(v for _, v in buckets), "cumulative buckets"
    assert metric(samples, "lscd_ca_latency_seconds_count") == issued_n
    assert metric(samples, "lscd_ca_latency_seconds_sum") > 0
    with urllib.request.urlopen("http://127.0.0.1:%d/status" % fleet.metrics_port, timeout=10) as r:
        status = json.load(r)
    assert status["aps"]["run"] == 12 and status["aps"]["lsc"] == 5 and status["aps"]["known"] == 12
    assert status["provisioning"]["mode"] == "provision-list"
    assert status["provisioning"]["certs_delivered"] == delivered
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/other" % fleet.metrics_port, timeout=10)
        raise AssertionError("/other answered")
    except urllib.error.HTTPError as e:
        assert e.code == 404


def test_control_socket_is_a_0660_socket(fleet):
    st = os.lstat(fleet.lscd.socket)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660


def raw_request(path, data, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    out = b""
    while out.count(b"\n") < max(1, data.count(b"\n")):
        try:
            k = s.recv(65536)
        except ConnectionResetError:
            break
        if not k:
            break
        out += k
    s.close()
    return [json.loads(l) for l in out.splitlines()]


def test_protocol_refuses_bad_requests_with_a_reason(fleet):
    path = fleet.lscd.socket
    r = raw_request(path, b'{"cmd":"show ap summary"}\n{"cmd":"show ap lsc-provision summary","args":[]}\n')
    assert r[0]["ok"] is True and r[0]["data"]["total"] == 12
    assert r[1]["ok"] is True and r[1]["data"]["mode"] == "provision-list"
    cases = [
        (b'not json\n', "not JSON"),
        (b'[1,2]\n', "a request is a JSON object"),
        (b'{"cmd":"show ap everything"}\n', 'unknown command "show ap everything"'),
        (b'{"cmd":"ap reset","args":["02:00:00:00:00:01","x"]}\n', "ap reset: takes 1 argument, got 2"),
        (b'{"cmd":"ap reset","args":["02:00:00:00:00:0g"]}\n', 'argument 1: not a MAC address: "02:00:00:00:00:0g"'),
        (b'{"cmd":"ap lsc-provision mode","args":["some"]}\n', 'no such mode "some"'),
        (b'{"cmd":"reload","verbose":true}\n', 'unknown key "verbose"'),
        (b'{"cmd":"reload","cmd":"reload"}\n', "duplicate"),
    ]
    for data, why in cases:
        (resp,) = raw_request(path, data)
        assert resp["ok"] is False and why in resp["error"], (data, resp)
    # a line longer than the limit is refused and the connection closed
    (resp,) = raw_request(path, b"x" * (1024 * 1024 + 10))
    assert resp["ok"] is False and "request longer than 1048576 bytes" in resp["error"]
    # and the daemon still answers
    assert fleet.lscd.ctl_json("show", "ap", "summary")["total"] == 12


def test_log_has_the_mac_in_every_ap_line_and_no_key_material(fleet):
    log = fleet.lscd.log()
    assert "PRIVATE KEY" not in log and "BEGIN " not in log
    assert not re.search(r"[A-Za-z0-9+/]{60,}", log), "base64 body in the log"
    ap_events = re.compile(r"joined from|in Run with its|sending LSC certificate parameters|CSR accepted|"
                           r"LSC delivered|session from .* closed|certificate serial .* issued|"
                           r"re-provisioning requested|Reset Request sent|the provision list in")
    lines = [l for l in log.splitlines() if ap_events.search(l)]
    assert len(lines) >= 12 * 2
    for line in lines:
        assert re.search(r": ap " + MAC_RX.pattern + ": ", line), line


def test_lscctl_fails_clearly_without_a_daemon(tmp_path):
    missing = str(tmp_path / "nothing.sock")
    proc = subprocess.run([LSCCTL, "-s", missing, "show", "ap", "summary"], capture_output=True, text=True)
    assert proc.returncode == 3
    assert proc.stderr == "lscctl: cannot connect to %s: No such file or directory\n" % missing
    # a socket file left behind by a dead daemon
    stale = str(tmp_path / "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(stale)
    s.close()
    proc = subprocess.run([LSCCTL, "-s", stale, "show", "ap", "summary"], capture_output=True, text=True)
    assert proc.returncode == 3 and "lscctl: cannot connect to %s: Connection refused" % stale in proc.stderr
    proc = subprocess.run([LSCCTL, "show", "ap", "everything"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert 'lscctl: unknown command "show ap everything"; valid commands:' in proc.stderr
    assert "  show ap lsc-provision summary\n" in proc.stderr
    proc = subprocess.run([LSCCTL, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "  ap provision-list import <csv-file>\n" in proc.stdout


def test_example_config_passes_the_check(test_pki, tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "examples", "lscd.json")) as f:
        conf = json.load(f)
    shutil.copy(os.path.join(root, "examples", "provision-list.csv"), str(tmp_path))
    shutil.copy(test_pki.mfg_ca, str(tmp_path / "mic-ca.pem"))
    shutil.copy(test_pki.wlc_cert, str(tmp_path / "wlc.pem"))
    shutil.copy(test_pki.wlc_key, str(tmp_path / "wlc.key"))
    # only the absolute paths move into the test's directory
    conf["state_dir"] = str(tmp_path / "state")
    conf["database"] = str(tmp_path / "state" / "lscd.db")
    conf["control_socket"] = str(tmp_path / "lscd.sock")
    conf["debug"] = {"capture_pcap": str(tmp_path / "c.pcap"), "dtls_keylog": str(tmp_path / "k.log")}
    path = str(tmp_path / "lscd.json")
    with open(path, "w") as f:
        json.dump(conf, f, indent=2)
    os.chmod(path, 0o640)
    proc = subprocess.run([LSCD, "-n", "-f", path], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "configuration OK\n", proc.stderr


def test_certificate_type_of_a_manufacturer_and_a_self_signed_management_certificate(test_pki, tmp_path):
    lscd = Lscd(str(tmp_path / "mic"), test_pki).start()
    try:
        data = lscd.ctl_json("show", "wireless", "management", "trustpoint")
        assert data["certificate_type"] == "MIC"
        assert data["sha1"] == openssl_fp(test_pki.wlc_cert, "sha1").replace(":", "").lower()
    finally:
        assert lscd.stop() == 0
    ssc = tmp_path / "ssc"
    ssc.mkdir()
    key, cert = str(ssc / "ssc.key"), str(ssc / "ssc.pem")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "30",
            "-subj", "/CN=lscd-self-signed", "-addext", "extendedKeyUsage=serverAuth")
    os.chmod(key, 0o600)
    lscd = Lscd(str(ssc), test_pki, {"trustpoints": {"WLC": {"certificate": cert, "private_key": key}}})
    lscd.start(wait="started")
    try:
        rc, out = lscd.ctl("show", "wireless", "management", "trustpoint")
        assert "Certificate Type : SSC\n" in out
    finally:
        assert lscd.stop() == 0


def test_reprovision_clears_the_loop_guard(test_pki, micromdm_ca, tmp_path):
    """A loop (management certificate not from the LSC CA), one AP, no
    re-provision allowed: the AP is marked at its first fallback. The
    operator's re-provision clears the mark and provisions it again now."""
    ca = micromdm_ca()
    lscd = Lscd(str(tmp_path), test_pki, provisioning(
        ca, scep_management=False, join_attempts=1, max_reprovision=0)).start()
    apsim = Apsim(str(tmp_path), test_pki, lscd)
    mac = mac_of(0)
    try:
        apsim.start("-n", 1, "--duration", 300)
        lscd.wait_log(r"LOOP SUSPECTED", timeout=120)
        data = lscd.ctl_json("show", "ap", "lsc-provision", "status", mac)["ap"]
        assert data["loop_suspected"] is True and data["prov_state"] == "loop-suspected"
        rc, out = lscd.ctl("show", "ap", "lsc-provision", "status")
        assert out.startswith("Total number of APs: 1 (LSC provisioned: 0, loop suspected: 1)")
        assert table(out)[0]["Loop Suspected"] == "Yes"
        wait_for(lambda: lscd.ctl_json("show", "ap", "summary")["run"] == 1, 60, "the AP back in Run")
        rc, out = lscd.ctl("show", "ap", "summary")
        assert table(out)[0]["LSC Provisioning"] == "loop-suspected (loop suspected)"
        params = lscd.count_log(r"sending LSC certificate parameters")

        rc, out = lscd.ctl("ap", "reprovision", dotted(mac))
        assert out == "loop guard cleared; certificate parameters sent now\n"
        resp = lscd.ctl_json("ap", "reprovision", mac)
        assert resp["loop_suspected"] is False and resp["mac"] == mac
        lscd.wait_log(r"ap %s: re-provisioning requested by the operator" % mac)
        # provisioned again: a second LSC, and (the loop being real) a second mark
        lscd.wait_log(r"sending LSC certificate parameters", count=params + 1)
        lscd.wait_log(r"LOOP SUSPECTED", count=2, timeout=120)
        one = lscd.ctl_json("show", "ap", "lsc-provision", "status", mac)["ap"]
        assert one["provisions"] >= 2
        assert "operator-reprovision" in [a["event"] for a in one["audit"]]
    finally:
        apsim.stop()
        assert lscd.stop() == 0


# ---- commands that change the fleet or the configuration (in this order) ----------

def config_of(fleet):
    with open(fleet.lscd.config_path) as f:
        return json.load(f)


def test_provision_list_add_and_remove_persist_and_apply(fleet):
    mac = mac_of(1)              # in Run on its MIC, not listed
    rc, out = fleet.lscd.ctl("ap", "provision-list", "add", mac.replace(":", "").upper())
    assert out == "%s added to the provision list; 6 APs listed\n" % mac
    assert dotted(mac) in config_of(fleet)["lsc_provision"]["provision_list"]
    data = fleet.lscd.ctl_json("show", "ap", "lsc-provision", "summary")
    assert data["provision_list_count"] == 6 and mac in data["provision_list"]
    # the running configuration follows: the AP, in Run on its MIC, gets its LSC now
    fleet.apsim.wait_status(lambda s: [a["cert"] for a in s["aps"] if a["mac"] == mac] == ["LSC"], 60,
                            "the added AP on an LSC")
    rc, out = fleet.lscd.ctl("ap", "provision-list", "add", dotted(mac))
    assert out == "%s is already on the provision list; nothing changed\n" % mac
    rc, out = fleet.lscd.ctl("ap", "provision-list", "remove", mac)
    assert out == "%s removed from the provision list; 5 APs listed\n" % mac
    assert dotted(mac) not in config_of(fleet)["lsc_provision"]["provision_list"]
    assert mac not in fleet.lscd.ctl_json("show", "ap", "lsc-provision", "summary")["provision_list"]
    resp = fleet.lscd.ctl_json("ap", "provision-list", "remove", mac)
    assert resp["changed"] is False and resp["provision_list_count"] == 5
    # refused: a multicast address
    proc = fleet.lscd.ctl_run("ap", "provision-list", "add", "01:00:5e:00:00:01")
    assert proc.returncode == 1 and "is a multicast address, not an AP's" in proc.stderr
    events = [a["event"] for a in fleet.lscd.ctl_json("show", "ap", "lsc-provision", "status", mac)["ap"]["audit"]]
    assert "operator-list-add" in events and "operator-list-remove" in events


def test_import_adds_the_good_lines_and_reports_the_bad(fleet, tmp_path):
    csv = tmp_path / "inventory.csv"
    good = [mac_of(2), mac_of(4)]
    csv.write_text("mac,name\n%s,AP-2\n%s,AP-4\nzz:zz:zz,AP-bad\n%s,listed already\n"
                   % (dotted(good[0]), good[1].upper(), fleet.listed[0]))
    proc = fleet.lscd.ctl_run("ap", "provision-list", "import", str(csv))
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("2 MACs added from %s (1 already listed, 1 bad entries); 7 APs listed" % csv)
    assert "lscctl: 1 entry of the file could not be used:\n" in proc.stderr
    assert '  %s:4:1: not a MAC address: "zz:zz:zz"\n' % csv in proc.stderr
    inline = config_of(fleet)["lsc_provision"]["provision_list"]
    assert dotted(good[0]) in inline and dotted(good[1]) in inline
    data = fleet.lscd.ctl_json("show", "ap", "lsc-provision", "summary")
    assert data["provision_list_count"] == 7 and set(good) <= set(data["provision_list"])
    # from standard input, nothing new
    proc = fleet.lscd.ctl_run("--json", "ap", "provision-list", "import", "-", stdin=csv.read_text())
    resp = json.loads(proc.stdout)
    assert resp["added"] == [] and resp["already_listed"] == 3 and resp["file"] == "-"
    assert resp["bad_lines"] == ['-:4:1: not a MAC address: "zz:zz:zz"']
    fleet.apsim.wait_status(lambda s: all(a["cert"] == "LSC" for a in s["aps"] if a["mac"] in good), 60,
                            "the imported APs on LSCs")


def test_reset_makes_the_ap_join_again(fleet):
    mac = fleet.listed[2]
    before = fleet.lscd.ctl_json("show", "ap", "lsc-provision", "status", mac)["ap"]["lsc_joins"]
    joined = fleet.lscd.count_log(r"ap %s: in Run with its LSC" % mac)
    rc, out = fleet.lscd.ctl("ap", "reset", mac)
    assert out == "Reset Request sent to %s; it reboots and joins again\n" % mac
    fleet.lscd.wait_log(r"ap %s: in Run with its LSC" % mac, count=joined + 1, timeout=60)
    wait_for(lambda: fleet.lscd.ctl_json("show", "ap", "lsc-provision", "status", mac)["ap"]["lsc_joins"]
             == before + 1, 30, "the second LSC join counted")
    proc = fleet.lscd.ctl_run("ap", "reset", "02:00:00:00:ff:ff")
    assert proc.returncode == 1 and "lscctl: AP 02:00:00:00:ff:ff is not connected" in proc.stderr


def test_reload_with_a_bad_config_keeps_the_running_one(fleet):
    path = fleet.lscd.config_path
    with open(path) as f:
        good = f.read()
    before = fleet.lscd.ctl("show", "ap", "lsc-provision", "summary")[1]
    try:
        # broken JSON: SIGHUP
        with open(path, "w") as f:
            f.write(good.replace('"mode": "provision-list"', '"mode": "all",,'))
        fleet.lscd.signal(signal.SIGHUP)
        fleet.lscd.wait_log(r"reload of %s failed, keeping the running configuration" % re.escape(path))
        fleet.lscd.wait_log(r"error: %s:\d+:\d+: " % re.escape(path))
        assert fleet.lscd.ctl("show", "ap", "lsc-provision", "summary")[1] == before
        # the same over the socket, with every error in the answer
        proc = fleet.lscd.ctl_run("reload")
        assert proc.returncode == 1
        assert proc.stderr.startswith("lscctl: configuration not reloaded from %s; the running configuration "
                                      "is kept\n" % path)
        assert re.search(r"^  %s:\d+:\d+: " % re.escape(path), proc.stderr, re.M), proc.stderr
        # valid JSON, two bad values: both named
        bad = json.loads(good)
        bad["lsc_provision"]["subject"]["country"] = "USA"
        bad["capwap"] = {"echo_interval_s": 0}
        with open(path, "w") as f:
            json.dump(bad, f)
        proc = fleet.lscd.ctl_run("reload")
        assert proc.returncode == 1
        assert "lsc_provision.subject.country" in proc.stderr and "capwap.echo_interval_s" in proc.stderr
        fleet.lscd.signal(signal.SIGHUP)
        fleet.lscd.wait_log(r"error: %s: lsc_provision.subject.country: " % re.escape(path), count=2)
        assert fleet.lscd.ctl("show", "ap", "lsc-provision", "summary")[1] == before
        assert fleet.lscd.ctl_json("show", "ap", "summary")["run"] == N_APS
    finally:
        with open(path, "w") as f:
            f.write(good)
    rc, out = fleet.lscd.ctl("reload")
    assert out == "configuration reloaded from %s\n" % path


def test_mode_switch_persists_and_applies(fleet):
    rc, out = fleet.lscd.ctl("ap", "lsc-provision", "mode", "disabled")
    assert out == "LSC provisioning mode disabled (was provision-list)\n"
    assert config_of(fleet)["lsc_provision"]["mode"] == "disabled"
    assert fleet.lscd.ctl("show", "ap", "lsc-provision", "summary")[1].startswith(
        "AP LSC-provisioning : Disabled\n")
    # an operator re-provision is refused while disabled, with the reason
    proc = fleet.lscd.ctl_run("ap", "reprovision", mac_of(6))
    assert proc.returncode == 1 and "not eligible: provisioning mode is disabled" in proc.stderr
    rc, out = fleet.lscd.ctl("ap", "lsc-provision", "mode", "all")
    assert out == "LSC provisioning mode all (was disabled)\n"
    assert fleet.lscd.ctl("show", "ap", "lsc-provision", "summary")[1].startswith(
        "AP LSC-provisioning : Enabled for all APs\n")
    # every AP still on its MIC is provisioned now
    fleet.apsim.wait_status(lambda s: len(by_state(s, "run", "LSC")) == N_APS, 120, "all 12 APs on LSCs")
    wait_for(lambda: fleet.lscd.ctl_json("show", "ap", "summary")["lsc"] == N_APS, 60, "lscd to see 12 LSCs")
    rc, out = fleet.lscd.ctl("show", "ap", "summary")
    assert {r["Certificate Type"] for r in table(out)} == {"LSC"}
    assert len(fleet.lscd.ctl_json("show", "crypto", "pki", "timers")["timers"]) == N_APS
