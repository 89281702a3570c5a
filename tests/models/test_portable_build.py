"""The embedded model's llama.cpp runs on any x86-64 CPU with AVX2, whatever machine built it: the
installed libraries are disassembled and must hold no instruction beyond the baseline the
Makefile builds for (x86-64-v3: AVX2, FMA, F16C, BMI2). A build made with -march=native on an
AVX-512/AMX host passes every test there and dies with SIGILL on a CPU without them; this test
fails on the build host instead."""

from __future__ import annotations

import importlib.util
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

BEYOND_BASELINE = {
    "AVX-512 register (zmm)": re.compile(r"%zmm\d"),
    "AVX-512 mask register (k1-k7)": re.compile(r"%k[1-7]\b"),
    "AMX tile instruction": re.compile(
        r"\s(?:ldtilecfg|sttilecfg|tilerelease|tilezero|tileloadd\w*|tilestored|tdp\w+)\s"
    ),
    "VNNI dot product (AVX-VNNI / AVX512-VNNI)": re.compile(
        r"\s(?:\{vex\}\s*)?vpdp(?:bu|ws)s?d\w*\s"
    ),
    "AVX-512 only instruction": re.compile(
        r"\s(?:vpternlog[dq]|vpermt2\w+|vpermi2\w+|vcompress\w+|vexpand\w+|vpcmp[u]?[bwdq]\s|vcvtne2ps2bf16|vdpbf16ps)\s"
    ),
}


def _libraries() -> list[Path]:
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        pytest.skip("llama-cpp-python is not installed (the `local` extra)")
    libs = sorted((Path(spec.origin).parent / "lib").glob("lib*.so"))
    assert libs, "llama_cpp has no shared libraries in its lib/ folder"
    return libs


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 baseline")
def test_the_installed_llama_cpp_uses_no_instruction_beyond_avx2() -> None:
    objdump = shutil.which("objdump")
    assert objdump, "objdump (binutils) is needed to inspect the build: apt-get install binutils"
    found: dict[str, list[str]] = {}
    for lib in _libraries():
        code = subprocess.run(
            [objdump, "-d", "--no-show-raw-insn", str(lib)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for what, pattern in BEYOND_BASELINE.items():
            hits = [line.strip() for line in code.splitlines() if pattern.search(line + " ")]
            if hits:
                found.setdefault(f"{lib.name}: {what}", hits[:3])
    assert not found, (
        "llama.cpp was built for this CPU, not the baseline: run `make rebuild-local`\n"
        + "\n".join(f"{where}: {examples}" for where, examples in found.items())
    )


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 baseline")
def test_the_baseline_itself_is_there() -> None:
    """The scan would pass a build with no SIMD at all (a broken flag set): AVX2 and FMA must
    be used, or the portable build is needlessly slow."""
    objdump = shutil.which("objdump")
    assert objdump
    cpu = next(lib for lib in _libraries() if lib.name == "libggml-cpu.so")
    code = subprocess.run(
        [objdump, "-d", "--no-show-raw-insn", str(cpu)], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"\svfmadd\d+ps\s+%ymm", code), "no FMA on ymm registers"
    assert re.search(r"\svpmaddubsw\s+%ymm", code), "no AVX2 integer dot products"
