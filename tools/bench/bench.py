#!/usr/bin/python3
"""lscd benchmarks (issue 7): five figures, each a ratio against a baseline
measured in the same run on the same machine.

  1. fleet provisioning: N APs MIC -> LSC through lscd vs the same N CSRs
     enrolled directly by pki_driver at the same CA and concurrency
  2. join capacity: lscd CPU seconds per DTLS join vs one RSA-2048 sign
  3. memory: lscd VmRSS per AP session in Run
  4. responsiveness: Echo RTT of idle APs while others are provisioned
  5. cost growth: 1 and 3 at N = 100, 1000, 5000

Run by tools/bench.sh inside a private network namespace (loopback only).
Prints figures; never fails on them. Exits 1 only if a figure could not be
measured at all. Environment:
  BENCH_QUICK=1        small N, one run each (a smoke check, ~3 min)
  BENCH_REPS=N         runs per figure (default 3)
  BENCH_ONLY=1,2,...   only these figures (5 needs 1 and 3)
  BENCH_BUDGET_S=S     wall-clock budget; optional runs are skipped past it
  BENCH_OUT=DIR        where results go (default build/bench/run-<time>)
  BENCH_CA_CPUS=LIST   taskset CPU list for scepserver ("none": unpinned; default 0)
  BENCH_CONCURRENCY=N  enrolments in flight (trustpoint max_concurrent and
                       pki_driver --max-concurrent; default 4, lscd's default)
"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procs  # noqa: E402
from procs import BenchError, Lscd, Apsim, Micromdm  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK", "0") not in ("", "0")
REPS = int(os.environ.get("BENCH_REPS", "1" if QUICK else "3"))
ONLY = set(os.environ.get("BENCH_ONLY", "1,2,3,4,5").replace(" ", "").split(","))
BUDGET_S = float(os.environ.get("BENCH_BUDGET_S", "600" if QUICK else "1500"))
CA_CPUS = os.environ.get("BENCH_CA_CPUS", "0")
CA_CPUS = None if CA_CPUS in ("", "none") else CA_CPUS
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
KEEP = os.environ.get("BENCH_KEEP", "0") not in ("", "0")
KEEP_RUNS = 5

if QUICK:
    FIG1_N, FIG1_SIZES = 100, [50, 100]
    FIG2_N = 300
    FIG3_N, FIG3_SIZES = 500, [100, 500]
    FIG4_IDLE, FIG4_PROV = 100, 200
else:
    FIG1_N, FIG1_SIZES = 1000, [100, 1000, 5000]
    FIG2_N = 2000
    FIG3_N, FIG3_SIZES = 5000, [100, 1000, 5000]
    FIG4_IDLE, FIG4_PROV = 500, 1000

SUBJECT = {"country": "US", "state": "California", "city": "San Jose",
           "organization": "Example Wireless", "department": "Access", "email": "wifi@example.org"}
T0 = time.monotonic()


def elapsed():
    return time.monotonic() - T0


def log(msg):
    print("[%6.1fs] %s" % (elapsed(), msg), flush=True)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def trim(d):
    """After a run was measured: drop what is bulky and no longer needed
    (the CAs' issued certificates, the CSRs), keep logs, configs, status
    files and databases. BENCH_KEEP=1 keeps everything."""
    if KEEP:
        return
    for name in os.listdir(d):
        path = os.path.join(d, name)
        if name == "csrs":
            shutil.rmtree(path, ignore_errors=True)
        elif name.startswith("ca") and os.path.isdir(os.path.join(path, "depot")):
            shutil.rmtree(os.path.join(path, "depot"), ignore_errors=True)


def prune_old_runs(parent, keep):
    """Results of all but the last `keep` runs in build/bench/ go."""
    runs = sorted(x for x in os.listdir(parent) if x.startswith("run-"))
    for old in runs[:-keep] if len(runs) > keep else []:
        shutil.rmtree(os.path.join(parent, old), ignore_errors=True)


def wait_rusage(proc, timeout):
    """Wait for a child and return its CPU seconds (user + system)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return ru.ru_utime + ru.ru_stime
        if time.monotonic() > deadline:
            procs.stop(proc)
            raise BenchError("pid %d did not finish in %s s" % (proc.pid, timeout))
        time.sleep(0.05)


class Bench:
    def __init__(self, out):
        self.out = out
        os.makedirs(out, exist_ok=True)
        self.pki = procs.TestPki(os.path.join(out, "pki"))
        self.keypool = os.path.join(procs.BUILD, "bench", "keypool.pem")
        self.results = {"machine": procs.machine(), "quick": QUICK, "reps": REPS,
                        "ca_cpus": CA_CPUS, "concurrency": CONCURRENCY, "figures": {}}
        self.seq = 0

    def workdir(self, name):
        self.seq += 1
        d = os.path.join(self.out, "runs", "%02d-%s" % (self.seq, name))
        os.makedirs(d, exist_ok=True)
        return d

    # ---- key pool ------------------------------------------------------------

    def ensure_keys(self, lsc_keys):
        """The apsim key pool holds 64 MIC keys and one key per LSC CSR. It is
        generated once (2 processes) and cached in build/bench/keypool.pem."""
        need = lsc_keys + 64
        have = procs.keypool_count(self.keypool)
        if have >= need:
            return 0.0
        os.makedirs(os.path.dirname(self.keypool), exist_ok=True)
        seed = os.path.join(procs.BUILD, "keypool.pem")
        if have == 0 and os.path.exists(seed):
            with open(seed, "rb") as src, open(self.keypool, "wb") as dst:
                dst.write(src.read())
            have = procs.keypool_count(self.keypool)
            if have >= need:
                return 0.0
        log("generating %d RSA-2048 keys into %s (once; cached for later runs)" % (need - have, self.keypool))
        t = time.monotonic()
        # apsim grows the pool at start; it then runs 1 s against nobody.
        d = self.workdir("keypool")
        proc = subprocess.run([procs.APSIM, "--ac", "127.0.0.1:9", "--mfg-ca-cert", self.pki.mfg_ca,
                               "--mfg-ca-key", self.pki.mfg_key, "--ac-trust", self.pki.mfg_ca,
                               "--keypool", self.keypool, "--lsc-keys", str(lsc_keys), "-n", "1",
                               "--duration", "1", "-q"], capture_output=True, text=True,
                              timeout=1800, cwd=d)
        if proc.returncode != 0 or procs.keypool_count(self.keypool) < need:
            raise BenchError("key pool generation failed: %s" % proc.stderr[-1000:])
        took = time.monotonic() - t
        log("key pool: %d keys in %.0f s" % (procs.keypool_count(self.keypool), took))
        self.results.setdefault("keypool_generation_s", 0.0)
        self.results["keypool_generation_s"] += took
        return took

    # ---- figure 1: fleet provisioning ---------------------------------------

    def ac_trust(self, d, ca):
        path = os.path.join(d, "ac-trust.pem")
        with open(path, "w") as out:
            for pem in (self.pki.mfg_ca, ca.ca_pem):
                with open(pem) as f:
                    out.write(f.read())
        return path

    def provisioning_config(self, ca, mode="all", list_file=None):
        tps = {"AP-LSC": {"enrollment_url": ca.url, "ca_fingerprint_sha256": ca.pin,
                          "max_concurrent": CONCURRENCY},
               "WLC": {"enrollment_url": ca.url, "subject": "C=US,O=lscd bench,CN=lscd-wlc",
                       "ca_fingerprint_sha256": ca.pin}}
        lsc = {"mode": mode, "trustpoint": "AP-LSC", "join_attempts": 3, "subject": SUBJECT}
        if list_file is not None:
            lsc["provision_list_file"] = list_file
        return {"trustpoints": tps, "lsc_provision": lsc}

    def fig1_proxy(self, n, d):
        """N APs from MIC to LSC through lscd. Returns the measurement and
        the directory of the CSRs the APs sent."""
        ca = Micromdm(os.path.join(d, "ca-proxy"), CA_CPUS)
        lscd = apsim = None
        try:
            lscd = Lscd(os.path.join(d, "lscd"), self.pki, self.provisioning_config(ca)).start()
            csr_dir = os.path.join(d, "csrs")
            os.makedirs(csr_dir, exist_ok=True)
            apsim = Apsim(d, self.pki, lscd, self.keypool, self.ac_trust(d, ca))
            l0, c0 = lscd.cpu(), ca.cpu()
            m0, load0, t0 = procs.machine_busy_s(), os.getloadavg()[0], time.monotonic()
            w0 = procs.cpu_wait_s(lscd.proc.pid)
            timeout = 120 + n // 5
            apsim.start("-n", n, "--expect", "lsc", "--timeout", timeout, "--hold", 3,
                        "--csr-dir", csr_dir, "--lsc-keys", n)
            st = apsim.wait_status(lambda s: s.get("done_s") is not None, timeout + 600,
                                   "%d APs on LSCs" % n)
            l1, c1, a1 = lscd.cpu(), ca.cpu(), apsim.cpu()
            m1, t1 = procs.machine_busy_s(), time.monotonic()
            w1 = procs.cpu_wait_s(lscd.proc.pid)
            apsim.wait_exit(60)
            done = st["done_s"]
            lsc_times = sorted(ap["first_lsc_run_ms"] for ap in st["aps"])
            retries = lscd.db_count("SELECT COUNT(*) FROM audit WHERE event = 'enroll-retry'")
            # APs whose enrolment micromdm failed at least once wait lscd's
            # 5 s retry: the time by which every other AP was on its LSC
            # shows lscd's pace without micromdm's depot races.
            retried = set(lscd.db_rows("SELECT DISTINCT mac FROM audit WHERE event = 'enroll-retry'"))
            clean = [ap["first_lsc_run_ms"] for ap in st["aps"]
                     if ap["mac"].replace(":", "") not in retried]
            clean_s = max(clean) / 1000 if clean else None
            issued = lscd.db_count("SELECT COUNT(*) FROM audit WHERE event = 'cert-issued'")
            return {
                "n": n, "time_s": done, "aps_per_s": n / done,
                "retried_aps": len(retried), "time_without_retried_s": clean_s,
                "aps_per_s_without_retried": len(clean) / clean_s if clean_s else None,
                "first_lsc_s": lsc_times[0] / 1000, "median_lsc_s": lsc_times[len(lsc_times) // 2] / 1000,
                "lscd_cpu_s": l1 - l0, "apsim_cpu_s": st["done_cpu_s"], "ca_cpu_s": c1 - c0,
                "ca_failed": ca.depot_races(), "lscd_enroll_retries": retries,
                "certs_issued": issued, "loadavg_at_start": load0,
                # everything else on the machine (other tenants, this script)
                # over the same interval; apsim's status lags by up to 1 s
                "others_cpu_s": max(0.0, (m1 - m0) - (l1 - l0) - (c1 - c0) - a1),
                "interval_s": t1 - t0, "lscd_waited_for_cpu_s": w1 - w0,
            }, csr_dir
        finally:
            if apsim is not None:
                apsim.stop()
            if lscd is not None:
                lscd.stop()
            ca.stop()

    def fig1_direct(self, n, d, csr_dir):
        """The same CSRs enrolled directly by pki_driver (one libevent loop,
        the same pki/ SCEP client, the same concurrency) at a fresh CA."""
        ca = Micromdm(os.path.join(d, "ca-direct"), CA_CPUS)
        try:
            c0 = ca.cpu()
            m0, load0, t0 = procs.machine_busy_s(), os.getloadavg()[0], time.monotonic()
            out = os.path.join(d, "direct.json")
            with open(out, "w") as f:
                proc = subprocess.Popen([procs.PKI_DRIVER, "concurrent", "--dir", os.path.join(d, "direct-tp"),
                                         "--name", "AP-LSC", "--url", ca.url, "--pin", ca.pin,
                                         "--csr-dir", csr_dir, "--max-concurrent", str(CONCURRENCY)],
                                        stdout=f, stderr=subprocess.DEVNULL, cwd=d)
                cpu = wait_rusage(proc, 600 + n)
            c1 = ca.cpu()
            m1, t1 = procs.machine_busy_s(), time.monotonic()
            with open(out) as f:
                lines = [l for l in f if l.startswith("{")]
            if not lines:
                raise BenchError("pki_driver printed nothing (rc %s)" % proc.returncode)
            r = json.loads(lines[-1])
            if r.get("count") != n:
                raise BenchError("pki_driver enrolled %s CSRs, not %d: %s" % (r.get("count"), n, r.get("reason")))
            t = r["elapsed_ms"] / 1000
            failed = [x for x in r["results"] if x.get("status") != "OK"]
            return {"n": n, "time_s": t, "certs_per_s": r["ok"] / t, "ok": r["ok"], "failed": len(failed),
                    "ca_failed": ca.depot_races(), "driver_cpu_s": cpu, "ca_cpu_s": c1 - c0,
                    "loadavg_at_start": load0, "interval_s": t1 - t0,
                    "others_cpu_s": max(0.0, (m1 - m0) - cpu - (c1 - c0))}
        finally:
            ca.stop()

    def fig1(self, n, reps):
        self.ensure_keys(n)
        runs = []
        for r in range(reps):
            if r > 0 and elapsed() > BUDGET_S * 0.75:
                log("fig1 N=%d: %d run(s) only (%.0f s used of %.0f)" % (n, r, elapsed(), BUDGET_S))
                break
            d = self.workdir("fig1-n%d-r%d" % (n, r + 1))
            proxy, csr_dir = self.fig1_proxy(n, d)
            ncsr = len([x for x in os.listdir(csr_dir) if x.endswith(".csr")])
            if ncsr != n:
                raise BenchError("apsim wrote %d CSRs, not %d" % (ncsr, n))
            direct = self.fig1_direct(n, d, csr_dir)
            ratio = proxy["aps_per_s"] / direct["certs_per_s"]
            trim(d)
            runs.append({"proxy": proxy, "direct": direct, "ratio": ratio})
            log("fig1 N=%d run %d: proxy %.1f APs/s (%.2f s, lscd %.2f CPU-s, %d CA failures, %d retries), "
                "direct %.1f certs/s (%.2f s, %d failed); ratio %.2f"
                % (n, r + 1, proxy["aps_per_s"], proxy["time_s"], proxy["lscd_cpu_s"], proxy["ca_failed"],
                   proxy["lscd_enroll_retries"], direct["certs_per_s"], direct["time_s"], direct["failed"], ratio))
        return {"n": n, "runs": runs,
                "median": {"proxy_aps_per_s": median([x["proxy"]["aps_per_s"] for x in runs]),
                           "direct_certs_per_s": median([x["direct"]["certs_per_s"] for x in runs]),
                           "ratio": median([x["ratio"] for x in runs]),
                           "proxy_time_s": median([x["proxy"]["time_s"] for x in runs]),
                           "proxy_aps_per_s_without_retried": median([x["proxy"]["aps_per_s_without_retried"] for x in runs]),
                           "ratio_without_retried": median([x["proxy"]["aps_per_s_without_retried"] / x["direct"]["certs_per_s"]
                                                            for x in runs if x["proxy"]["aps_per_s_without_retried"]]),
                           "direct_time_s": median([x["direct"]["time_s"] for x in runs]),
                           "lscd_cpu_ms_per_ap": median([1000 * x["proxy"]["lscd_cpu_s"] / n for x in runs]),
                           "apsim_cpu_ms_per_ap": median([1000 * x["proxy"]["apsim_cpu_s"] / n for x in runs]),
                           "ca_cpu_ms_per_cert_proxy": median([1000 * x["proxy"]["ca_cpu_s"] / n for x in runs]),
                           "ca_cpu_ms_per_cert_direct": median([1000 * x["direct"]["ca_cpu_s"] / n for x in runs]),
                           "driver_cpu_ms_per_cert": median([1000 * x["direct"]["driver_cpu_s"] / n for x in runs]),
                           "others_cpu_share_proxy": median([x["proxy"]["others_cpu_s"] / x["proxy"]["interval_s"] for x in runs]),
                           "others_cpu_share_direct": median([x["direct"]["others_cpu_s"] / x["direct"]["interval_s"] for x in runs]),
                           # One core each, as on real hardware (the APs are
                           # not the controller's CPU): throughput is the
                           # slowest party's CPU capacity.
                           "capacity_ratio": median([
                               min(1000 / (1000 * x["proxy"]["lscd_cpu_s"] / n), 1000 / (1000 * x["proxy"]["ca_cpu_s"] / n)) /
                               min(1000 / (1000 * x["direct"]["driver_cpu_s"] / n), 1000 / (1000 * x["direct"]["ca_cpu_s"] / n))
                               for x in runs])}}

    # ---- figure 2: join capacity ---------------------------------------------

    def client_mic(self):
        """A MIC like apsim's (CN with the MAC, clientAuth), made with the
        openssl CLI, for the DTLS floor's client."""
        d = os.path.join(self.out, "pki")
        cert, key = os.path.join(d, "floor-mic.pem"), os.path.join(d, "floor-mic.key")
        if not os.path.exists(cert):
            ext = os.path.join(d, "floor-mic.cnf")
            with open(ext, "w") as f:
                f.write("[ext]\nbasicConstraints = CA:FALSE\n"
                        "keyUsage = critical, digitalSignature, keyEncipherment\n"
                        "extendedKeyUsage = clientAuth\n")
            csr = os.path.join(d, "floor-mic.csr")
            subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                            "-subj", "/O=apsim manufacturing/CN=AIR-AP3802I-B-K9-0200000000FF", "-out", csr],
                           check=True, capture_output=True)
            subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", self.pki.mfg_ca, "-CAkey", self.pki.mfg_key,
                            "-set_serial", "4242", "-days", "365", "-sha256", "-extfile", ext, "-extensions", "ext",
                            "-out", cert], check=True, capture_output=True)
        return cert, key

    def dtls_floor(self, n=1000):
        """Server-side CPU of one DTLS handshake in capwap/dtls.c alone."""
        exe = os.path.join(procs.BUILD, "bench", "dtls_floor")
        if not os.access(exe, os.X_OK):
            return None
        cert, key = self.client_mic()
        out = subprocess.run([exe, "--cert", self.pki.wlc_cert, "--key", self.pki.wlc_key, "--mic-ca", self.pki.mfg_ca,
                              "--client-cert", cert, "--client-key", key, "--ac-trust", self.pki.mfg_ca, "-n", str(n)],
                             capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            log("dtls_floor failed: %s" % out.stderr[-500:])
            return None
        return json.loads(out.stdout.strip().splitlines()[-1])["server_cpu_ms_per_handshake"]

    def fig2(self, n, reps):
        self.ensure_keys(0)
        runs = []
        for r in range(reps):
            d = self.workdir("fig2-n%d-r%d" % (n, r + 1))
            sign_per_s = procs.openssl_speed_rsa2048(3)
            floor_ms = self.dtls_floor()
            lscd = Lscd(os.path.join(d, "lscd"), self.pki, {"capwap": {"echo_interval_s": 120}}).start()
            apsim = Apsim(d, self.pki, lscd, self.keypool)
            try:
                time.sleep(0.5)
                c0, ns0 = lscd.cpu(), lscd.cpu_ns()
                load0 = os.getloadavg()[0]
                apsim.start("-n", n, "--expect", "run", "--timeout", 120 + n // 10, "--hold", 3,
                            "--lsc-keys", 0)
                st = apsim.wait_status(lambda s: s.get("done_s") is not None, 300 + n // 10,
                                       "%d APs in Run" % n)
                c1, ns1 = lscd.cpu(), lscd.cpu_ns()
                apsim.wait_exit(60)
            finally:
                apsim.stop()
                lscd.stop()
            joins = sum(ap["joins_mic"] + ap["joins_lsc"] for ap in st["aps"])
            failures = sum(ap["dtls_failures"] for ap in st["aps"])
            cpu_per_join = (c1 - c0) / joins
            sign_s = 1 / sign_per_s
            run = {"n": n, "joins": joins, "dtls_failures": failures, "time_s": st["done_s"],
                   "joins_per_s": joins / st["done_s"], "lscd_cpu_s": c1 - c0,
                   "lscd_cpu_s_schedstat": (ns1 - ns0) / 1e9 if ns0 is not None and ns1 is not None else None,
                   "lscd_cpu_ms_per_join": 1000 * cpu_per_join, "apsim_cpu_ms_per_join": 1000 * st["done_cpu_s"] / joins,
                   "lscd_busy": (c1 - c0) / st["done_s"], "rsa2048_sign_per_s": sign_per_s,
                   "rsa2048_sign_ms": 1000 * sign_s, "ratio": sign_s / cpu_per_join,
                   "dtls_floor_ms": floor_ms,
                   "floor_ratio": (sign_s * 1000 / floor_ms) if floor_ms else None,
                   "lscd_joins_per_cpu_s": 1 / cpu_per_join, "loadavg_at_start": load0}
            runs.append(run)
            log("fig2 run %d: %d joins in %.2f s (%.0f/s), lscd %.3f ms CPU/join (busy %.0f%%), "
                "RSA-2048 sign %.3f ms (%.0f/s): ratio %.2f; DTLS floor %s ms/handshake"
                % (r + 1, joins, run["time_s"], run["joins_per_s"], run["lscd_cpu_ms_per_join"],
                   100 * run["lscd_busy"], run["rsa2048_sign_ms"], sign_per_s, run["ratio"], fmt(floor_ms, "%.3f")))
        return {"n": n, "runs": runs,
                "median": {k: median([x[k] for x in runs]) for k in
                           ("joins_per_s", "lscd_cpu_ms_per_join", "apsim_cpu_ms_per_join", "rsa2048_sign_per_s",
                            "rsa2048_sign_ms", "ratio", "lscd_joins_per_cpu_s", "lscd_busy", "dtls_floor_ms",
                            "floor_ratio")}}

    # ---- figure 3: memory ----------------------------------------------------

    def fig3(self, n, reps):
        self.ensure_keys(0)
        runs = []
        for r in range(reps):
            d = self.workdir("fig3-n%d-r%d" % (n, r + 1))
            lscd = Lscd(os.path.join(d, "lscd"), self.pki, {"capwap": {"echo_interval_s": 30}}).start()
            apsim = Apsim(d, self.pki, lscd, self.keypool)
            try:
                time.sleep(1)
                rss0 = lscd.rss_kib()
                apsim.start("-n", n, "--expect", "run", "--timeout", 120 + n // 10, "--hold", 600,
                            "--lsc-keys", 0)
                st = apsim.wait_status(lambda s: s.get("done_s") is not None, 300 + n // 10,
                                       "%d APs in Run" % n)
                # settle: the last handshakes' memory is freed, Echo only
                time.sleep(3)
                samples = []
                for _ in range(3):
                    samples.append(lscd.rss_kib())
                    time.sleep(1)
                rss1 = median(samples)
                anon1 = procs.status_kib(lscd.proc.pid, "RssAnon")
                st = apsim.status()
                in_run = st["in_run"]
                sessions_lost = sum(ap["sessions_lost"] for ap in st["aps"])
                apsim.stop()
                time.sleep(2)
                rss2 = lscd.rss_kib()
            finally:
                apsim.stop()
                lscd.stop()
            per = (rss1 - rss0) / n
            run = {"n": n, "in_run": in_run, "sessions_lost": sessions_lost, "rss_idle_kib": rss0,
                   "rss_run_kib": rss1, "rss_anon_run_kib": anon1, "rss_after_kib": rss2,
                   "kib_per_session": per, "time_to_run_s": st["done_s"]}
            runs.append(run)
            log("fig3 N=%d run %d: RSS %d KiB idle, %d KiB with %d in Run, %d KiB after they left: "
                "%.1f KiB per session" % (n, r + 1, rss0, rss1, in_run, rss2, per))
        return {"n": n, "runs": runs,
                "median": {k: median([x[k] for x in runs]) for k in
                           ("kib_per_session", "rss_idle_kib", "rss_run_kib", "rss_after_kib", "time_to_run_s")}}

    # ---- figure 4: responsiveness ---------------------------------------------

    def fig4(self, idle, prov, reps):
        """Each run twice: as is (lscd shares the 2 cores with the simulated
        APs and the CA, and with whatever else runs), and with lscd at nice
        -10, as if the controller's CPU were its own, as on real hardware."""
        self.ensure_keys(prov)
        runs = []
        for r in range(reps):
            for nice in (0, -10):
                runs.append(self.fig4_run(idle, prov, r, nice))
        shared = [x for x in runs if x["lscd_nice"] == 0]
        prio = [x for x in runs if x["lscd_nice"] != 0]
        return {"idle": idle, "prov": prov, "runs": runs,
                "median": {"load_p50_ms": median([x["load_rtt"]["p50_ms"] for x in shared]),
                           "load_p99_ms": median([x["load_rtt"]["p99_ms"] for x in shared]),
                           "load_max_ms": median([x["load_rtt"]["max_ms"] for x in shared]),
                           "quiet_p50_ms": median([x["idle_rtt"]["p50_ms"] for x in shared]),
                           "quiet_p99_ms": median([x["idle_rtt"]["p99_ms"] for x in shared]),
                           "prov_time_s": median([x["prov_time_s"] for x in shared]),
                           "prio_load_p50_ms": median([x["load_rtt"]["p50_ms"] for x in prio]),
                           "prio_load_p99_ms": median([x["load_rtt"]["p99_ms"] for x in prio]),
                           "prio_load_max_ms": median([x["load_rtt"]["max_ms"] for x in prio]),
                           "prio_prov_time_s": median([x["prov_time_s"] for x in prio])}}

    def fig4_run(self, idle, prov, r, nice):
        d = self.workdir("fig4-r%d%s" % (r + 1, "-nice" if nice else ""))
        ca = Micromdm(os.path.join(d, "ca"), CA_CPUS)
        lscd = a = b = None
        try:
            # only group B is on the provision list
            lst = os.path.join(d, "provision-list.csv")
            with open(lst, "w") as f:
                f.write("mac\n")
                for i in range(prov):
                    f.write("02:00:00:%02x:%02x:%02x\n" % ((i + 1) >> 16, ((i + 1) >> 8) & 0xff, (i + 1) & 0xff))
            lscd = Lscd(os.path.join(d, "lscd"), self.pki,
                        self.provisioning_config(ca, mode="provision-list", list_file=lst)).start(nice=nice)
            trust = self.ac_trust(d, ca)
            a = Apsim(d, self.pki, lscd, self.keypool, trust, name="idle")
            a.start("-n", idle, "--mac-base", "02:00:00:80:00:01", "--src-base", "127.80.0.1",
                    "--echo", 1, "--lsc-keys", 0, "--duration", 900, "--seed", 2)
            a.wait_status(lambda s: s["in_run"] == idle, 120 + idle // 10, "%d idle APs in Run" % idle)
            time.sleep(2)
            # baseline: the same idle APs with nothing else going on
            a.signal(signal.SIGUSR2)
            time.sleep(10 if not QUICK else 5)
            base = self.rtt(a)
            b = Apsim(d, self.pki, lscd, self.keypool, trust, name="prov")
            b.start("-n", prov, "--expect", "lsc", "--timeout", 120 + prov // 5, "--lsc-keys", prov)
            # the window opens when group B's fleet starts (its status
            # file appears then), not while it mints its MICs
            b.wait_status(lambda s: True, 120, "group B to start")
            a.signal(signal.SIGUSR2)
            m0, l0, load0 = procs.machine_busy_s(), lscd.cpu(), os.getloadavg()[0]
            w0 = procs.cpu_wait_s(lscd.proc.pid)
            b.wait_exit(240 + prov // 5)
            if b.proc.returncode != 0:
                raise BenchError("group B did not all reach LSCs: %s" % b.output()[-1500:])
            load = self.rtt(a)
            m1, l1 = procs.machine_busy_s(), lscd.cpu()
            w1 = procs.cpu_wait_s(lscd.proc.pid)
            st_b = b.status()
            st_a = a.status()
            lost = sum(ap["sessions_lost"] for ap in st_a["aps"])
            not_run = st_a["count"] - st_a["in_run"]
        finally:
            for p in (b, a):
                if p is not None:
                    p.stop()
            if lscd is not None:
                lscd.stop()
            ca.stop()
        trim(d)
        run = {"idle": idle, "prov": prov, "prov_time_s": st_b["done_s"], "idle_rtt": base, "lscd_nice": nice,
               "loadavg_at_start": load0, "lscd_cpu_s": l1 - l0, "machine_busy_s": m1 - m0,
               "lscd_waited_for_cpu_s": w1 - w0,
               "load_rtt": load, "idle_sessions_lost": lost, "idle_not_in_run_at_end": not_run}
        log("fig4 run %d%s: %d APs provisioned in %.1f s; Echo RTT of %d idle APs: p50 %.2f / p99 %.2f / "
            "max %.2f ms (%d samples), quiet baseline p50 %.2f / p99 %.2f ms; sessions lost %d; "
            "lscd waited %.1f s for a CPU"
            % (r + 1, " (lscd at nice %d)" % nice if nice else "", prov, st_b["done_s"], idle, load["p50_ms"],
               load["p99_ms"], load["max_ms"], load["samples"], base["p50_ms"], base["p99_ms"], lost,
               run["lscd_waited_for_cpu_s"]))
        return run

    def rtt(self, apsim):
        """Ask apsim for its status now and return the Echo RTT window."""
        before = os.stat(apsim.status_path).st_mtime_ns if os.path.exists(apsim.status_path) else 0
        apsim.signal(signal.SIGUSR1)
        procs.wait_for(lambda: os.path.exists(apsim.status_path) and
                       os.stat(apsim.status_path).st_mtime_ns != before, 10, "apsim status")
        time.sleep(0.1)
        st = apsim.status()
        return st["echo_rtt"]

    # ---- driver ---------------------------------------------------------------

    def run(self):
        figs = self.results["figures"]
        errors = []

        def attempt(name, fn, *args):
            if elapsed() > BUDGET_S:
                log("%s skipped: past the %.0f s budget" % (name, BUDGET_S))
                figs.setdefault("skipped", []).append(name)
                return None
            try:
                return fn(*args)
            except Exception as e:     # noqa: BLE001 - report and go on
                log("%s could not be measured: %s" % (name, e))
                traceback.print_exc()
                errors.append("%s: %s" % (name, e))
                return None

        if "1" in ONLY:
            res = attempt("figure 1 (N=%d)" % FIG1_N, self.fig1, FIG1_N, REPS)
            if res:
                figs["1"] = res
        if "2" in ONLY:
            res = attempt("figure 2", self.fig2, FIG2_N, REPS)
            if res:
                figs["2"] = res
        if "3" in ONLY:
            res = attempt("figure 3 (N=%d)" % FIG3_N, self.fig3, FIG3_N, REPS)
            if res:
                figs["3"] = res
        if "4" in ONLY:
            res = attempt("figure 4", self.fig4, FIG4_IDLE, FIG4_PROV, REPS)
            if res:
                figs["4"] = res
        if "5" in ONLY:
            growth = {"1": {}, "3": {}}
            for n in FIG3_SIZES:
                if n == FIG3_N and "3" in figs:
                    growth["3"][n] = figs["3"]
                    continue
                res = attempt("figure 5: memory at N=%d" % n, self.fig3, n, REPS)
                if res:
                    growth["3"][n] = res
            for n in FIG1_SIZES:
                if n == FIG1_N and "1" in figs:
                    growth["1"][n] = figs["1"]
                    continue
                reps = REPS if n <= FIG1_N else min(REPS, 2)
                # the largest fleet only if the budget has room for it
                if n > FIG1_N and elapsed() > BUDGET_S * 0.6:
                    log("figure 5: provisioning at N=%d skipped (%.0f s used of %.0f)" % (n, elapsed(), BUDGET_S))
                    figs.setdefault("skipped", []).append("figure 5 provisioning N=%d" % n)
                    continue
                res = attempt("figure 5: provisioning at N=%d" % n, self.fig1, n, reps)
                if res:
                    growth["1"][n] = res
            figs["5"] = {"1": {str(k): v for k, v in growth["1"].items()},
                         "3": {str(k): v for k, v in growth["3"].items()}}
        self.results["elapsed_s"] = elapsed()
        self.results["errors"] = errors
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump(self.results, f, indent=1)
        report = render(self.results)
        with open(os.path.join(self.out, "summary.md"), "w") as f:
            f.write(report)
        print()
        print(report)
        print("results: %s" % os.path.join(self.out, "results.json"))
        return 1 if errors else 0


# ---- the summary ---------------------------------------------------------------

def fmt(x, spec="%.2f"):
    return "n/a" if x is None else spec % x


def verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "MISSED")


def growth_rows(points, unit_of):
    """Per-unit cost at each N and the step between consecutive N."""
    rows = []
    prev = None
    for n in sorted(points, key=int):
        u = unit_of(points[n])
        step = None if prev is None or u is None or prev[1] in (None, 0) else u / prev[1]
        rows.append((int(n), u, step))
        prev = (n, u)
    return rows


def render(res):
    m = res["machine"]
    figs = res["figures"]
    out = []
    out.append("## lscd benchmark summary%s\n" % (" (QUICK: small N, a smoke check)" if res["quick"] else ""))
    out.append("Machine: %d cores, %s, kernel %s, %s GiB; %s. Load average at start %s.\n" % (
        m["cores"], m["cpu_model"], m["kernel"], m["mem_gib"], m["openssl"],
        " ".join("%.2f" % x for x in m["loadavg_at_start"])))
    out.append("Medians of %d run(s) each; scepserver pinned to CPU %s; enrolment concurrency %d; "
               "total %.0f s.\n" % (res["reps"], res["ca_cpus"] if res["ca_cpus"] is not None else "(none)",
                                    res["concurrency"], res.get("elapsed_s", 0)))
    if res.get("keypool_generation_s"):
        out.append("This run first generated apsim's key pool: %.0f s (cached afterwards).\n"
                   % res["keypool_generation_s"])
    out.append("| # | figure | measured | baseline (same run) | ratio / value | goal | verdict |")
    out.append("|---|---|---|---|---|---|---|")
    f1 = figs.get("1")
    if f1:
        md = f1["median"]
        out.append("| 1 | fleet provisioning, N=%d, MIC→LSC | %s APs/s through lscd (%s s) | %s certs/s direct, pki_driver (%s s) | %s | ≥ 0.8 | %s |" % (
            f1["n"], fmt(md["proxy_aps_per_s"], "%.1f"), fmt(md["proxy_time_s"], "%.1f"),
            fmt(md["direct_certs_per_s"], "%.1f"), fmt(md["direct_time_s"], "%.1f"), fmt(md["ratio"]),
            verdict(md["ratio"] >= 0.8 if md["ratio"] is not None else None)))
    f2 = figs.get("2")
    if f2:
        md = f2["median"]
        out.append("| 2 | join capacity, %d DTLS joins | %s ms lscd CPU per join (%s joins/s wall, lscd %s%% busy) | %s ms per RSA-2048 sign (%s sign/s, 1 core) | %s | ≥ 0.7 | %s |" % (
            f2["n"], fmt(md["lscd_cpu_ms_per_join"], "%.3f"), fmt(md["joins_per_s"], "%.0f"),
            fmt(100 * md["lscd_busy"], "%.0f"), fmt(md["rsa2048_sign_ms"], "%.3f"),
            fmt(md["rsa2048_sign_per_s"], "%.0f"), fmt(md["ratio"]), verdict(md["ratio"] >= 0.7)))
    f3 = figs.get("3")
    if f3:
        md = f3["median"]
        out.append("| 3 | memory, %d APs in Run | %s KiB VmRSS | %s KiB with no AP | %s KiB per session | ≤ 64 KiB | %s |" % (
            f3["n"], fmt(md["rss_run_kib"], "%.0f"), fmt(md["rss_idle_kib"], "%.0f"),
            fmt(md["kib_per_session"], "%.1f"), verdict(md["kib_per_session"] <= 64)))
    f4 = figs.get("4")
    if f4:
        md = f4["median"]
        out.append("| 4 | Echo RTT of %d idle APs while %d are provisioned | p50 %s / p99 %s ms (max %s) | quiet: p50 %s / p99 %s ms | p99 %s ms | p99 ≤ 50 ms | %s |" % (
            f4["idle"], f4["prov"], fmt(md["load_p50_ms"]), fmt(md["load_p99_ms"]), fmt(md["load_max_ms"], "%.1f"),
            fmt(md["quiet_p50_ms"]), fmt(md["quiet_p99_ms"]), fmt(md["load_p99_ms"]),
            verdict(md["load_p99_ms"] <= 50)))
        if md.get("prio_load_p99_ms") is not None:
            out.append("| 4b | the same, lscd at nice -10 (its CPU not taken by the simulated APs) | p50 %s / p99 %s ms (max %s) | quiet as above | p99 %s ms | p99 ≤ 50 ms | %s |" % (
                fmt(md["prio_load_p50_ms"]), fmt(md["prio_load_p99_ms"]), fmt(md["prio_load_max_ms"], "%.1f"),
                fmt(md["prio_load_p99_ms"]), verdict(md["prio_load_p99_ms"] <= 50)))
    f5 = figs.get("5")
    if f5:
        cells = []
        lin = []
        series = (
            ("1", "provisioning, wall ms per AP", lambda r: 1000 / r["median"]["proxy_aps_per_s"], "%.1f", True),
            ("1", "provisioning without micromdm-failed APs, wall ms per AP",
             lambda r: 1000 / r["median"]["proxy_aps_per_s_without_retried"]
             if r["median"].get("proxy_aps_per_s_without_retried") else None, "%.1f", False),
            ("1", "direct enrolment, wall ms per cert", lambda r: 1000 / r["median"]["direct_certs_per_s"], "%.1f", False),
            ("1", "ratio proxy/direct", lambda r: r["median"]["ratio"], "%.2f", False),
            ("1", "lscd CPU ms per provisioned AP", lambda r: r["median"]["lscd_cpu_ms_per_ap"], "%.2f", True),
            ("3", "lscd KiB per session in Run", lambda r: r["median"]["kib_per_session"], "%.1f", True))
        for key, label, unit_of, fmtspec, judged in series:
            pts = f5.get(key, {})
            if not pts:
                continue
            rows = growth_rows(pts, unit_of)
            cells.append("%s: %s" % (label, ", ".join(
                "N=%d %s%s" % (n, fmt(u, fmtspec), "" if s is None else " (×%.2f)" % s) for n, u, s in rows)))
            if judged:
                lin.extend(s for _, _, s in rows if s is not None)
        ok = all(s <= 1.25 for s in lin) if lin else None
        out.append("| 5 | cost growth, N = %s | %s | the same figure at the next smaller N | largest step ×%s (judged: wall time per AP, lscd CPU per AP, KiB per session) | linear: per-AP cost grows ≤ ×1.25 from one N to the next | %s |" % (
            ", ".join(sorted(set(f5.get("1", {})) | set(f5.get("3", {})), key=int)),
            "<br>".join(cells), fmt(max(lin) if lin else None), verdict(ok)))
    if figs.get("skipped"):
        out.append("\nSkipped (time budget): %s" % "; ".join(figs["skipped"]))
    if res.get("errors"):
        out.append("\nNot measured: %s" % "; ".join(res["errors"]))
    # details that say what limits each figure
    out.append("")
    if f1:
        md = f1["median"]
        r = f1["runs"]
        out.append("Figure 1 detail (medians): CPU per provisioned AP: lscd %s ms, apsim %s ms, CA %s ms; direct: "
                   "pki_driver %s ms, CA %s ms per cert. Requests micromdm failed (its unlocked depot), per run: proxy %s, "
                   "direct %s; lscd retried those 5 s later. Without the APs that needed a retry: %s APs/s, ratio %s. "
                   "If lscd and the CA had one core each (the slower one's CPU capacity sets the pace): ratio %s. "
                   "Other tenants used %s (proxy) and %s (direct) of a core on average."
                   % (fmt(md["lscd_cpu_ms_per_ap"]), fmt(md["apsim_cpu_ms_per_ap"]),
                      fmt(md["ca_cpu_ms_per_cert_proxy"]), fmt(md["driver_cpu_ms_per_cert"]),
                      fmt(md["ca_cpu_ms_per_cert_direct"]),
                      [x["proxy"]["ca_failed"] for x in r], [x["direct"]["failed"] for x in r],
                      fmt(md["proxy_aps_per_s_without_retried"], "%.1f"), fmt(md["ratio_without_retried"]),
                      fmt(md.get("capacity_ratio")), fmt(md.get("others_cpu_share_proxy")),
                      fmt(md.get("others_cpu_share_direct"))))
    if f2:
        md = f2["median"]
        out.append("Figure 2 detail: lscd CPU measured from /proc/<pid>/stat (utime+stime), not wall time: apsim "
                   "costs %s ms CPU per join on the same 2 cores. lscd does %s joins per CPU-second. The server side "
                   "of one DTLS handshake in capwap/dtls.c alone (tools/bench/dtls_floor.c, no sockets, no lscd) "
                   "costs %s ms: sign/floor = %s, the most any DTLS join with this OpenSSL can reach; the rest of "
                   "lscd's join (%s ms) is CAPWAP Join..Run, sockets, SQLite and the log."
                   % (fmt(md["apsim_cpu_ms_per_join"]), fmt(md["lscd_joins_per_cpu_s"], "%.0f"),
                      fmt(md["dtls_floor_ms"], "%.3f"), fmt(md["floor_ratio"]),
                      fmt(md["lscd_cpu_ms_per_join"] - md["dtls_floor_ms"] if md["dtls_floor_ms"] else None, "%.3f")))
    if f4:
        r4 = f4["runs"]
        out.append("Figure 4 detail: per run, lscd CPU-s / runnable-but-waiting-for-a-CPU s / machine busy CPU-s "
                   "during the window: %s; idle APs' sessions lost: %s." % (
                       ", ".join("%s%.1f/%.1f/%.1f" % ("nice: " if x.get("lscd_nice") else "", x["lscd_cpu_s"],
                                                        x["lscd_waited_for_cpu_s"], x["machine_busy_s"])
                                 for x in r4), [x["idle_sessions_lost"] for x in r4]))
    if f3:
        out.append("Figure 3 detail: RSS after the fleet left %s KiB (runs: %s)." % (
            fmt(f3["median"]["rss_after_kib"], "%.0f"), [x["rss_after_kib"] for x in f3["runs"]]))
    return "\n".join(out) + "\n"


def main():
    out = os.environ.get("BENCH_OUT") or os.path.join(procs.BUILD, "bench", time.strftime("run-%Y%m%d-%H%M%S"))
    if len(sys.argv) > 1 and sys.argv[1] == "--render":
        with open(sys.argv[2]) as f:
            print(render(json.load(f)))
        return 0
    for exe in (procs.LSCD, procs.APSIM, procs.PKI_DRIVER):
        if not os.access(exe, os.X_OK):
            print("bench: %s is not built (make)" % exe, file=sys.stderr)
            return 1
    log("lscd benchmarks%s: results in %s" % (" (quick)" if QUICK else "", out))
    rc = Bench(out).run()
    if not os.environ.get("BENCH_OUT"):
        prune_old_runs(os.path.dirname(out), KEEP_RUNS)
    return rc


if __name__ == "__main__":
    sys.exit(main())
