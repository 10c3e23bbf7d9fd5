"""Summarises a ctest log: each failed test with its first failure lines, and how often
each missing GPU kernel was the reason (used on the GPU machine after make test-gpu)."""
import collections
import re
import sys

log = open(sys.argv[1], errors="replace").read()
missing = collections.Counter(re.findall(r"no GPU kernel for (\w+)", log))
for name, n in missing.most_common():
    print(f"missing kernel {name}: {n}")
for block in re.split(r"\n(?=Note: Google Test filter = )", log)[1:]:
    name = block.split("\n")[0].split("= ")[1]
    if "[  PASSED  ] 1 test" in block or "no GPU kernel" in block:
        continue
    lines = [l.strip()[:160] for l in block.split("\n")
             if any(k in l for k in ("Failure", "exception", "Expected", "Which is", "actual", "Value of", "at "))]
    print(name, "|", " / ".join(lines[:5]))
print("\n".join(l for l in log.split("\n") if "tests passed" in l or "Subprocess" in l or "Timeout" in l))
