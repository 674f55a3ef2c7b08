"""A smoke run of lscd under valgrind (issue 8): DTLS joins, provisioning
through micromdm and a clean stop, with no invalid access and no memory
definitely lost by lscd's own code (valgrind's exit status 99 says
otherwise). Reachable memory that OpenSSL and libcurl keep until exit is
not a leak and is not counted."""
import os
import shutil

import pytest

from lscd_env import ROOT, Apsim, Lscd
from test_provision import ac_trust, provisioning


def test_lscd_under_valgrind_is_clean(test_pki, micromdm_ca, tmp_path):
    if not shutil.which("valgrind"):
        pytest.fail("valgrind is not installed (tools/install-deps.sh installs it)")
    log = os.path.join(str(tmp_path), "valgrind.log")
    ca = micromdm_ca()
    # the plain build: valgrind cannot run a program built with ASan
    plain = os.path.join(ROOT, "build", "lscd")
    lscd = Lscd(str(tmp_path), test_pki, provisioning(ca), binary=plain, wrapper=[
        "valgrind", "--quiet", "--leak-check=full", "--errors-for-leak-kinds=definite",
        "--show-leak-kinds=definite", "--error-exitcode=99", "--log-file=" + log])
    lscd.start()
    try:
        rc, out = Apsim(str(tmp_path), test_pki, lscd, ac_trust(tmp_path, test_pki, ca)).run(
            "-n", 3, "--expect", "lsc", "--timeout", 180)
        assert rc == 0, out[-2000:]
    finally:
        status = lscd.stop()
    with open(log) as f:
        report = f.read()
    assert status == 0, "valgrind found errors or leaks:\n" + report[-6000:]
    assert "definitely lost" not in report and "Invalid" not in report, report[-6000:]
