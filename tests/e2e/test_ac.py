"""The CAPWAP access controller (issue 4): real lscd and apsim processes on
loopback. DTLS, Join, Configure, Run and Echo with MICs; refusals before
Join; teardown of silent APs; the debug capture read back by tshark."""
import os
import random
import signal
import socket
import subprocess
import time

from lscd_env import Apsim, Lscd, by_state, wait_for


def test_one_ap_joins_reaches_run_and_keeps_echoing(test_pki, tmp_path):
    lscd = Lscd(str(tmp_path), test_pki, {"capwap": {"echo_interval_s": 1}}).start()
    try:
        rc, out = Apsim(str(tmp_path), test_pki, lscd).run("-n", 1, "--expect", "run",
                                                            "--hold", 3, "--timeout", 30)
        assert rc == 0, out
        st = Apsim(str(tmp_path), test_pki, lscd).status()
        ap = st["aps"][0]
        assert ap["state"] == "run" and ap["cert"] == "MIC"
        assert ap["joins_mic"] == 1 and ap["sessions_lost"] == 0
        # an Echo per second for the 3 s it was held in Run, all answered
        assert st["echo_rtt"]["samples"] >= 2
        assert lscd.count_log(r"ap 02:00:00:00:00:01: joined from 127\.1\.0\.1:\d+ with its MIC") == 1
        assert lscd.count_log(r"ap 02:00:00:00:00:01: in Run with its MIC") == 1
    finally:
        assert lscd.stop() == 0


def test_200_aps_join_and_keep_echoing(test_pki, tmp_path):
    lscd = Lscd(str(tmp_path), test_pki, {"capwap": {"echo_interval_s": 1}}).start()
    try:
        apsim = Apsim(str(tmp_path), test_pki, lscd)
        rc, out = apsim.run("-n", 200, "--concurrency", 64, "--expect", "run", "--hold", 3,
                            "--timeout", 120)
        assert rc == 0, out[-2000:]
        st = apsim.status()
        assert st["in_run"] == 200
        assert all(ap["sessions_lost"] == 0 for ap in st["aps"])
        assert len({ap["mac"] for ap in st["aps"]}) == 200
        # every AP echoed at least twice while held in Run
        assert st["echo_rtt"]["samples"] >= 400
        assert lscd.count_log(r"in Run with its MIC") == 200
    finally:
        assert lscd.stop() == 0


def test_silent_aps_are_torn_down_after_the_echo_timeout(test_pki, tmp_path):
    lscd = Lscd(str(tmp_path), test_pki, {"capwap": {"echo_interval_s": 1}}).start()
    apsim = Apsim(str(tmp_path), test_pki, lscd).start("-n", 20, "--duration", 120)
    try:
        lscd.wait_log(r"in Run with its MIC", count=20, timeout=60)
        apsim.stop(signal.SIGKILL)      # the APs vanish without a word
        # lscd gives up after two Echo intervals without a request
        lscd.wait_log(r"closed: no Echo Request for 2 s: AP presumed dead", count=20, timeout=30)
        assert lscd.alive()
    finally:
        apsim.stop()
        assert lscd.stop() == 0


def _good_ap_still_joins(tmp_path, test_pki, lscd):
    rc, out = Apsim(str(tmp_path), test_pki, lscd, name="good").run(
        "-n", 1, "--mac-base", "02:00:00:00:aa:01", "--src-base", "127.2.0.1",
        "--expect", "run", "--timeout", 30)
    assert rc == 0, out


def test_untrusted_mic_is_refused_before_join(test_pki, tmp_path):
    lscd = Lscd(str(tmp_path), test_pki).start()
    try:
        rc, out = Apsim(str(tmp_path), test_pki, lscd).run(
            "-n", 2, "--mic", "untrusted", "--expect", "run", "--timeout", 4)
        assert rc != 0
        assert "run 0" in out
        lscd.wait_log(r"DTLS peer 127\.1\.0\.\d+:\d+ CN=AIR-AP3802I-B-K9-02000000000\d refused before Join: "
                      r"certificate .* issued by CN=Untrusted Manufacturing CA.* refused: "
                      r"unable to get local issuer certificate")
        assert lscd.count_log(r"joined from") == 0
        _good_ap_still_joins(tmp_path, test_pki, lscd)
    finally:
        assert lscd.stop() == 0


def test_expired_mic_is_refused_before_join(test_pki, tmp_path):
    lscd = Lscd(str(tmp_path), test_pki).start()
    try:
        rc, out = Apsim(str(tmp_path), test_pki, lscd).run(
            "-n", 1, "--mic", "expired", "--expect", "run", "--timeout", 4)
        assert rc != 0
        lscd.wait_log(r"refused before Join: .*certificate has expired")
        assert lscd.count_log(r"joined from") == 0
        _good_ap_still_joins(tmp_path, test_pki, lscd)
    finally:
        assert lscd.stop() == 0


def test_garbage_is_dropped_and_others_are_served(test_pki, tmp_path):
    lscd = Lscd(str(tmp_path), test_pki, {"log_level": "debug"}).start()
    rng = random.Random(5246)
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.3.0.1", 0))
        # Bounded: 2000 datagrams of every preamble, length 0..1500.
        for i in range(2000):
            n = rng.randrange(0, 1500)
            data = bytearray(rng.getrandbits(8) for _ in range(n))
            if n and i % 3 == 0:
                data[0] = 0x00       # clear-text CAPWAP header
            elif n and i % 3 == 1:
                data[0] = 0x01       # CAPWAP DTLS header
            s.sendto(bytes(data), ("127.0.0.1", lscd.port))
        s.close()
        _good_ap_still_joins(tmp_path, test_pki, lscd)
        assert lscd.alive()
        # dropped quietly: counted, logged at most once per 10 s per kind
        assert lscd.count_log(r"dropped") < 50
    finally:
        assert lscd.stop() == 0


def test_ipv6_discovery_is_answered(test_pki, tmp_path):
    port6 = random.randrange(20000, 60000)
    lscd = Lscd(str(tmp_path), test_pki).start()
    lscd.stop()
    lscd.config["listen"] = ["127.0.0.1:%d" % lscd.port, "[::1]:%d" % port6]
    lscd.write_config()
    lscd.start()
    try:
        lscd.wait_log(r"listening for CAPWAP control on \[::1\]:%d" % port6)
        # A minimal Discovery Request built by hand, independent of capwap/.
        def tlv(kind, value):
            return kind.to_bytes(2, "big") + len(value).to_bytes(2, "big") + value

        def sub(vendor, kind, value):
            return vendor + tlv(kind, value)
        cisco = b"\x00\x40\x96\x00"
        elems = b"".join([
            tlv(20, b"\x01"),                                               # Discovery Type
            tlv(38, cisco + tlv(0, b"AP") + tlv(1, b"SN01")),               # WTP Board Data
            tlv(39, b"\x02\x02\x01" + b"\x01\x00\x00" + sub(cisco, 0, b"hw1") +
                sub(cisco, 1, b"sw1") + sub(cisco, 2, b"b1")),              # WTP Descriptor
            tlv(41, b"\x04"),                                               # Frame Tunnel Mode
            tlv(44, b"\x01"),                                               # MAC Type
            tlv(1048, b"\x01\x00\x00\x00\x0d"),                             # Radio Information
        ])
        header = b"\x00\x10\x02\x00\x00\x00\x00\x00"
        ctrl = b"\x00\x00\x00\x01\x2a" + (len(elems) + 3).to_bytes(2, "big") + b"\x00"
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.settimeout(5)
        s.sendto(header + ctrl + elems, ("::1", port6))
        reply, peer = s.recvfrom(4096)
        s.close()
        assert peer[1] == port6
        assert reply[0] == 0x00
        hlen = (reply[1] >> 3) * 4
        assert int.from_bytes(reply[hlen:hlen + 4], "big") == 2     # Discovery Response
        assert reply[hlen + 4] == 0x2a                              # same sequence number
        assert b"\x00\x0b\x00\x12" + socket.inet_pton(socket.AF_INET6, "::1") in reply  # Control IPv6
    finally:
        assert lscd.stop() == 0


def test_debug_capture_decodes_in_tshark(test_pki, tmp_path):
    pcap = os.path.join(str(tmp_path), "capture.pcap")
    lscd = Lscd(str(tmp_path), test_pki, {"capwap": {"echo_interval_s": 1},
                                          "debug": {"capture_pcap": pcap}}).start()
    try:
        rc, out = Apsim(str(tmp_path), test_pki, lscd).run("-n", 1, "--expect", "run",
                                                            "--hold", 2, "--timeout", 30)
        assert rc == 0, out
        assert "DEBUG CAPTURE ON" in lscd.log()
    finally:
        assert lscd.stop() == 0
    assert os.stat(pcap).st_mode & 0o777 == 0o600
    fields = subprocess.run(
        ["tshark", "-r", pcap, "-d", "udp.port==%d,capwap" % lscd.port, "-T", "fields", "-E", "separator=|",
         "-e", "capwap.control.header.message_type", "-e", "capwap.control.header.sequence_number",
         "-e", "capwap.message_element.type", "-e", "_ws.expert.message"],
        capture_output=True, text=True, check=True).stdout.splitlines()
    packets = [line.split("|") for line in fields if line]
    types = [int(p[0]) for p in packets]
    for expected in (1, 2, 3, 4, 5, 6, 11, 12, 13, 14):
        assert expected in types, "message type %d missing from %s" % (expected, types)

    def elements(msg_type):
        return {int(e) for p in packets if int(p[0]) == msg_type for e in p[2].split(",") if e}
    assert {28, 38, 39, 45, 35, 41, 44, 1048, 53} <= elements(3)    # Join Request
    assert {33, 1, 4, 1048, 53, 10} <= elements(4)                  # Join Response
    assert {4, 31, 36, 48} <= elements(5)                           # Configuration Status Request
    assert {12, 16, 23, 40} <= elements(6)                          # Configuration Status Response
    assert {32, 33} <= elements(11)                                 # Change State Event Request
    # a response carries its request's sequence number
    seq = {(int(p[0]), int(p[1])) for p in packets}
    for req, resp in ((3, 4), (5, 6), (11, 12), (13, 14)):
        assert {s for t, s in seq if t == req} == {s for t, s in seq if t == resp}
    assert not [p for p in packets if p[3]], "tshark reported problems: %s" % [p for p in packets if p[3]]


def test_dtls_key_log_decrypts_a_live_capture(test_pki, tmp_path):
    """tshark captures the real, encrypted traffic on lscd's port; with the
    key log lscd wrote it decrypts the DTLS records (tshark 4.0 then shows
    the CAPWAP bytes as data: DTLS cannot hand them to its CAPWAP dissector,
    which is what the decrypted debug capture above is for)."""
    keylog = os.path.join(str(tmp_path), "keys.log")
    raw = os.path.join(str(tmp_path), "raw.pcap")
    lscd = Lscd(str(tmp_path), test_pki, {"capwap": {"echo_interval_s": 1},
                                          "debug": {"dtls_keylog": keylog}}).start()
    cap = subprocess.Popen(["tshark", "-i", "lo", "-f", "udp port %d" % lscd.port, "-w", raw],
                           stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: "Capturing on" in cap.stderr.readline(), 30, "tshark to start capturing")
        rc, out = Apsim(str(tmp_path), test_pki, lscd).run("-n", 1, "--expect", "run", "--hold", 1,
                                                            "--timeout", 30)
        assert rc == 0, out
        assert "DTLS KEY LOG ON" in lscd.log()
    finally:
        time.sleep(0.5)     # let tshark write the last packets before it stops
        cap.terminate()
        cap.wait(timeout=30)
        assert lscd.stop() == 0
    assert os.stat(keylog).st_mode & 0o777 == 0o600
    with open(keylog) as f:
        assert f.read().startswith("CLIENT_RANDOM ")

    def payloads(with_keys):
        opts = ["-o", "tls.keylog_file:" + keylog] if with_keys else []
        return subprocess.run(["tshark", "-r", raw, "-d", "udp.port==%d,capwap" % lscd.port, *opts,
                               "-T", "fields", "-e", "data.data"],
                              capture_output=True, text=True, check=True).stdout
    # the Join Request's WTP Name is readable only with the key log
    name = b"AP0200.0000.0001".hex()
    assert name not in payloads(False)
    assert name in payloads(True)
