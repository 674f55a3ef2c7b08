"""Hostile peers (issue 8): floods, fragments designed to exhaust memory,
replays, garbage inside DTLS, unsolicited CSRs, peers that stall. lscd
stays up, keeps serving well-behaved APs, and logs each case once rather
than per packet. tests/drivers/hostile_wtp.c plays the hostile peer."""
import json
import os
import subprocess

from lscd_env import BUILD, Apsim, Lscd

HOSTILE = os.path.join(BUILD, "hostile_wtp")


def hostile(test_pki, lscd, mode, count=1, mac="02:00:00:00:ee:01", src="127.9.0.1", timeout=120):
    proc = subprocess.run([HOSTILE, "--ac", lscd.address, "--mfg-ca-cert", test_pki.mfg_ca,
                           "--mfg-ca-key", test_pki.mfg_key, "--ac-trust", test_pki.mfg_ca,
                           "--mac", mac, "--src", src, "--mode", mode, "--count", str(count)],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def good_ap_joins(tmp_path, test_pki, lscd, n=3):
    rc, out = Apsim(str(tmp_path), test_pki, lscd, name="good").run(
        "-n", n, "--mac-base", "02:00:00:00:aa:01", "--src-base", "127.2.0.1",
        "--expect", "run", "--timeout", 60)
    assert rc == 0, out[-2000:]


def test_hello_flood_costs_no_state(test_pki, tmp_path):
    lscd = Lscd(str(tmp_path), test_pki).start()
    try:
        out = hostile(test_pki, lscd, "hello-flood", 500)
        # every ClientHello got a stateless HelloVerifyRequest ...
        assert out["cookies"] == 500
        # ... and none of them became a session that later had to time out
        good_ap_joins(tmp_path, test_pki, lscd)
        assert lscd.count_log(r"refused before Join") == 0
        assert lscd.alive()
    finally:
        assert lscd.stop() == 0


def test_handshake_flood_from_one_address_is_rate_limited(test_pki, tmp_path):
    lscd = Lscd(str(tmp_path), test_pki, {"limits": {"handshakes_per_source": 5}}).start()
    try:
        out = hostile(test_pki, lscd, "handshake-flood", 80)
        assert out["cookies"] == 80
        # far fewer than sent were admitted to a handshake
        assert out["server_flights"] < 80
        assert lscd.count_log(r"refused: handshakes_per_source exceeded") >= 1
        # refusals are logged once per 10 s window, not per packet
        assert lscd.count_log(r"refused: handshakes_per_source") <= 3
        good_ap_joins(tmp_path, test_pki, lscd)
        assert lscd.alive()
    finally:
        assert lscd.stop() == 0


def test_fragments_designed_to_exhaust_memory_are_dropped(test_pki, tmp_path):
    # a long Echo interval: these peers send fragments, not Echo Requests,
    # for a while, and lscd rightly drops an AP that stops echoing
    lscd = Lscd(str(tmp_path), test_pki, {"capwap": {"echo_interval_s": 60}}).start()
    try:
        for mode, n in (("frag-overlap", 200), ("frag-endless", 2000), ("frag-oversized", 20)):
            out = hostile(test_pki, lscd, mode, n)
            assert out["echo_after"], "%s: the session stopped answering" % mode
        good_ap_joins(tmp_path, test_pki, lscd)
        assert lscd.alive()
        # overlapping and oversized sets are each reported, at most once per 10 s
        assert 1 <= lscd.count_log(r"dropped: .*(overlap|fragment|limit|too large|exceed)") <= 6
    finally:
        assert lscd.stop() == 0


def test_duplicate_requests_are_answered_from_the_cache(test_pki, tmp_path):
    lscd = Lscd(str(tmp_path), test_pki).start()
    try:
        out = hostile(test_pki, lscd, "replay", 5)
        assert out["answers"] == 5            # each copy answered again
        out = hostile(test_pki, lscd, "stale", mac="02:00:00:00:ee:02", src="127.9.0.2")
        assert out["result"] >= 0              # the current one was answered
        assert out["answers"] == 0             # an older sequence number is ignored
        assert out["echo_after"]
    finally:
        assert lscd.stop() == 0


def test_unknown_and_unexpected_requests_get_result_codes(test_pki, tmp_path):
    lscd = Lscd(str(tmp_path), test_pki).start()
    try:
        out = hostile(test_pki, lscd, "unknown-request")
        assert out["response_type"] == 100 and out["result"] == 19   # Unrecognized Request
        out = hostile(test_pki, lscd, "join-twice", mac="02:00:00:00:ee:02", src="127.9.0.2")
        assert out["response_type"] == 4 and out["result"] == 18     # Invalid in current state
        assert out["echo_after"]
    finally:
        assert lscd.stop() == 0


def test_garbage_inside_dtls_is_dropped_and_logged_once(test_pki, tmp_path):
    lscd = Lscd(str(tmp_path), test_pki, {"capwap": {"echo_interval_s": 60}}).start()
    try:
        out = hostile(test_pki, lscd, "garbage", 500)
        assert out["echo_after"]
        assert 1 <= lscd.count_log(r"ap 02:00:00:00:ee:01 .*dropped") <= 2
        assert lscd.alive()
    finally:
        assert lscd.stop() == 0


def test_unsolicited_csrs_are_refused_and_logged_once(test_pki, micromdm_ca, tmp_path):
    ca = micromdm_ca()
    lscd = Lscd(str(tmp_path), test_pki, {
        "trustpoints": {"AP-LSC": {"enrollment_url": ca.url, "ca_fingerprint_sha256": ca.pin}},
        "lsc_provision": {"mode": "provision-list", "trustpoint": "AP-LSC",
                          "subject": {"country": "US"}, "provision_list": []}}).start()
    try:
        out = hostile(test_pki, lscd, "csr-flood", 50)
        assert out["answers"] == 50           # every WTP Event Request answered
        assert out["echo_after"]
    finally:
        assert lscd.stop() == 0
    # the first refusal in full, the rest counted once at the end of the session
    assert lscd.count_log(r"ap 02:00:00:00:ee:01: CSR refused: the AP is not eligible") == 1
    assert lscd.count_log(r"ap 02:00:00:00:ee:01: 49 more CSRs refused in this session") == 1
    assert os.listdir(ca.depot) and not [f for f in os.listdir(ca.depot) if f.startswith("HOSTILE")]


def test_peer_that_stalls_after_run_is_torn_down(test_pki, tmp_path):
    lscd = Lscd(str(tmp_path), test_pki, {"capwap": {"echo_interval_s": 1}}).start()
    try:
        out = hostile(test_pki, lscd, "stall", 10)
        assert out["closed_by_ac"]
        lscd.wait_log(r"ap 02:00:00:00:ee:01: session from .* closed: no Echo Request for 2 s")
    finally:
        assert lscd.stop() == 0
