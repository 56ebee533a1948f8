#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Run every postern test and end with one line: "N passed, N failed".

- unit tests: the cmocka executables of the sanitizer build (TAP output)
- fuzz targets: each libFuzzer target briefly on its corpus, then every
  kept crash reproducer as a regression test
- integration tests: tests/integration/test_*.py (unittest), against the
  real daemon of the sanitizer build
"""
import argparse
import importlib.util
import os
import re
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)

passed = 0
failed = 0
failures = []


def record(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}", flush=True)
    else:
        failed += 1
        failures.append(name)
        print(f"FAIL {name}", flush=True)
        if detail:
            print("     " + detail.strip().replace("\n", "\n     ")[-4000:], flush=True)


def run_unit(build, only):
    d = os.path.join(build, "tests", "unit")
    if not os.path.isdir(d):
        record("unit: tests built", False, f"{d} missing (is cmocka installed?)")
        return
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP",
               ASAN_OPTIONS="detect_leaks=1:abort_on_error=1",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    for exe in sorted(os.listdir(d)):
        path = os.path.join(d, exe)
        if not exe.startswith("test_") or not os.access(path, os.X_OK) or os.path.isdir(path):
            continue
        if only and not re.search(only, exe):
            continue
        try:
            p = subprocess.run([path], env=env, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            record(f"unit/{exe}", False, "timeout")
            continue
        seen = 0
        for line in p.stdout.splitlines():
            m = re.match(r"(not ok|ok) \d+ - (.*)", line)
            if m:
                seen += 1
                record(f"unit/{exe}/{m.group(2)}", m.group(1) == "ok",
                       p.stdout + p.stderr if m.group(1) != "ok" else "")
        if p.returncode != 0 and (seen == 0 or "not ok" not in p.stdout):
            record(f"unit/{exe} (exit {p.returncode})", False, p.stdout[-2000:] + p.stderr[-4000:])


def run_fuzz(build, seconds, only):
    d = os.path.join(build, "tests", "fuzz")
    if not os.path.isdir(d):
        record("fuzz: targets built", False, f"{d} missing")
        return
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    for exe in sorted(os.listdir(d)):
        path = os.path.join(d, exe)
        if not exe.startswith("fuzz_") or not os.access(path, os.X_OK) or os.path.isdir(path):
            continue
        if only and not re.search(only, exe):
            continue
        name = exe[len("fuzz_"):]
        corpus = os.path.join(HERE, "fuzz", "corpus", name)
        regress = os.path.join(HERE, "fuzz", "regress", name)
        dictf = os.path.join(HERE, "fuzz", name + ".dict")
        if os.path.isdir(regress) and os.listdir(regress):
            files = [os.path.join(regress, f) for f in sorted(os.listdir(regress))]
            p = subprocess.run([path] + files, env=env, capture_output=True, text=True,
                               timeout=300)
            record(f"fuzz/{name}/regressions ({len(files)})", p.returncode == 0,
                   p.stderr[-3000:])
        work = os.path.join(build, "fuzz-work", name)
        os.makedirs(work, exist_ok=True)
        args = [path, f"-max_total_time={seconds}", "-timeout=10", "-rss_limit_mb=2048",
                "-print_final_stats=1", f"-artifact_prefix={work}/", work]
        if os.path.isdir(corpus):
            args.append(corpus)
        if os.path.isfile(dictf):
            args.insert(1, f"-dict={dictf}")
        p = subprocess.run(args, env=env, capture_output=True, text=True, timeout=seconds + 120)
        runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", p.stderr)
        detail = p.stderr[-3000:] if p.returncode != 0 else ""
        record(f"fuzz/{name} ({seconds}s, {runs.group(1) if runs else '?'} runs)",
               p.returncode == 0, detail)


class Collector(unittest.TextTestResult):
    def addSuccess(self, test):
        super().addSuccess(test)
        record(f"integration/{test.id()}", True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        record(f"integration/{test.id()}", False, self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        record(f"integration/{test.id()}", False, self._exc_info_to_string(err, test))

    def addSubTest(self, test, subtest, err):
        # A failed subtest is neither a success nor a failure of its test:
        # without this it would vanish from the report.
        super().addSubTest(test, subtest, err)
        if err is not None:
            record(f"integration/{subtest.id()}", False, self._exc_info_to_string(err, test))

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        record(f"integration/{test.id()} (known bug, expected failure)", False,
               self._exc_info_to_string(err, test))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        record(f"integration/{test.id()} (marked expected failure but passes)", False)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        record(f"integration/{test.id()} (skipped: {reason})", False, reason)


def run_integration(build, only):
    d = os.path.join(HERE, "integration")
    os.environ["POSTERN_BIN"] = os.path.abspath(os.path.join(build, "postern"))
    os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1")
    os.environ.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
    sys.path.insert(0, d)
    loader = unittest.TestLoader()
    for f in sorted(os.listdir(d)):
        if not (f.startswith("test_") and f.endswith(".py")):
            continue
        if only and not re.search(only, f):
            continue
        spec = importlib.util.spec_from_file_location(f[:-3], os.path.join(d, f))
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
        except Exception as e:  # a broken test file is a failure, not a crash
            record(f"integration/{f} (import)", False, repr(e))
            continue
        suite = loader.loadTestsFromModule(mod)
        runner = unittest.TextTestRunner(stream=open(os.devnull, "w"), resultclass=Collector)
        runner.run(suite)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build-san")
    ap.add_argument("--fuzz-build", default="build-fuzz")
    ap.add_argument("--fuzz-seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "20")))
    ap.add_argument("--only", default=None, help="regex on test file names")
    ap.add_argument("--skip", default="", help="comma list of: unit,fuzz,integration")
    a = ap.parse_args()
    skip = set(filter(None, a.skip.split(",")))
    start = time.time()
    if "unit" not in skip:
        run_unit(os.path.join(TOP, a.build), a.only)
    if "fuzz" not in skip:
        run_fuzz(os.path.join(TOP, a.fuzz_build), a.fuzz_seconds, a.only)
    if "integration" not in skip:
        run_integration(os.path.join(TOP, a.build), a.only)
    if failures:
        print("\nfailed:\n  " + "\n  ".join(failures))
    print(f"\n({time.time() - start:.0f}s)")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
