"""Wireshark as an independent decoder of lscd's CAPWAP codec.

build/capwap_pcapgen encodes one of every control message lscd exchanges
(Cisco LSC payloads included, one message fragmented) into a pcap of
clear-text CAPWAP over UDP/IPv4 to port 5246, with a JSON manifest of what
it meant to write. tshark must decode the same message types, sequence
numbers, element types, vendor ids and Cisco element ids (spec section 2.7),
reassemble the fragmented message, and report nothing malformed.

Needs no network; `make e2e` runs it in the private namespace with the rest.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PCAPGEN = Path(os.environ.get("CAPWAP_PCAPGEN", ROOT / "build" / "capwap_pcapgen"))
CISCO = 0x00409600
SPAM_VENDOR = 104

FIELDS = [
    "frame.number",
    "capwap.control.header.message_type",
    "capwap.control.header.sequence_number",
    "capwap.control.header.message_element_length",
    "capwap.message_element.type",
    "capwap.control.message_element.vsp.vendor_identifier",
    "capwap.control.message_element.vsp.vendor_element_id",
    "capwap.control.cisco.element_id",
    "capwap.control.cisco.unknown",
    "capwap.header.flags.f",
    "capwap.fragment.count",
    "capwap.reassembled.length",
    "udp.srcport",
    "udp.dstport",
    "ip.checksum.status",
]


def run(cmd):
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {res.returncode}:\n{res.stderr}")
    return res.stdout


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    if shutil.which("tshark") is None:
        pytest.fail("tshark is not installed (make deps)")
    if not PCAPGEN.exists():
        pytest.fail(f"{PCAPGEN} missing: run `make build/capwap_pcapgen` first")
    tmp = tmp_path_factory.mktemp("codec")
    pcap, manifest = tmp / "capwap.pcap", tmp / "manifest.json"
    run([PCAPGEN, "-o", pcap, "-m", manifest])
    with open(manifest, encoding="utf-8") as f:
        return pcap, json.load(f)


def tshark_fields(pcap, *extra):
    cmd = ["tshark", "-n", "-r", str(pcap), "-o", "capwap.reassemble:TRUE",
           "-o", "ip.check_checksum:TRUE", "-T", "fields",
           "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for name in FIELDS:
        cmd += ["-e", name]
    cmd += list(extra)
    frames = {}
    for line in run(cmd).splitlines():
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        row = {name: (cols[i].split(",") if cols[i] else []) for i, name in enumerate(FIELDS)}
        frames[int(row["frame.number"][0])] = row
    return frames


def ints(values):
    return [int(v, 0) for v in values]


@pytest.fixture(scope="module")
def frames(capture):
    pcap, _ = capture
    return tshark_fields(pcap)


def test_every_frame_present(capture, frames):
    _, manifest = capture
    last = max(p["frames"][-1] for p in manifest["packets"])
    assert sorted(frames) == list(range(1, last + 1))
    # Every message type lscd exchanges is in the capture.
    types = {p["type"] for p in manifest["packets"]}
    assert types >= {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 17, 18}


def test_headers_types_and_sequence_numbers(capture, frames):
    _, manifest = capture
    for pkt in manifest["packets"]:
        row = frames[pkt["frames"][-1]]
        assert ints(row["capwap.control.header.message_type"]) == [pkt["type"]], pkt["name"]
        assert ints(row["capwap.control.header.sequence_number"]) == [pkt["seq"]], pkt["name"]


def test_message_element_length_is_bytes_plus_3(capture, frames):
    _, manifest = capture
    for pkt in manifest["packets"]:
        if pkt["fragmented"]:
            continue
        row = frames[pkt["frames"][0]]
        mel = ints(row["capwap.control.header.message_element_length"])
        assert mel == [pkt["length"] - pkt["hlen"] - 8 + 3], pkt["name"]
    # The Discovery Request carries a Radio MAC: HLEN 4 words (section 1.4).
    assert [p["hlen"] for p in manifest["packets"] if p["name"] == "discovery-request"] == [16]


def test_element_types_in_wire_order(capture, frames):
    _, manifest = capture
    for pkt in manifest["packets"]:
        row = frames[pkt["frames"][-1]]
        assert ints(row["capwap.message_element.type"]) == pkt["elements"], pkt["name"]


def test_vendor_payloads(capture, frames):
    _, manifest = capture
    seen_inner = set()
    for pkt in manifest["packets"]:
        row = frames[pkt["frames"][-1]]
        vsps = pkt["vsps"]
        assert ints(row["capwap.control.message_element.vsp.vendor_identifier"]) == \
            [v["vendor"] for v in vsps], pkt["name"]
        assert ints(row["capwap.control.message_element.vsp.vendor_element_id"]) == \
            [v["elem_id"] for v in vsps], pkt["name"]
        assert ints(row["capwap.control.cisco.element_id"]) == \
            [v["elem_id"] for v in vsps if v["vendor"] == CISCO], pkt["name"]
        # Wireshark shows 104's inner bytes raw: inner vendor, inner id.
        spam = [v for v in vsps if v["vendor"] == CISCO and v["elem_id"] == SPAM_VENDOR]
        raw = row["capwap.control.cisco.unknown"]
        assert len(raw) == len(spam), pkt["name"]
        for v, data in zip(spam, raw):
            data = data.replace(":", "").lower()
            assert v["inner_vendor"] == CISCO
            assert data.startswith("00409600%04x" % v["inner_id"]), (pkt["name"], data[:16])
            # Our bodies start with the Version sub-TLV, value 1 (section 3.2).
            assert data[12:22] == "0001000101", pkt["name"]
            seen_inner.add(v["inner_id"])
    assert all(v == 4232704 for p in manifest["packets"] for v in
               [x["vendor"] for x in p["vsps"]])
    assert seen_inner == {63, 64}
    names = {p["name"] for p in manifest["packets"] if p["vsps"]}
    assert {"update-lsc-params", "wtp-event-csr", "update-enroll-pending",
            "update-root-cert", "update-device-cert"} <= names


def test_fragmented_message_reassembled(capture, frames):
    _, manifest = capture
    frag = [p for p in manifest["packets"] if p["fragmented"]]
    assert len(frag) == 1
    pkt = frag[0]
    assert len(pkt["frames"]) >= 2
    for n in pkt["frames"]:
        assert frames[n]["capwap.header.flags.f"] == ["1"]
    for n in pkt["frames"][:-1]:
        # No control header until the message is whole.
        assert frames[n]["capwap.control.header.message_type"] == []
    last = frames[pkt["frames"][-1]]
    assert ints(last["capwap.fragment.count"]) == [len(pkt["frames"])]
    assert ints(last["capwap.reassembled.length"]) == [pkt["length"] - pkt["hlen"]]
    assert ints(last["capwap.control.header.message_type"]) == [pkt["type"]]


def test_udp_and_ip(capture, frames):
    _, manifest = capture
    for row in frames.values():
        ports = ints(row["udp.srcport"]) + ints(row["udp.dstport"])
        assert 5246 in ports
        # ip.check_checksum is on: 1 = good.
        assert row["ip.checksum.status"] == ["1"]


def expert_problems(pcap):
    flagged = run(["tshark", "-n", "-r", str(pcap), "-o", "capwap.reassemble:TRUE", "-Y",
                   "_ws.malformed or capwap.message_element.length.bad or "
                   "capwap.header.length.bad or _ws.expert.severity >= 0x00600000",
                   "-T", "fields", "-e", "frame.number"]).split()
    summary = run(["tshark", "-n", "-r", str(pcap), "-q", "-z", "expert"])
    bad_groups = [line for line in summary.splitlines()
                  if line.startswith(("Errors (", "Warnings (")) or "Malformed" in line]
    return flagged, bad_groups


def test_no_malformed_or_length_errors(capture):
    pcap, _ = capture
    flagged, bad_groups = expert_problems(pcap)
    assert flagged == []
    assert bad_groups == []


def test_checker_sees_a_broken_length(capture, tmp_path):
    """The expert check above must be able to fail: lie in one element length."""
    pcap, _ = capture
    data = bytearray(pcap.read_bytes())
    # The Result Code TLV of a Configuration Update Response.
    tlv = bytes.fromhex("0021000400000000")
    at = data.find(tlv)
    assert at > 0
    data[at + 3] = 5
    broken = tmp_path / "broken.pcap"
    broken.write_bytes(bytes(data))
    flagged, bad_groups = expert_problems(broken)
    assert flagged or bad_groups
